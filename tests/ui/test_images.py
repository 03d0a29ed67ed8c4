"""Images a person can read, and keys that do not wait for them (issue 20): the zoom (+ / -) makes rows
taller and thumbnails larger and is remembered; the grid view (v) shows several thumbnails per row and the
list's keys work in it; the adapter picks kitty placeholders / Sixel / iTerm2 / half blocks per terminal
(real pixels in the lists and the grid too: tests/ui/test_inline_images.py for Sixel and iTerm2); thumbnails and the
inspect image are decoded in worker processes, never by the UI's process."""

from __future__ import annotations

import re
import threading

import pytest
from support import make_folder, until

from tui_tagger.ui import backend, decoding
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.rendering import _Latest
from tui_tagger.ui.widgets import image_adapter, kitty_placeholders
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
        assert await until(pilot, lambda: len(app.pos.rows) == 12)  # the first thumbnail can come before the last row
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


KITTY_TMUX = image_adapter.TmuxClient("xterm-kitty", "kitty(0.35.2)", "RGB,title,clipboard", passthrough=True)
TMUX = {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "tmux-256color", "TERM_PROGRAM": "tmux"}


@pytest.mark.parametrize("probed, env, tmux, want", [
    ("kitty", {"TERM": "xterm-kitty"}, None, "kitty"),  # kitty answers the kitty query: placeholders
    ("kitty", {"TERM_PROGRAM": "ghostty", "TERM": "xterm-ghostty"}, None, "kitty"),  # Ghostty draws them too
    ("kitty", {"TERM_PROGRAM": "WarpTerminal"}, None, "halfcell"),  # Warp: kitty graphics, no placeholders
    ("sixel", {"TERM_PROGRAM": "WezTerm"}, None, "sixel"),  # WezTerm, foot, Konsole, xterm -ti vt340: Sixel
    ("halfcell", {"TERM_PROGRAM": "iTerm.app"}, None, "iterm2"),  # iTerm2: its inline images, answered or not
    ("halfcell", {"TERM_PROGRAM": "iTerm.app", "TMUX": "/tmp/tmux-0/default,1,0"}, None, "halfcell"),
    ("halfcell", {"TERM": "xterm-256color"}, None, "halfcell"),  # a terminal that answered neither
    ("text", {}, None, "halfcell"),  # no terminal at all
    # under tmux (which answers the probe itself): the terminal outside, when tmux passes the images on
    ("halfcell", TMUX, KITTY_TMUX, "kitty"),
    ("halfcell", TMUX, KITTY_TMUX._replace(term="xterm-ghostty", termtype=""), "kitty"),
    ("halfcell", {**TMUX, "KITTY_WINDOW_ID": "3"}, image_adapter.TmuxClient(passthrough=True), "kitty"),
    ("halfcell", TMUX, KITTY_TMUX._replace(passthrough=False), "halfcell"),
    ("halfcell", TMUX, image_adapter.TmuxClient("xterm-256color", "", "RGB", True), "halfcell"),
    ("sixel", TMUX, image_adapter.TmuxClient("foot", "", "RGB,sixel", True), "sixel"),  # a tmux built with Sixel
])
def test_the_graphics_follow_what_the_terminal_can_draw(probed, env, tmux, want):
    assert image_adapter.decide("auto", probed, env, tmux).kind == want
    for forced in ("kitty", "sixel", "iterm2", "halfcell", "none"):  # --graphics overrides whatever was detected
        assert image_adapter.decide(forced, probed, env, tmux).kind == forced


def test_under_tmux_the_user_is_told_what_keeps_the_images_out():
    blocked = image_adapter.decide("auto", "halfcell", TMUX, KITTY_TMUX._replace(passthrough=False))
    assert blocked.kind == "halfcell" and image_adapter.PASSTHROUGH in blocked.problem
    no_rgb = image_adapter.decide("auto", "halfcell", TMUX, KITTY_TMUX._replace(features="title"))
    assert no_rgb.kind == "kitty" and "xterm-kitty:RGB" in no_rgb.problem
    assert image_adapter.decide("auto", "halfcell", TMUX, KITTY_TMUX).problem is None
    assert image_adapter.decide("auto", "kitty", {"TERM": "xterm-kitty"}).problem is None
    assert image_adapter.decide("auto", "halfcell", TMUX, image_adapter.TmuxClient()).problem is None  # no kitty


def test_the_widget_class_follows_the_choice(monkeypatch):
    monkeypatch.setattr(image_adapter, "_probed", lambda: "halfcell")
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TERM_PROGRAM", raising=False)
    assert image_adapter.choose_graphics("auto") == "halfcell"
    assert image_adapter.image_widget_class("auto").__mro__[1] is image_adapter.image_widget_class(
        "halfcell").__mro__[1]  # the same textual-image widget underneath
    assert image_adapter.image_widget_class("none") is None
    kitty = image_adapter.image_widget_class("kitty", kitty_placeholders.Placeholders(print, (10, 20)))
    assert kitty.func is kitty_placeholders.PlaceholderImage
    assert image_adapter.thumb_cell_pixels("halfcell") == (1, 2)
    cw, ch = image_adapter.thumb_cell_pixels("kitty")
    assert 1 <= cw <= image_adapter.THUMB_CELL_MAX[0] and 2 <= ch <= image_adapter.THUMB_CELL_MAX[1]


