"""An image with an unsaved correction is deleted while the TUI is open (the folder's re-check takes it out of
the lists): ``s`` says the correction could not be saved and stays journalled (it said nothing before), and
"Save and quit" quits (it did nothing before: the app stayed open, silent)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from support import RING, app_on, make_folder, ready, tags_on_disk, until


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def listed(lst) -> set[str]:
    return {r.rel for r in lst.rows}


@contextlib.asynccontextmanager
async def corrected_then_deleted(tmp_path: Path, monkeypatch):
    """img01 corrected (not RING, unsaved), img02 corrected too, then img01 deleted and taken out of the lists."""
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING], "img01": [RING], "img02": [RING]})
    app = app_on(folder)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: not app.verifying)
        app.pos.focus()
        for name in ("img01.tif", "img02.tif"):
            assert app.pos.select_path(str(folder / name))
            await pilot.press("m")
            assert await until(pilot, lambda: name in listed(app.neg))
        os.remove(folder / "img01.tif")
        assert await until(pilot, lambda: "img01.tif" not in listed(app.neg))
        yield app, pilot, folder


async def test_save_says_a_correction_of_a_deleted_image_stays_unsaved(tmp_path, monkeypatch):
    async with corrected_then_deleted(tmp_path, monkeypatch) as (app, pilot, folder):
        await pilot.press("s")
        assert await until(pilot, lambda: app.session.dirty == [str(folder / "img01.tif")])
        assert await until(pilot, lambda: any("img01.tif" in n and "not saved" in n for n in notices(app))), \
            notices(app)
    assert tags_on_disk(folder / "img02.tif") == set()  # the other correction saved


async def test_save_and_quit_quits_when_only_a_deleted_image_is_left(tmp_path, monkeypatch):
    async with corrected_then_deleted(tmp_path, monkeypatch) as (app, pilot, folder):
        await pilot.press("q")
        assert await until(pilot, lambda: "ChoiceDialog" in type(app.screen).__name__)
        await pilot.press("enter")  # Save and quit
        assert await until(pilot, lambda: app.return_code is not None)  # it quit
        assert any("img01.tif" in line and "not saved" in line for line in app.stderr_lines), app.stderr_lines
    assert tags_on_disk(folder / "img02.tif") == set()
