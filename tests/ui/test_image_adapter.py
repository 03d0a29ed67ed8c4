"""ui/widgets/image_adapter.py against the installed textual-image: the image is drawn in its colours, a
repaint of the same image replays what was drawn, and a new image (or key) is drawn anew."""

from __future__ import annotations

from PIL import Image
from textual.app import App, ComposeResult

from tui_tagger.ui.widgets.image_adapter import cell_pixel_size, image_widget_class


class OneImage(App):
    CSS = "#img { width: 4; height: 2; }"

    def compose(self) -> ComposeResult:
        self.img = image_widget_class("halfcell")(id="img")
        yield self.img


def colours(strip) -> set[str]:
    """The colours a rendered line paints with (half-cell: foreground and background per cell)."""
    out = set()
    for seg in strip:
        for c in (seg.style.color, seg.style.bgcolor) if seg.style else ():
            if c is not None:
                out.add(c.get_truecolor().hex)
    return out


async def test_the_image_is_drawn_and_a_repaint_replays_it():
    app = OneImage()
    async with app.run_test(size=(20, 6)) as pilot:
        app.img.render_key = "red"
        app.img.image = Image.new("RGB", (4, 4), (255, 0, 0))
        await pilot.pause()
        assert "#ff0000" in colours(app.img.render_line(0))
        drawn = app.img._renderable
        app.img.refresh()
        await pilot.pause()
        assert app.img._renderable is drawn  # replayed, not encoded again
        # same size, new image (and key): drawn anew, in its own colour
        app.img.render_key = "blue"
        app.img.image = Image.new("RGB", (4, 4), (0, 0, 255))
        await pilot.pause()
        assert app.img._renderable is not drawn
        assert "#0000ff" in colours(app.img.render_line(0))


def test_no_graphics_no_widget_and_cells_have_a_pixel_size():
    assert image_widget_class("none") is None
    w, h = cell_pixel_size()
    assert w > 0 and h > 0
