"""What the screen shows after keys is what a full repaint would show, though a key repaints little: a list's
scroll moves the lines still on screen, its scrollbar redraws only when it changes, the checklist repaints the
lines whose tick, source or p changed; the half blocks of thumbnails and the inspect image are what they were;
p's model yields the CPU to the keys."""

from __future__ import annotations

from support import make_folder, until
from textual.geometry import Region
from textual.widget import Widget

from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.widgets.image_list import ListScrollBar

RING = "Ring: Isotropic"


def painted(widget) -> list[list]:
    """The widget's lines as the screen gets them (through its line cache): the compositor asks for its whole
    region, border included."""
    return [list(strip) for strip in widget.render_lines(Region(0, 0, *widget.outer_size))]


def repainted(widget) -> list[list]:
    """The same lines painted from nothing (Textual's line cache and the list's kept lines dropped)."""
    widget._styles_cache.clear()
    if isinstance(widget, ListScrollBar):
        widget._lines = widget._given = (None, None)
    elif hasattr(widget, "_forget_lines"):  # an ImageList
        widget._forget_lines()
    return painted(widget)


async def test_after_down_pagedown_and_up_the_list_shows_what_a_full_repaint_shows(tmp_path):
    folder = make_folder(tmp_path / "data", n=40, tagged={f"img{i:02d}": [RING] for i in range(40)})
    app = TaggerApp(folder, tag=RING, graphics="halfcell")
    async with app.run_test(size=(120, 30)) as pilot:
        assert await until(pilot, lambda: len(app.pos.rows) == 40)
        lst = app.pos
        # every thumbnail in first: one arriving between the two paints below would change a row
        assert await until(pilot, lambda: all(app.thumbs.get(r.path) is not None for r in lst.rows))
        await pilot.pause(0.2)
        lst.focus()
        # the lines span the widget, border to border (kept lines were once cut to the content's width: the
        # screen then dropped the list altogether)
        lines = lst.render_lines(Region(0, 0, *lst.outer_size))
        assert {strip.cell_length for strip in lines} == {lst.outer_size.width}
        assert lines[0].text.startswith("╭─ Positive") and lines[0].text.endswith("╮")
        assert lines[-1].text.startswith("╰") and lines[-1].text.endswith("╯")
        for keys in (["down"] * 12, ["pagedown"], ["up"] * 5, ["pagedown"] * 3, ["pageup", "down", "down"]):
            await pilot.press(*keys)
            await pilot.pause()
            assert lst.scroll_y > 0 or keys == ["up"] * 5
            shown = painted(lst)
            assert shown == repainted(lst), keys
            bar = lst.vertical_scrollbar
            assert painted(bar) == repainted(bar), keys
            bar._dirty_regions.add(Region(0, 0, *bar.size))  # Textual's own render of the bar, line by line
            assert painted(bar) == [list(Widget.render_line(bar, y)) for y in range(bar.size.height)]
        # kept lines follow the focus (the border's colour, the cursor's) and the theme
        app.neg.focus()
        await pilot.pause()
        assert painted(lst) == repainted(lst)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert painted(lst) == repainted(lst)
        lst.focus()
        await pilot.pause()
        # the cursor row is the one the inspect pane shows, on screen
        top = int(lst.scroll_y) // lst.row_h
        assert lst.current.name in "".join(seg.text for seg in painted(lst)[1 + (lst.cursor - top) * lst.row_h])


def test_the_inspect_images_half_cells_are_textual_images_segments():
    """The fast half cells (ui/widgets/halfcell.py, through the adapter) draw what textual-image draws."""
    import numpy as np
    from PIL import Image
    from rich.console import Console
    from textual_image.renderable.halfcell import Image as Halfcell

    from tui_tagger.ui.widgets import halfcell
    from tui_tagger.ui.widgets.image_adapter import _segments_of

    console = Console(width=80, height=40)
    rng = np.random.default_rng(1)
    for w, h, cells in ((40, 40, (40, 20)), (31, 17, (31, 8)), (64, 64, (20, 10))):
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        img = img.quantize(8).convert("RGB") if w == 31 else img  # repeated colour pairs too
        options = console.options.update(width=cells[0], height=cells[1])
        want = list(console.render(Halfcell(img, *cells), options))
        halfcell._segments.clear()
        assert list(_segments_of(Halfcell(img, *cells), img, console, options)) == want
        assert halfcell._segments  # drawn by the fast path


