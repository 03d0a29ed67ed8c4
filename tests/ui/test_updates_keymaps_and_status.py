"""Pilot tests of incremental list updates, user keymaps, themes, the journal cancelling out, the status
bar's jobs, and the catalog told about saves."""

from __future__ import annotations

import os

from support import RING, app_on, names, ready, tags_on_disk, until

from tui_tagger.core.journal import Journal
from tui_tagger.ui.actions import BY_ID, key_label
from tui_tagger.ui.screens.dialogs import ChoiceDialog
from tui_tagger.ui.screens.help import HelpScreen
from tui_tagger.ui.sorted_rows import SortedRows, sort_key


def highlighted_command(app) -> str:
    """The open command palette's highlighted entry, as text ("" while none is, or no palette is open)."""
    from textual.command import CommandList, CommandPalette

    if not isinstance(app.screen, CommandPalette):
        return ""
    found = app.screen.query(CommandList)
    if not found or found.first().highlighted is None:
        return ""
    commands = found.first()
    return str(commands.get_option_at_index(commands.highlighted).prompt)


def config_file(name: str):
    from pathlib import Path

    path = Path(os.environ["TUI_TAGGER_CONFIG_DIR"]) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def test_moves_keep_both_lists_sorted_as_a_full_rebuild_would(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("m", "tab", "down", "m", "space", "space", "m", "u", "ctrl+r", "tab", "m")
        incremental = (names(app.pos), names(app.neg))
        app.rebuild_lists()
        assert (names(app.pos), names(app.neg)) == incremental
        assert app.pos.border_title.startswith(f"Positive ({len(app.pos.rows)})")


def test_sorted_rows_put_likely_mistakes_first():
    class R:
        def __init__(self, rel, p):
            self.rel, self.path, self.predictions, self.mtime_ns = rel, rel, {"T": p} if p is not None else {}, 0

    rows = [R("a", 0.9), R("b", 0.1), R("c", None), R("d", 0.5)]
    pos = SortedRows(rows, sort_key("p", "T", True))
    neg = SortedRows(rows, sort_key("p", "T", False))
    assert [r.rel for r in pos.rows] == ["b", "d", "a", "c"]  # positives: lowest p first
    assert [r.rel for r in neg.rows] == ["a", "d", "b", "c"]  # negatives: highest p first
    moved = rows[3]
    assert pos.remove(moved) == 1 and pos.index(moved) is None
    assert pos.insert(moved) == 1 and pos.index(moved) == 1


async def test_user_keymap_rebinds_an_action_and_help_shows_it(folder):
    config_file("keymap.toml").write_text('move = "x"\nsave = ["ctrl+s", "s"]\n')
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        first = app.pos.current.path
        await pilot.press("m")  # no longer bound
        assert first in {r.path for r in app.pos.rows}
        await pilot.press("x")
        assert first in {r.path for r in app.neg.rows}
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert key_label(BY_ID["move"], app.screen.keymap) == "x"
        assert key_label(BY_ID["save"], app.screen.keymap) == "ctrl+s, s"


async def test_broken_keymap_is_a_notice_and_the_defaults_stay(folder):
    config_file("keymap.toml").write_text('move = \nfly = "f"\n')
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert any("keymap.toml" in n.message for n in app._notifications)
        first = app.pos.current.path
        await pilot.press("m")
        assert first in {r.path for r in app.neg.rows}


async def test_theme_from_argument_and_from_the_command_palette(folder):
    app = app_on(folder, theme="beamline-light")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert app.theme == "beamline-light"
        # the palette searches in the background: wait for what each step shows, not a fixed time
        await pilot.press("ctrl+p")
        palette = app.screen
        await pilot.press(*"theme")
        assert await until(pilot, lambda: highlighted_command(app).startswith("Theme")), highlighted_command(app)
        await pilot.press("enter")
        assert await until(pilot, lambda: app.screen is not palette and highlighted_command(app))  # the themes
        await pilot.press(*"beamline-dark")
        assert await until(pilot, lambda: highlighted_command(app) == "beamline-dark"), highlighted_command(app)
        await pilot.press("enter")
        assert await until(pilot, lambda: app.theme == "beamline-dark")


def test_open_rejects_an_unknown_theme(folder, capsys):
    from tui_tagger import cli

    # checked before the terminal is needed, so scripts get the error too
    rc = cli.main(["open", str(folder), "--theme", "no-such-theme"])
    assert rc != 0
    assert "no-such-theme" in capsys.readouterr().err


async def test_journal_entries_that_cancel_out_ask_nothing(folder):
    journal = Journal(folder, fsync=False)
    img = str(folder / "img03.tif")
    journal.extend([{"image": img, "tag": RING, "present": True}, {"image": img, "tag": RING, "present": None}])
    journal.close()
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert not isinstance(app.screen, ChoiceDialog)
        assert not app.session.dirty
    assert not journal.path.exists()


async def test_status_bar_shows_unsaved_and_background_jobs(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        assert "scanning" in str(app.status.render()) or not app.scanning
        await ready(app, pilot)
        await pilot.press("m")
        await pilot.pause(0.3)
        status = str(app.status.render())
        assert "1 unsaved" in status and "scanning" not in status


async def test_save_updates_the_catalog_index(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("tab", "m", "s")  # img02 gets the tag
        await app.workers.wait_for_complete()
        # saved: the worker cleared the corrections and told the catalog, and its result came back (saving off)
        assert await until(pilot, lambda: not app.session.dirty and not app.saving)
        entry = app.session.catalog.get(str(folder / "img02.tif"))
        assert RING in entry.tags
    assert RING in tags_on_disk(folder / "img02.tif")


async def test_a_late_image_result_after_the_pane_is_gone_is_dropped(folder):
    # a decode worker can finish while the app quits: its result must not raise (it failed CI once)
    from PIL import Image

    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        path = app.inspect.path
        await app.inspect.query_one("#inspect-image").remove()
        app._image_loaded(path, Image.new("RGB", (8, 8)), {"format": "tiff"})
        app._image_failed(path, "late")
        assert app.inspect.image_cells() == (4, 2)
