"""A key's whole effect is in its own repaint (issue 20, instant keys): the inspect pane shows the cursor's image
and the list scrolls as the key is handled, not in a later message or after the next repaint (the inspect
pane's message cost a key one more repaint, and Textual holds the next repaint for its 60 Hz tick)."""

from __future__ import annotations

from support import RING, app_on, make_folder, ready, until


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


async def test_while_the_cursor_moves_the_title_follows_each_key_and_the_rest_of_the_pane_once_it_rests(tmp_path, monkeypatch):
    """A held key: the title shows each image passed over; the checklist (and p, metadata, image) follow once
    the cursor rests, or at once when the checklist takes the keys (a tick acts on what it shows)."""
    from tui_tagger.ui import rendering
    from tui_tagger.ui.rendering import REST_S

    app = app_on(make_folder(tmp_path / "f", n=12, tagged={f"img{i:02d}": [RING] + ["TSAXS"] * (i % 4 == 0) for i in range(12)}))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        lst, checklist = app.pos, app.inspect.checklist  # neighbours differ in their ticks
        lst.focus()
        await pilot.pause(2 * REST_S)

        def ticks_follow() -> bool:
            return set(checklist.selected) == set(app.session.tags(lst.current))

        assert ticks_follow()
        for _ in range(3):  # as a held key sends them: no rest between
            lst.action_line(1)
            assert app.inspect.path == lst.current.path
            assert str(app.inspect.query_one("#inspect-title").render()) == lst.current.name
        assert await until(pilot, ticks_follow)
        monkeypatch.setattr(rendering, "REST_S", 60.0)  # the cursor never rests meanwhile: what follows is the focus's doing
        for _ in range(4):  # on to an image with other tags
            lst.action_line(1)
            if not ticks_follow():
                break
        assert not ticks_follow()
        checklist.focus()
        await pilot.pause()
        assert app.inspect.path == lst.current.path and ticks_follow()
        app.session.discard_journal()


async def longer_list_focused(app, pilot):
    """The app ready, the list with more rows (40 frames: one list has some to scroll) focused."""
    await ready(app, pilot)
    lst = max(app.pos, app.neg, key=lambda lst: len(lst.rows))
    lst.focus()
    await pilot.pause()
    return lst


async def test_a_moving_cursor_has_the_thumbnails_of_the_rows_about_to_scroll_in_loaded(tmp_path):
    """Down at the screen's last row: the next rows' thumbnails load before they show, so that a held key
    draws them in its own repaint (not in one more when they arrive)."""
    from tui_tagger.ui.widgets.image_list import PREFETCH_BANDS

    app = app_on(make_folder(tmp_path / "f", n=40))
    async with app.run_test(size=(160, 48)) as pilot:
        lst = await longer_list_focused(app, pilot)
        shown = (lst.scrollable_content_region.height // lst.row_h)  # whole rows on screen
        for _ in range(shown):  # to the last row on screen, then one more: the list scrolls by one row
            lst.action_line(1)
        last = int(lst.scroll_y) // lst.row_h + shown - 1
        ahead = [lst.rows[i].path for i in range(last + 1, last + 1 + PREFETCH_BANDS)]
        assert await until(pilot, lambda: all(app.thumbs.peek(p) is not None for p in ahead))
        assert int(lst.scroll_y) // lst.row_h + shown - 1 == last  # (not shown meanwhile)
        app.session.discard_journal()


async def test_each_list_key_moves_the_cursor_once(tmp_path):
    """The list runs its keys in its own key handler (not through the app's binding lookup): each press moves the
    cursor once, as its binding says (run twice, a Down would skip a row)."""
    app = app_on(make_folder(tmp_path / "f", n=40))
    async with app.run_test(size=(160, 48)) as pilot:
        lst = await longer_list_focused(app, pilot)
        page = lst.scrollable_content_region.height // lst.row_h
        for keys, cursor in ((["down"] * 3, 3), (["j"], 4), (["up", "k"], 2), (["pagedown"], 2 + page),
                             (["pageup"], 2), (["end"], len(lst.rows) - 1), (["home"], 0)):
            await pilot.press(*keys)
            assert lst.cursor == cursor, keys
        app.session.discard_journal()


async def test_the_inspect_title_draws_what_textuals_line_cache_would(tmp_path):
    """The title finishes its line itself (InspectTitle.render_lines): the same strips as Textual's own
    Widget.render_lines (its line cache, the line filters) draws from the same line."""
    from textual.geometry import Region
    from textual.widget import Widget

    app = app_on(make_folder(tmp_path / "f", n=4))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        title = app.inspect.query_one("#inspect-title")
        for key in ("down", "down"):
            await pilot.press(key)
            await pilot.pause()
            for crop in (Region(0, 0, *title.size), Region(3, 0, 10, 1)):
                ours = [list(strip) for strip in title.render_lines(crop)]
                title._styles_cache.clear()
                assert ours == [list(strip) for strip in Widget.render_lines(title, crop)]
        app.session.discard_journal()


async def test_a_list_key_is_on_screen_when_its_handler_returns(tmp_path, monkeypatch):
    """The key's repaint (the cursor's rows, the scroll, the inspect title) goes to the terminal as the key is
    handled, not at Textual's next 60 Hz tick (a wait of up to 34 ms); with more keys queued behind it, they
    share the tick's repaint."""
    from textual import events

    app = app_on(make_folder(tmp_path / "f", n=40))
    async with app.run_test(size=(160, 48)) as pilot:
        lst = await longer_list_focused(app, pilot)
        await pilot.pause(0.2)
        sent = []
        monkeypatch.setattr(app, "_display", lambda screen, update: update is None  # (a tick with nothing to draw)
                                or sent.append(update.render_segments(app.console)))
        page = lst.scrollable_content_region.height // lst.row_h
        for key in ["down"] * (page + 2) + ["pagedown", "pageup"]:  # past the screen's end: the list scrolls
            sent.clear()
            lst.on_key(events.Key(key, None))
            assert len(sent) == 1, key
            assert lst.current.name in sent[0], key  # the title and the cursor's row
        sent.clear()
        lst.post_message(events.Key("down", None))  # queued: this key's repaint waits for the tick
        lst.on_key(events.Key("down", None))
        assert not sent
        await pilot.pause()
        assert any(lst.current.name in update for update in sent)
        app.session.discard_journal()
