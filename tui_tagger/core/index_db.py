"""The catalog's SQLite index cache: what a scan learnt about each file, keyed by size + mtime_ns.

Three tables:
- ``files``: every file the scan sniffed (non-images too, with format NULL, so a warm scan opens none),
  where each image's tag file may be (TagStore.read_candidates, as folder-listing keys) and the frame-ref
  suffixes of multi-frame containers (so big HDF5 files are not reopened).
- ``tags``: per image ref, the tag file found for it, its size + mtime_ns and the parsed tags.
- ``errors``: read errors the viewer reported back (``Catalog.mark_error``), valid while the image's
  size + mtime_ns are unchanged.

The cache is only a cache: a corrupt db or one from another schema version is deleted and rebuilt, a
cache folder that cannot be written gives an in-memory db, and a write that fails (disk full, a
locked db held by another process) is dropped rather than raised.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    rel TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, format TEXT, cands TEXT, frames TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (
    ref TEXT PRIMARY KEY, tag_path TEXT, tag_size INTEGER, tag_mtime_ns INTEGER,
    tags TEXT, predictions TEXT, error TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS errors (
    ref TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, message TEXT
) WITHOUT ROWID;
"""


# Rows come back as the plain tuples sqlite makes (building a NamedTuple per row doubled the load time
# of a 100k index), key first, in column order:
FILE_COLUMNS = ("rel", "size", "mtime_ns", "format", "cands", "frames")
# cands: the image's tag-file candidates in read order, "\n"-joined "m:NAME.tag" (tags_dir mirror) or
# "b:NAME.tag" (beside), so that a warm scan parses no paths; frames: JSON list of [ref suffix, cands]
# for multi-frame containers, else NULL
TAG_COLUMNS = ("ref", "tag_path", "tag_size", "tag_mtime_ns", "tags", "predictions", "error")
# tag_path: the candidate found ("m:NAME.xml"), NULL for none; tags: JSON object name -> source;
# predictions: JSON object name -> p
# load(): each file row followed by its own tags row (NULLs when none), from one join
_JOINED = (f"SELECT {','.join('f.' + c for c in FILE_COLUMNS)},{','.join('t.' + c for c in TAG_COLUMNS)} "
           "FROM files f LEFT JOIN tags t ON t.ref = f.rel")
# the frames of containers have tags rows of their own
_FRAME_TAGS = (f"SELECT {','.join(TAG_COLUMNS)} FROM tags t WHERE NOT EXISTS "
               "(SELECT 1 FROM files f WHERE f.rel = t.ref)")


class ErrorRow(NamedTuple):
    size: int
    mtime_ns: int
    message: str


class IndexDB:
    """One index file (or an in-memory db when ``path`` is None or cannot be used)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.persistent = False
        self._lock = threading.Lock()
        self._conn = self._open()

    # ------------------------------------------------------------------ opening
    def _open(self) -> sqlite3.Connection:
        if self.path is not None:
            for _attempt in range(2):
                try:
                    conn = self._connect(self.path)
                    self.persistent = True
                    return conn
                except sqlite3.OperationalError:
                    break  # locked by another process, or not writable: never delete it for that
                except (sqlite3.DatabaseError, _StaleSchema):
                    try:
                        self._delete_files()  # corrupt or old: rebuild it
                    except OSError:
                        break
                except OSError:
                    break  # cache folder not writable
        self.path = None
        return self._connect(None)

    def _connect(self, path: Path | None) -> sqlite3.Connection:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # the TUI scans in a worker thread; every use is under self._lock
        conn = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False,
                               isolation_level=None, timeout=2.0)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if has_tables and version != SCHEMA_VERSION:
                raise _StaleSchema
            if path is not None:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            # a truncated or garbled file can open fine and fail on the first real read
            conn.execute("SELECT count(*) FROM files").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _delete_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError:
                raise

    # ------------------------------------------------------------------ reads
    def load(self, images_only: bool = False) -> tuple[dict[str, tuple], dict[str, tuple], dict[str, ErrorRow]]:
        """The whole index, one query per kind (far faster than a lookup per file): file rows by rel, each
        with its tags row appended (FILE_COLUMNS + TAG_COLUMNS; the tag columns NULL when it has none),
        the frames' tags rows by ref, and the reported read errors. ``images_only``: images only, in the
        order a scan walks them."""
        # images_only (the catalog's first screen) comes in walk order: per folder, by name; char(1) makes
        # "b/x" sort before "b-side" as the walk does (BINARY on UTF-8 = Python's order on code points)
        query = _JOINED + (" WHERE f.format IS NOT NULL ORDER BY replace(f.rel, '/', char(1))" if images_only else "")
        with self._lock:
            try:
                files = {r[0]: r for r in self._conn.execute(query)}
                frame_tags = {r[0]: r for r in self._conn.execute(_FRAME_TAGS)}
                errors = {r[0]: ErrorRow(*r[1:]) for r in self._conn.execute("SELECT * FROM errors")}
            except sqlite3.OperationalError:  # busy: scan as if cold this once
                return {}, {}, {}
            except sqlite3.DatabaseError:
                self._reset()
                return {}, {}, {}
        return files, frame_tags, errors

    # ------------------------------------------------------------------ writes
    def write(self, files: list[tuple] = (), tags: list[tuple] = (), errors: list[tuple] = (),
              drop_files: list[str] = (), drop_tags: list[str] = (), drop_errors: list[str] = ()) -> None:
        """Upsert rows (tuples in column order, key first) and delete keys, in one transaction."""
        if not (files or tags or errors or drop_files or drop_tags or drop_errors):
            return
        try:
            self._write(files, tags, errors, drop_files, drop_tags, drop_errors)
        except UnicodeEncodeError:  # a file name that is not UTF-8 (surrogate-escaped): not cached
            ok = _encodable
            self._write(*([r for r in rows if ok(r)] for rows in (files, tags, errors, drop_files, drop_tags,
                                                                  drop_errors)))

    def _write(self, files, tags, errors, drop_files, drop_tags, drop_errors) -> None:
        with self._lock:
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    c.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?)", files)
                    c.executemany("INSERT OR REPLACE INTO tags VALUES (?,?,?,?,?,?,?)", tags)
                    c.executemany("INSERT OR REPLACE INTO errors VALUES (?,?,?,?)", errors)
                    c.executemany("DELETE FROM files WHERE rel=?", ((k,) for k in drop_files))
                    c.executemany("DELETE FROM tags WHERE ref=?", ((k,) for k in drop_tags))
                    c.executemany("DELETE FROM errors WHERE ref=?", ((k,) for k in drop_errors))
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError:
                pass  # locked by another process, disk full, read-only: the cache just stays stale
            except sqlite3.DatabaseError:
                self._reset()

    def _reset(self) -> None:
        """The db went bad under us: start again from an empty one."""
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        if self.path is not None and self.persistent:
            try:
                self._delete_files()
            except OSError:
                self.path = None
        self.persistent = False
        self._conn = self._open()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _encodable(row) -> bool:
    try:
        for value in (row,) if isinstance(row, str) else row:
            if isinstance(value, str):
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _StaleSchema(Exception):
    """The db file is from another schema version."""
