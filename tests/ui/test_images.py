"""Images a person can read, and keys that do not wait for them (issue 20): the zoom (+ / -) makes rows
taller and thumbnails larger and is remembered; the grid view (v) shows several thumbnails per row and the
list's keys work in it; the adapter picks kitty / Sixel / half blocks per terminal; thumbnails and the
inspect image are decoded in worker processes, never by the UI's process."""

from __future__ import annotations

import threading

import pytest
from support import make_folder, until

from tui_tagger.ui import backend, decoding
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.rendering import _Latest
from tui_tagger.ui.widgets import image_adapter
from tui_tagger.ui.zoom import GRID_LEVELS, LIST_LEVELS, Zoom

RING = "Ring: Isotropic"


@pytest.fixture
def twelve(tmp_path):
    return make_folder(tmp_path / "data", n=12, tagged={f"img{i:02d}": [RING] for i in range(12)})


def text(strip) -> str:
    return "".join(seg.text for seg in strip)


def half_blocks(strip) -> int:
    """Cells of a line drawn as half-block pixels."""
    return sum(seg.text.count("▀") + seg.text.count("▄") for seg in strip)


async def thumbnails_in(app, pilot) -> bool:
    return await until(pilot, lambda: app.pos.rows and app.thumbs.pending == 0
                       and app.thumbs.get(app.pos.rows[0].path) is not None)


async def test_zoom_makes_rows_taller_and_thumbnails_larger_and_is_remembered(twelve):
    app = TaggerApp(twelve, tag=RING, graphics="none")
    async with app.run_test(size=(160, 48)) as pilot:
        assert await thumbnails_in(app, pilot)
        lst = app.pos
        (w0, h0), n = LIST_LEVELS[0], len(lst.rows)
        assert (lst.row_h, lst.thumb_w) == (h0, w0) and lst.virtual_size.height == n * h0
        assert half_blocks(lst.render_line(0)) == w0  # a 64x64 frame fills its thumbnail

        await pilot.press("plus")
        w1, h1 = LIST_LEVELS[1]
        assert (lst.row_h, lst.thumb_w, lst.thumb_h) == (max(3, h1), w1, h1)
        assert lst.virtual_size.height == n * lst.row_h
        assert app.thumbs.size == (w1, 2 * h1)  # thumbnails made again at the new size
        assert await thumbnails_in(app, pilot)
        assert app.thumbs.get(lst.rows[0].path).shape[:2] == (2 * h1, w1)
        assert all(half_blocks(lst.render_line(y)) == w1 for y in range(h1))
        assert "img" in text(lst.render_line(0))  # the name still on the row's first line

        await pilot.press("plus", "plus", "minus")
        assert lst.thumb_w == LIST_LEVELS[2][0]
    again = TaggerApp(twelve, tag=RING, graphics="none", thumbnails=False)
    assert again.zoom.list_level == 2  # remembered (view.toml in the config folder)


async def test_grid_shows_several_thumbnails_per_row_and_the_keys_move_and_mark(twelve):
    app = TaggerApp(twelve, tag=RING, graphics="none")
    async with app.run_test(size=(160, 48)) as pilot:
        assert await thumbnails_in(app, pilot)
        await pilot.press("v")
        lst = app.pos
        assert lst.grid and app.zoom.grid
        tw, th = GRID_LEVELS[app.zoom.grid_level]
        cols = lst.scrollable_content_region.width // (tw + 2)
        assert cols >= 2 and lst.cols == cols
        assert await until(pilot, lambda: app.thumbs.pending == 0 and app.thumbs.size == (tw, 2 * th))
        assert half_blocks(lst.render_line(0)) == cols * tw  # N thumbnails side by side
        names = text(lst.render_line(th))  # the line under them: the names
        assert all(row.name in names for row in lst.rows[:cols])
        assert lst.rows[cols].name not in names  # the next image starts the next row of cells

        await pilot.press("right")
        assert lst.cursor == 1
        await pilot.press("down")
        assert lst.cursor == 1 + cols  # the same column, one row of cells down
        await pilot.press("left", "up")
        assert lst.cursor == 0
        marked = [lst.rows[0].path, lst.rows[1].path]
        await pilot.press("space", "space")  # mark, and on to the next image, as in the list
        assert lst.marked == set(marked) and lst.cursor == 2
        await pilot.press("m")  # the marked images move to the other list
        assert await until(pilot, lambda: not set(marked) & {r.path for r in app.pos.rows})
        assert set(marked) <= {r.path for r in app.neg.rows}

        await pilot.press("v")
        assert not lst.grid and lst.cols == 1
        app.session.discard_journal()


