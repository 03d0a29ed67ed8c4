"""The catalog's SQLite index: what a scan learnt about each file, keyed by size + mtime_ns, and the tags
it found, in a form that answers tag queries without a Python object per frame.

Tables:
- ``files``: one row per file the scan sniffed (non-images too, with format NULL, so a warm scan opens
  none), keyed by ``skey`` = the relative path with "/" written as char(1): key order is the order the
  scan walks (a folder's files and sub-folders by name, each sub-folder where its name sorts), so the
  first screen, paging and search read rows in key order, no sort. A single-frame image's tag columns
  (the tag file found, its size + mtime_ns, the tag set, the predictions, the tag file's error) sit in
  its own row: one row, one insert per image.
- ``frames``: the tag columns of each frame of a multi-frame container, by frame ref (rel + suffix).
- ``tagsets``: each distinct set of tags (JSON name -> source) with the names of the predictions that go
  with it. Many frames share one; a query is decided once per tag set, then selected by id in SQL.
- ``folders``: each folder a finished walk listed, with its stamp (mtime, ctime, inode of the folder and
  of its tags_dir mirror) when it was listed: a quick check trusts a folder whose stamp is unchanged.
- ``meta``: small facts about the walks, by name ("rolled": where the rolling check of quick walks
  stopped).
- ``errors``: read errors the viewer reported back (``Catalog.mark_error``), valid while the image's
  size + mtime_ns are unchanged.

The index is only a cache: a corrupt db or one from another schema version is deleted and rebuilt, a
cache folder that cannot be written gives an in-memory db, and a write that fails (disk full, a
locked db held by another process) is dropped rather than raised.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

SCHEMA_VERSION = 6

_TAG_COLS = "tag_key TEXT, tag_size INTEGER, tag_mtime_ns INTEGER, predictions TEXT, error TEXT, tagset INTEGER"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS files (
    skey TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, format TEXT, cands TEXT, frames TEXT, {_TAG_COLS}
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_tag_errors ON files (skey) WHERE error IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_tagset ON files (tagset, skey);
CREATE INDEX IF NOT EXISTS files_containers ON files (skey) WHERE frames IS NOT NULL;
CREATE TABLE IF NOT EXISTS frames (ref TEXT PRIMARY KEY, {_TAG_COLS}) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS frames_tagset ON frames (tagset);
CREATE TABLE IF NOT EXISTS errors (
    ref TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, message TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folders (skey TEXT PRIMARY KEY, stamp TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tagsets (
    id INTEGER PRIMARY KEY, tags TEXT NOT NULL, pnames TEXT NOT NULL, UNIQUE (tags, pnames)
);
INSERT OR IGNORE INTO tagsets VALUES (0, '', '');
"""

# Rows come back as the plain tuples sqlite makes (a NamedTuple per row doubled the load time), in column
# order. FILE_COLUMNS: cands = the image's tag-file candidates in read order, "\n"-joined "m:NAME.tag"
# (tags_dir mirror) or "b:NAME.tag" (beside), so a warm scan parses no paths; frames = JSON list of
# [ref suffix, cands] for multi-frame containers, else NULL. TAG_COLUMNS (the tail of a single-frame
# image's row, and a frames row): tag_key = the candidate found ("m:NAME.xml"), NULL for none;
# predictions = JSON object name -> p ("" for none); error = the tag file's problem (its tags unknown);
# tagset = id in tagsets (0: no tags; ERROR_SET: the tag file could not be read), NULL when the tags were
# never looked at (a container's own row, a file that is no image). An index on (tagset, skey) gives the
# images of one tag set in walk order without touching the table: a search merges those of the matching sets.
FILE_COLUMNS = ("skey", "size", "mtime_ns", "format", "cands", "frames")
TAG_COLUMNS = ("tag_key", "tag_size", "tag_mtime_ns", "predictions", "error", "tagset")
ROW_WIDTH = len(FILE_COLUMNS) + len(TAG_COLUMNS)
_FILES = ",".join(FILE_COLUMNS + TAG_COLUMNS)
_FRAMES = ",".join(("ref",) + TAG_COLUMNS)
KEY_COLUMNS = ("skey", "frames", "error", "tagset", "predictions")
_KEYS = ",".join(KEY_COLUMNS)
ERROR_SET = -1
CHUNK = 4000  # rows per read: the db lock is never held while a caller works through them
SEP = "\x01"  # "/" in an skey


