"""What a list shows after keys is what a full repaint would show: a scroll moves the lines still on screen
instead of painting them again, and the scrollbar redraws only when it changes (ImageList's paint caches)."""

from __future__ import annotations

from support import make_folder, until
from textual.geometry import Region

from tui_tagger.ui.app import TaggerApp

RING = "Ring: Isotropic"


def painted(widget) -> list[list]:
    """The widget's lines as the screen gets them (through its line cache)."""
    return [list(strip) for strip in widget.render_lines(Region(0, 0, *widget.size))]


def repainted(widget) -> list[list]:
    """The same lines painted from nothing."""
    widget._styles_cache.clear()
    if hasattr(widget, "_lines"):
        widget._lines = (None, None)
    return painted(widget)


async def test_after_down_pagedown_and_up_the_list_shows_what_a_full_repaint_shows(tmp_path):
    folder = make_folder(tmp_path / "data", n=40, tagged={f"img{i:02d}": [RING] for i in range(40)})
    app = TaggerApp(folder, tag=RING, graphics="halfcell")
    async with app.run_test(size=(120, 30)) as pilot:
        assert await until(pilot, lambda: len(app.pos.rows) == 40)
        lst = app.pos
        lst.focus()
        for keys in (["down"] * 12, ["pagedown"], ["up"] * 5, ["pagedown"] * 3, ["pageup", "down", "down"]):
            await pilot.press(*keys)
            await pilot.pause()
            assert lst.scroll_y > 0 or keys == ["up"] * 5
            shown = painted(lst)
            assert shown == repainted(lst), keys
            bar = lst.vertical_scrollbar
            assert painted(bar) == repainted(bar), keys
        # the cursor row is the one the inspect pane shows, on screen
        top = int(lst.scroll_y) // lst.row_h
        assert lst.current.name in "".join(seg.text for seg in painted(lst)[1 + (lst.cursor - top) * lst.row_h])
