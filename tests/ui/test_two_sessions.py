"""Nothing lost: two sessions on one folder, a kill -9, non-UTF-8 names, a full disk, temp files of a cut save.

Each session has its own journal and holds a lock on it while it lives; a journal nobody holds is an orphan
whose corrections the next session offers back (and only those not saved since)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_tagger import cli
from tui_tagger.core import journal as journal_mod
from tui_tagger.core.catalog import Catalog
from tui_tagger.core.journal import Journal
from tui_tagger.core.tagstore import TagStore
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.dialogs import ChoiceDialog
from tui_tagger.ui.session import Session

from support import make_folder, ready, tags_on_disk, until

RING = "Ring: Isotropic"
BAD_NAME = os.fsdecode(b"run\xff\xfe_0001.tif")  # not UTF-8: a name the file system allows

# Session A in its own process: moves the first N images (by name) to RING's other list, says so, then
# waits for a line on stdin (alive, holding its journal) or kills itself.
SESSION_A = r"""
import os, signal, sys
from pathlib import Path
from tui_tagger.core.catalog import Catalog
from tui_tagger.ui.session import Session
root, n, then = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = Session(root)
s.add_entries(list(Catalog(root).scan()))
s.tag = "Ring: Isotropic"
for row in sorted(s.rows, key=lambda r: r.rel)[:n]:
    s.move([row.path])
