"""Pilot tests of issue 20's fixes in the corrections and the view: undo across a save (and the restore
offer right after it), the filter box opening empty, a tick's source shown as human."""

from __future__ import annotations

from support import RING, app_on, ready, tags_on_disk, until

from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.dialogs import ChoiceDialog, PromptDialog
from tui_tagger.ui.widgets.checklist import TagChecklist


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def dialog_text(screen) -> str:
    from textual.widgets import Static

    return " ".join(str(w.render()) for w in screen.query(Static))


async def test_undo_goes_past_a_save_and_a_crash_then_offers_exactly_what_is_unsaved(folder):
    app = app_on(folder)
    app.idle_resort_s = float("inf")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        first = app.neg.current.path
        await pilot.press("m")
        second = app.neg.current.path
        await pilot.press("m", "s")
        assert await until(pilot, lambda: not app.saving and not app.session.dirty)
        assert tags_on_disk(folder / first.rsplit("/", 1)[1]) >= {RING}
        await pilot.press("u")  # past the save: the second move is taken back, unsaved
        assert "Nothing to undo" not in " ".join(notices(app))
        assert second in {r.path for r in app.neg.rows} and app.session.dirty == [second]
        await pilot.press("u", "ctrl+r")  # and further back, and forward to the saved state again
        assert app.session.dirty == [second]
        app.session.journal.close()  # the process dies here
    again = TaggerApp(folder, tag=RING, graphics="halfcell")
    async with again.run_test(size=(160, 48)) as pilot:
        await ready(again, pilot)
        assert isinstance(again.screen, ChoiceDialog)
        assert "1 unsaved correction on 1 image" in dialog_text(again.screen)  # no phantom entry
        await pilot.press("enter")
        assert await until(pilot, lambda: any("Restored 1 correction on 1 image" in m for m in notices(again)))
        assert again.session.dirty == [second] and second in {r.path for r in again.neg.rows}


async def test_the_filter_box_opens_empty_so_slash_enter_clears_the_filter(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("slash", *"img01", "enter")
        assert app.filter_text == "img01" and len(app.pos.rows) + len(app.neg.rows) == 1
        await pilot.press("slash")
        assert isinstance(app.screen, PromptDialog)
        box = app.screen.query_one("#prompt-input")
        assert box.value == ""  # empty, with the current filter named in the dialog instead
        assert "img01" in dialog_text(app.screen)
        await pilot.press("enter")
        assert app.filter_text == "" and len(app.pos.rows) + len(app.neg.rows) == len(app.session.rows)


async def test_a_tag_just_ticked_shows_human_as_its_source(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("tab", "tab")  # the checklist
        checklist = app.inspect.query_one(TagChecklist)
        assert await until(pilot, lambda: app.focused is checklist)
        unticked = next(i for i in range(checklist.option_count)
                        if checklist.get_option_at_index(i).value not in checklist.selected)
        checklist.highlighted = unticked
        name = checklist.get_option_at_index(unticked).value
        await pilot.press("space")
        assert await until(pilot, lambda: name in checklist.selected)
        await pilot.pause(0.1)
        line = "".join(s.text for s in checklist.render_line(unticked - checklist.scroll_offset.y))
        assert line.startswith("[x] human"), line


async def test_a_save_that_asks_about_a_clash_says_what_it_did_save(folder):
    from tui_tagger.core.tagfile import TagFile

    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("m", "m")  # img00, img01: Ring removed
        tf = TagFile.read(folder / "img00.xml")  # another tool: a new tag on img00 (no clash) ...
        tf.add("Beam Stop", source="human")
        tf.save(fsync=False)
        tf = TagFile.read(folder / "img01.xml")  # ... and Ring confirmed again on img01 (a clash)
        tf.remove(RING)
        tf.add(RING, source="human")
        tf.save(fsync=False)
        await pilot.press("s")
        assert await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        text = app.screen.message
        # img00 went to disk: said so, here or in a notice; one clashing file, in the singular
        assert "Saved 1 tag file." in text or any("Saved 1 tag file" in n for n in notices(app)), text
        assert "1 tag file was changed on disk" in text and "keep it unsaved?" in text, text
        await pilot.press("escape")
