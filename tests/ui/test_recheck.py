"""The folder is looked at again while the TUI is open: a tag file another program rewrites (``watch --write``,
another session's save, a script) shows in the lists without reopening, an image deleted leaves them, and this
session's unsaved corrections stay on top of what changed on disk (a save then keeps both)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tui_tagger.core.tagstore import TagStore

from support import RING, app_on, make_folder, ready, tags_on_disk, until


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def write_tags(image: Path, add: list[str]) -> None:
    """What another program does: the image's tag file saved again (atomically), with ``add`` in it."""
    store = TagStore()
    tf = store.load_or_new(str(image))
    for name in add:
        tf.add(name, source="human")
    store.save(tf, fsync=False)


def listed(lst) -> set[str]:
    return {r.rel for r in lst.rows}


@contextlib.asynccontextmanager
async def opened(folder: Path):
    """The app on ``folder`` once its first change check is done (the re-checks come after it)."""
    app = app_on(folder)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: not app.verifying)
        yield app, pilot


async def test_a_tag_file_rewritten_on_disk_shows_without_reopening(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING], "img01": [RING]})
    async with opened(folder) as (app, pilot):
        assert "img03.tif" in listed(app.neg)
        write_tags(folder / "img03.tif", [RING])
        os.remove(folder / "img05.tif")
        assert await until(pilot, lambda: "img03.tif" in listed(app.pos) and "img05.tif" not in listed(app.neg))
        assert "img03.tif" not in listed(app.neg)
        assert any(n.startswith("On disk: 1 image changed or new and 1 image gone") for n in notices(app)), notices(app)


async def test_an_unsaved_correction_stays_on_top_of_a_change_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING], "img01": [RING]})
    async with opened(folder) as (app, pilot):
        app.pos.focus()
        assert app.pos.select_path(str(folder / "img00.tif"))
        await pilot.press("m")  # img00: not RING (unsaved)
        assert await until(pilot, lambda: "img00.tif" in listed(app.neg))
        write_tags(folder / "img00.tif", ["GISAXS"])  # meanwhile another program adds GISAXS to it
        row = lambda: app.session.row(str(folder / "img00.tif"))  # noqa: E731
        assert await until(pilot, lambda: "GISAXS" in row().base)
        assert "img00.tif" in listed(app.neg)  # the correction still shown
        assert set(app.session.tags(row())) == {"GISAXS"}
        await pilot.press("s")
        assert await until(pilot, lambda: not app.session.dirty)
    assert tags_on_disk(folder / "img00.tif") == {"GISAXS"}  # both: their tag kept, the removal saved


async def test_no_recheck_when_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING]})
    async with opened(folder) as (app, pilot):
        write_tags(folder / "img03.tif", [RING])
        assert not await until(pilot, lambda: "img03.tif" in listed(app.pos), tries=30)


async def test_a_tag_changed_on_both_sides_is_still_a_clash_the_user_decides(tmp_path, monkeypatch):
    """Removed here (unsaved) while another program confirmed it on disk: the re-check shows their file, and the
    save still asks (it merged against the re-checked file and dropped their tag without a word)."""
    from tui_tagger.ui.screens.dialogs import ChoiceDialog

    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING], "img01": [RING]})
    async with opened(folder) as (app, pilot):
        app.pos.focus()
        assert app.pos.select_path(str(folder / "img00.tif"))
        await pilot.press("m")  # RING removed from img00 (unsaved)
        assert await until(pilot, lambda: "img00.tif" in listed(app.neg))
        store = TagStore()
        tf = store.load(str(folder / "img00.tif"))
        tf.remove(RING)
        tf.add(RING, source="human")  # another program confirms RING on img00
        store.save(tf, fsync=False)
        row = lambda: app.session.row(str(folder / "img00.tif"))  # noqa: E731
        assert await until(pilot, lambda: row().base.get(RING) == "human")  # the re-check read their file
        await pilot.press("s")
        assert await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "clash with yours" in app.screen.message and f"{RING}: removed here but changed on disk" in app.screen.message
        await pilot.click("#choice-merge")
        assert await until(pilot, lambda: not app.session.dirty)
    assert RING in tags_on_disk(folder / "img00.tif")  # a removal loses to a change: their tag kept


async def test_the_p_this_session_predicted_stay_when_a_re_check_replaces_the_row(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING]})
    async with opened(folder) as (app, pilot):
        path = str(folder / "img01.tif")
        app.apply_predictions([(path, {RING: 0.9}, None)], "tagger")  # what `p` brings (not written to disk)
        write_tags(folder / "img01.tif", ["GISAXS"])
        assert await until(pilot, lambda: "GISAXS" in app.session.row(path).base)
        assert app.session.row(path).predictions == {RING: 0.9}