print("moved", flush=True)
if then == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.readline()
"""


def scanned(root: Path) -> Session:
    s = Session(root)
    s.add_entries(list(Catalog(root).scan()))
    s.tag = RING
    return s


def start_a(root: Path, n: int, then: str = "wait") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SESSION_A, str(root), str(n), then],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if then == "wait":
        assert proc.stdout.readline().strip() == "moved"
    return proc


def by_name(s: Session) -> list[str]:
    return [r.path for r in sorted(s.rows, key=lambda r: r.rel)]


def test_a_second_session_never_drops_the_first_ones_corrections(tmp_path):
    folder = make_folder(tmp_path / "d", n=6, tagged={"img00": [RING], "img01": [RING]})
    a = start_a(folder, 3)  # A moves img00..img02, unsaved, alive
    try:
        b = scanned(folder)
        assert b.pending_journal() == []  # A's work is live, not "from an earlier session"
        assert [(s.pid, s.host) for s in b.live_sessions()] == [(a.pid, socket.gethostname())]
        b.move([by_name(b)[5]])
        assert b.save() == (1, [], [])  # B's save rewrites B's journal only
        a.kill()  # kill -9 A
        a.wait(10)
    finally:
        a.kill()
    c = scanned(folder)
    records = c.pending_journal()
    assert sorted({r["image"] for r in records}) == by_name(c)[:3]  # all 3 of A's, none of B's saved one
    c.restore(records)
    assert c.save() == (3, [], [])
    assert tags_on_disk(folder / "img00.tif") == set() and tags_on_disk(folder / "img02.tif") == {RING}
    assert tags_on_disk(folder / "img05.tif") == {RING}  # B's correction, saved by B
    assert scanned(folder).pending_journal() == []


def test_a_session_killed_mid_work_is_offered_once_and_discard_spares_live_sessions(tmp_path):
    folder = make_folder(tmp_path / "d", n=5)
    dead = start_a(folder, 2, then="kill")
    assert dead.wait(30) == -signal.SIGKILL
    live = start_a(folder, 1)  # another session, alive: its journal must survive a Discard
    try:
        s = scanned(folder)
        other = scanned(folder)
        records = s.pending_journal()
        assert len({r["image"] for r in records}) == 2
        assert other.pending_journal() == []  # claimed by s while its question is open: offered once
        # the live one, not the dead one (whose journal only s's restore question holds)
        assert [x.pid for x in other.live_sessions()] == [live.pid]
        s.discard_orphans()
        assert scanned(folder).pending_journal() == []
        live.kill()
        live.wait(10)
        assert len(scanned(folder).pending_journal()) == 1  # the live one's correction, now orphaned
    finally:
        live.kill()


def test_the_restore_counts_only_what_is_still_unsaved(folder):
    s = scanned(folder)
    paths = by_name(s)
    s.move(paths[:3])  # img00, img01 lose RING; img02 gains it
    journal_file = s.journal.path
    lines = journal_file.read_bytes()
    s.save()
    journal_file.write_bytes(lines)  # as if the crash came after the tag files were written, before the journal
    s.journal._lock_fh.close()  # ... and the process died
    again = scanned(folder)
    assert again.pending_journal() == []  # all of it is in the tag files: nothing to offer


async def test_a_second_app_on_the_folder_says_the_first_is_open_and_offers_nothing(folder):
    first = scanned(folder)
    first.move([by_name(first)[0]])
    app = TaggerApp(folder, tag=RING, graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert not isinstance(app.screen, ChoiceDialog)
        assert any("other session is open" in n.message for n in app._notifications)
    assert first.journal.records()  # untouched by the second app
    first.journal.close()


def test_non_utf8_names_are_moved_journalled_restored_and_saved(tmp_path):
    folder = make_folder(tmp_path / "d", n=3)
    (folder / "img02.tif").rename(folder / BAD_NAME)
    s = scanned(folder)
    bad = str(folder / BAD_NAME)
    assert bad in s.index
    s.move([bad])
    s.journal._lock_fh.close()  # the process dies, unsaved
    again = scanned(folder)
    records = again.pending_journal()
    assert [r["image"] for r in records] == [bad]  # the exact name, bytes and all
    again.restore(records)
    assert again.save() == (1, [], [])
    tf = TagStore().load(bad)
    assert tf is not None and RING in tf.names


def test_review_and_suggest_with_a_non_utf8_name_in_the_folder(tmp_path, capsys):
    import json

    folder = make_folder(tmp_path / "d", n=8, tagged={f"img0{i}": [RING] for i in range(3)})
    (folder / "img07.tif").rename(folder / BAD_NAME)
    assert cli.main(["review", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, dict)
    assert cli.main(["suggest", str(folder), "--tag", RING, "--json"]) == 0
    paths = [item["path"] for item in json.loads(capsys.readouterr().out)]
    assert str(folder / BAD_NAME) in paths  # unlabelled: the one to suggest, named exactly
    assert cli.main(["suggest", str(folder), "--tag", RING]) == 0
    assert "run\\xff\\xfe_0001.tif" in capsys.readouterr().out  # shown escaped


def _full(real_write, refuse):
    def write(fd, data):
        if refuse(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    return write


def _in_cache(fd) -> bool:
    return "/journal/" in os.readlink(f"/proc/self/fd/{fd}") and "tui-tagger-" not in os.readlink(f"/proc/self/fd/{fd}")


def test_a_full_cache_disk_moves_the_journal_to_the_fallback(tmp_path):
    j = Journal(tmp_path / "data", cache=tmp_path / "cache", fsync=False)
    j.append({"image": "a", "tag": RING, "present": True, "t": 1.0})
    with pytest.MonkeyPatch.context() as full:
        full.setattr(journal_mod.os, "write", _full(os.write, _in_cache))
        assert j.extend([{"image": "b", "tag": RING, "present": True, "t": 2.0}])  # into the fallback
        assert j.moved and "No space left" in j.moved and j.error is None
        assert j.path.parent == j.dirs[1]
        j.close()
    found = Journal(tmp_path / "data", cache=tmp_path / "cache").orphans()
    assert [r["image"] for r in found.records] == ["a", "b"]  # both folders, in order


def test_with_no_folder_writable_the_records_wait_in_memory_and_are_retried(tmp_path):
    j = Journal(tmp_path / "data", cache=tmp_path / "cache", fsync=False)
    with pytest.MonkeyPatch.context() as full:
        full.setattr(journal_mod.os, "write", _full(os.write, lambda fd: True))
        assert not j.extend([{"image": "a", "tag": RING, "present": True}])
        assert not j.extend([{"image": "b", "tag": RING, "present": False}])
        assert j.error and "No space left" in j.error and j.unwritten == 2
    # space again
    assert j.retry() and j.unwritten == 0 and j.error is None
    assert [r["image"] for r in j.records()] == ["a", "b"]
    for line in j.path.read_text().splitlines():
        assert line.startswith("{") and line.endswith("}")  # no half line from the failed writes


async def test_the_app_stays_alive_and_says_so_when_the_journal_cannot_be_written(folder):
    app = TaggerApp(folder, tag=RING, graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        with pytest.MonkeyPatch.context() as full:
            full.setattr(journal_mod.os, "write", _full(os.write, lambda fd: True))
            await pilot.press("m")
            assert await until(pilot, lambda: any("kept in memory" in n.message for n in app._notifications))
            assert app.session.dirty and app.session.journal.unwritten == 1
            assert "in memory only" in str(app.status.render())
        assert await until(pilot, lambda: app.session.journal.unwritten == 0)
        moved = app.session.journal.records()
        assert len(moved) == 1
        assert await until(pilot, lambda: any("written again" in n.message for n in app._notifications))
        assert any("No space left" in line for line in app.stderr_lines)  # for stderr at exit
    assert app.is_running is False


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_a_real_full_disk_under_the_cache(tmp_path):
    cache = tmp_path / "small"
    if not _mount_tmpfs(cache, "16k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        fill = cache / "filler"  # the disk is full before the session starts
        try:
            with open(fill, "wb") as fh:
                while True:
                    fh.write(b"\0" * 512)
                    fh.flush()
        except OSError:
            pass
        j = Journal(tmp_path / "data", cache=cache, fsync=True)
        records = [{"image": f"img{i:03d}.tif", "tag": RING, "present": True, "t": float(i)} for i in range(50)]
        for rec in records:
            j.append(rec)
        j.close()
        found = Journal(tmp_path / "data", cache=cache).orphans()
        assert [r["image"] for r in found.records] == [r["image"] for r in records]  # none lost
    finally:
        subprocess.run(["umount", str(cache)], capture_output=True)


def test_temp_files_of_a_cut_save_are_removed_at_start_and_only_ours(folder):
    stale = folder / ".img00.xml.a1b2c3d4.tmp"
    stale.write_text("<half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = folder / ".img01.xml.zz99yy88.tmp"  # a live writer's, just made
    fresh.write_text("<half")
    other = folder / ".notes.tmp"  # not our pattern
    other.write_text("keep")
    os.utime(other, (old, old))
    s = scanned(folder)  # a read-only scan deletes nothing
    assert stale.exists()
    from tui_tagger.ui import backend

    cat = backend.catalog(folder, None)
    list(cat.scan())
    assert not stale.exists() and fresh.exists() and other.exists() and cat.swept == 1
    assert len(s.rows) == 6


async def test_many_save_errors_are_one_notice_with_their_count_and_all_reach_stderr(folder):
    app = TaggerApp(folder, tag=RING, graphics="halfcell")
    errors = [f"/d/img{i:02d}.xml: cannot write: No space left on device" for i in range(7)]
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("m")
        app.session.save = lambda resolve=None: (0, [], list(errors))
        await pilot.press("s")
        assert await until(pilot, lambda: any("7 tag files could not be saved" in n.message
                                              for n in app._notifications))
        notice = next(n.message for n in app._notifications if "could not be saved" in n.message)
        assert "img04.xml" in notice and "2 more" in notice and "\n" not in notice
        assert app.stderr_lines[-7:] == errors and app.session.dirty
