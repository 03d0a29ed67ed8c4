"""Append-only correction journal: every correction hits the disk the moment it is made.

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
from pathlib import Path

from tui_tagger.core.atomic import atomic_write_bytes

VERSION = 1


def journal_path(root: str | os.PathLike, cache: Path | None = None) -> Path:
    if cache is None:
        from tui_tagger.config import cache_dir

        cache = cache_dir()
    key = hashlib.sha1(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(cache) / "journal" / f"{key}.jsonl"


class Journal:
    """The journal of one folder. ``append`` writes and flushes at once (and fsyncs when asked)."""

    def __init__(self, root: str | os.PathLike, cache: Path | None = None, fsync: bool = True):
        self.root = os.path.realpath(root)
        self.path = journal_path(root, cache)
        self.fsync = fsync
        self._fh = None

    def append(self, record: dict) -> None:
        self.extend([record])

    def extend(self, records: list[dict]) -> None:
        """Write several records with one flush (and one fsync): a bulk move is one key press."""
        if not records:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._fh = open(self.path, "a", encoding="utf-8")
            if new:
                records = [{"journal": VERSION, "root": self.root}, *records]
        self._fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

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
        self.close()
        if not records:
            self.clear()
            return
        lines = [{"journal": VERSION, "root": self.root}, *records]
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, data, fsync=self.fsync)

    def clear(self) -> None:
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