def placeholder_ids(strip) -> list[int]:
    """The image ids of a line's placeholder cells, one per cell (their foreground colour)."""
    ids = []
    for seg in strip:
        n = seg.text.count(kitty_placeholders.PLACEHOLDER)
        if n:
            r, g, b = seg.style.color.triplet
            ids += [(r << 16) | (g << 8) | b] * n
    return ids


def sent_ids(out: list[str]) -> set[int]:
    return {int(m) for data in out for m in re.findall(r"\x1b_Ga=T,U=1,[^;]*?,i=(\d+),", data)}


async def test_a_kitty_terminal_gets_thumbnails_and_the_inspect_image_in_its_pixels(twelve):
    app = TaggerApp(twelve, tag=RING, graphics="kitty")
    out: list[str] = []
    app.placeholders.write = out.append  # what would go to the terminal
    async with app.run_test(size=(160, 48)) as pilot:
        assert await thumbnails_in(app, pilot)
        lst = app.pos
        tw, th = LIST_LEVELS[app.zoom.list_level]
        cw, ch = app.thumb_cell
        assert app.thumbs.size == (tw * cw, th * ch)  # thumbnails at the terminal's pixels, not 1 x 2 a cell
        first = lst.render_line(0)
        ids = placeholder_ids(first)
        assert len(ids) == tw and len(set(ids)) == 1 and ids[0] in sent_ids(out)  # a square frame fills it
        row0 = "".join(seg.text for seg in first)
        assert kitty_placeholders.cells(0, tw) in row0 and half_blocks(first) == 0
        assert kitty_placeholders.cells(th - 1, tw) in text(lst.render_line(th - 1))
        assert "img" in row0  # the name beside it

        # the inspect pane: one image, drawn through the same placeholders
        assert await until(pilot, lambda: app.inspect.shown_key is not None)
        image = app.inspect.query_one("#inspect-image")
        assert isinstance(image, kitty_placeholders.PlaceholderImage)
        await pilot.pause()
        assert image.image_id in sent_ids(out) and set(placeholder_ids(image.render_line(0))) == {image.image_id}

        await pilot.pause()
        n_sent = len(out)
        for widget in (app.pos, app.neg, image):
            widget.refresh()
        await pilot.pause()
        assert len(out) == n_sent  # a repaint sends nothing again
        w, h = app.inspect.image_cells()
        assert app.inspect.pixel_size() == (w * image_adapter.cell_pixel_size()[0],
                                            h * image_adapter.cell_pixel_size()[1])

        await pilot.press("v")  # the grid: a row of cells shows several images, each its own
        tw, th = GRID_LEVELS[app.zoom.grid_level]
        assert await until(pilot, lambda: app.thumbs.pending == 0 and app.thumbs.size == (tw * cw, th * ch)
                           and len(set(placeholder_ids(lst.render_line(0)))) == lst.cols)
        assert len(placeholder_ids(lst.render_line(0))) == lst.cols * tw
        app.session.discard_journal()
    assert sent_ids(out) <= {int(m) for data in out for m in re.findall(r"a=d,d=I,i=(\d+)", data)}  # all deleted


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
        shown = len(app.thumbs._cache)  # the thumbnails decoded so far (the rows on screen, or some of them)
        app.session.discard_journal()
    assert shown >= 1 and decoding.submitted - before >= shown + 1  # each of them and the image: the pool
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


async def test_images_on_screen_are_never_deleted_while_the_list_scrolls_past_the_limit(tmp_path):
    folder = make_folder(tmp_path / "data", n=40, tagged={f"img{i:02d}": [RING] for i in range(40)})
    app = TaggerApp(folder, tag=RING, graphics="kitty")
    out: list[str] = []
    app.placeholders.write = out.append
    app.placeholders.limit = 12  # a screen shows ~15 rows over both lists: deletions start at once
    async with app.run_test(size=(160, 48)) as pilot:
        lst = app.pos
        for key in ["pagedown"] * 3 + ["pageup"] * 2 + ["end", "home", "pagedown"]:
            await pilot.press(key)
            assert await until(pilot, lambda: app.thumbs.pending == 0)
            await pilot.pause()
            on_terminal = set()  # ids sent and not deleted since, in the order the terminal got them
            for data in out:
                for keys in re.findall(r"\x1b_G([^;\x1b]*)", data):
                    if keys.startswith("a=T,"):
                        on_terminal.add(int(re.search(r"i=(\d+)", keys).group(1)))
                    elif keys.startswith("a=d,"):
                        on_terminal.discard(int(re.search(r"i=(\d+)", keys).group(1)))
            sent = len(out)
            shown = {i for y in range(lst.scrollable_content_region.height)
                     for i in placeholder_ids(lst.render_line(y))}
            assert len(out) == sent  # nothing on screen had to be sent again: it was still there
            assert shown and shown <= on_terminal
        assert any("a=d," in data for data in out)  # the limit was passed
        app.session.discard_journal()
