"""Pilot tests: the flows a user relies on, driven by keys and the mouse on a real folder."""

from __future__ import annotations

import pytest
from support import RING, app_on, make_folder, names, ready, tags_on_disk, until

from tui_tagger.ui.screens.dialogs import ChoiceDialog
from tui_tagger.ui.screens.help import HelpScreen
from tui_tagger.ui.screens.tag_picker import TagPicker, fuzzy_score



async def test_opens_with_lists_status_and_help(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert sorted(names(app.pos)) == ["img00.tif", "img01.tif"]
        assert len(app.neg.rows) == 4
        assert app.scan_error is None
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")  # nothing unsaved: quits at once
    assert app.return_code == 0


async def test_move_bulk_move_undo_redo_and_save(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("m")  # img00 -> negatives
        assert names(app.pos) == ["img01.tif"]
        await pilot.press("tab")  # negatives: img00, img02..img05; the cursor stayed on img02
        assert app.focused is app.neg and app.neg.current.rel == "img02.tif"
        await pilot.press("space", "space")  # mark img02, img03
        assert app.neg.marked == {str(folder / "img02.tif"), str(folder / "img03.tif")}
        await pilot.press("m")
        assert names(app.pos) == ["img01.tif", "img02.tif", "img03.tif"]
        await pilot.press("u")
        assert names(app.pos) == ["img01.tif"]
        await pilot.press("u")
        assert names(app.pos) == ["img00.tif", "img01.tif"]
        await pilot.press("ctrl+r", "ctrl+r")
        assert names(app.pos) == ["img01.tif", "img02.tif", "img03.tif"]
        assert "3 unsaved" in str(app.query_one("#status").render())
        await pilot.press("s")
        await app.workers.wait_for_complete()
        # saved: the worker cleared the corrections and its result came back to the app (saving off)
        assert await until(pilot, lambda: not app.session.dirty and not app.saving)
    assert tags_on_disk(folder / "img00.tif") == {"TSAXS"}
    assert tags_on_disk(folder / "img03.tif") == {RING}


async def test_pick_tag_by_fuzzy_search(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("t")
        assert isinstance(app.screen, TagPicker)
        await pilot.press(*"tsaxs")
        await pilot.press("enter")
        # the picker's answer reaches the app after the dialog closes (a callback, not the key press)
        assert await until(pilot, lambda: app.session.tag == "TSAXS")
        assert sorted(names(app.pos)) == ["img00.tif", "img02.tif"]


def test_fuzzy_score_prefers_substrings_then_in_order_letters():
    assert fuzzy_score("ring", "Ring: Isotropic") > fuzzy_score("ring", "Rings: anisotropic texture") - 1
    assert fuzzy_score("rgiso", "Ring: Isotropic") is not None
    assert fuzzy_score("zzz", "Ring: Isotropic") is None


async def test_checklist_tick_adds_a_tag(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        app.neg.cursor = 0  # img02
        app.neg.focus()
        # the pane follows the focused list once the focus has moved (after a refresh on a loaded machine)
        assert await until(pilot, lambda: app.inspect.path == str(folder / "img02.tif"))
        checklist = app.inspect.query_one("#checklist")
        index = next(i for i in range(checklist.option_count) if checklist.get_option_at_index(i).value == RING)
        checklist.focus()
        checklist.highlighted = index
        await pilot.press("space")
        # the tick reaches the app as a message from the checklist
        assert await until(pilot, lambda: RING in app.session.tags(app.session.row(str(folder / "img02.tif"))))
        assert "img02.tif" in names(app.pos)


async def test_quit_with_unsaved_changes_asks(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("m", "q")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("escape")  # cancel
        assert app.is_running and app.session.dirty


async def test_journal_replay_after_a_crash(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("tab", "m")  # img00 stays, first negative gets the tag
        moved = {r.path for r in app.pos.rows}
        app.session.journal.close()
        # simulated crash: the app goes away without saving or asking
    again = app_on(folder)
    async with again.run_test(size=(160, 48)) as pilot:
        await ready(again, pilot)
        assert isinstance(again.screen, ChoiceDialog)
        await pilot.press("enter")  # the default button restores
        assert await until(pilot, lambda: {r.path for r in again.pos.rows} == moved)
        assert again.session.dirty


async def test_markup_and_escapes_in_file_names_are_shown_literally(tmp_path):
    folder = make_folder(tmp_path / "d", n=1)
    odd = folder / "[bold red]x[blink]\x1b[31m.tif"
    (folder / "img00.tif").rename(odd)
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        row = app.neg.rows[0]
        assert row.name == "[bold red]x[blink]\\x1b[31m.tif"  # core.text.printable: the escape shown
        line = "".join(seg.text for seg in app.neg.render_line(0))
        assert "[bold red]x[blink]" in line and "\x1b" not in line


async def test_corrupt_image_is_marked_and_the_app_keeps_working(folder):
    (folder / "img05.tif").write_bytes(b"II*\x00garbage")
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        app.neg.select_path(str(folder / "img05.tif"))
        assert await until(pilot, lambda: app.session.row(str(folder / "img05.tif")).error)  # the image worker
        assert "img05.tif" in app.session.row(str(folder / "img05.tif")).error
        assert app.inspect.has_class("-error")
        await pilot.press("m")  # still taggable
        assert str(folder / "img05.tif") in {r.path for r in app.pos.rows}


async def test_bad_expression_leaves_image_and_settings_alone(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("e")
        await pilot.press(*"x +* ", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert app.settings.expression == ""
        await pilot.press("c")
        await app.workers.wait_for_complete()
        assert await until(pilot, lambda: app.settings.colormap != "cmr")  # committed when the image is drawn


async def test_filter_by_query_and_by_name(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        # the filter applies when the dialog's answer reaches the app (a callback after it closes)
        await pilot.press("slash", *"TSAXS", "enter")
        assert await until(pilot, lambda: names(app.pos) == ["img00.tif"] and names(app.neg) == ["img02.tif"])
        await pilot.press("slash", "ctrl+u", *"img04", "enter")
        assert await until(pilot, lambda: names(app.neg) == ["img04.tif"] and app.pos.rows == [])


async def test_small_terminal_hides_inspect_until_tab(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        assert not app.inspect.display or app.inspect.region.width == 0
        await pilot.press("tab", "tab")
        assert await until(pilot, lambda: app.inspect.region.width > 0)  # shown after the next refresh


async def test_right_click_moves_a_row(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        first = app.neg.rows[0].path
        await pilot.click("#neg", offset=(12, 1), button=3)
        assert await until(pilot, lambda: first in {r.path for r in app.pos.rows})  # a message to the app
