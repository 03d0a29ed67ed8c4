"""A key's whole effect is in its own repaint (issue 20, instant keys): the inspect pane shows the cursor's image
and the list scrolls as the key is handled, not in a later message or after the next repaint (the inspect
pane's message cost a key one more repaint, and Textual holds the next repaint for its 60 Hz tick)."""

from __future__ import annotations

from support import RING, app_on, make_folder, ready


async def test_the_inspect_pane_and_the_scroll_follow_the_cursor_as_the_key_is_handled(tmp_path):
    app = app_on(make_folder(tmp_path / "f", n=40, tagged={f"img{i:02d}": [RING] for i in range(0, 40, 4)}))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        lst = app.neg
        lst.focus()
        await pilot.pause(0.1)
        height = lst.scrollable_content_region.height
        for _ in range(30):
            before = lst.scroll_y
            lst.action_line(1)  # as the Down key's binding runs it: nothing else gets a turn before we look
            assert app.inspect.path == lst.current.path
            top = lst.line_of(lst.cursor) - lst.scroll_y
            assert 0 <= top and top + lst.row_h <= height  # scrolled already where the cursor left the screen
            assert lst.scroll_y >= before
        assert lst.scroll_y > 0
        app.session.discard_journal()