# A file name that is not UTF-8 (its bytes surrogate-escaped by Python) is stored with each escaped byte
# as a private-use character of plane 15, U+F0080..U+F00FF, which SQLite can hold; read back as it was.
_SHIFT = 0xF0000 - 0xDC00


def store_form(text):
    """``text`` as the index stores it (unchanged unless it holds surrogate-escaped bytes)."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(chr(ord(c) + _SHIFT) if "\udc80" <= c <= "\udcff" else c for c in text)


def path_form(text):
    """The inverse of ``store_form``."""
    if text is None or text.isascii() or not any("\U000f0080" <= c <= "\U000f00ff" for c in text):
        return text
    return "".join(chr(ord(c) - _SHIFT) if "\U000f0080" <= c <= "\U000f00ff" else c for c in text)


def sort_key(name: str) -> str:
    """A folder's names sort by this in a walk, as their keys sort in the index."""
    return store_form(name)


def skey(rel: str) -> str:
    """The index key of a relative path: "/" as char(1), in the stored form."""
    return store_form(rel.replace("/", SEP))


def rel_of(key: str) -> str:
    return path_form(key.replace(SEP, "/"))


def key_paths(keys: list[str], prefix: str, sep: str) -> list[str]:
    """The paths of index keys: ``prefix`` + the relative path with ``sep`` between its parts."""
    if "".join(keys).isascii():
        return [prefix + k.replace(SEP, sep) for k in keys]
    return [prefix + path_form(k.replace(SEP, sep)) for k in keys]


# the path-like text columns: escaped on the way in, restored on the way out
_FILE_TEXT = (4, 5, 6, 10)  # cands, frames, tag_key, error (the key stays in its stored form)
_FRAME_TEXT = (0, 1, 5)  # ref, tag_key, error


def _restore(row: tuple, cols: tuple) -> tuple:
    if all(row[i] is None or row[i].isascii() for i in cols):
        return row
    row = list(row)
    for i in cols:
        row[i] = path_form(row[i])
    return tuple(row)


