"""Following folders as a detector writes into them: each frame handed out once, when it is complete.

``Follower(roots, ...)`` watches the folders recursively with watchdog: inotify events where they work, its
PollingObserver on ``poll`` seconds (network file systems, where another host's writes raise no event here,
are polled without being asked: ``mode`` says which). ``next(timeout)`` returns the frames that became complete
(``Arrival``: ref, file, frame index, when it was seen complete); ``done(arrival, error)`` records each one
predicted, so that a restart does not hand it out again.

A file is complete when its writer closed it (an inotify close-after-write, or a rename into place), or when its
size and mtime stayed the same for ``settle`` seconds. An HDF5 file a detector is still appending to (SWMR) is
followed frame by frame: every frame but the last one seen is taken while it grows (the last one may still be
in flight), the rest once the file is complete. Eiger data files beside their master are followed through the
master, as the catalog lists them; a data file taken on its own before its master was there is not taken again
through it. A file deleted, or replaced by a rename, is forgotten: a new file at its path is new. A file that is complete but cannot be read gets one line (through
``report``) and is skipped; if it changes, it is tried once more.

What was predicted persists in a small SQLite table per watched folder in the cache folder (file identity: path,
size, mtime; frames done for containers), looked up by path: a predicted single frame leaves memory, so memory
stays flat however many frames a run sees. ``backlog`` says what to do with the files already there at the start:
``new`` (the default) the ones no watch of this folder predicted yet, ``all`` every one again, ``none`` nothing
(only what is written from now on).

No torch, no Textual: the command line (``commands/watch.py``) and a TUI worker thread drive the same object.
"""

from __future__ import annotations

import hashlib
import math
import os
import queue
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tui_tagger.core.catalog import never_image

BACKLOG = ("new", "all", "none")
SETTLE_S = 1.0  # a file whose writer does not close it (or on a polled folder) is complete after this long unchanged
GROW_PROBE_S = 0.1  # how often a growing HDF5 file is looked into for new frames
DEFAULT_POLL_S = 2.0  # the poll interval chosen for network file systems when --poll is not given
_BACKLOG_CHUNK = 256  # backlog files moved into the pending set per call: never all 100k at once
# Events can be lost: a flood of new files overflows the kernel's inotify queue (16384 events by default; 100k
# frames written flat out lost a third). With events, the folders are walked again this often (at least, and
# at least 10x the time the last walk took) for files no watch has recorded; with polling, watchdog's snapshots
# already compare everything.
RESCAN_S = 30.0
# Eiger/NeXus data files are read through their master file (as core.catalog lists them).
_EIGER_DATA = re.compile(r"^(?P<stem>.+)_data_\d{6}\.(?:h5|hdf5|hdf|nxs)$", re.IGNORECASE)
_MASTER = re.compile(r"_master\.h5$", re.IGNORECASE)
# File systems on which inotify sees only this host's writes: a detector PC writing over NFS, GPFS, Lustre...
NETWORK_FS = frozenset(
    "nfs nfs4 cifs smb smb3 smbfs lustre gpfs beegfs ceph glusterfs 9p afs panfs wekafs ncpfs davfs".split())


@dataclass(frozen=True)
class Arrival:
    """One complete frame: its image ref, the file, the frame's index in it, and when it was seen complete
    (``time.time()``)."""

    ref: str
    path: str
    index: int
    seen: float
    size: int
    mtime_ns: int


class _Pending:
    __slots__ = ("size", "mtime_ns", "changed", "closed", "hdf5", "probed")

    def __init__(self, closed: bool = False):
        self.size, self.mtime_ns, self.changed = -1, -1, 0.0
        self.closed = closed
        self.hdf5: bool | None = None
        self.probed = 0.0


class _Record:
    """What this watch knows of a file: identity when last handed out, frames handed out, frames predicted,
    whether it holds several frames, and failed tries."""

    __slots__ = ("size", "mtime_ns", "emitted", "done", "container", "tries", "failed_at")

    def __init__(self, size: int = -1, mtime_ns: int = -1, done: int = 0, container: bool = False, tries: int = 0):
        self.size, self.mtime_ns = size, mtime_ns
        self.emitted = self.done = done
        self.container = container
        self.tries = tries
        self.failed_at: tuple[int, int] | None = (size, mtime_ns) if tries else None