async def test_predict_computes_at_a_lower_priority_than_the_keys(folder):
    """p's model (and the threads and processes it starts) yields the CPU to the UI thread."""
    import os
    import threading

    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = []

    class Fake:
        device, preprocess, tags = "cpu", {}, [RING]

        def predict_paths(self, paths, batch=32, workers=None, progress=None):
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            for path in paths:
                yield path, {RING: 0.5}, None

    app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False)
    app.predictor_factory = lambda: Fake()
    async with app.run_test(size=(120, 30)) as pilot:
        assert await until(pilot, lambda: app.pos.rows)
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None and app.session.predicted)
        assert seen and seen[0] > here
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here  # the UI's is unchanged


def test_a_thumbnail_line_is_half_blocks_of_its_pixels_centred_in_the_box():
    """Each cell: ▀ in the upper pixel's colour on the lower pixel's, ▄ where only the lower pixel is, blank
    outside the image; the image centred in thumb_w x 2*thumb_h pixels (a larger one shows its middle)."""
    import numpy as np
    from rich.color import Color
    from rich.style import Style

    from tui_tagger.ui.widgets.image_list import ImageList

    def expected(arr, tw, th, line, base):
        h, w = arr.shape[:2]
        x0, y0 = (tw - w) // 2, (2 * th - h) // 2
        out = []
        for cx in range(tw):
            px, uy, ly = cx - x0, 2 * line - y0, 2 * line + 1 - y0
            up = arr[uy, px] if 0 <= px < w and 0 <= uy < h else None
            lo = arr[ly, px] if 0 <= px < w and 0 <= ly < h else None
            col = (lambda p: Color.from_rgb(*p) if p is not None else None)
            if up is None and lo is None:
                out.append((" ", base))
            elif up is None:
                out.append(("▄", base + Style(color=col(lo))))
            else:
                out.append(("▀", base + Style(color=col(up), bgcolor=col(lo))))
        return out

    lst = ImageList(session=None)
    base = Style(bgcolor="#101010", bold=True)
    rng = np.random.default_rng(2)
    for shape, (tw, th) in (((6, 6), (6, 3)), ((5, 6), (6, 3)), ((3, 4), (6, 3)), ((9, 8), (6, 3)), ((12, 20), (10, 5))):
        arr = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        lst.thumb_w, lst.thumb_h = tw, th
        for line in range(th):
            got = [(seg.text, seg.style) for seg in lst._thumb_segments(None, arr, line, base)]
            assert got == expected(arr, tw, th, line, base), (shape, line)


async def test_the_checklist_follows_the_cursor_repainting_only_what_changed(folder):
    """Moving between images with other tags: the checklist ticks the shown image's tags, and its lines are
    what a full repaint shows (only the changed lines were repainted)."""
    from tui_tagger.ui.widgets.checklist import TagChecklist

    app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: len(app.pos.rows) == 2)
        checklist = app.query_one(TagChecklist)
        app.pos.focus()
        for key in ("down", "up", "down"):
            await pilot.press(key)
            row = app.pos.current
            # (keys in quick succession: it follows once the cursor rests, ui/rendering.py)
            assert await until(pilot, lambda: set(checklist.selected) == set(app.session.tags(row)))
            assert painted(checklist) == repainted(checklist), row.name
        assert {"TSAXS", RING} <= set(app.session.tags(app.pos.rows[0])) | set(app.session.tags(app.pos.rows[1]))