def _stored(row: tuple, cols: tuple) -> tuple:
    if all(row[i] is None or row[i].isascii() for i in cols):
        return row
    row = list(row)
    for i in cols:
        row[i] = store_form(row[i])
    return tuple(row)


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
        self._tagset_ids: dict[tuple[str, str], int] = {}
        self._tagsets: dict[int, tuple[dict, tuple[str, ...]]] = {}

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
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages: RSS stays small at 1M rows
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            # a truncated or garbled file can open fine and fail on the first real read
            conn.execute("SELECT count(*) FROM tagsets").fetchone()
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

    # ------------------------------------------------------------------ reads
    def _fetch(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:  # busy: as if empty this once
                return []
            except sqlite3.DatabaseError:
                self._reset()
                return []

    def iter_files(self, where: str = "", after: str | None = None, limit: int | None = None,
                   offset: int = 0, inclusive: bool = False, first_chunk: int = CHUNK,
                   keys_only: bool = False) -> Iterator[tuple]:
        """File rows (FILE_COLUMNS + TAG_COLUMNS) in key (walk) order, read in chunks: each chunk under the
        lock, none held between them, so writes of the same connection go on while a caller iterates.
        ``where``: an SQL condition on the columns (built by this package, never from user text);
        ``first_chunk``: rows in the first read (small where the caller may seek elsewhere soon);
        ``keys_only``: KEY_COLUMNS only (what a search needs)."""
        select, text = (_KEYS, (1, 2)) if keys_only else (_FILES, _FILE_TEXT)
        cond = f" AND ({where})" if where else ""
        last = after
        first = True
        while True:
            n = (first_chunk if first else CHUNK) if limit is None else min(CHUNK, limit)
            if n <= 0:
                return
            if last is None:
                rows = self._fetch(f"SELECT {select} FROM files WHERE 1{cond} ORDER BY skey LIMIT ? OFFSET ?",
                                   (n, offset if first else 0))
            else:
                op = ">=" if first and inclusive else ">"
                rows = self._fetch(f"SELECT {select} FROM files WHERE skey {op} ?{cond} ORDER BY skey LIMIT ? OFFSET ?",
                                   (last, n, offset if first else 0))
            first = False
            restore = _restore
            for row in rows:
                yield restore(row, text)
            if len(rows) < n:
                return
            last = rows[-1][0]
            if limit is not None:
                limit -= len(rows)

    def scan_paths(self, where: str, prefix: str, sep: str, columns: tuple[str, ...] = ()) -> Iterator[tuple]:
        """(skey, path = ``prefix`` + the rel path with "/" as ``sep``, *``columns``) of the rows ``where``
        selects, in key order, from one statement on its own read connection (a snapshot; no lock held
        between chunks) when the index is a file. Text columns come back in their stored form except the
        path."""
        extra = "".join(f", {c}" for c in columns)
        sql = f"SELECT skey, ? || replace(skey, char(1), ?){extra} FROM files WHERE {where} ORDER BY skey"
        for rows in self._path_chunks(sql, (store_form(prefix), sep)):
            yield from rows

    def paths_of_tagsets(self, ids: list[int], prefix: str, sep: str) -> Iterator[tuple[str, str]]:
        """(skey, path) of the single-frame images whose tag set is one of ``ids``, in key order."""
        for keys in self.tagset_key_chunks(ids):
            yield from zip(keys, key_paths(keys, prefix, sep))

    def tagset_key_chunks(self, ids: list[int]) -> Iterator[list[str]]:
        """The keys of the single-frame images whose tag set is one of ``ids``, in key order, a list at a
        time: one range of the (tagset, skey) index per set, merged by SQLite (a compound select ordered
        by key merges its sorted parts; at most 64 sets). ``key_paths`` makes them paths."""
        one = "SELECT skey FROM files INDEXED BY files_tagset WHERE tagset = {} "
        sql = "UNION ALL ".join(one.format(int(i)) for i in ids) + "ORDER BY 1"
        for rows in self._path_chunks(sql, (), paths=False):
            yield [r[0] for r in rows]

    def key_chunks(self, where: str) -> Iterator[list[str]]:
        """The keys of the rows ``where`` selects, in key order, a list at a time."""
        for rows in self._path_chunks(f"SELECT skey FROM files WHERE {where} ORDER BY skey", (), paths=False):
            yield [r[0] for r in rows]

    def read_only_connection(self) -> sqlite3.Connection | None:
        """A read-only connection of its own to the index file (long reads on it are a snapshot and hold no
        lock the writer waits on); None for an in-memory index or one that cannot be opened."""
        if not self.persistent or self.path is None:
            return None
        try:
            return sqlite3.connect(f"{Path(self.path).as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=2.0)
        except sqlite3.Error:
            return None

    def _path_chunks(self, sql: str, params: tuple, paths: bool = True) -> Iterator[list]:
        """The rows of ``sql`` (skey, path, ...) in lists, paths in their file-system form (``paths``
        False: as they come)."""
        conn = self.read_only_connection()
        try:
            if conn is None:
                with self._lock:
                    try:
                        chunks = [self._conn.execute(sql, params).fetchall()]
                    except sqlite3.Error:
                        return
            else:
                cur = conn.execute(sql, params)
                chunks = iter(lambda: cur.fetchmany(8192), [])
            for rows in chunks:
                if not rows:
                    continue
                if paths and not "".join([r[1] for r in rows]).isascii():
                    rows = [r if r[1].isascii() else (r[0], path_form(r[1]), *r[2:]) for r in rows]
                yield rows
        except sqlite3.Error:
            return
        finally:
            if conn is not None:
                conn.close()

    def count_files(self, where: str = "") -> int:
        rows = self._fetch("SELECT count(*) FROM files" + (f" WHERE {where}" if where else ""))
        return rows[0][0] if rows else 0

    def file_row(self, key: str) -> tuple | None:
        rows = self._fetch(f"SELECT {_FILES} FROM files WHERE skey = ?", (key,))
        return _restore(rows[0], _FILE_TEXT) if rows else None

    def frame_rows(self, refs: list[str]) -> dict[str, tuple]:
        """Frames rows (TAG_COLUMNS after the ref) by ref."""
        out: dict[str, tuple] = {}
        for i in range(0, len(refs), 500):
            part = [store_form(r) for r in refs[i:i + 500]]
            marks = ",".join("?" * len(part))
            for r in self._fetch(f"SELECT {_FRAMES} FROM frames WHERE ref IN ({marks})", part):
                r = _restore(r, _FRAME_TEXT)
                out[r[0]] = r
        return out

    def has_containers(self) -> bool:
        return bool(self._fetch("SELECT 1 FROM files INDEXED BY files_containers WHERE frames IS NOT NULL LIMIT 1"))

    def folders(self) -> dict[str, str]:
        """Folder key -> stamp, of every folder the last walks listed."""
        return dict(self._fetch("SELECT skey, stamp FROM folders"))

    def meta(self, key: str) -> str | None:
        rows = self._fetch("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def errors(self) -> dict[str, ErrorRow]:
        return {path_form(r[0]): ErrorRow(r[1], r[2], path_form(r[3])) for r in self._fetch("SELECT * FROM errors")}

    def tag_errors(self) -> list[tuple[str, str]]:
        """(skey or frame ref, message) of every tag file that could not be read, files in walk order."""
        rows = (self._fetch("SELECT skey, error FROM files WHERE error IS NOT NULL AND format IS NOT NULL "
                            "ORDER BY skey")
                + self._fetch("SELECT ref, error FROM frames WHERE error IS NOT NULL ORDER BY ref"))
        return [(key, path_form(message)) for key, message in rows]

    def live_tagsets(self) -> list[int]:
        """Ids of the tag sets some image or frame has now."""
        ids = [r[0] for r in self._fetch("SELECT id FROM tagsets")]
        return [i for i in ids if self._fetch("SELECT 1 FROM files WHERE tagset = ? LIMIT 1", (i,))
                or self._fetch("SELECT 1 FROM frames WHERE tagset = ? LIMIT 1", (i,))]

    # ------------------------------------------------------------------ tag sets
    def tagset_id(self, tags_json: str, pnames_json: str) -> int:
        """The id of a tag set (tags: JSON name -> source, "" for none; pnames: JSON list of predicted names,
        "" for none), added when new. Tag sets are never deleted, so an id stays valid in every process."""
        key = (tags_json, pnames_json)
        hit = self._tagset_ids.get(key)
        if hit is not None:
            return hit
        if key == ("", ""):
            self._tagset_ids[key] = 0
            return 0
        with self._lock:
            try:
                self._conn.execute("INSERT OR IGNORE INTO tagsets (tags, pnames) VALUES (?, ?)", key)
                row = self._conn.execute("SELECT id FROM tagsets WHERE tags = ? AND pnames = ?", key).fetchone()
            except sqlite3.DatabaseError:
                row = None
        if row is None:  # a db that cannot be written: ids of this process only, never stored
            tid = ERROR_SET - 1 - len(self._tagset_ids)
        else:
            tid = row[0]
        self._tagset_ids[key] = tid
        return tid

    def tagset(self, tid: int | None) -> tuple[dict, tuple[str, ...]]:
        """(tags name -> source, predicted names) of a tag set id; shared objects: never edit them."""
        if not tid or tid == ERROR_SET:
            return _NO_TAGS
        hit = self._tagsets.get(tid)
        if hit is None:
            for key, i in self._tagset_ids.items():  # made by this process (maybe never stored)
                if i == tid:
                    hit = (json.loads(key[0]) if key[0] else {}, tuple(json.loads(key[1])) if key[1] else ())
                    break
            else:
                self.load_tagsets()
                hit = self._tagsets.get(tid, _NO_TAGS)
            self._tagsets[tid] = hit
        return hit

    def load_tagsets(self, ids: list[int] | None = None) -> dict[int, tuple[dict, tuple[str, ...]]]:
        """Every tag set (or those of ``ids``), decoded and cached."""
        rows = self._fetch("SELECT id, tags, pnames FROM tagsets")
        for tid, tags, pnames in rows:
            if tid not in self._tagsets:
                self._tagsets[tid] = (json.loads(tags) if tags else {}, tuple(json.loads(pnames)) if pnames else ())
                self._tagset_ids.setdefault((tags, pnames), tid)
        self._tagsets.setdefault(0, _NO_TAGS)
        if ids is None:
            return dict(self._tagsets)
        return {i: self.tagset(i) for i in ids}

    # ------------------------------------------------------------------ writes
    def write(self, files: list[tuple] = (), frames: list[tuple] = (), errors: list[tuple] = (),
              drop_files: list[str] = (), drop_frames: list[str] = (), drop_errors: list[str] = (),
              folders: list[tuple] = (), drop_folders: list[str] = (), meta: list[tuple] = ()) -> bool:
        """Upsert rows (tuples in column order, key first) and delete keys, in one transaction. False when
        something was not written (a locked or read-only db; a row whose tag set could not be stored, or a
        name that cannot be: those rows are left out): the caller must not trust the index to be complete."""
        if not (files or frames or errors or drop_files or drop_frames or drop_errors or folders or drop_folders
                or meta):
            return True
        complete = True
        if any(r[11] is not None and r[11] < ERROR_SET for r in files) or \
                any(r[6] is not None and r[6] < ERROR_SET for r in frames):
            complete = False  # tag sets of this process only (their insert failed): rows left out
            files = [r for r in files if r[11] is None or r[11] >= ERROR_SET]
            frames = [r for r in frames if r[6] is None or r[6] >= ERROR_SET]
        files = [_stored(r, _FILE_TEXT) for r in files]
        frames = [_stored(r, _FRAME_TEXT) for r in frames]
        errors = [_stored(r, (0, 3)) for r in errors]
        drop_frames = [store_form(k) for k in drop_frames]
        drop_errors = [store_form(k) for k in drop_errors]
        folders = [_stored(r, (0,)) for r in folders]
        try:
            return self._write(files, frames, errors, drop_files, drop_frames, drop_errors, folders,
                               drop_folders, meta) and complete
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte: not cached
            ok = _encodable
            self._write(*([r for r in rows if ok(r)] for rows in (files, frames, errors, drop_files, drop_frames,
                                                                  drop_errors, folders, drop_folders, meta)))
            return False

    def _write(self, files, frames, errors, drop_files, drop_frames, drop_errors, folders, drop_folders,
               meta) -> bool:
        with self._lock:
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    c.executemany(f"INSERT OR REPLACE INTO files VALUES ({','.join('?' * ROW_WIDTH)})", files)
                    c.executemany(f"INSERT OR REPLACE INTO frames VALUES ({','.join('?' * (len(TAG_COLUMNS) + 1))})",
                                  frames)
                    c.executemany("INSERT OR REPLACE INTO errors VALUES (?,?,?,?)", errors)
                    c.executemany("DELETE FROM files WHERE skey=?", ((k,) for k in drop_files))
                    c.executemany("DELETE FROM frames WHERE ref=?", ((k,) for k in drop_frames))
                    c.executemany("DELETE FROM errors WHERE ref=?", ((k,) for k in drop_errors))
                    c.executemany("INSERT OR REPLACE INTO folders VALUES (?,?)", folders)
                    c.executemany("DELETE FROM folders WHERE skey=?", ((k,) for k in drop_folders))
                    c.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)", meta)
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError:
                return False  # locked by another process, disk full, read-only: the cache just stays stale
            except sqlite3.DatabaseError:
                self._reset()
                return False
        return True

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
        self._tagset_ids.clear()
        self._tagsets.clear()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_NO_TAGS: tuple[dict, tuple] = ({}, ())


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
