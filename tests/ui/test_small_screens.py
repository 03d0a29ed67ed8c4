"""Pilot tests of issue 20's fixes for what the user sees: focus that shows, every dialog usable at 80x24
(its buttons on screen, Tab / Shift+Tab / Left / Right between them, Enter in a field never runs), long
names cut in the middle keeping their end, a status line that says when it is cut, the analysis view's
header and footer at 80 columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from support import RING, app_on, make_folder, ready, until
from textual.widgets import Button, Checkbox, Footer, Input

from tui_tagger.ui.fit import middle_ellipsis
from tui_tagger.ui.screens.dialogs import ButtonRow, ChoiceDialog
from tui_tagger.ui.screens.run_dialog import RunDialog
from tui_tagger.ui.widgets.checklist import TagChecklist
from tui_tagger.ui.widgets.status_bar import fit_line

LONG = "a_very_long_sample_name_for_the_beamline_run_2026_12_06_detector_pilatus_frame_000123"


def shown(screen, widget) -> bool:
    """The whole of ``widget`` is drawn on the screen (not clipped by a container, not off the screen)."""
    geometry = screen._compositor.find_widget(widget)
    return geometry.visible_region == widget.region and screen.region.contains_region(widget.region)


async def test_the_checklist_cursor_row_shows_whether_keys_go_there(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        checklist = app.inspect.query_one(TagChecklist)
        checklist.highlighted = 1
        await pilot.pause(0.1)

        def cursor_style():
            return list(checklist.render_line(1 - checklist.scroll_offset.y))[-1].style

        blurred = cursor_style()
        await pilot.press("tab", "tab")  # the negatives, then the checklist
        assert await until(pilot, lambda: app.focused is checklist)
        focused = cursor_style()
        assert focused.bgcolor != blurred.bgcolor and focused.bold and not blurred.bold
        # unfocused, it looks like an unfocused list's cursor row, never like a focused one
        assert blurred.bgcolor == app.pos._style("image-list--cursor-blurred").bgcolor
        assert blurred.bgcolor != app.pos._style("image-list--cursor").bgcolor


async def open_dialog(app, pilot, key: str):
    await pilot.press(key)
    assert await until(pilot, lambda: app.screen is not app.screen_stack[0])
    await pilot.pause(0.2)
    return app.screen


@pytest.mark.parametrize("key", ["P", "T", "q"])
async def test_every_dialog_is_usable_at_80x24(folder, key):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        if key == "q":
            await pilot.press("m")  # an unsaved correction: q asks
        screen = await open_dialog(app, pilot, key)
        buttons = list(screen.query(Button))
        assert len(buttons) >= 2
        for widget in buttons + list(screen.query(Checkbox)):
            assert shown(screen, widget), widget
        for box in screen.query(Checkbox):
            assert "…" not in "".join(s.text for s in box.render_line(0))  # the box is drawn whole
        first = screen.focused
        if key == "T":  # training opens on its first field (tests/ui/test_train_dialog_focus.py)
            assert first is screen.query_one("#opt-out")
            buttons[0].focus()
            await pilot.pause()
        else:
            assert first is buttons[0]
        await pilot.press("right")
        assert screen.focused is buttons[1]
        await pilot.press("left", "left")
        assert screen.focused is buttons[-1]  # round the row
        await pilot.press("right")
        assert screen.focused is buttons[0]
        await pilot.press("tab")  # Tab moves too (the main screen's Tab, next pane, is not taken here)
        assert screen.focused is buttons[1] and app.screen is screen
        await pilot.press("shift+tab")
        assert screen.focused is buttons[0]
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_enter_in_a_run_dialog_field_goes_to_the_next_one_and_never_runs(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        screen = await open_dialog(app, pilot, "P")
        assert isinstance(screen, RunDialog)
        fields = list(screen.query(Input))
        fields[0].focus()
        await pilot.pause(0.05)
        await pilot.press("enter")
        assert app.screen is screen and app.predicting is None  # still open, nothing started
        assert screen.focused is fields[1]
        fields[-1].focus()
        await pilot.press("enter")  # the last field: on to the Run button, which shows on screen
        assert isinstance(screen.focused, Button) and screen.focused.id == "run" and shown(screen, screen.focused)
        await pilot.press("escape")


@pytest.mark.parametrize("key", ["P", "T"])
async def test_tab_through_a_run_dialog_at_80x24_shows_each_field_and_its_value_end(folder, key):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        screen = await open_dialog(app, pilot, key)
        buttons = screen.query_one(ButtonRow)
        for field in screen.query(".run-field Input, .run-field Checkbox"):
            while screen.focused is not field:  # Tab, as the user does, until it gets there
                await pilot.press("tab")
            await pilot.pause(0.1)
            # on screen and not under the buttons docked at the dialog's bottom
            assert shown(screen, field) and not field.region.overlaps(buttons.region), (field.id, field.region)
        for field in screen.query(".run-field Input"):
            if field.value:  # a path's end (its file name) shows, not a window cut at both ends
                drawn = "".join(s.text for s in field.render_line(0)).strip()
                # a cut one after a leading '…' (test_trial_notices_and_paths)
                assert field.value.endswith(drawn.removeprefix("…")) or drawn == field.value, (field.value, drawn)
        await pilot.press("escape")


async def test_the_restore_question_is_usable_at_80x24(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("m")
        app.session.journal.close()  # a crash
    again = app_on(folder)
    async with again.run_test(size=(80, 24)) as pilot:
        await ready(again, pilot)
        assert isinstance(again.screen, ChoiceDialog)
        assert again.screen.message.endswith("1 image from an earlier session (it ended without saving).\n"
                                             "Restore it?")  # one correction: "it", not "them"
        for button in again.screen.query(Button):
            assert shown(again.screen, button)
        await pilot.press("right")
        assert again.screen.focused.id == "choice-discard"


def test_middle_ellipsis_keeps_the_start_and_the_frame_number():
    cut = middle_ellipsis(LONG + ".tif", 30)
    assert len(cut) == 30 and "…" in cut
    assert cut.startswith("a_very") and cut.endswith("000123.tif")
    assert middle_ellipsis("short.tif", 30) == "short.tif"
    assert middle_ellipsis("日本語のとても長い名前_000123.tif", 15).endswith("0123.tif")


async def test_long_names_are_cut_in_the_middle_in_the_lists_and_the_inspect_title(tmp_path):
    folder = make_folder(tmp_path / "long", n=2, tagged={"img00": [RING]})
    (folder / "img01.tif").rename(folder / f"{LONG}.tif")
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        line = "".join(s.text for s in app.neg.render_line(0)).rstrip()
        assert "…" in line and line.endswith("000123.tif"), line
        await pilot.press("tab", "tab")  # the negatives, then the inspect pane swaps in at 80x24
        assert await until(pilot, lambda: app.inspect.region.width > 0)
        app._show_selected()
        await pilot.pause(0.1)
        title = str(app.inspect.query_one("#inspect-title").render())
        assert title.strip().endswith("000123.tif") and "…" in title


async def test_the_outlier_list_cuts_long_names_in_the_middle_at_80x24(tmp_path):
    folder = make_folder(tmp_path / "long", n=6, tagged={"img00": [RING], "img01": [RING], "img02": ["TSAXS"]})
    (folder / "img03.tif").rename(folder / f"{LONG}.tif")
    app = app_on(folder, thumbnails=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        screen = await open_dialog(app, pilot, "a")
        await pilot.press("4")
        listing = screen.query_one("#outlier-list")
        assert await until(pilot, lambda: listing.option_count > 0, tries=600)
        prompts = [listing.get_option_at_index(i).prompt for i in range(listing.option_count)]
        width = listing.scrollable_content_region.width
        assert all(p.cell_len <= width for p in prompts)  # one line each: none wraps
        cut = [p.plain for p in prompts if "…" in p.plain]
        assert len(cut) == 1 and cut[0].endswith("000123.tif"), cut


def test_a_status_line_too_long_for_the_terminal_says_so():
    line = Text(" Ring: Isotropic  +29 −31  of 60 images  sort: p  ● 3 unsaved  "
                "predicting 30/60 on cpu (p/esc: stop)  cmr/log")
    fitted = fit_line(line, 80)
    assert fitted.cell_len <= 80 and "predicting 30/60 on cpu" in fitted.plain  # hints go first
    cut = fit_line(line, 50)
    assert cut.cell_len <= 50 and cut.plain.endswith("…")  # then whole items, and an ellipsis says so
    assert "30/6 " not in cut.plain
    assert fit_line(line, 200) is line


def test_a_long_filter_is_cut_in_the_middle_not_dropped_from_a_narrow_status_line():
    line = Text()
    line.append(" Circular beamstop ", style="bold")
    line.append(" +7 −4  of 26 images  filter (images): cluster 1 of the t-SNE map (11 images)  sort: p")
    line.append("  ● 2 unsaved", style="bold")
    line.append("  learned Circular beamstop from 11+ 15−  cmr/log")
    fitted = fit_line(line, 80)
    assert fitted.cell_len <= 80 and fitted.plain.endswith("…")
    # the tag whole, the filter in force in part (its start and end), the unsaved count
    assert fitted.plain.startswith(" Circular beamstop  +7 −4")
    shown_filter = fitted.plain.split("  ")[3]
    assert shown_filter.startswith("filter") and "…" in shown_filter and shown_filter.endswith("(11 images)")
    assert "● 2 unsaved" in fitted.plain
    assert fitted.spans[0].end - fitted.spans[0].start == len(" Circular beamstop ")  # still bold
    wider = fit_line(line, 120)  # room for every item: the names cut, nothing dropped
    assert wider.cell_len <= 120 and "cmr/log" in wider.plain and "learned" in wider.plain


async def test_the_analysis_view_fits_80x24(folder, tmp_path):
    deep = tmp_path / ("beamtime_" + "x" * 80) / "run_0042"
    deep.parent.mkdir()
    folder.rename(deep)
    app = app_on(deep)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        screen = await open_dialog(app, pilot, "a")
        title = str(screen.query_one("#analysis-title").render())
        assert "images" in title and title.rstrip().endswith("run_0042") and len(title.rstrip()) <= 80
        footer = screen.query_one(Footer)
        assert shown(screen, footer)
        from textual.widgets._footer import FooterKey

        await pilot.press("3")  # the tab with the most keys in the footer
        await pilot.pause(0.2)
        keys = list(footer.query(FooterKey))
        assert {k.key for k in keys} >= {"escape", "m", "v", "x"}
        for key in keys:  # every key of the footer on screen: none cut off at the right
            assert shown(screen, key), (key.key, key.region)


def test_review_says_why_it_found_no_questionable_label():
    from tui_tagger.ui.review_mode import no_questionable

    assert "needs 3 of each kind" in no_questionable("Ring", 2, 40)
    enough = no_questionable("Ring", 10, 16)  # tmux, real frames: it said "a head needs 3 of each kind" here
    assert "needs" not in enough and "10" in enough and "16" in enough and "agrees" in enough


async def test_h_at_80x24_says_where_the_heat_map_shows(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        assert app.inspect.size.width == 0  # the lists fill the screen
        await pilot.press("h")
        await pilot.pause(0.1)
        told = [n.message for n in app._notifications]
        assert any("tab shows it in the inspect pane" in m for m in told), told  # not "computing…" unseen


async def test_the_palette_finds_the_zoom_keys_by_that_word(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        found = [c.help for c in app.get_system_commands(app.screen) if "zoom" in c.title.lower()]
        assert "key: +, =" in found and "key: -" in found, found  # "zoom" found nothing in tmux


async def test_a_terminal_shrunk_while_a_dialog_is_open_lays_the_main_screen_out_narrow(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await open_dialog(app, pilot, "P")
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        await pilot.press("escape")
        assert await until(pilot, lambda: app.screen is app.screen_stack[0])
        # the lists fill the screen, not three squeezed panes (the classes went to the dialog before)
        assert app.screen.has_class("-narrow") and app.screen.has_class("-footer-2")
        assert app.inspect.size.width == 0 and app.pos.size.width > 30


async def test_the_grid_keeps_p_and_the_frame_number_of_a_long_name(tmp_path):
    folder = make_folder(tmp_path / "long", n=3, tagged={"img00": [RING]})
    (folder / "img01.tif").rename(folder / f"{LONG}.tif")
    app = app_on(folder, thumbnails=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        row = next(r for r in app.neg.rows if r.name.startswith("a_very"))
        app.apply_predictions([(row.path, {RING: 0.37}, None)], "model")  # as p's results arrive
        await pilot.press("tab", "v", "plus", "plus")  # cells of 24-cell thumbnails
        lst = app.neg
        assert lst.grid and lst.thumb_w == 24
        at = lst.rows.index(row)
        line = text_of(lst.render_line(lst.thumb_h + (at // lst.cols) * lst.row_h))
        cell = line[(at % lst.cols) * (len(line) // lst.cols):][:len(line) // lst.cols]
        # its p, the start of its name and its frame number, cut in the middle (it lost the p before)
        assert "0.37 a" in cell and "…" in cell and "000123.tif" in cell, cell
        await pilot.press("minus", "minus", "v")


def text_of(strip) -> str:
    return "".join(seg.text for seg in strip)