@pytest.mark.parametrize("probed, env, want", [
    ("kitty", {"TERM": "xterm-kitty"}, "kitty"),  # kitty answers the kitty query (Unicode placeholders)
    ("sixel", {"TERM_PROGRAM": "WezTerm"}, "sixel"),  # WezTerm, foot, Konsole, xterm -ti vt340 answer Sixel
    ("halfcell", {"TERM_PROGRAM": "iTerm.app"}, "sixel"),  # iTerm2 draws Sixel, answered or not
    ("halfcell", {"TERM_PROGRAM": "iTerm.app", "TMUX": "/tmp/tmux-0/default,1,0"}, "halfcell"),
    ("halfcell", {"TERM": "xterm-256color"}, "halfcell"),  # a terminal that answered neither
    ("text", {}, "halfcell"),  # no terminal at all
])
def test_the_graphics_follow_what_the_terminal_can_draw(monkeypatch, probed, env, want):
    monkeypatch.setattr(image_adapter, "_probed", lambda: probed)
    for name in ("TERM", "TERM_PROGRAM", "TMUX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert image_adapter.choose_graphics("auto") == want
    auto, chosen = image_adapter.image_widget_class("auto"), image_adapter.image_widget_class(want)
    assert auto.__mro__[1] is chosen.__mro__[1]  # the same textual-image widget underneath
    # --graphics overrides whatever was detected
    for forced in ("kitty", "sixel", "halfcell"):
        assert image_adapter.choose_graphics(forced) == forced
    assert image_adapter.image_widget_class("none") is None


async def test_a_kitty_terminal_gets_the_inspect_image_in_its_pixels(monkeypatch, twelve):
    monkeypatch.setattr(image_adapter, "_probed", lambda: "kitty")
    app = TaggerApp(twelve, tag=RING, thumbnails=False)  # --graphics auto
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.inspect.graphics == "kitty"
        w, h = app.inspect.image_cells()
        cw, ch = image_adapter.cell_pixel_size()
        assert app.inspect.pixel_size() == (w * cw, h * ch)  # rendered at the terminal's pixels, not 1x2 a cell
        app.session.discard_journal()


async def test_decoding_happens_in_worker_processes_not_in_the_ui(monkeypatch, twelve):
    calls = []

    def spy(name, original):
        def called(*args, **kw):
            calls.append((name, threading.current_thread().name))
            return original(*args, **kw)
        return called

    # the decoders, as this process would reach them: never called here (the worker processes have their own)
    monkeypatch.setattr(backend, "read_frame", spy("read_frame", backend.read_frame))
    monkeypatch.setattr(backend, "thumbnail", spy("thumbnail", backend.thumbnail))
    monkeypatch.setattr(backend, "render", spy("render", backend.render))
    before = decoding.submitted
    app = TaggerApp(twelve, tag=RING, graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        assert await thumbnails_in(app, pilot)
        assert await until(pilot, lambda: app.inspect.shown_key is not None)  # the inspect image is drawn
        first = app.pos.rows[0].path
        assert app.inspect.shown_key[0] == first
        assert app.thumbs.get(first).size > 0
        app.session.discard_journal()
    assert decoding.submitted - before >= len(app.pos.rows) + 1  # every thumbnail and the image: the pool
    assert calls == []


def test_the_inspect_pane_decodes_only_the_newest_request():
    box = _Latest()
    assert box.put("a") is True  # nobody serves the box: the caller starts a worker
    assert box.put("b") is False and box.put("c") is False  # a worker is on it: these just wait
    assert box.take() == "c"  # the newest only; a and b are never decoded
    assert box.take() is None  # and the worker ends
    assert box.put("d") is True


def test_zoom_levels_stop_at_the_ends_and_a_broken_file_gives_the_defaults(tmp_path):
    z = Zoom()
    assert not z.step(-1) and z.thumb_cells() == LIST_LEVELS[0]
    while z.step(1):
        pass
    assert z.thumb_cells() == LIST_LEVELS[-1]
    path = tmp_path / "view.toml"
    path.write_text("list_level = [\n")
    assert Zoom.load(path) == Zoom()
    path.write_text("list_level = 99\ngrid = true\n")
    assert Zoom.load(path) == Zoom(grid=True)