def filesystem_type(path: str | os.PathLike) -> str | None:
    """The type of the file system ``path`` is on (from /proc/self/mounts; None where there is none)."""
    try:
        target = os.path.realpath(path)
        best, kind = "", None
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, kind = mount, parts[2]
        return kind
    except OSError:
        return None


def is_network_fs(kind: str | None) -> bool:
    return bool(kind) and (kind in NETWORK_FS or kind.startswith("fuse.") or kind.startswith("nfs"))


class SeenStore:
    """The frames a watch of one folder predicted: a SQLite table (path as bytes, size, mtime_ns, frames, failed)
    in the cache folder, read by path when a file shows up, so that memory stays flat however many frames a
    run sees. Writes are committed at most every 0.2 s (a crash forgets at most that: those frames are
    predicted again). A store that cannot be opened or written is reported once; the watch goes on,
    remembering in memory only."""

    COMMIT_S = 0.2

    def __init__(self, path: Path | None, report: Callable[[str], None]):
        self.path = path
        self.report = report
        self._db = None
        self._broken = path is None
        self._dirty = 0
        self._committed = time.monotonic()

    def _open(self):
        if self._db is None and not self._broken:
            import sqlite3

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level="DEFERRED", check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS seen (path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                           " frames INTEGER, failed INTEGER)")
                db.commit()
                self._db = db
            except (OSError, sqlite3.Error) as err:
                self._fail(err)
        return self._db

    def _fail(self, err: Exception) -> None:
        self._broken = True
        self._db = None
        self.report(f"{self.path}: cannot record what was predicted ({getattr(err, 'strerror', None) or err}); a "
                    "restart will predict this session's frames again")

    def get(self, path: str) -> tuple[int, int, int, bool] | None:
        db = self._open()
        if db is None:
            return None
        import sqlite3

        try:
            row = db.execute("SELECT size, mtime_ns, frames, failed FROM seen WHERE path = ?",
                             (os.fsencode(path),)).fetchone()
        except sqlite3.Error:
            return None
        return (int(row[0]), int(row[1]), int(row[2]), bool(row[3])) if row else None

    def add(self, path: str, size: int, mtime_ns: int, frames: int, failed: bool = False) -> None:
        db = self._open()
        if db is None:
            return
        import sqlite3

        try:
            db.execute("INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?)",
                       (os.fsencode(path), size, mtime_ns, frames, int(failed)))
            self._dirty += 1
            if time.monotonic() - self._committed >= self.COMMIT_S:
                self.commit()
        except sqlite3.Error as err:
            self._fail(err)

    def remove(self, path: str) -> None:
        db = self._open()
        if db is None:
            return
        import sqlite3

        try:
            db.execute("DELETE FROM seen WHERE path = ?", (os.fsencode(path),))
            self._dirty += 1
        except sqlite3.Error as err:
            self._fail(err)

    def commit(self) -> None:
        if self._db is not None and self._dirty:
            import sqlite3

            try:
                self._db.commit()
            except sqlite3.Error as err:
                self._fail(err)
                return
            self._dirty = 0
        self._committed = time.monotonic()

    def close(self) -> None:
        self.commit()
        if self._db is not None:
            self._db.close()
            self._db = None


def store_path(root: str | os.PathLike, base: Path | None = None) -> Path:
    """Where the watch of ``root`` keeps what it predicted: <cache>/watch/<folder name>-<hash of its path>.sqlite."""
    from tui_tagger.config import cache_dir

    real = os.path.realpath(root)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(real) or "root")[:40]
    return (base or cache_dir() / "watch") / f"{name}-{digest}.sqlite"


