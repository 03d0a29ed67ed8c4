"""Fourth increment: the first screen from the index (then a changes-only verify), row-aligned scrolling,
and the journal written before the key press returns (fsync off the key path)."""

from __future__ import annotations

import os
import threading
import time

import pytest
from support import make_folder, ready, until

from tui_tagger.core import journal as journal_mod
from tui_tagger.core.journal import Journal
from tui_tagger.core.tagfile import TagFile
from tui_tagger.ui import backend
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.widgets.image_list import ROW_H

RING = "Ring: Isotropic"


def app_on(folder, **kw) -> TaggerApp:
    kw.setdefault("tag", RING)
    return TaggerApp(folder, graphics="halfcell", **kw)




def rels(lst) -> list[str]:
    return sorted(r.rel for r in lst.rows)


def cursor_row_whole(lst) -> bool:
    """The cursor's row is whole on screen (the list scrolls to it after the next refresh, not at once)."""
    top = lst.cursor * ROW_H - lst.scroll_y
    return 0 <= top <= lst.scrollable_content_region.height - ROW_H


async def test_warm_open_paints_from_the_index_then_applies_changes(folder, monkeypatch):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:  # cold: fills the index
        await ready(app, pilot)
    # meanwhile, on disk: img02 gains the tag, img05 is deleted, img06 appears
    tf = TagFile.read(folder / "img02.xml")
    tf.add(RING, source="human")
    tf.save(fsync=False)
    st = os.stat(folder / "img02.xml")
    os.utime(folder / "img02.xml", ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    (folder / "img05.tif").unlink()
    (folder / "img06.tif").write_bytes((folder / "img04.tif").read_bytes())

    gate = threading.Event()
    verify = backend.scan_changes

    def held_verify(catalog):  # the walk waits until the test has seen the first screen
        gate.wait(10)
        yield from verify(catalog)

    monkeypatch.setattr(backend, "scan_changes", held_verify)
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.pos.rows:
                break
        # the index's rows are on screen while the verify is still held
        assert app.scanning and app.verifying
        assert rels(app.pos) == ["img00.tif", "img01.tif"]
        assert "img05.tif" in rels(app.neg)
        assert "checking" in str(app.status.render())
        cursor_row = app.pos.current
        gate.set()
        await ready(app, pilot)
        assert rels(app.pos) == ["img00.tif", "img01.tif", "img02.tif"]
        assert rels(app.neg) == ["img03.tif", "img04.tif", "img06.tif"]
        assert app.pos.current.path == cursor_row.path  # the cursor stayed on its image
        assert len(app.session.rows) == 6 and str(folder / "img05.tif") not in app.session.index
        assert "checking" not in str(app.status.render())


async def test_cold_folder_still_streams_in(tmp_path):
    folder = make_folder(tmp_path / "cold", n=4, tagged={"img01": [RING]})
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert rels(app.pos) == ["img01.tif"] and len(app.neg.rows) == 3
        assert not app.verifying


@pytest.mark.parametrize("size", [(160, 48), (80, 24), (120, 31)])
async def test_scroll_offsets_stay_on_row_boundaries(tmp_path, size):
    folder = make_folder(tmp_path / "many", n=40, tagged={})
    app = app_on(folder, thumbnails=False)
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        lst = app.neg
        lst.focus()
        offsets = []
        for key in ["end", "pageup", "up", "home", "pagedown", "pagedown", "down", "down"]:
            await pilot.press(key)
            assert await until(pilot, lambda: cursor_row_whole(lst)), (key, lst.cursor, lst.scroll_y)
            offsets.append(lst.scroll_y)
        app.action_sort()  # a re-sort moves the cursor's row
        assert await until(pilot, lambda: cursor_row_whole(lst)), (lst.cursor, lst.scroll_y)
        offsets.append(lst.scroll_y)
        for y, want in ((0, 0), (1, ROW_H)):  # a wheel notch of one line down moves a whole row, no snap back
            lst.scroll_to(y=y, animate=False)  # applied after the next refresh
            assert await until(pilot, lambda want=want: lst.scroll_y == want), (y, lst.scroll_y)
            offsets.append(lst.scroll_y)
        assert all(y % ROW_H == 0 for y in offsets), offsets
        assert offsets[0] > 0  # it did scroll
        assert offsets[-2:] == [0, ROW_H]


async def test_cursor_move_repaints_its_rows_when_scrolled(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "many", n=40, tagged={})
    app = app_on(folder, thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        lst = app.neg
        lst.focus()
        await pilot.press("end")
        assert await until(pilot, lambda: lst.scroll_y > 0)  # the scroll follows after the next refresh
        regions = []
        refresh = type(lst).refresh

        def spy(self, *regions_, **kw):
            if self is lst:
                regions.extend(regions_)
            return refresh(self, *regions_, **kw)

        monkeypatch.setattr(type(lst), "refresh", spy)
        await pilot.press("up")
        screen_y = lst.cursor * ROW_H - lst.scroll_y  # the new cursor row, in the widget's lines
        assert any(r.y <= screen_y < r.y + r.height for r in regions), (screen_y, regions)


async def test_a_move_is_in_the_journal_file_when_the_key_press_returns(folder, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_FSYNC", "1")  # the background fsync on, as users have it
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        path = app.pos.current.path
        await pilot.press("m")
        lines = app.session.journal.path.read_text("utf-8").splitlines()  # no close, no sync: as a crash leaves it
        assert any(path in line and '"present": false' in line for line in lines)


def test_journal_fsyncs_in_the_background_grouping_key_presses(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal_mod.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    j = Journal(tmp_path / "data", cache=tmp_path / "cache", fsync=True)
    for i in range(5):
        j.append({"image": f"img{i}", "tag": RING, "present": True})
        assert len(j.records()) == i + 1  # readable at once, before any fsync
    deadline = time.monotonic() + 5
    while not synced and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 1 <= len(synced) < 5  # one fsync for the burst, not one per key press
    j.append({"image": "img9", "tag": RING, "present": False})
    before = len(synced)
    j.close()  # closing forces what is pending to the disk
    assert len(synced) > before
    assert len(Journal(tmp_path / "data", cache=tmp_path / "cache").orphans().records) == 6


def test_journal_without_fsync_never_syncs(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod.os, "fsync", lambda fd: pytest.fail("fsync with fsync off"))
    j = Journal(tmp_path / "data", cache=tmp_path / "cache", fsync=False)
    j.append({"image": "a", "tag": RING, "present": True})
    j.close()
    assert j.records() == [{"image": "a", "tag": RING, "present": True}]


async def test_a_tag_name_with_markup_is_shown_literally_in_the_list_title(tmp_path):
    folder = make_folder(tmp_path / "d", n=2, tagged={"img00": ["[bold red]x[/]"]})
    app = app_on(folder, tag="[bold red]x[/]")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert "[bold red]x[/]" in app.pos._border_title.plain  # as written in the file, not styled away
        assert len(app.pos.rows) == 1
