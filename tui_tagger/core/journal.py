"""Append-only correction journal, one per session: every correction reaches the OS the moment it is made.

``extend`` writes before it returns, so a process crash or a dropped SSH connection loses nothing once the
key press is handled. Surviving a power cut needs an fsync, which costs 5-20 ms on a busy disk: that runs in
a background thread that groups the records of ~0.15 s into one fsync (group commit), off the key path.

Layout: ``cache_dir()/journal/<hash of the folder>/<session id>.jsonl`` (one JSON object per line) and
``<session id>.lock``, which the session holds an ``flock`` on while it lives. Sessions on one folder (two
terminals, two machines on one home) never write each other's files; the kernel drops a dead process's lock,
so a journal whose lock nobody holds is an *orphan*: its session crashed, and the next session offers its
corrections back. A journal whose lock is held belongs to a live session, which is left alone.

A write that fails (disk full, quota, read-only cache) never raises into the UI: the journal moves to a
fallback folder in the temp dir (often another file system); if that fails too the records wait in memory
and are written with the next correction, and ``error`` says why, for the UI to show.

Each record states a result ("tag X present/absent/back to the file's value"), not a toggle, so replaying
it twice, or after an undo, gives the same state. Records are written with ASCII escapes: a file name that
is not UTF-8 (lone surrogates from ``os.fsdecode``) round-trips exactly.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui_tagger.core.atomic import atomic_write_bytes

VERSION = 2
SYNC_DELAY_S = 0.15  # records written within this long share one fsync


def folder_key(root: str | os.PathLike) -> str:
    return hashlib.sha1(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def journal_dirs(root: str | os.PathLike, cache: Path | None = None) -> list[Path]:
    """Where journals of ``root`` may be: the cache folder, then the fallback in the temp dir."""
    if cache is None:
        from tui_tagger.config import cache_dir

        cache = cache_dir()
    key = folder_key(root)
    fallback = Path(tempfile.gettempdir()) / f"tui-tagger-{os.getuid()}" / "journal" / key
    return [Path(cache) / "journal" / key, fallback]


def _dumps(records: list[dict]) -> bytes:
    # ensure_ascii: lone surrogates (non-UTF-8 names) become \\udcNN escapes that json.loads gives back
    return "".join(json.dumps(r) + "\n" for r in records).encode("ascii")


def _read_records(path: Path) -> list[dict]:
    """The corrections in a journal file (header and damaged lines left out)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:  # a line cut short by a crash
            continue
        if isinstance(rec, dict) and "journal" not in rec:
            out.append(rec)
    return out


