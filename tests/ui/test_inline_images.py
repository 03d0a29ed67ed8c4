"""Sixel and iTerm2 thumbnails (ui/widgets/inline_images.py, issue 20): a zoomed list row and the grid paint
their thumbnails in the terminal's pixels over half blocks, half blocks elsewhere; and what is written to the
terminal, replayed on a small model of one (text over an image's cells removes it there), never leaves an
image where its row is no longer: not when the list scrolls, not under a dialog."""

from __future__ import annotations

import math
import re

import pytest
from support import make_folder, until

from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.widgets import image_adapter, inline_codec, inline_images, kitty_placeholders
from tui_tagger.ui.zoom import LIST_LEVELS

RING = "Ring: Isotropic"
SIXEL = re.compile(r"\x1bP0;1;0q\"1;1;(\d+);(\d+).*?\x1b\\", re.S)  # P2=1: nothing drawn past its rows
ITERM = re.compile(r"\x1b\]1337;File=[^:]*?width=(\d+);height=(\d+)[^:]*:[^\x07]*\x07")
TOKEN = re.compile(r"\x1bP.*?\x1b\\|\x1b\].*?\x07|\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]|\x1b.|[^\x1b]", re.S)


class Terminal:
    """What a terminal shows, cell by cell: the text written there, and the image over it (its escape) where
    one was drawn since. Text written over an image's cell removes it there, as in Sixel terminals, tmux and
    iTerm2."""

    def __init__(self, size: tuple[int, int], cell: tuple[int, int]) -> None:
        self.w, self.h = size
        self.cell = cell
        self.text: dict[tuple[int, int], str] = {}
        self.image: dict[tuple[int, int], str] = {}
        self.x = self.y = 0

    def feed(self, data: str) -> None:
        for token in TOKEN.findall(data):
            if token.startswith("\x1b["):
                if token.endswith("H"):
                    row, col = (token[2:-1].split(";") + ["1"])[:2]
                    self.y, self.x = int(row or 1) - 1, int(col or 1) - 1
            elif m := SIXEL.fullmatch(token):
                self._image(token, math.ceil(int(m[1]) / self.cell[0]), math.ceil(int(m[2]) / self.cell[1]))
            elif m := ITERM.fullmatch(token):
                self._image(token, int(m[1]), int(m[2]))
            elif token == "\n" or token.startswith("\x1b"):
                continue
            else:
                self.text[(self.x, self.y)] = token
                self.image.pop((self.x, self.y), None)
                self.x += 1

    def _image(self, escape: str, cols: int, rows: int) -> None:
        for y in range(self.y, self.y + rows):
            for x in range(self.x, self.x + cols):
                self.image[(x, y)] = escape

    def images(self) -> dict[tuple[int, int], str]:
        return dict(self.image)


class FullFrame:
    """A stand-in for Textual's full-screen update (what after_frame reads of it)."""

    def __init__(self, region) -> None:
        self.region = region


def capture(app) -> list[str]:
    """What the app writes to the terminal, frame by frame (a headless app writes nothing)."""
    out: list[str] = []
    display = app._display

    def record(screen, update) -> None:
        display(screen, update)
        if update is not None and hasattr(update, "render_segments"):
            out.append(update.render_segments(app.console))

    app._display = record
    return out


def expected(app) -> dict[tuple[int, int], str]:
    """The cells where the lists' thumbnails should show as images now, and each one's escape."""
    images, want = app.placeholders, {}
    for lst in (app.pos, app.neg):
        for arr, rect, _ in images.rects(lst):
            escape = images._escapes.get((id(arr), rect.width, rect.height))
            for y in range(rect.y, rect.bottom):
                for x in range(rect.x, rect.right):
                    want[(x, y)] = escape[1] if escape else None
    return want


def in_lists(app, cells) -> set:
    regions = [app.pos.region, app.neg.region]
    return {xy for xy in cells if any(r.contains(*xy) for r in regions)}


def half_blocks(strip) -> int:
    return sum(seg.text.count("▀") for seg in strip)


@pytest.fixture
def forty(tmp_path):
    return make_folder(tmp_path / "data", n=40, tagged={f"img{i:02d}": [RING] for i in range(20)})


async def settled(app, pilot, term, out) -> None:
    """Every thumbnail on screen decoded and encoded, and what was written fed to ``term``. Under load a
    list can lay out again (or a thumbnail arrive) just after the condition first holds: it must hold again
    after a pause, with the same images."""

    def ready() -> bool:
        return bool(app.pos.rows and app.thumbs.get(app.pos.rows[0].path) is not None
                    and app.thumbs.pending == 0 and None not in expected(app).values()
                    and not app.placeholders.resting)

    for _ in range(20):
        assert await until(pilot, ready)
        want = expected(app)
        await pilot.pause(0.1)
        if ready() and expected(app) == want:
            break
    for data in out:
        term.feed(data)
    out.clear()


