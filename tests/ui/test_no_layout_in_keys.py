"""Instant keys (issue 20): what arrives while the user holds a key (a list's rows, the inspect pane's image)
is drawn in place, without a screen-wide layout pass (Textual's reflow: 6-50 ms of the UI thread, a key that
waits). The inspect pane's image area is as large as the pane gives it whatever the image, so its first image
is asked for at the area's real size, and the image is drawn at its aspect from the left, as before."""

from __future__ import annotations

import threading

import pytest
from PIL import Image
from support import make_folder, ready, until
from textual.app import App, ComposeResult
from textual.geometry import Size

from tui_tagger.ui import backend, scan
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.widgets.image_adapter import image_widget_class
from tui_tagger.ui.widgets.image_list import ImageList

RING = "Ring: Isotropic"


def count_reflows(app) -> list:
    """A list that grows by one per screen-wide layout pass of ``app``'s screen from now on."""
    compositor = app.screen._compositor
    passes, reflow = [], compositor.reflow

    def counting(*args, **kw):
        passes.append(1)
        return reflow(*args, **kw)

    compositor.reflow = counting
    return passes


@pytest.fixture
def forty(tmp_path):
    return make_folder(tmp_path / "data", n=40, tagged={f"img{i:02d}": [RING] for i in range(40)})


async def test_the_rest_of_a_big_folder_arriving_behind_the_first_screen_is_no_layout_pass(forty, monkeypatch):
    """A big folder's first screen (a page of each list, from the index) is set before the lists are laid out;
    the rest of its rows arrive while the user may already hold a key: the lists take them in place."""
    cold = TaggerApp(forty, tag=RING, graphics="none", thumbnails=False)
    async with cold.run_test(size=(160, 48)) as pilot:  # a first open fills the index
        await ready(cold, pilot)
    monkeypatch.setattr(scan, "PAGED_FROM", 1)
    monkeypatch.setattr(scan, "PAGE", 20)  # 20 rows: more than the list shows (its scrollbar is there)
    gate, load = threading.Event(), backend.index_rows

    def held(catalog):
        gate.wait(30)
        yield from load(catalog)

    monkeypatch.setattr(backend, "index_rows", held)
    app = TaggerApp(forty, tag=RING, graphics="none", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        lst = app.pos
        assert await until(pilot, lambda: len(lst.rows) == 20)
        await pilot.pause(0.2)
        assert lst.virtual_size.height > lst.container_size.height  # the list scrolls already
        # in a terminal the first screen's rows come before the lists' first layout: their virtual width is a
        # guess (40) then, not the list's (here the first layout may come first)
        lst.set_reactive(ImageList.virtual_size, Size(40, lst.virtual_size.height))
        passes = count_reflows(app)
        gate.set()
        assert await until(pilot, lambda: len(lst.rows) == 40)
        await pilot.pause(0.2)
        assert passes == []
        assert lst.vertical_scrollbar.window_virtual_size == 40 * lst.row_h  # its scrollbar's range follows
        app.session.discard_journal()


async def test_the_inspect_image_arrives_without_a_layout_and_at_the_areas_size(forty):
    app = TaggerApp(forty, tag=RING, graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)  # all rows in: the lists' scrollbars came with a layout of their own
        assert await until(pilot, lambda: app.inspect.shown_key is not None and len(app.pos.rows) == 40)
        await pilot.pause(0.2)
        image = app.inspect.query_one("#inspect-image")
        # the first image was asked for at the area's size (an area as wide as its image was 0 wide before
        # its first one: that image came 4 pixels wide, blown up)
        assert app.inspect.shown_key[2] == app.inspect.pixel_size()
        assert image.image.size == (40, 40)  # the 64x64 frame fitted in 40 lines of half blocks
        area = image.region
        assert area.width == app.inspect.content_region.width  # the pane's width, not the image's
        passes = count_reflows(app)
        shown = app.inspect.shown_key
        await pilot.press("down")
        assert await until(pilot, lambda: app.inspect.shown_key not in (None, shown))
        await pilot.pause(0.2)
        assert passes == [] and image.region == area
        app.session.discard_journal()


class OneArea(App):
    CSS = "#img { width: 12; height: 4; }"

    def compose(self) -> ComposeResult:
        self.img = image_widget_class("halfcell")(id="img")
        yield self.img


def drawn_cells(strip) -> int:
    return sum(len(seg.text) for seg in strip if seg.style and seg.style.bgcolor
               and seg.style.bgcolor.get_truecolor().hex == "#ff0000")


async def test_an_image_in_a_fixed_area_keeps_its_aspect_and_a_new_one_is_a_repaint():
    app = OneArea()
    async with app.run_test(size=(30, 8)) as pilot:
        await pilot.pause()
        passes = count_reflows(app)
        app.img.image = Image.new("RGB", (8, 8), (255, 0, 0))  # the first image: square
        await pilot.pause()
        # drawn at the area's height (4 lines: 8 half-block pixels), as wide as its aspect: 8 cells from the
        # left, not stretched over the 12
        assert [drawn_cells(app.img.render_line(y)) for y in range(4)] == [8] * 4
        app.img.image = Image.new("RGB", (4, 8), (255, 0, 0))  # another size: half as wide
        await pilot.pause()
        assert [drawn_cells(app.img.render_line(y)) for y in range(4)] == [4] * 4
        app.img.image = None
        await pilot.pause()
        assert drawn_cells(app.img.render_line(0)) == 0
        assert passes == [] and app.img.size == (12, 4)