def _header(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            first = fh.readline()
        rec = json.loads(first)
        return rec if isinstance(rec, dict) and "journal" in rec else {}
    except (OSError, ValueError):
        return {}


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass  # read-only cache: nothing to do but leave it; its records are offered again and filtered


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it exists
        return True
    return True


@dataclass
class LiveSession:
    """Another session, alive, on the same folder."""
    pid: int | None
    host: str
    started: float | None


@dataclass
class Orphans:
    """The journals of sessions that ended without saving. Their locks are held (by this process) from
    ``Journal.orphans`` until ``adopt`` or ``discard``, so two new sessions never both take them."""
    records: list[dict] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    _locks: list = field(default_factory=list, repr=False)

    def release(self) -> None:
        for fh in self._locks:
            try:
                fh.close()
            except OSError:
                pass
        self._locks = []


class Journal:
    """The journal of one session on one folder. ``append``/``extend`` write at once; with ``fsync`` the data
    is also forced to the disk within ``SYNC_DELAY_S`` by a background thread (``sync()`` forces it now)."""

    def __init__(self, root: str | os.PathLike, cache: Path | None = None, fsync: bool = True):
        self.root = os.path.realpath(root)
        self.dirs = journal_dirs(root, cache)
        self.legacy = self.dirs[0].parent / f"{self.dirs[0].name}.jsonl"  # version 1: one file per folder
        self.started = round(time.time(), 3)
        self.sid = f"{int(self.started)}-{os.getpid()}-{secrets.token_hex(4)}"
        self._where = 0  # index in dirs of the folder written to
        self.fsync = fsync
        self.error: str | None = None  # why the last write failed; None once a write succeeds again
        self.moved: str | None = None  # why the journal left the cache folder for the fallback, if it did
        self._backlog: list[dict] = []  # records no folder would take yet
        self._has_records = False  # this session's file holds corrections (else it is removed on close)
        self._fd: int | None = None
        self._lock_fh = None
        self._lock = threading.Lock()  # the file: the writer and the syncer share it
        self._wake = threading.Condition(self._lock)
        self._unsynced = False
        self._syncer: threading.Thread | None = None

    def _header(self) -> dict:
        return {"journal": VERSION, "root": self.root, "pid": os.getpid(), "host": socket.gethostname(),
                "started": self.started}

    @property
    def path(self) -> Path:
        """This session's journal file (in the fallback folder once the cache folder failed)."""
        return self.dirs[self._where] / f"{self.sid}.jsonl"

    # ---- this session's file --------------------------------------------------------------------
    def start(self) -> None:
        """Take this session's lock, so other sessions see it live. Called on the first write anyway."""
        with self._lock:
            self._take_lock()

    def _take_lock(self) -> None:
        while self._lock_fh is None and self._where < len(self.dirs):
            try:
                folder = self.dirs[self._where]
                folder.mkdir(parents=True, exist_ok=True)
                fh = open(folder / f"{self.sid}.lock", "ab")
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fh = fh
                try:  # who holds it, for the other sessions' "also open" notice
                    fh.write(_dumps([self._header()]))
                    fh.flush()
                except OSError:
                    pass  # a full disk: the lock is what counts
            except OSError as err:
                self._fail(err)

    def _fail(self, err: OSError) -> None:
        """A folder refused a write: say so, and move on to the next folder (if any)."""
        self.error = f"cannot write the correction journal in {self.dirs[self._where]}: {err.strerror or err}"
        self._close_fd()
        if self._where + 1 < len(self.dirs):
            self._where += 1
            self.moved = f"{self.error}; journalling to {self.dirs[self._where]} instead"

    def _write_locked(self, records: list[dict]) -> bool:
        """Write records (after any that waited) to this session's file; True when they reached the OS."""
        self._take_lock()
        pending = [*self._backlog, *records]
        for _ in range(len(self.dirs)):
            try:
                if self._fd is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    if os.fstat(self._fd).st_size == 0:
                        self._write_all(_dumps([self._header()]))
                self._write_all(_dumps(pending))
            except OSError as err:
                was = self._where
                self._fail(err)
                if self._where == was:
                    break  # no folder left to try
                continue
            self._backlog = []
            self._has_records = True
            self.error = None
            return True
        self._backlog = pending
        return False

    def _write_all(self, data: bytes) -> None:
        """All of ``data`` or nothing: a write cut short (disk full) is cut back, so no half line is left
        for the next record to be glued to."""
        start = os.fstat(self._fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass
            raise

    def append(self, record: dict) -> None:
        self.extend([record])

    def extend(self, records: list[dict]) -> bool:
        """Write several records at once (a bulk move is one key press). Never raises: False (and
        ``error``) when they could only be kept in memory; they are retried with the next write."""
        if not records and not self._backlog:
            return True
        with self._lock:
            ok = self._write_locked(records)
            if ok and self.fsync:
                self._unsynced = True
                if self._syncer is None:
                    self._syncer = threading.Thread(target=self._sync_loop, daemon=True, name="journal-fsync")
                    self._syncer.start()
                self._wake.notify()
            return ok

    def retry(self) -> bool:
        """Write what waits in memory (the UI calls this now and then while ``error`` is set)."""
        return self.extend([])

    @property
    def unwritten(self) -> int:
        return len(self._backlog)

    def sync(self) -> None:
        """Force what was written to the disk now (a no-op when nothing is pending)."""
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._unsynced and self._fd is not None:
            self._unsynced = False
            try:
                os.fsync(self._fd)
            except OSError:
                pass

    def _sync_loop(self) -> None:
        while True:
            with self._lock:
                while not self._unsynced:
                    self._wake.wait()
                # let the records of the next key presses join this fsync; the lock is free meanwhile
                deadline = time.monotonic() + SYNC_DELAY_S
                while (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)
                if not self._unsynced or self._fd is None:
                    continue
                self._unsynced = False
                fd = os.dup(self._fd)  # fsync outside the lock: a key press never waits for it
            try:
                os.fsync(fd)
            except OSError:  # the disk went away: the next write reports it
                pass
            finally:
                os.close(fd)

    def records(self) -> list[dict]:
        """This session's corrections so far, in every folder it wrote to (and any waiting in memory)."""
        out = []
        for folder in self.dirs:
            out.extend(_read_records(folder / f"{self.sid}.jsonl"))
        return out + list(self._backlog)

    def rewrite(self, records: list[dict]) -> None:
        """Replace this session's journal with ``records`` (what is still unsaved after a save)."""
        with self._lock:
            self._close_fd()
            self._backlog = []
            if not records:
                self._remove_files()
                self._has_records = False
                return
            data = _dumps([self._header(), *records])
            self._take_lock()
            for _ in range(len(self.dirs)):
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(self.path, data, fsync=self.fsync)
                except OSError as err:
                    was = self._where
                    self._fail(err)
                    if self._where == was:
                        break
                    continue
                # the other folder's file holds older records only: they must not come back after a crash
                for i, folder in enumerate(self.dirs):
                    if i != self._where:
                        _unlink(folder / f"{self.sid}.jsonl")
                self._has_records = True
                self.error = None
                return
            # nothing could be written: the old file (a superset) stays; the rest waits in memory
            self._backlog = list(records)

    def _remove_files(self) -> None:
        for folder in self.dirs:
            _unlink(folder / f"{self.sid}.jsonl")

    def clear(self) -> None:
        """Drop this session's corrections (all saved, or thrown away on purpose)."""
        with self._lock:
            self._close_fd()
            self._backlog = []
            self._remove_files()
            self._has_records = False

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
            self._unsynced = False

    def close(self, sync: bool = True) -> None:
        """End the session: its file stays when it holds corrections (the next session offers them),
        else it goes; the lock is released either way. Never raises (a full disk at exit is no traceback)."""
        with self._lock:
            if sync:
                self._sync_locked()
            self._close_fd()
            if not self._has_records and not self._backlog:
                self._remove_files()
            if self._lock_fh is not None:
                for folder in self.dirs:
                    _unlink(folder / f"{self.sid}.lock")
                try:
                    self._lock_fh.close()
                except OSError:
                    pass
                self._lock_fh = None

    # ---- other sessions' files ------------------------------------------------------------------
    def _other_sids(self) -> set[str]:
        sids = set()
        for folder in self.dirs:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                sid, dot, ext = name.rpartition(".")
                if dot and ext in ("jsonl", "lock") and sid != self.sid:
                    sids.add(sid)
        return sids

    def _claim(self, sid: str) -> list | None:
        """The locks of session ``sid`` when it is dead (now held here), None while it lives."""
        held = []
        for folder in self.dirs:
            path = folder / f"{sid}.lock"
            try:
                fh = open(path, "rb")  # never created here: a lock file exists while its session may live
            except OSError:
                continue
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                for other in held:
                    other.close()
                return None
            held.append(fh)
        return held

    def live_sessions(self) -> list[LiveSession]:
        """The other sessions open on this folder now (their locks are held)."""
        out = []
        for sid in sorted(self._other_sids()):
            held = self._claim(sid)
            if held is not None:
                for fh in held:
                    fh.close()
                continue
            info = {}
            for folder in self.dirs:
                for ext in ("lock", "jsonl"):
                    info = info or _header(folder / f"{sid}.{ext}")
            pid = info.get("pid")
            if pid is None:
                parts = sid.split("-")
                pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
            host = str(info.get("host") or "?")
            if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
                continue  # a dead session's journal, held by another session's restore question
            out.append(LiveSession(pid, host, info.get("started")))
        return out

    def orphans(self) -> Orphans:
        """The records of sessions on this folder that died without saving, oldest first; their locks
        are held until ``adopt``/``discard``. Files without a correction are removed on the way."""
        found = Orphans()
        timed: list[tuple[float, int, dict]] = []
        candidates: list[tuple[list[Path], list]] = []
        if self.legacy.exists():  # an older version's journal (no locks then)
            candidates.append(([self.legacy], []))
        for sid in sorted(self._other_sids()):
            held = self._claim(sid)
            if held is None:
                continue  # alive
            files = [folder / f"{sid}.{ext}" for folder in self.dirs for ext in ("jsonl", "lock")]
            candidates.append((files, held))
        for files, held in candidates:
            records = [r for f in files if f.suffix == ".jsonl" for r in _read_records(f)]
            if not records:
                for f in files:
                    _unlink(f)
                for fh in held:
                    fh.close()
                continue
            for rec in records:
                t = rec.get("t")
                timed.append((t if isinstance(t, (int, float)) else 0.0, len(timed), rec))
            found.files.extend(files)
            found._locks.extend(held)
        found.records = [rec for _, _, rec in sorted(timed, key=lambda x: (x[0], x[1]))]
        return found

    def adopt(self, orphans: Orphans, records: list[dict] | None = None) -> bool:
        """Take orphaned records into this session's journal (``records``: the ones kept, default all),
        then remove the orphans' files. They are removed only once the records are written here."""
        ok = self.extend(list(orphans.records if records is None else records))
        if ok:
            self.discard(orphans)
        else:
            orphans.release()
        return ok

    def discard(self, orphans: Orphans) -> None:
        for f in orphans.files:
            _unlink(f)
        orphans.release()