class Follower:
    """See the module. ``report(line)`` gets the one-line problems (unreadable files, a log that cannot be
    written); ``state=False`` keeps nothing between runs."""

    def __init__(self, roots: list[str | os.PathLike], *, poll: float | None = None, backlog: str = "new",
                 settle: float = SETTLE_S, state: bool = True, report: Callable[[str], None] | None = None,
                 since: float | None = None, gone: bool = False):
        if backlog not in BACKLOG:
            raise ValueError(f"backlog must be one of {', '.join(BACKLOG)}, not {backlog!r}")
        self.roots = [os.path.abspath(os.fspath(r)) for r in roots]
        self.poll = poll
        self.backlog = backlog
        self.settle = settle
        # backlog "none": files changed at or after this time.time() are not the baseline but new (a viewer that
        # listed the folder from then on misses nothing written between its listing and this start)
        self.since = since
        self.report = report or (lambda line: None)
        self.skipped = 0  # files the first bytes prove unreadable (empty, not the format named): reported, skipped
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: dict[str, _Pending] = {}
        # what this run knows of the files it is busy with (predicted single frames leave it: the store has them)
        self._files: dict[str, _Record] = {}
        self._stores = [SeenStore(store_path(r) if state else None, self.report) for r in self.roots]
        self._again: set[str] = set()  # --backlog all: files there at the start, predicted again whatever the store says
        self._masters_told: set[str] = set()  # Eiger masters said to wait for their data files
        # files deleted (or renamed away) since the last gone(), for a caller that asked (``gone``): a watch
        # that never asks keeps none (a pipeline moving every frame away would grow it for good)
        self._track_gone = gone
        self._gone: list[str] = []
        self._backlog_walk: Iterator[str] | None = None
        self._rescanning = False  # the walk under way is a safety rescan, not the backlog
        self._next_rescan = math.inf  # time.monotonic() of the next safety rescan (events mode only)
        self._rescan_began = 0.0
        self._observer = None
        self.mode = ""

    # ------------------------------------------------------------------------------------------ start / stop
    def start(self) -> None:
        """Start watching, and queue the backlog (walked lazily)."""
        self._observer, self.mode = self._make_observer()
        if "events" in self.mode:
            self._next_rescan = time.monotonic() + RESCAN_S
        if self.backlog == "none":
            for path in self._walk():  # everything there now is the baseline (never predicted unless it changes)
                if not self._new_since(path):
                    self._baseline(path)
        else:
            self._backlog_walk = self._walk()

    def _make_observer(self):
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        handler = _Handler(self._events)
        poll = self.poll
        why = ""
        if poll is None:
            kinds = {filesystem_type(r) for r in self.roots}
            network = sorted(k for k in kinds if is_network_fs(k))
            if network:
                poll = DEFAULT_POLL_S
                why = f" ({', '.join(network)}: inotify does not see other hosts' writes there)"
        if poll is None:
            observer = Observer()
            try:
                for root in self.roots:
                    observer.schedule(handler, root, recursive=True)
                observer.start()
                name = type(observer).__name__.replace("Observer", "").lower() or "native"
                return observer, f"{name} events (a frame is taken when its writer closes it, or {self.settle:g} s " \
                                 "after its last change); on NFS, GPFS or Lustre written by another host use --poll"
            except OSError as err:  # out of inotify watches, a file system without events
                try:
                    observer.stop()
                except Exception:
                    pass
                poll = DEFAULT_POLL_S
                why = f" (events failed: {err.strerror or err})"
        observer = PollingObserver(timeout=poll)
        for root in self.roots:
            observer.schedule(handler, root, recursive=True)
        observer.start()
        return observer, f"polling every {poll:g} s{why} (a frame is taken {self.settle:g} s after its last change)"

    def stop(self) -> None:
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout=5)
            except Exception:
                pass
            self._observer = None
        for store in self._stores:
            store.close()

    def __enter__(self) -> "Follower":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ the files
    def _walk(self) -> Iterator[str]:
        for root in self.roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    path = self._wanted(os.path.join(folder, name))
                    if path is not None:
                        yield path

    def _wanted(self, path: str) -> str | None:
        """The file to follow for an event on ``path`` (an Eiger data file: its master), or None."""
        name = os.path.basename(path)
        if not name or name.startswith("."):
            return None
        if never_image(name):
            return None
        root = self._root_of(path)
        if root is None:
            return None
        rel = os.path.relpath(os.path.dirname(path), root)
        if rel != "." and any(part.startswith(".") for part in rel.split(os.sep)):
            return None
        return self._master_of(path) or path

    @staticmethod
    def _master_of(path: str) -> str | None:
        """The Eiger master beside the data file ``path``, when there is one."""
        name = os.path.basename(path)
        m = _EIGER_DATA.match(name) if "_data_" in name else None
        if m:
            master = os.path.join(os.path.dirname(path), f"{m.group('stem')}_master.h5")
            if os.path.exists(master):
                return master
        return None

    def _root_of(self, path: str) -> str | None:
        for root in self.roots:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return root
        return None

    def _store_of(self, path: str) -> SeenStore | None:
        root = self._root_of(path)
        return self._stores[self.roots.index(root)] if root is not None else None

    def _record(self, path: str, keep: bool = True) -> _Record | None:
        """What is known of ``path``: this run's record, else what an earlier watch stored (``keep``: held in
        memory from now on, for a file being taken)."""
        rec = self._files.get(path)
        if rec is None and path not in self._again:
            store = self._store_of(path)
            found = store.get(path) if store is not None else None
            if found is not None:
                size, mtime_ns, frames, failed = found
                rec = _Record(size, mtime_ns, frames, frames > 1, 1 if failed else 0)
                if keep:
                    self._files[path] = rec
        return rec

    def _new_since(self, path: str) -> bool:
        """With ``since``: ``path`` changed at or after it, so it is queued as new rather than baselined."""
        if self.since is None:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        if max(st.st_mtime, st.st_ctime) < self.since:
            return False
        self._pending.setdefault(path, _Pending(closed=time.time() - st.st_mtime >= self.settle))
        return True

    def _baseline(self, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return
        frames = 1
        from tui_tagger.core.formats import sniff

        if sniff(path) == "hdf5":
            from tui_tagger.core.formats import probe

            frames = len(probe(path)[1]) or 1
        rec = _Record(st.st_size, st.st_mtime_ns, frames, frames > 1)
        self._files[path] = rec

    # ------------------------------------------------------------------------------------------ events
    def _apply(self, kind: str, path: str) -> None:
        if kind == "dir":  # a folder made or moved in: what it already holds raised no event here
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    self._apply("changed", os.path.join(folder, name))
            return
        target = self._wanted(path)
        if target is None:
            return
        if kind == "deleted":
            if target == path:
                self._forget(path)
                if self._track_gone:
                    self._gone.append(path)
            return
        if kind == "moved" and target == path:
            self._forget(path)  # renamed into place: a new file, whatever was at this path before
        entry = self._pending.get(target)
        if entry is None:
            entry = self._pending[target] = _Pending()
        if target != path:  # a data file of an Eiger master changed: the master is not complete yet
            entry.changed = time.monotonic()
            entry.closed = False
        elif kind in ("closed", "moved"):
            entry.closed = True
        else:
            entry.closed = False

    def _forget(self, path: str) -> None:
        """A file deleted (or replaced by a rename): what was known of it goes, here and in the store, so that a
        new file at this path is a new frame even with the old size and mtime (a detector's frames all have
        one size, and a coarse clock gives them one mtime)."""
        self._pending.pop(path, None)
        self._files.pop(path, None)
        self._again.discard(path)
        self._masters_told.discard(path)
        store = self._store_of(path)
        if store is not None:
            store.remove(path)

    def _drain(self) -> None:
        while True:
            try:
                kind, path = self._events.get_nowait()
            except queue.Empty:
                return
            self._apply(kind, path)

    def gone(self) -> list[str]:
        """The files deleted or renamed away since the last call (events seen by ``next``), for a viewer that
        lists what is there: it drops them at once instead of at its next look at the folder."""
        out, self._gone = self._gone, []
        return out

    def next(self, timeout: float = 0.1) -> list[Arrival]:
        """The frames that became complete, waiting up to ``timeout`` seconds for the first of them."""
        end = time.monotonic() + max(0.0, timeout)
        while True:
            self._drain()
            self._rescan()
            self._feed_backlog()
            ready = self._check()
            left = end - time.monotonic()
            if ready or left <= 0:
                return ready
            for store in self._stores:  # idle: what was recorded goes to disk (a kill -9 then forgets nothing)
                if store._dirty and time.monotonic() - store._committed >= store.COMMIT_S:
                    store.commit()
            try:
                kind, path = self._events.get(timeout=min(left, 0.05 if self._pending else left))
            except queue.Empty:
                continue
            self._apply(kind, path)

    def _rescan(self) -> None:
        """The safety walk (see RESCAN_S): files it finds go through the same checks as an event's, so what a
        watch already recorded is not handed out again."""
        now = time.monotonic()
        if self._backlog_walk is not None or now < self._next_rescan:
            return
        self._backlog_walk, self._rescanning, self._rescan_began = self._walk(), True, now

    def _feed_backlog(self) -> None:
        if self._backlog_walk is None or len(self._pending) >= _BACKLOG_CHUNK:
            return
        now = time.time()
        for _ in range(_BACKLOG_CHUNK):
            path = next(self._backlog_walk, None)
            if path is None:
                self._backlog_walk = None
                if "events" in self.mode:
                    took = time.monotonic() - self._rescan_began if self._rescanning else 0.0
                    self._next_rescan = time.monotonic() + max(RESCAN_S, 10 * took)
                self._rescanning = False
                return
            if path in self._pending:
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if self._rescanning:
                if self.known(path):  # recorded by a watch, or busy in this one
                    continue
            elif self.backlog == "all":
                self._again.add(path)
            # there before we started: complete already if it has not changed for a while
            self._pending[path] = _Pending(closed=now - st.st_mtime >= self.settle)

    @property
    def backlog_left(self) -> bool:
        """Whether files that were there at the start are still to be looked at."""
        return self._backlog_walk is not None

    def _check(self) -> list[Arrival]:
        ready: list[Arrival] = []
        now = time.monotonic()
        for path in list(self._pending):
            entry = self._pending[path]
            master = self._master_of(path)
            if master is not None:  # an Eiger data file whose master came after it: followed through the master
                del self._pending[path]
                self._apply("changed", path)  # as an event on it now: the master waits until it settles
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                del self._pending[path]
                continue
            except OSError:
                continue
            ident = (st.st_size, st.st_mtime_ns)
            if ident != (entry.size, entry.mtime_ns):
                entry.size, entry.mtime_ns = ident
                entry.changed = now
            if not stat.S_ISREG(st.st_mode):
                del self._pending[path]
                ready += self._take(path, st, final=True)  # a FIFO named like an image: one line, never read
                continue
            if entry.closed and st.st_size == 0:
                entry.closed = False  # created and closed empty: its writer may open it again
            complete = entry.closed or now - entry.changed >= self.settle
            if complete:
                del self._pending[path]
                ready += self._take(path, st, final=True)
            elif st.st_size > 0 and now - entry.probed >= GROW_PROBE_S:
                if entry.hdf5 is None:
                    from tui_tagger.core.formats import sniff

                    entry.hdf5 = sniff(path) == "hdf5"
                if entry.hdf5:
                    entry.probed = now
                    ready += self._take(path, st, final=False)
        return ready

    def _take(self, path: str, st: os.stat_result, final: bool) -> list[Arrival]:
        """The frames of ``path`` not handed out yet (``final``: the file is complete; else only the frames
        of a growing container that are surely written)."""
        from tui_tagger.core.formats import probe_problem

        ident = (st.st_size, st.st_mtime_ns)
        rec = self._record(path)
        again = path in self._again
        self._again.discard(path)
        if rec is not None and rec.tries >= 2:
            return []  # failed, was tried again when it changed, failed again: skipped for good
        if rec is not None and rec.failed_at == ident:
            return []
        if rec is not None and rec.emitted and not rec.container and (rec.size, rec.mtime_ns) == ident:
            self._let_go(path, rec)
            return []  # a single frame handed out (or predicted by an earlier watch) as it is now
        fmt, refs, problem = probe_problem(path)
        if fmt is None:
            return []  # not an image tui-tagger reads
        if problem is not None:
            if final:
                if rec is None or rec.failed_at is None:
                    self.skipped += 1  # never handed out: the caller's own count of unreadable frames misses it
                self._fail(path, ident, problem)
            return []
        if not final and len(refs) <= 1:
            return []  # an HDF5 file not yet readable, or one frame so far: wait
        if len(refs) <= 1 and _MASTER.search(os.path.basename(path)) and self._master_waits(path, ident):
            return []  # an Eiger master whose data files are not all there yet: they bring it back
        available = len(refs) if final else len(refs) - 1
        if rec is None:
            rec = self._files[path] = _Record()
        elif len(refs) <= 1 and not rec.container:
            if (rec.size, rec.mtime_ns) != ident:  # a single frame written again: a new frame
                rec.emitted = rec.done = 0
        elif st.st_size < rec.size:  # a container that shrank was written anew
            rec.emitted = rec.done = 0
        rec.container = rec.container or len(refs) > 1
        start = rec.emitted
        if available <= start:
            if final:
                rec.size, rec.mtime_ns = ident
            return []
        seen = time.time()
        rec.emitted = available
        rec.size, rec.mtime_ns = ident
        skip = self._taken_on_their_own(path, again) if _MASTER.search(os.path.basename(path)) else set()
        return [Arrival(ref, path, i, seen, st.st_size, st.st_mtime_ns)
                for i, ref in enumerate(refs[start:available], start) if i not in skip]

    def _taken_on_their_own(self, master: str, again: bool = False) -> set[int]:
        """The frames (indices in the master's refs) of an Eiger master that were handed out as frames of a
        data file of its, taken on its own before the master was there: each frame is predicted once (``again``:
        --backlog all, where only what this run handed out counts)."""
        from tui_tagger.core.formats.hdf5 import frame_files_hdf5

        try:
            parts = frame_files_hdf5(Path(master))
        except Exception:
            return set()
        skip: set[int] = set()
        offset = 0
        for data, count in parts:
            rec = None if data == master else self._files.get(data) if again else self._record(data, keep=False)
            if rec is not None and rec.emitted:
                skip.update(range(offset, offset + min(rec.emitted, count)))
            offset += count
        return skip

    def _master_waits(self, path: str, ident: tuple[int, int]) -> bool:
        """Whether an Eiger master that cannot be counted waits for its data files (a line once, the first time):
        the detector writes the master first and each data file when it is full. A master without any data
        file links is read (and reported) as any file."""
        from tui_tagger.core.formats import read_image
        from tui_tagger.core.errors import ImageReadError

        try:
            read_image(path)
            return False
        except ImageReadError as err:
            if "data_" not in str(err):
                return False  # not a missing data file: read and report it as any other file
        if path not in self._masters_told:
            self._masters_told.add(path)
            self.report(f"{path}: an Eiger master whose data files are not all there yet; its frames are taken "
                        "when they are")
        return True

    def _fail(self, path: str, ident: tuple[int, int], problem: str) -> None:
        rec = self._record(path)
        if rec is None:
            rec = self._files[path] = _Record()
        if rec.failed_at == ident:
            return
        rec.tries += 1
        rec.failed_at = ident
        rec.size, rec.mtime_ns = ident
        rec.emitted = rec.done = 0
        if rec.tries == 1:
            self.report(f"{problem} (skipped; tried once more if it changes)")
        else:
            self.report(f"{problem} (skipped: tried again after it changed)")
        store = self._store_of(path)
        if store is not None:
            store.add(path, ident[0], ident[1], 0, True)

    def done(self, arrival: Arrival, error: str | None = None) -> None:
        """Record ``arrival`` as predicted (``error``: it could not be read; a single-frame file is then
        reported once and tried again if it changes)."""
        rec = self._files.get(arrival.path)
        if rec is None:
            return  # deleted (or replaced) since it was handed out: nothing of it to remember
        if error is not None and not rec.container:
            self._fail(arrival.path, (arrival.size, arrival.mtime_ns), error)
            return
        rec.done = max(rec.done, arrival.index + 1)
        if rec.tries and error is None:
            rec.tries, rec.failed_at = 0, None
        store = self._store_of(arrival.path)
        if store is not None:
            store.add(arrival.path, arrival.size, arrival.mtime_ns, rec.done, False)
        self._let_go(arrival.path, rec)

    def _let_go(self, path: str, rec: _Record) -> None:
        """A single frame done leaves memory (the store remembers it): memory stays flat however many frames a
        run sees, or a restart finds in the folders."""
        if not rec.container and rec.done >= rec.emitted and not rec.tries and not self._busy(path):
            self._files.pop(path, None)

    def _busy(self, path: str) -> bool:
        return path in self._pending or self._store_of(path) is None or self._store_of(path)._broken

    def commit(self) -> None:
        """Write what was recorded to the store now (also done every 0.2 s as frames are recorded)."""
        for store in self._stores:
            store.commit()

    def known(self, path: str) -> bool:
        """Whether ``path`` was handed out (or predicted by an earlier watch)."""
        rec = self._record(path, keep=False)  # a safety walk asks this of every file: nothing stays in memory
        return rec is not None and rec.emitted > 0


class _Handler:
    """watchdog's events, reduced to (kind, path) on a queue read by the follower's thread."""

    def __init__(self, events: queue.SimpleQueue):
        self.events = events

    def dispatch(self, event) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if event.is_directory:
            if kind in ("created", "moved"):
                self.events.put(("dir", os.fsdecode(event.dest_path) if kind == "moved" else src))
            return
        if kind == "moved":
            self.events.put(("deleted", src))
            self.events.put(("moved", os.fsdecode(event.dest_path)))
        elif kind in ("created", "modified"):
            self.events.put(("changed", src))
        elif kind == "closed":
            self.events.put(("closed", src))
        elif kind == "deleted":
            self.events.put(("deleted", src))
