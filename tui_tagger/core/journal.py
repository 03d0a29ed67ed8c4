"""Append-only correction journal: every correction reaches the OS the moment it is made.

``extend`` writes and flushes before it returns, so a process crash or a dropped SSH connection loses
nothing once the key press is handled. Surviving a power cut needs an fsync, which costs 5-20 ms on a busy
disk: that runs in a background thread that groups the records of ~0.15 s into one fsync (group commit),
off the key path.

One JSON object per line in ``cache_dir()/journal/<hash of the folder>.jsonl``. A crash or a dropped SSH
connection loses nothing: the next session for the same folder replays the lines (a last line cut short
by the crash is skipped), and the journal is cleared once the corrections are saved to the tag files.
Each record states a result ("tag X present/absent/back to the file's value"), not a toggle, so replaying
it twice, or after an undo, gives the same state.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from tui_tagger.core.atomic import atomic_write_bytes

VERSION = 1
SYNC_DELAY_S = 0.15  # records written within this long share one fsync


def journal_path(root: str | os.PathLike, cache: Path | None = None) -> Path:
    if cache is None:
        from tui_tagger.config import cache_dir

        cache = cache_dir()
    key = hashlib.sha1(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(cache) / "journal" / f"{key}.jsonl"


class Journal:
    """The journal of one folder. ``append``/``extend`` write and flush at once; with ``fsync`` the data
    is also forced to the disk within ``SYNC_DELAY_S`` by a background thread (``sync()`` forces it now)."""

    def __init__(self, root: str | os.PathLike, cache: Path | None = None, fsync: bool = True):
        self.root = os.path.realpath(root)
        self.path = journal_path(root, cache)
        self.fsync = fsync
        self._fh = None
        self._lock = threading.Lock()  # the file handle: the writer and the syncer share it
        self._wake = threading.Condition(self._lock)
        self._unsynced = False
        self._syncer: threading.Thread | None = None

    def append(self, record: dict) -> None:
        self.extend([record])

    def extend(self, records: list[dict]) -> None:
        """Write several records with one flush: a bulk move is one key press."""
        if not records:
            return
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                new = not self.path.exists() or self.path.stat().st_size == 0
                self._fh = open(self.path, "a", encoding="utf-8")
                if new:
                    records = [{"journal": VERSION, "root": self.root}, *records]
            self._fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            self._fh.flush()
            if self.fsync:
                self._unsynced = True
                if self._syncer is None:
                    self._syncer = threading.Thread(target=self._sync_loop, daemon=True, name="journal-fsync")
                    self._syncer.start()
                self._wake.notify()

    def sync(self) -> None:
        """Force what was written to the disk now (a no-op when nothing is pending)."""
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._unsynced and self._fh is not None:
            self._unsynced = False
            os.fsync(self._fh.fileno())

    def _sync_loop(self) -> None:
        while True:
            with self._lock:
                while not self._unsynced:
                    self._wake.wait()
                # let the records of the next key presses join this fsync; the lock is free meanwhile
                deadline = time.monotonic() + SYNC_DELAY_S
                while (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)
                if not self._unsynced or self._fh is None:
                    continue
                self._unsynced = False
                fd = os.dup(self._fh.fileno())  # fsync outside the lock: a key press never waits for it
            try:
                os.fsync(fd)
            except OSError:  # the disk went away: the next write reports it
                pass
            finally:
                os.close(fd)

    def records(self) -> list[dict]:
        """The corrections recorded so far (header and damaged lines left out)."""
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # a line cut short by a crash
                continue
            if isinstance(rec, dict) and "journal" not in rec:
                out.append(rec)
        return out

    def rewrite(self, records: list[dict]) -> None:
        """Replace the journal with ``records`` (what is still unsaved after a partial save)."""
        self.close(sync=False)  # replaced below, atomically
        if not records:
            self.clear()
            return
        lines = [{"journal": VERSION, "root": self.root}, *records]
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, data, fsync=self.fsync)

    def clear(self) -> None:
        self.close(sync=False)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def close(self, sync: bool = True) -> None:
        with self._lock:
            if self._fh is not None:
                try:
                    if sync:  # nothing written is left unsynced behind a close
                        self._sync_locked()
                finally:
                    self._fh.close()
                    self._fh = None
                    self._unsynced = False
