"""Pilot tests from walking through the app as a user (tmux, 160x48 and 80x24): the inspect pane follows
the cursor, `n` walks on, filters that match nothing, the narrow layout's tab, the key contract in the
footer / help / palette, restore after a crash, a save that merges with a change made on disk meanwhile."""

from __future__ import annotations

from pathlib import Path

from support import make_folder, ready, tags_on_disk, until

from tui_tagger.core.tagfile import TagFile
from tui_tagger.ui import actions
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.dialogs import ChoiceDialog
from tui_tagger.ui.screens.help import HelpScreen
from tui_tagger.ui.widgets.checklist import TagChecklist

RING = "Ring: Isotropic"

# issue 4's default bindings, which users and scripts rely on: action id -> key
CONTRACT = {
    "move": "m", "mark": "space", "next_pane": "tab", "pick_tag": "t", "filter": "slash", "save": "s",
    "undo": "u", "redo": "ctrl+r", "expression": "e", "colormap": "c", "predict": "p",
    "next_suggested": "n", "help": "question_mark", "quit": "q",
}


def app_on(folder: Path, **kw) -> TaggerApp:
    kw.setdefault("tag", RING)
    return TaggerApp(folder, graphics="halfcell", **kw)




def names(lst) -> list[str]:
    return [r.rel for r in lst.rows]


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_inspect_pane_follows_the_cursor_and_n_walks_on(folder):
    app = app_on(folder)
    follows = lambda: app.inspect.path == app.neg.current.path  # noqa: E731
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        # the pane follows on the next refresh: wait for it (a loaded CI machine is slow), then check
        assert await until(pilot, follows)
        await pilot.press("down")
        assert await until(pilot, follows) and app.neg.current.path == app.neg.rows[1].path
        # n: each press goes to an image not looked at yet, and the inspect pane shows it
        visited = []
        for _ in range(2):
            before = app.neg.current.path
            await pilot.press("n")
            assert await until(pilot, lambda: app.neg.current.path != before and follows())
            visited.append(app.neg.current.path)
        assert len(set(visited)) == 2 and not set(visited) & {r.path for r in app.neg.rows[:2]}


