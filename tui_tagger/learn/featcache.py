"""On-disk feature cache: one SQLite blob table per feature source, keyed by image ref + size + mtime_ns.

``<cache_dir>/features/<source>/features.sqlite``. A row is reused only when the image's size and
mtime_ns and the extractor's version string all match, so an edited image or a new extractor is
recomputed and nothing stale is ever served. A damaged cache file is set aside and rebuilt: it only
costs time.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np

from tui_tagger import config

_SCHEMA = """CREATE TABLE IF NOT EXISTS feats (
    ref TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, version TEXT, vec BLOB)"""


def _key(ref: str) -> str:
    """The row key of an image ref. SQLite text must be UTF-8: a name that is not (lone surrogates from
    ``os.fsdecode``) is keyed by its bytes in hex, after a NUL no real name holds, so keys never collide."""
    try:
        ref.encode("utf-8")
        return ref
    except UnicodeEncodeError:
        return "\0" + ref.encode("utf-8", "surrogateescape").hex()


def cache_path(source: str, cache_dir: str | os.PathLike | None = None) -> Path:
    return Path(cache_dir or config.cache_dir()) / "features" / source / "features.sqlite"


class FeatureCache:
    def __init__(self, source: str, version: str, cache_dir: str | os.PathLike | None = None):
        self.path = cache_path(source, cache_dir)
        self.version = version
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = self._open()
            except (OSError, sqlite3.Error):
                return None  # read-only or broken cache folder: work without a cache
        return self._db

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute(_SCHEMA)
            return db
        except sqlite3.DatabaseError:
            os.replace(self.path, self.path.with_suffix(".corrupt"))
            db = sqlite3.connect(self.path, timeout=30)
            db.execute(_SCHEMA)
            return db

    def get_many(self, items: list[tuple[str, int, int]]) -> dict[int, np.ndarray]:
        """Cached vectors for ``items`` = [(ref, size, mtime_ns)], by position in the list."""
        db = self._conn()
        if db is None:
            return {}
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(items), 500):
            chunk = items[start:start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = db.execute(f"SELECT ref, size, mtime_ns, version, vec FROM feats WHERE ref IN ({marks})",
                                  [_key(c[0]) for c in chunk]).fetchall()
            except sqlite3.Error:
                return found
            by_ref = {r[0]: r for r in rows}
            for i, (ref, size, mtime_ns) in enumerate(chunk):
                row = by_ref.get(_key(ref))
                if row and row[1] == size and row[2] == mtime_ns and row[3] == self.version:
                    found[start + i] = np.frombuffer(row[4], dtype=np.float32)
        return found

    def put_many(self, rows: list[tuple[str, int, int, np.ndarray]]) -> None:
        db = self._conn()
        if db is None or not rows:
            return
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO feats VALUES (?, ?, ?, ?, ?)",
                               [(_key(ref), size, mtime, self.version, np.asarray(v, np.float32).tobytes())
                                for ref, size, mtime, v in rows])
        except sqlite3.Error:
            pass  # a full disk or a locked cache costs only recomputation next time

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