@pytest.mark.parametrize("protocol", ["sixel", "iterm2"])
async def test_zoomed_rows_and_the_grid_paint_images_that_never_outlive_their_rows(forty, protocol):
    app = TaggerApp(forty, tag=RING, graphics=protocol)
    out = capture(app)
    term = Terminal((160, 48), app.placeholders.cell)
    async with app.run_test(size=(160, 48)) as pilot:
        lst = app.pos
        await settled(app, pilot, term, out)
        assert lst.thumb_h < inline_images.MIN_LINES and not in_lists(app, term.images())  # smallest: half blocks
        assert half_blocks(lst.render_line(0)) == lst.thumb_w

        await pilot.press("plus")
        tw, th = LIST_LEVELS[1]
        assert lst.thumb_h == th >= inline_images.MIN_LINES
        await settled(app, pilot, term, out)
        want = expected(app)
        whole = lst.scrollable_content_region.height // lst.row_h  # rows shown whole (the last may be cut)
        assert len(want) == 2 * whole * tw * th  # square frames: each fills its 8 x 4 cells
        assert {xy: e for xy, e in term.images().items() if xy in want} == want  # each painted, in its cells
        blocks = {xy for xy in in_lists(app, term.text) if term.text[xy] == "▀"}
        assert set(want) <= blocks and len(blocks - set(want)) <= 2 * tw * th
        # every image over its thumbnail's half blocks; half blocks without an image: the cut last rows only
        assert all(half_blocks(lst.render_line(y)) == tw for y in range(th))  # over half blocks
        escape = want[min(want)]
        assert (SIXEL if protocol == "sixel" else ITERM).fullmatch(escape)

        for keys in (["down"] * 7, ["pagedown"], ["pagedown", "up", "up"], ["end"], ["home"]):
            await pilot.press(*keys)
            await settled(app, pilot, term, out)
            want = expected(app)
            shown = {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())}
            assert shown == want  # no image left where its row was: every image cell is a current thumbnail

        # scrolls in quick succession (a key held) leave the half blocks until the list rests
        images, frame = app.placeholders, FullFrame(app.screen.region)
        images._last_burst = 0.0
        first = images.after_frame(app.screen, frame)
        assert len((SIXEL if protocol == "sixel" else ITERM).findall(first)) > inline_images.BURST
        assert images.after_frame(app.screen, frame) == "" and images.resting
        await settled(app, pilot, term, out)  # rested: the lists repainted, with their images
        assert {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == expected(app)

        await pilot.press("v")  # the grid: several images a band, each in its cell
        await settled(app, pilot, term, out)
        want = expected(app)
        assert len({e for e in want.values()}) >= 2 * lst.cols
        assert {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == want
        await pilot.press("v")
        app.session.discard_journal()


@pytest.mark.parametrize("protocol", ["sixel", "iterm2"])
async def test_a_cursor_move_leaves_the_images_in_place_and_sends_none(forty, protocol):
    app = TaggerApp(forty, tag=RING, graphics=protocol)
    out = capture(app)
    term = Terminal((160, 48), app.placeholders.cell)
    escape = SIXEL if protocol == "sixel" else ITERM
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("plus")
        await settled(app, pilot, term, out)
        want = expected(app)
        assert want and {xy: e for xy, e in term.images().items() if xy in want} == want
        app.pos.focus()
        for _ in range(3):  # the cursor moves over rows on screen: their lines are written, not their images
            await pilot.press("down")
            await pilot.pause(0.3)
            written = "".join(out)
            assert written and not escape.search(written)
            await settled(app, pilot, term, out)
            assert {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == want
        await pilot.press("pagedown")  # a scroll: every image sent again, at its new cells
        await settled(app, pilot, term, out)
        want = expected(app)
        assert {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == want
        await pilot.press("home", "v")  # the grid: several images on the lines a cursor move writes
        await settled(app, pilot, term, out)
        want = expected(app)
        for key in ("right", "right", "down"):
            await pilot.press(key)
            await pilot.pause(0.3)
            written = "".join(out)
            assert written and not escape.search(written)
            await settled(app, pilot, term, out)
            assert {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == want
        await pilot.press("v")
        app.session.discard_journal()


async def test_a_dialog_over_the_lists_leaves_no_image_and_they_come_back_when_it_closes(forty):
    app = TaggerApp(forty, tag=RING, graphics="sixel")
    out = capture(app)
    term = Terminal((100, 30), app.placeholders.cell)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("plus")
        await settled(app, pilot, term, out)
        assert in_lists(app, term.images())
        await pilot.press("question_mark")  # the help: a dialog over the lists
        await pilot.pause(0.3)
        for data in out:
            term.feed(data)
        out.clear()
        assert app.screen is not app.pos.screen
        assert not in_lists(app, term.images())  # overwritten, and none painted under the dialog
        await pilot.press("escape")
        await settled(app, pilot, term, out)
        want = expected(app)
        assert want and {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == want
        app.session.discard_journal()


async def test_a_toast_over_a_thumbnail_keeps_its_image_out_until_it_goes(forty):
    app = TaggerApp(forty, tag=RING, graphics="sixel")
    out = capture(app)
    term = Terminal((60, 32), app.placeholders.cell)
    async with app.run_test(size=(60, 32), notifications=True) as pilot:
        await pilot.press("plus", "v")  # the grid: thumbnails reach the right, where toasts show
        await settled(app, pilot, term, out)
        app.notify("a long notice " * 12, timeout=3)  # a toast some lines tall
        # on a loaded machine a toast of 1 s could come and go before a fixed pause ended
        assert await until(pilot, lambda: [w for w in app.screen._compositor.visible_widgets
                                           if type(w).__name__ == "Toast"])
        await pilot.pause(0.3)
        for data in out:
            term.feed(data)
        out.clear()
        toast = [w for w in app.screen._compositor.visible_widgets if type(w).__name__ == "Toast"]
        assert toast
        covered = toast[0].region
        everywhere = inline_images._in_front_of
        inline_images._in_front_of = lambda lst: []
        try:
            under = [rect for lst in (app.pos, app.neg) for _, rect, _ in app.placeholders.rects(lst)
                     if covered.overlaps(rect)]
        finally:
            inline_images._in_front_of = everywhere
        assert under  # thumbnails lie under the toast
        images = term.images()
        assert not any(covered.contains(*xy) for xy in images)  # the toast's text over them, no image over it
        assert not any(covered.overlaps(rect) for lst in (app.pos, app.neg)
                       for _, rect, _ in app.placeholders.rects(lst))
        assert await until(pilot, lambda: not [w for w in app.screen._compositor.visible_widgets
                                               if type(w).__name__ == "Toast"], tries=600)
        await settled(app, pilot, term, out)
        want = expected(app)
        assert {xy: e for xy, e in term.images().items() if xy in in_lists(app, term.images())} == want
        app.session.discard_journal()


async def test_half_blocks_write_no_image(forty):
    app = TaggerApp(forty, tag=RING, graphics="halfcell")
    out = capture(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("plus")
        assert await until(pilot, lambda: app.thumbs.pending == 0 and app.pos.rows)
        await pilot.pause(0.2)
        data = "".join(out)
        assert app.placeholders is None and "\x1bP" not in data and "\x1b]1337" not in data
        assert half_blocks(app.pos.render_line(0)) == LIST_LEVELS[1][0]
        app.session.discard_journal()


def test_the_escapes_draw_the_thumbnail_over_its_cells():
    import numpy as np

    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = 200
    sixel = inline_codec.encode("sixel", rgb, 6, 2, (10, 20))
    m = SIXEL.fullmatch(sixel)
    assert m and (int(m[1]), int(m[2])) == (60, 40)  # resized to the cells' pixels: the terminal does not scale
    assert "#" in sixel and ";2;78;0;0" in sixel  # its colour register: 200/255 red
    iterm = inline_codec.encode("iterm2", rgb, 6, 2, (10, 20))
    m = ITERM.fullmatch(iterm)
    assert m and (m[1], m[2]) == ("6", "2")
    import base64

    png = base64.b64decode(iterm.rsplit(":", 1)[1][:-1])
    assert png.startswith(b"\x89PNG")
    wrapped = inline_codec.encode("iterm2", rgb, 6, 2, (10, 20), tmux=True)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]1337;") and wrapped.endswith("\x1b\\")


def test_iterm2_and_sixel_are_chosen_per_terminal_and_forced_by_name():
    assert image_adapter.decide("auto", "halfcell", {"TERM_PROGRAM": "iTerm.app"}).kind == "iterm2"
    assert image_adapter.decide("auto", "sixel", {"TERM_PROGRAM": "iTerm.app"}).kind == "iterm2"
    assert image_adapter.decide("auto", "sixel", {"TERM": "foot"}).kind == "sixel"
    assert image_adapter.decide("iterm2", "sixel", {"TERM": "foot"}).kind == "iterm2"
    assert image_adapter.decide("sixel", "text", {}).kind == "sixel"
    assert image_adapter.thumb_cell_pixels("sixel") == image_adapter.thumb_cell_pixels("kitty")


@pytest.mark.parametrize("env, probed, kind, drawn_by", [
    ({"TERM_PROGRAM": "iTerm.app", "TERM": "xterm-256color"}, "sixel", "iterm2", inline_images.InlineImages),
    ({"TERM": "foot"}, "sixel", "sixel", inline_images.InlineImages),  # foot, WezTerm, xterm -ti vt340
    ({"TERM": "xterm-kitty"}, "kitty", "kitty", kitty_placeholders.Placeholders),
    ({"TERM": "xterm-256color"}, "halfcell", "halfcell", type(None)),
])
def test_the_app_draws_thumbnails_as_the_terminal_can(monkeypatch, forty, env, probed, kind, drawn_by):
    for name in ("TMUX", "TERM_PROGRAM", "TERM", "KITTY_WINDOW_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(image_adapter, "_probed", lambda: probed)
    app = TaggerApp(forty, tag=RING, thumbnails=False)  # --graphics auto
    assert app.graphics == kind and type(app.placeholders) is drawn_by
    if kind in ("sixel", "iterm2"):
        assert app.placeholders.protocol == kind and app.thumb_cell == image_adapter.thumb_cell_pixels("kitty")