async def test_filter_that_empties_the_lists_clears_the_inspect_pane(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("slash", *"TSAXS and not TSAXS", "enter")
        assert await until(pilot, lambda: app.pos.rows == [] and app.neg.rows == [] and app.inspect.path is None)
        assert app.inspect.query_one("#inspect-image").image is None
        await pilot.press("slash", "ctrl+u", *"img03", "enter")
        only_img03 = lambda: names(app.neg) == ["img03.tif"] and (app.inspect.path or "").endswith("img03.tif")  # noqa: E731
        assert await until(pilot, only_img03)
        assert "filter (name): img03" in str(app.status.render())


async def test_a_mistyped_query_says_why_and_keeps_the_lists(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        before = (names(app.pos), names(app.neg))
        await pilot.press("slash", *"Ring: Isotrpic and", "enter")
        await pilot.pause(0.1)
        assert (names(app.pos), names(app.neg)) == before and app.filter_text == ""
        assert any("no name contains it" in m for m in notices(app))


async def test_narrow_terminal_tab_swaps_in_the_inspect_pane_and_focuses_it(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        checklist = app.inspect.query_one(TagChecklist)
        await pilot.press("tab")
        assert app.focused is app.neg
        await pilot.press("tab")  # second press: the inspect pane, focused (it was display: none)
        assert await until(pilot, lambda: app.inspect.region.width > 0 and app.focused is checklist)
        assert await until(pilot, lambda: app.inspect.path == app.neg.current.path)
        assert checklist.highlighted == 0  # space ticks what the highlight shows
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert app.focused is app.pos and app.inspect.region.width == 0


async def test_default_keys_are_bound_and_shown_in_footer_help_and_palette(folder):
    from textual.widgets._footer import FooterKey

    by_id = {b.id: b for b in app_on(folder).BINDINGS}
    for action_id, key in CONTRACT.items():
        assert by_id[action_id].key == key and by_id[action_id].action == action_id
    for size in ((160, 48), (80, 24)):
        app = app_on(folder)
        async with app.run_test(size=size) as pilot:
            await ready(app, pilot)
            footer_keys = [k for k in app.screen.query(FooterKey) if k.region.width > 0]
            shown = {k.action for k in footer_keys}
            assert set(CONTRACT) <= shown, (size, set(CONTRACT) - shown)
            # all on screen: none cut off at the right edge or scrolled away
            assert all(k.region.right <= size[0] and k.region.y >= size[1] - 2 for k in footer_keys)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
            for a in actions.ACTIONS:
                assert commands[a.description] == f"key: {actions.key_label(a)}"
            # one Quit, ours (Textual's own would not ask about unsaved work)
            assert [c.title for c in app.get_system_commands(app.screen)].count("Quit") == 1


async def test_palette_quit_asks_when_there_are_unsaved_corrections(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("m")
        quit_cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Quit")
        await quit_cmd.callback()
        await pilot.pause(0.1)
        assert isinstance(app.screen, ChoiceDialog) and app.is_running


async def test_cursor_row_text_keeps_the_cursor_background(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        cursor_bg = app.pos._style("image-list--cursor").bgcolor
        line = list(app.pos.render_line(1))  # the source line of the row under the cursor
        assert any(seg.text.strip() for seg in line)
        assert all((seg.style.bgcolor == cursor_bg) for seg in line if seg.text.strip() and "▀" not in seg.text)


async def test_restore_after_a_crash_shows_the_corrections_tag(folder):
    app = app_on(folder, tag="TSAXS")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("tab", "m", "m")  # two negatives get TSAXS
        moved = set(app.session.dirty)
        app.session.journal.close()  # simulated crash
    again = TaggerApp(folder, graphics="halfcell")  # no --tag: the folder's most used tag would show
    async with again.run_test(size=(160, 48)) as pilot:
        await ready(again, pilot)
        assert isinstance(again.screen, ChoiceDialog)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert again.session.tag == "TSAXS"
        assert moved <= {r.path for r in again.pos.rows}
        assert any("Restored 2 corrections on 2 images" in m for m in notices(again))


async def test_save_merges_with_a_change_made_on_disk_meanwhile(folder):
    img00, img01 = folder / "img00.tif", folder / "img01.tif"
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("m")  # img00: Ring removed
        await pilot.press("m")  # img01: Ring removed
        # meanwhile another tool edits both tag files: img00 gets a new tag (no clash),
        # img01 gets Ring confirmed again by someone else while we removed it (a clash)
        tf = TagFile.read(folder / "img00.xml")
        tf.add("Beam Stop", source="human")
        tf.save(fsync=False)
        tf = TagFile.read(folder / "img01.xml")
        tf.remove(RING)
        tf.add(RING, source="human")
        tf.add("Saturation", source="human")
        tf.save(fsync=False)
        await pilot.press("s")
        for _ in range(40):
            await pilot.pause(0.05)
            if isinstance(app.screen, ChoiceDialog) or not app.session.dirty:
                break
        # the file without a clash is merged and saved at once: their tag kept, ours applied
        assert tags_on_disk(img00) == {"TSAXS", "Beam Stop"}
        # the clash is asked about, never silently overwritten: until answered, img01 stays unsaved
        assert isinstance(app.screen, ChoiceDialog) and app.session.dirty == [str(img01)]
        assert tags_on_disk(img01) == {RING, "Saturation"}
        await pilot.click("#choice-merge")
        for _ in range(40):
            await pilot.pause(0.05)
            if not app.session.dirty:
                break
        assert not app.session.dirty
        assert "Saturation" in tags_on_disk(img01)  # their addition survives the merge


async def test_expression_on_img_applies_and_shows_in_the_status(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("e", *"log1p(img)", "enter")
        for _ in range(40):
            await pilot.pause(0.05)
            if app.settings.expression:
                break
        assert app.settings.expression == "log1p(img)"
        assert "expr: log1p(img)" in str(app.status.render())


async def test_markup_in_a_folder_and_file_name_is_shown_literally(tmp_path):
    folder = make_folder(tmp_path / "d", n=2)
    sub = folder / "[red]x["
    sub.mkdir()
    (folder / "img01.tif").rename(sub / "red].tif")  # rel path "[red]x[/red].tif"
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        row = next(r for r in app.neg.rows if r.rel == "[red]x[/red].tif")
        app.neg.select_path(row.path)
        await pilot.pause(0.2)
        i = app.neg.rows.index(row)
        line = "".join(seg.text for seg in app.neg.render_line(i * 3 - int(app.neg.scroll_y)))
        assert "[red]x[/red].tif" in line
        assert "[red]x[/red].tif" in str(app.inspect.query_one("#inspect-title").render())
        await pilot.press("m")
        assert row.path in {r.path for r in app.pos.rows}


async def test_notifications_show_text_from_files_literally(folder):
    """A filter that matches nothing is echoed in a notification: markup in it stays text, and a stray
    closing tag does not crash the app."""
    from tui_tagger.ui.app import TaggerApp

    app = TaggerApp(folder, graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.scanning:
                break
        app.notify("[/] [red]x[/red] from a file")
        await pilot.pause(0.3)  # the toast renders
        toasts = [str(n.message) for n in app._notifications]
        assert "[/] [red]x[/red] from a file" in toasts
        assert app.is_running
