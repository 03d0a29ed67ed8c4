"""Scan a folder tree for detector images and their tags, with an SQLite index that answers queries.

A cold scan reads each file's first bytes once (``formats.probe``: the format, and for containers and
possible stacks the frame count; single frames are never decoded) and parses each image's tag file. All
of it is kept in the index (``index_db``) keyed by (size, mtime_ns) of the image and of its tag file, so a
warm scan is one ``os.scandir`` walk plus a stat per file: nothing is opened or parsed unless it changed.
The walk and the index are both in walk order (per folder, by name), so each walk is a merge of the two:
what the index holds that the walk passes over is gone. Memory stays flat whatever the folder's size. A
quick walk trusts the folders whose stamp is unchanged (``folders`` in the index), optionally checking a
rolling share of them in full; a cold one hands the folders never listed to ``read_ahead``'s children when
cores are idle.

Two ways to use it:
- paged, for a million frames (no Python object per frame off screen): ``update()`` or ``changes()``
  brings the index up to date (the change check: ``changes()`` streams what differs), ``rows(query,
  start, limit)`` and ``count(query)`` read it; ``rows`` answers a tag query from the index (each distinct
  tag set decided once, the rows selected by tag-set id in SQL; ``p(NAME) > x`` terms in Python on the
  rows that have predictions).
- whole lists (the original API, kept): ``scan()`` streams every entry, ``entries()`` lists them;
  ``cached_entries()`` is the index alone (a viewer's first screen), then ``scan(changes_only=True)``
  yields only what differs from it and leaves the paths of vanished entries in ``removed``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from tui_tagger import config
from tui_tagger.core.atomic import remove_stale_temp
from tui_tagger.core.errors import FileProblem, ForeignXml, TaggerError
from tui_tagger.core.index_db import (ERROR_SET, SEP, ErrorRow, IndexDB, key_paths, path_form, rel_of, skey,
                                      sort_key)
from tui_tagger.core import read_ahead
from tui_tagger.core.query import Query, parse_query
from tui_tagger.core.read_ahead import ReadAhead
from tui_tagger.core.vocabulary import Vocabulary, default_vocabulary

# Never images: skipped before sniffing. Extensionless files (MarCCD frames) and unknown suffixes
# are sniffed, which reads only a few KiB once; the verdict is cached in the index.
SKIP_SUFFIXES = frozenset(
    ".tag .xml .txt .log .json .csv .tsv .py .pyc .ipynb .md .rst .yaml .yml .ini .cfg .toml .sh .bat "
    ".pdf .html .htm .js .css .doc .docx .xls .xlsx .ppt .pptx .odt .zip .tar .7z .rar .sqlite .db "
    ".tmp .swp .bak .lock .pkl .pt .pth .onnx .npz .mat .m .c .h .cpp .java "
    # a file still being written or copied under a name of its own, renamed when whole (rsync uses a dot
    # name, hidden anyway; browsers, curl, WinSCP and file managers these suffixes)
    ".part .partial .crdownload .filepart .download".split()
)
# Eiger/NeXus data files are read through their master file, not listed on their own.
_EIGER_DATA = re.compile(r"^(?P<stem>.+)_data_\d{6}\.(?:h5|hdf5|hdf|nxs)$", re.IGNORECASE)
# Rows are written in batches: one transaction per batch keeps a cold scan fast.
_BATCH = 5000
# A folder changed this recently is listed again by the next quick check, whatever its stamp says.
_RACY_NS = 2_000_000_000
# The index's meta key of where the rolling check stopped: "k" + the last folder key it listed, "" for the top.
_ROLLED = "rolled"
_AHEAD = "a"  # the read-ahead's answers of a folder, kept in its listings beside _BESIDE and _MIRROR
# Where a tag-file candidate lives, as stored in the index: the tags_dir mirror or beside the image.
_MIRROR, _BESIDE = "m", "b"


def _denied(errors: dict, rel: str) -> bool:
    """Whether the known problem of ``rel`` is a permission: not the file's content, so a chmod (which leaves
    size and time as they were) must bring the file back without waiting for it to change."""
    err = errors.get(rel)
    return err is not None and err.message.endswith(": permission denied")


@dataclass(slots=True)
class Entry:
    """One image (one frame of a multi-frame container) with its tags."""

    path: str  # image ref: the root as given joined with rel (plus "::/dataset#i" for frames)
    rel: str  # relative to the root, "/"-separated
    size: int
    mtime_ns: int
    format: str | None
    tag_path: str | None  # the tag file the tags were read from (None: the image has none yet)
    tags: dict[str, str | None] = field(default_factory=dict)  # name -> source
    predictions: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # corrupt image or unreadable tag file (both, joined, when both)
    tag_error: str | None = None  # the tag file's own problem: its tags are unknown, not empty

    @property
    def names(self) -> set[str]:
        return set(self.tags)

    @property
    def image_error(self) -> str | None:
        """The image's own problem alone (``error`` joins it with the tag file's, image first)."""
        error, tag_error = self.error, self.tag_error
        if not tag_error or not error:
            return error
        if error == tag_error:
            return None
        return error[: -len(tag_error) - 2] if error.endswith(f"; {tag_error}") else error


class Change(NamedTuple):
    """One difference between the disk and the index: ``kind`` "changed" (new or changed; ``entry`` is
    it as it is now) or "removed" (``entry`` None: the image or frame ``path`` is gone)."""

    kind: str
    path: str
    entry: Entry | None


def index_path(root: str | os.PathLike, tags_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None) -> Path:
    """``<cache>/index/<hash of the absolute root and tags_dir>.sqlite``."""
    key = f"{Path(root).resolve()}\0{Path(tags_dir).resolve() if tags_dir else ''}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return Path(cache_dir or config.cache_dir()) / "index" / f"{digest}.sqlite"


def folder_vocabulary(entries: Iterable[Entry], base: Vocabulary | None = None) -> Vocabulary:
    """The vocabulary plus every tag (and predicted name) found in ``entries``: all are searchable."""
    return _extend(base, ((*e.tags, *e.predictions) for e in entries))


def _extend(base: Vocabulary | None, name_groups: Iterable[Iterable[str]]) -> Vocabulary:
    vocab = base.copy() if base is not None else default_vocabulary()
    seen: set[str] = set()
    for names in name_groups:
        for name in names:
            if name not in seen:
                seen.add(name)
                vocab.add(name)
    return vocab


def search(entries: list[Entry], query: str | Query, vocabulary: Vocabulary | None = None) -> list[Entry]:
    """Entries whose tags match ``query`` (a string is parsed against the folder's vocabulary).
    Entries whose tag file could not be read match nothing: their tags are unknown, not absent."""
    if isinstance(query, str):
        query = parse_query(query, folder_vocabulary(entries, vocabulary))
    return [e for e in entries if not e.tag_error and query.matches(e.tags, e.predictions)]


class Catalog:
    """The images under ``root`` with their tags. ``tags_dir``: tag files mirrored there (see TagStore)."""

    def __init__(self, root: str | os.PathLike, tags_dir: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileProblem(self.root, "no such folder" if not self.root.exists() else "not a folder")
        self.tags_dir = Path(tags_dir) if tags_dir is not None else None
        # where the root's tag files are mirrored (TagStore's rule: tags_dir + the root's absolute path)
        self.mirror_base = None
        if self.tags_dir is not None:
            from tui_tagger.core.tagstore import mirror_folder

            self.mirror_base = mirror_folder(self.tags_dir, self.root)
        self._db_path = index_path(self.root, self.tags_dir, cache_dir)
        self._db: IndexDB | None = None
        self._entries: dict[str, Entry] = {}  # by path, from the last scan (or cached_entries)
        self._image_errors: dict[str, ErrorRow] = {}
        self._prefixes = _Prefixes(self)
        # folders that could not be listed (permissions): the scan goes on without them
        self.problems: list[str] = []
        # after a finished scan: paths of the entries the index held that are gone
        self.removed: list[str] = []
        # set by a session that writes tag files: the scan removes our temp files older than this (saves a
        # crash cut short); read-only commands leave it None and delete nothing
        self.sweep_temps_before: float | None = None
        self.swept = 0

    @property
    def db(self) -> IndexDB:
        if self._db is None:
            self._db = IndexDB(self._db_path)
        return self._db

    # ------------------------------------------------------------------ the index, paged
    def update(self, quick: bool = False, rolling: int = 0) -> tuple[int, int]:
        """Bring the index up to date with the disk (the change check): (entries new or changed, entries
        removed). No Entry objects are kept: memory stays flat on a million frames. ``quick``: trust the
        folders whose stamp (mtime, ctime, inode) is as the last walk left it, listing only the others:
        files added, removed or renamed into place (every save of tui-tagger's, rsync, most editors) are
        seen; a file rewritten in place in an unchanged folder is not, until a full check. ``rolling``
        (with ``quick``): also check in full the next trusted folders in turn, about this many files per
        call, so that successive quick checks go round the whole tree and catch in-place rewrites too."""
        changed = removed = 0
        for kind, _ in _Walk(self, "count", quick, rolling).run():
            if kind == "removed":
                removed += 1
            else:
                changed += 1
        return changed, removed

    def changes(self, quick: bool = False, rolling: int = 0) -> Iterator[Change]:
        """The change check, streamed: a ``Change`` per entry new or changed since the index was written
        and per entry gone, as the walk finds them; the index is updated as it goes (stopping early keeps
        it consistent). For a viewer's worker thread: paint from ``rows()``, then apply these. ``quick``,
        ``rolling``: as ``update`` takes them."""
        for kind, item in _Walk(self, "changes", quick, rolling).run():
            if kind == "removed":
                yield Change("removed", item, None)
            else:
                yield Change("changed", item.path, item)

    def parse(self, query: str) -> Query:
        """``query`` parsed against the vocabulary plus every tag and predicted name the index holds."""
        return parse_query(query, self.index_vocabulary())

    def index_vocabulary(self, base: Vocabulary | None = None) -> Vocabulary:
        db = self.db
        sets = db.load_tagsets(db.live_tagsets())
        return _extend(base, ((*tags, *pnames) for tags, pnames in sets.values()))

    def rows(self, query: str | Query | None = None, start: int = 0, limit: int | None = None) -> Iterator[Entry]:
        """Entries from the index alone (no file system), in scan order, streamed a chunk at a time:
        ``start`` / ``limit`` count entries (frames of containers each count). ``query`` None: every
        entry; a query (a string is parsed, "" too) matches as ``search`` does, so entries whose tag file
        could not be read match none."""
        if isinstance(query, str):
            query = self.parse(query)
        return _IndexRows(self, query).run(start, limit)

    def paths(self, query: str | Query | None = None) -> Iterator[str]:
        """The paths ``rows(query)`` gives, without building the entries: what ``search`` prints."""
        if isinstance(query, str):
            query = self.parse(query)
        return _IndexRows(self, query).paths()

    def path_chunks(self, query: str | Query | None = None) -> Iterator[list[str]]:
        """``paths(query)`` a list at a time (what ``search`` prints: no Python work per path where the
        index alone decides)."""
        if isinstance(query, str):
            query = self.parse(query)
        return _IndexRows(self, query).path_chunks()

    def count(self, query: str | Query | None = None) -> int:
        """How many entries ``rows(query)`` gives."""
        if isinstance(query, str):
            query = self.parse(query)
        reader = _IndexRows(self, query)
        if not reader.needs_python and not self.db.has_containers():
            return self.db.count_files(reader.where)
        return sum(1 for _ in reader.run(0, None))

    def tag_errors(self) -> list[tuple[str, str]]:
        """(image path, message) of every image whose tag file could not be read, from the index."""
        path_of = self._prefixes.path
        out = []
        for key, message in self.db.tag_errors():
            rel = rel_of(key)
            cut = _frame_cut(rel)
            out.append((path_of(rel[:cut]) + rel[cut:], message))
        return out

    # ------------------------------------------------------------------ whole lists (the original API)
    def cached_entries(self) -> list[Entry]:
        """What the index holds, in scan order, without touching the file system (empty before the first
        scan): a viewer's instant first screen. ``scan(changes_only=True)`` then brings it up to date."""
        with _gc_paused():
            out = list(self.rows())
        self._entries = {e.path: e for e in out}
        return out

    def scan(self, changes_only: bool = False) -> Iterator[Entry]:
        """Stream the entries, folder by folder in name order, updating the index as it goes.
        ``changes_only``: yield only entries that are new or differ from the index (image or tag file
        changed); unchanged ones keep the Entry objects ``cached_entries`` gave. Once the walk is done,
        ``removed`` lists the paths of the entries that are gone."""
        walk = _Walk(self, "changes_only" if changes_only else "all")
        for _, entry in walk.run():
            yield entry

    def refresh(self) -> tuple[list[Entry], list[str]]:
        """(new or changed entries, paths of removed ones) since the index was written: ``scan(True)``."""
        changed = list(self.scan(changes_only=True))
        return changed, self.removed

    def entries(self) -> list[Entry]:
        return list(self.scan())

    def search(self, query: str | Query) -> list[Entry]:
        """The entries matching ``query``, as ``search(self.entries(), query)`` gives them, answered by the
        index after ``update()``."""
        self.update()
        return list(self.rows(query))

    def vocabulary(self) -> Vocabulary:
        """The vocabulary extended with the tags of the last scan."""
        if self._entries:
            return folder_vocabulary(self._entries.values())
        return self.index_vocabulary()

    def get(self, path: str | os.PathLike) -> Entry | None:
        path = os.fspath(path)
        entry = self._entries.get(path)
        if entry is None and not self._entries:
            entry = self._lookup(path)
        return entry

    def _lookup(self, path: str) -> Entry | None:
        """The entry of ``path`` from the index (for callers of the paged API, who hold no list)."""
        prefix = self._prefixes.root_prefix
        if not path.startswith(prefix):
            return None
        rel = path[len(prefix):].replace(os.sep, "/")
        cut = _frame_cut(rel)
        row = self.db.file_row(skey(rel[:cut]))
        if row is None:
            return None
        reader = _IndexRows(self, None)
        return next((e for e in reader.entries_of(row) if e.path == path), None)

    def update_tags(self, path: str | os.PathLike, tagfile) -> Entry | None:
        """Refresh one entry after the viewer saved (or deleted: ``tagfile=None``) its tag file."""
        entry = self.get(path)
        if entry is None:
            return None
        tag_size = tag_mtime = None
        tags: dict[str, str | None] = {}
        preds: dict[str, float] = {}
        tag_path = key = None
        if tagfile is not None:
            tags = {name: tag.source for name, tag in tagfile.tags.items()}
            preds = dict(tagfile.predictions)
            tag_path = str(tagfile.path)
            try:
                st = os.stat(tagfile.path)
                tag_size, tag_mtime = st.st_size, st.st_mtime_ns
            except OSError:  # not written yet: keep the tags, the next scan re-reads
                pass
            from tui_tagger.core.tagstore import split_ref

            beside = os.path.realpath(split_ref(entry.path)[0].parent) == os.path.realpath(tagfile.path.parent)
            key = f"{_BESIDE if beside else _MIRROR}:{tagfile.path.name}"
        entry.tags, entry.predictions, entry.tag_path, entry.tag_error = tags, preds, tag_path, None
        err = self._image_errors.get(entry.rel)
        entry.error = err.message if err and (err.size, err.mtime_ns) == (entry.size, entry.mtime_ns) else None
        cols = (key, tag_size, tag_mtime, _dumps(preds), None, _tagset(self.db, tags, preds))
        cut = _frame_cut(entry.rel)
        if cut == len(entry.rel):
            row = self.db.file_row(skey(entry.rel))
            if row is not None:
                self.db.write(files=[(*row[:6], *cols)])
        else:
            self.db.write(frames=[(entry.rel, *cols)])
        return entry

    def mark_error(self, path: str | os.PathLike, message: str) -> None:
        """Record that the image could not be read (the viewer found it corrupt); kept until it changes."""
        entry = self.get(path)
        if entry is None:
            return
        entry.error = message
        row = ErrorRow(entry.size, entry.mtime_ns, message)
        self._image_errors[entry.rel] = row
        self.db.write(errors=[(entry.rel, *row)])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _gc_paused():
    """Building 100k entries triggers full collections that walk every object made so far (quadratic in
    effect: 100k entries took 10x, not 5x, the time of 20k); none of it is garbage."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _dumps(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""


def _tagset(db: IndexDB, tags: dict, preds: dict, memo: dict | None = None) -> int:
    """The tag-set id of these tags and predicted names (``memo``: by their items, so that a scan encodes
    each distinct set once)."""
    if not tags and not preds:
        return 0
    if memo is not None:
        key = (*tags.items(), None, *preds)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _tagset(db, tags, preds)
        return hit
    return db.tagset_id(_dumps(tags), json.dumps(list(preds), ensure_ascii=False, separators=(",", ":"))
                        if preds else "")


def _frame_cut(rel: str) -> int:
    """Where the frame part of a ref starts (``"::"`` or a ``#`` after the last "/"), else len(rel)."""
    cut = rel.find("::")
    if cut >= 0:
        return cut
    cut = rel.rfind("#")
    return cut if cut > rel.rfind("/") else len(rel)


def _suffix(path: str, ref: str) -> str:
    """The frame part of a ref: ``"::/entry/data/data#3"`` of ``path + "::/entry/data/data#3"``."""
    if ref.startswith(path):
        return ref[len(path):]
    cut = ref.find("::")
    if cut < 0:
        cut = ref.rfind("#")
    return ref[cut:] if cut >= 0 else ""


class _Prefixes:
    """Per folder (by rel): the string prefixes of paths beside the images and in the tags_dir mirror."""

    def __init__(self, catalog: Catalog):
        self.root_prefix = os.path.join(catalog.root, "")  # "data/": paths keep the root as the user gave it
        self.mirror_root = os.path.join(catalog.mirror_base, "") if catalog.tags_dir is not None else ""
        self.cache: dict[str, tuple[str, str]] = {}

    def get(self, rel: str) -> tuple[str, str]:
        rel_dir = rel[: rel.rfind("/") + 1]  # "" or "a/b/"
        hit = self.cache.get(rel_dir)
        if hit is None:
            if len(self.cache) > 4096:
                self.cache.clear()
            hit = self.cache[rel_dir] = self.folder(rel_dir.rstrip("/"))
        return hit

    def folder(self, rel_dir: str) -> tuple[str, str]:
        sub = rel_dir.replace("/", os.sep) + os.sep if rel_dir else ""
        return self.root_prefix + sub, self.mirror_root + sub if self.mirror_root else ""

    def path(self, rel: str) -> str:
        """The image path of ``rel`` (a file's, not a frame's)."""
        return self.get(rel)[0] + rel[rel.rfind("/") + 1:]


class _Memo:
    """Decoded JSON of predictions (identical strings decode once; each entry gets its own dict)."""

    def __init__(self):
        self.preds: dict[str, dict] = {}

    def loads(self, text: str | None) -> dict:
        if not text:
            return {}
        hit = self.preds.get(text)
        if hit is None:
            if len(self.preds) > 10000:
                self.preds.clear()
            hit = self.preds[text] = json.loads(text)
        return dict(hit)


def _entry(db: IndexDB, memo: _Memo, path: str, rel: str, size: int, mtime: int, fmt: str, tcols: tuple | None,
           beside: str, mirror: str) -> Entry:
    """The Entry an index row describes (``tcols``: its TAG_COLUMNS, or None / NULLs for no tag file)."""
    if tcols is None or not tcols[0]:
        return Entry(path, rel, size, mtime, fmt, None, {}, {})
    key = tcols[0]
    tag_path = (mirror if key[0] == _MIRROR else beside) + key[2:]
    tags = dict(db.tagset(tcols[5])[0])
    return Entry(path, rel, size, mtime, fmt, tag_path, tags, memo.loads(tcols[3]), tcols[4], tcols[4])


class _IndexRows:
    """Entries read from the index, filtered by a query: each tag set the index holds is decided once in
    Python with ``Query.matches`` (so the answer is exactly the in-memory ``search``'s), and SQL selects
    the rows by tag-set id; ``p(...)`` terms are decided per row, on the rows whose tag set has
    predictions."""

    def __init__(self, cat: Catalog, query: Query | None):
        self.cat, self.db, self.query = cat, cat.db, query
        self.memo = _Memo()
        self.errors = cat.db.errors()
        cat._image_errors = self.errors
        self.hit: set[int] | None = None  # tag sets that match (None: no query, every row)
        self.per_row: set[int] = set()  # tag sets decided per row (the query reads predictions)
        self.needs_python = False
        self.where = "format IS NOT NULL"
        if query is not None:
            self.hit = set()
            uses_p = query.uses_predictions
            for tid, (tags, pnames) in self.db.load_tagsets().items():
                if uses_p and pnames:
                    self.per_row.add(tid)
                elif query.matches(tags, {}):
                    self.hit.add(tid)
            ids = ",".join(str(int(i)) for i in sorted(self.hit | self.per_row))
            self.where += f" AND (frames IS NOT NULL OR (error IS NULL AND tagset IN ({ids})))"
            self.needs_python = bool(self.per_row)

    def matches(self, tcols: tuple | None) -> bool:
        if self.hit is None:
            return True
        if tcols is None or tcols[4] is not None:  # never looked at, or the tag file unreadable
            return False
        tid = tcols[5] or 0
        if tid in self.per_row:
            return self.query.matches(self.db.tagset(tid)[0], json.loads(tcols[3]) if tcols[3] else {})
        return tid in self.hit

    def paths(self) -> Iterator[str]:
        for chunk in self.path_chunks():
            yield from chunk

    def path_chunks(self) -> Iterator[list[str]]:
        """The paths a list at a time. Up to three streams in key order, merged: single frames whose tag set
        matches (ranges of the (tagset, skey) index, merged by SQLite: no table row touched), those decided
        per row (predictions), containers. With the first alone (no predictions in the query, no
        containers), each chunk of keys SQLite gives becomes a chunk of paths in one list comprehension."""
        db, prefix, sep = self.db, self.cat._prefixes.root_prefix, os.sep
        plain = "format IS NOT NULL AND frames IS NULL"
        if self.hit is None:
            streams = [db.key_chunks(plain)]
        elif not self.hit:
            streams = []
        elif len(self.hit) <= 64:
            streams = [db.tagset_key_chunks(sorted(self.hit))]
        else:
            ids = ",".join(str(int(i)) for i in sorted(self.hit))
            streams = [db.key_chunks(f"{plain} AND error IS NULL AND tagset IN ({ids})")]
        rows = [(r for keys in stream for r in zip(keys, key_paths(keys, prefix, sep))) for stream in streams]
        if self.per_row:
            ids = ",".join(str(int(i)) for i in sorted(self.per_row))
            decided = db.scan_paths(f"{plain} AND error IS NULL AND tagset IN ({ids})", prefix, sep,
                                    ("tagset", "predictions"))
            rows.append(r for r in decided if self.matches((None, None, None, r[3], None, r[2])))
        if db.has_containers():
            rows.append((key, None) for key, _ in db.scan_paths("format IS NOT NULL AND frames IS NOT NULL",
                                                                  prefix, sep))
        if len(rows) == len(streams) == 1:
            for keys in streams[0]:
                yield key_paths(keys, prefix, sep)
            return
        out: list[str] = []
        for row in heapq.merge(*rows, key=lambda r: r[0]):
            if row[1] is not None:
                out.append(row[1])
            else:  # a container: its frames' rows decide
                out.extend(entry.path for entry in self.entries_of(db.file_row(row[0])))
            if len(out) >= 8192:
                yield out
                out = []
        if out:
            yield out

    def run(self, start: int, limit: int | None) -> Iterator[Entry]:
        offset = 0
        if start and not self.needs_python and not self.db.has_containers():
            offset, start = start, 0  # every row is one entry: SQL skips them
        sql_limit = None if limit is None or start or self.needs_python else limit
        for row in self.db.iter_files(self.where, limit=sql_limit, offset=offset):
            for entry in self.entries_of(row):
                if start:
                    start -= 1
                    continue
                if limit is not None:
                    if limit <= 0:
                        return
                    limit -= 1
                yield entry

    def entries_of(self, row: tuple) -> list[Entry]:
        rel = rel_of(row[0])
        beside, mirror = self.cat._prefixes.get(rel)
        path = beside + rel[rel.rfind("/") + 1:]
        size, mtime, fmt, frames = row[1], row[2], row[3], row[5]
        out = []
        if not frames:
            if self.hit is not None and not self.matches(row[6:]):
                return out
            out.append(_entry(self.db, self.memo, path, rel, size, mtime, fmt, row[6:], beside, mirror))
        else:
            sfxs = [sfx for sfx, _ in json.loads(frames)]
            ftags = self.db.frame_rows([rel + sfx for sfx in sfxs])
            for sfx in sfxs:
                trow = ftags.get(rel + sfx)
                tcols = trow[1:] if trow else None
                if self.hit is not None and not self.matches(tcols):
                    continue
                out.append(_entry(self.db, self.memo, path + sfx, rel + sfx, size, mtime, fmt, tcols, beside,
                                  mirror))
        errors = self.errors
        if errors:
            for entry in out:
                err = errors.get(entry.rel)
                if err is not None and err.size == size and err.mtime_ns == mtime:
                    entry.error = f"{err.message}; {entry.error}" if entry.error else err.message
        return out


class _Walk:
    """One walk of the tree merged with the index (both in walk order): each file is compared with its
    row, rows the walk passes over are gone; what changed is written back in batches.

    ``mode``: "all" yields ("entry", Entry) for every entry (``scan``); "changes_only" only for those that
    differ (``scan(changes_only=True)``, keeping the Entry objects of ``cached_entries``); "changes" yields
    ("changed", Entry) and ("removed", path) and keeps nothing (``changes``); "count" the same without
    building Entries (``update``). ``quick``, ``rolling``: as ``Catalog.update`` takes them."""

    def __init__(self, catalog: Catalog, mode: str, quick: bool = False, rolling: int = 0):
        self.cat = catalog
        self.mode = mode
        self.build = mode != "count"  # Entries for what changed
        self.build_all = mode in ("all", "changes_only")  # and for what did not
        self.root = catalog.root
        self.tags_dir = catalog.tags_dir
        self.prefixes = catalog._prefixes
        self.skip_dirs: set[str] = set()
        if self.tags_dir is not None:
            self.skip_dirs.add(os.path.realpath(self.tags_dir))
        self.memo = _Memo()
        self.files_out: list[tuple] = []
        self.frames_out: list[tuple] = []
        self.drop_files: list[str] = []
        self.drop_frames: list[str] = []
        self.drop_errors: list[str] = []
        self.visited: set[tuple[int, int]] = set()
        self.quick = quick
        self.rolling = rolling if quick else 0
        self.rolling_left = self.rolling  # entries the rolling check may still list in full
        self.rolled_to: str | None = None  # the last folder it listed
        self.meta_out: list[tuple] = []
        self.visited_folders: set[str] = set()
        self.folders_out: list[tuple] = []
        self.drop_folders: list[str] = []
        self.tagsets: dict[tuple, int] = {}
        # probes and tag-file reads of folders never listed, in worker processes (a cold scan, new runs)
        self.ahead = ReadAhead(tags=self.tags_dir is None) if read_ahead.WORKERS > 1 else None
        self.probed = 0  # files this process probed itself
        self.incomplete = False  # a write failed: folder stamps are written empty (listed again next time)

    def readers(self) -> None:
        """Image sniffing and tag-file parsing, imported when the first file needs them (numpy, lxml): a
        check that finds nothing changed never loads them."""
        from tui_tagger.core import formats
        from tui_tagger.core.tagfile import read_tags
        from tui_tagger.core.tagstore import TagStore, file_stem, split_ref

        self.probe_file, self.read_tags, self.file_stem = formats.probe_problem, read_tags, file_stem
        self.store, self.split_ref = TagStore(self.tags_dir, self.root), split_ref

    def run(self) -> Iterator[tuple[str, object]]:
        self.probe_file = None
        cat = self.cat
        self.db = db = cat.db
        cat._image_errors = self.errors = db.errors()
        cat.problems, cat.removed = [], []
        keep = self.mode in ("all", "changes_only")
        self.known = cat._entries if self.mode == "changes_only" else {}
        seen: dict[str, Entry] = {}
        self.folders = db.folders()
        self.children: dict[str, list[str]] = {}
        if self.quick:
            for fkey in sorted(self.folders, key=lambda k: k.split(SEP)):
                if fkey:
                    parent, _, name = fkey.rpartition(SEP)
                    self.children.setdefault(parent, []).append(path_form(name))
        self.rolled_from = None  # the rolling check starts after this folder key (None: from the top)
        if self.rolling_left:
            mark = db.meta(_ROLLED)
            self.rolled_from = mark[1:] if mark else None
        self.index = db.iter_files(first_chunk=8 if self.quick else 1000)
        self.pending = next(self.index, None)
        complete = False
        try:
            for kind, item in self.walk():
                if kind == "removed":
                    cat.removed.append(item)
                    if self.mode in ("changes", "count"):
                        yield kind, item
                    continue
                entry, changed = item
                if keep:
                    seen[entry.path] = entry
                if changed or self.mode == "all":
                    yield ("changed" if self.mode in ("changes", "count") else kind), entry
                if len(self.files_out) + len(self.frames_out) + len(self.drop_files) >= _BATCH:
                    self.flush()
            for kind, item in self.removed_up_to(None):
                cat.removed.append(item)
                if self.mode in ("changes", "count"):
                    yield kind, item
            self.drop_folders = [k for k in self.folders if k not in self.visited_folders]
            if self.rolling:  # the next rolling check goes on after the last folder listed; at the top once round
                self.meta_out = [(_ROLLED, "k" + self.rolled_to if self.rolling_left <= 0 else "")]
            complete = True
        finally:
            if self.ahead is not None:
                self.ahead.close()
            self.index.close()
            self.flush()
            if keep:
                cat._entries = seen if complete else {**self.known, **seen}

    def flush(self) -> None:
        if self.incomplete:  # a write of this walk was lost: no folder may be trusted as listed
            self.folders_out = [(key, "") for key, _ in self.folders_out]
        ok = self.db.write(files=self.files_out, frames=self.frames_out, drop_files=self.drop_files,
                           drop_frames=self.drop_frames, drop_errors=self.drop_errors, folders=self.folders_out,
                           drop_folders=self.drop_folders, meta=self.meta_out)
        if not ok and not self.incomplete:
            self.incomplete = True
            self.db.write(folders=[(key, "") for key, _ in self.folders_out])
        self.files_out, self.frames_out, self.drop_files, self.drop_frames, self.drop_errors = [], [], [], [], []
        self.folders_out, self.drop_folders, self.meta_out = [], [], []

    # ------------------------------------------------------------------ the merge with the index
    def removed_up_to(self, key: str | None) -> Iterator[tuple[str, str]]:
        """Index rows before ``key`` (all left when None): the walk passed them over, so they are gone."""
        row = self.pending
        while row is not None and (key is None or row[0] < key):
            yield from self.gone(row)
            row = self.pending = next(self.index, None)

    def gone(self, row: tuple) -> Iterator[tuple[str, str]]:
        """Drop an index row whose file is no more; ("removed", path) per entry it had."""
        self.drop_files.append(row[0])
        if row[3] is not None:  # an image: its entries are gone
            rel = rel_of(row[0])
            path = self.prefixes.path(rel)
            for sfx in [""] if not row[5] else [sfx for sfx, _ in json.loads(row[5])]:
                if sfx:
                    self.drop_frames.append(rel + sfx)
                if rel + sfx in self.errors:
                    self.drop_errors.append(rel + sfx)
                yield "removed", path + sfx

    def row_for(self, key: str) -> Iterator[tuple[str, str]]:
        """Yields the removals before ``key``; leaves ``key``'s own row (or None) in ``self.row``."""
        yield from self.removed_up_to(key)
        row = self.pending
        if row is not None and row[0] == key:
            self.row = row
            self.pending = next(self.index, None)
        else:
            self.row = None

    # ------------------------------------------------------------------ the walk
    def walk(self) -> Iterator[tuple[str, object]]:
        """Depth-first in name order (files and folders interleaved, as sorted relative paths would be).
        One generator with an explicit stack: nested generators cost more than the stat per file."""
        stack: list[list] = [[self.root, "", None, None, None]]  # folder, rel, names left, listings, stamp
        folders = self.folders
        while stack:
            top = stack[-1]
            folder, rel_dir, names, listings, stamp = top
            if names is None:
                fkey = skey(rel_dir)
                if self.quick and fkey in folders:
                    try:
                        stamp = self.stamp(folder, rel_dir, os.stat(folder))
                    except OSError:
                        stamp = None
                    if stamp and folders[fkey] == stamp and not self.due(fkey):  # its entries are as listed
                        self.visited_folders.add(fkey)
                        top[2] = names = iter(self.children.get(fkey, ()))
                        top[3] = listings = None
                if names is None:
                    found = self.list_folder(folder, rel_dir)
                    if found is None:
                        stack.pop()
                        continue
                    listing, top[4] = found
                    if fkey == self.rolled_to:
                        self.rolling_left -= len(listing)
                    ascii_only = all(n.isascii() for n in listing)
                    top[2] = names = iter(sorted(listing) if ascii_only else sorted(listing, key=sort_key))
                    top[3] = listings = {_BESIDE: listing}
                    if self.ahead is not None and not self.ahead.off:
                        listings[_AHEAD] = self.ahead.take(self.prefixes.folder(rel_dir)[0], self.probed)
                        self.queue_new_folders(rel_dir, listing)
                    if self.tags_dir is not None:
                        listings[_MIRROR] = _listing(self.cat.mirror_base / rel_dir, self.cat)
            if listings is None:  # a trusted folder: its files' rows stand, its sub-folders are walked
                prefix = rel_dir + "/" if rel_dir else ""
                for name in names:
                    self.skip_to(skey(prefix + name) + SEP)
                    stack.append([folder / name, prefix + name, None, None, None])
                    break
                else:
                    self.skip_to(skey(rel_dir) + "\x02" if rel_dir else None)
                    stack.pop()
                continue
            listing = listings[_BESIDE]
            self.listings = listings
            self.beside_prefix, self.mirror_prefix = self.prefixes.folder(rel_dir)
            prefix = rel_dir + "/" if rel_dir else ""
            for name in names:
                e = listing[name]
                rel = prefix + name
                try:
                    is_dir = e.is_dir()
                except OSError:
                    continue
                if is_dir:
                    sub = folder / name
                    if not (self.skip_dirs and os.path.realpath(sub) in self.skip_dirs):
                        stack.append([sub, rel, None, None, None])
                    break
                if skipped(name, listing):
                    continue
                key = skey(rel)
                yield from self.row_for(key)
                yield from self.image(e, rel, key, self.row)
            else:
                stack.pop()
                fkey = skey(rel_dir)
                self.visited_folders.add(fkey)
                if top[4] is not None and folders.get(fkey) != top[4]:
                    self.folders_out.append((fkey, top[4]))

    def queue_new_folders(self, rel_dir: str, listing: dict[str, os.DirEntry]) -> None:
        """Hand the read-ahead the sub-folders no walk has listed yet: they are walked next, in name order."""
        prefix = rel_dir + "/" if rel_dir else ""
        new = []
        for name, e in listing.items():
            try:
                if e.is_dir() and skey(prefix + name) not in self.folders:
                    new.append(name)
            except OSError:
                continue
        if new:
            new.sort(key=sort_key)
            self.ahead.add([self.prefixes.folder(prefix + name)[0] for name in new], self.probed)

    def due(self, fkey: str) -> bool:
        """Whether the rolling check lists this trusted folder in full: the folders after the one it went
        through last, in walk order, while its budget lasts."""
        if self.rolling_left <= 0 or (self.rolled_from is not None and fkey <= self.rolled_from):
            return False
        self.rolled_to = fkey
        return True

    def skip_to(self, key: str | None) -> None:
        """Keep the index rows before ``key`` (None: all left) as they are: the walk does not look at them."""
        row = self.pending
        if row is None or (key is not None and row[0] >= key):
            return
        self.index.close()
        if key is None:
            self.index, self.pending = _no_rows(), None
            return
        self.index = self.db.iter_files(after=key, inclusive=True, first_chunk=8)
        self.pending = next(self.index, None)

    def stamp(self, folder: Path, rel_dir: str, st: os.stat_result) -> str:
        """What a quick check compares: the folder's mtime, ctime, inode (and its mirror's, with a tags_dir);
        "" when one changed within the last seconds (a change in the same clock tick would go unseen)."""
        now = time.time_ns()
        parts = []
        for s in (st, self.mirror_stat(rel_dir)):
            if s is None:
                parts.append("-")
                continue
            if now - s.st_mtime_ns < _RACY_NS or now - s.st_ctime_ns < _RACY_NS:
                return ""
            parts.append(f"{s.st_mtime_ns}:{s.st_ctime_ns}:{s.st_ino}:{s.st_dev}")
        return "/".join(parts)

    def mirror_stat(self, rel_dir: str) -> os.stat_result | None:
        if self.tags_dir is None:
            return None
        try:
            return os.stat(self.cat.mirror_base / rel_dir)
        except OSError:
            return None

    def list_folder(self, folder: Path, rel_dir: str) -> tuple[dict[str, os.DirEntry], str] | None:
        """(the folder's entries by name, its stamp taken before the listing), None when it cannot be
        listed (named in ``problems``) or was listed already (a symlink loop)."""
        try:
            st = os.stat(folder)
            ident = (st.st_dev, st.st_ino)
            if ident in self.visited:  # a symlink loop
                return None
            self.visited.add(ident)
            stamp = self.stamp(folder, rel_dir, st)
            with os.scandir(folder) as it:
                listing = {e.name: e for e in it if e.name != "__pycache__"}
            hidden = [n for n in listing if n[0] == "."]
            for name in hidden:
                e = listing.pop(name)
                if self.cat.sweep_temps_before is not None and remove_stale_temp(e, self.cat.sweep_temps_before):
                    self.cat.swept += 1
            return listing, stamp
        except OSError as err:
            self.cat.problems.append(f"{folder}: cannot list the folder: {err.strerror or err}")
            return None

    def image(self, e: os.DirEntry, rel: str, key: str, row: tuple | None) -> Iterator[tuple[str, object]]:
        try:
            st = e.stat()
        except OSError:  # a dangling link, or gone since the listing
            if row is not None:
                yield from self.gone(row)
            return
        size, mtime = st.st_size, st.st_mtime_ns
        path = self.beside_prefix + e.name
        if row is not None and row[1] == size and row[2] == mtime and not (self.errors and _denied(self.errors, rel)):
            fmt, cands, frames, same_image = row[3], row[4], row[5], True
        else:
            fmt, cands, frames, problem = self.probe(path, e.name, size, mtime)
            same_image = False
            if problem is None and self.errors and _denied(self.errors, rel):  # readable since: forget it
                del self.errors[rel]
                self.drop_errors.append(rel)
            if problem is not None:  # empty or mislabelled: known from the first bytes, listed as corrupt
                err_row = ErrorRow(size, mtime, problem)
                self.errors[rel] = err_row
                self.db.write(errors=[(rel, *err_row)])
        if fmt is None:
            if not same_image:
                self.files_out.append((key, size, mtime, None, None, None, None, None, None, None, None, None))
            return
        refs = [(sfx, c) for sfx, c in json.loads(frames)] if frames else []
        if row is not None and row[5] and not same_image:  # frames that are no more
            self.drop_frames.extend({rel + sfx for sfx, _ in json.loads(row[5])} - {rel + sfx for sfx, _ in refs})
        if not frames:
            tcols = row[6:] if row is not None and not row[5] else None
            new, entry = self.tags(path, rel, size, mtime, fmt, cands, tcols, same_image)
            if new is not None or not same_image:
                self.files_out.append((key, size, mtime, fmt, cands, None, *(new or tcols)))
            entries = [(entry, new is not None or not same_image)]
        else:
            ftags = self.db.frame_rows([rel + sfx for sfx, _ in refs])
            entries = []
            for sfx, c in refs:
                trow = ftags.get(rel + sfx)
                tcols = trow[1:] if trow else None
                new, entry = self.tags(path + sfx, rel + sfx, size, mtime, fmt, c, tcols, same_image)
                if new is not None:
                    self.frames_out.append((rel + sfx, *new))
                entries.append((entry, new is not None or not same_image))
            if not same_image:
                self.files_out.append((key, size, mtime, fmt, cands, frames, None, None, None, None, None, None))
        errors = self.errors
        for entry, changed in entries:
            if entry is None:  # not built: unchanged (or counted only)
                if changed:
                    yield "entry", (None, True)
                continue
            known = self.known.get(entry.path) if self.known else None
            if not changed and known is not None:
                yield "entry", (known, False)
                continue
            if errors and entry is not None:
                err = errors.get(entry.rel)
                if err is not None and err.size == size and err.mtime_ns == mtime:
                    entry.error = f"{err.message}; {entry.error}" if entry.error else err.message
            yield "entry", (entry, changed or (bool(self.known) and known is None))

    def probe(self, path: str, name: str, size: int, mtime: int) -> tuple[str | None, str | None, str | None, str | None]:
        """(format, tag-file candidates, JSON [suffix, candidates] per frame or None, the problem the first
        bytes prove or None): one read of the first bytes; only containers are opened to count frames. The
        read-ahead's answer stands when the file's size and mtime are what it saw."""
        if self.probe_file is None:
            self.readers()
        ahead = self.listings.get(_AHEAD)
        got = ahead.pop(name, None) if ahead else None
        if got is not None and got[0] == size and got[1] == mtime:
            fmt, refs, problem = got[2]
        else:
            self.probed += 1
            fmt, refs, problem = self.probe_file(path)
        if fmt is None:
            return None, None, None, None
        if len(refs) == 1 and refs[0] == path:
            return fmt, self.plain_candidates(name), None, problem
        frames = [[_suffix(path, r), self.candidates(r)] for r in refs]
        return fmt, self.candidates(path), json.dumps(frames), problem

    def plain_candidates(self, name: str) -> str:
        """``candidates`` of a plain file in the folder being walked, from its name alone."""
        stem = self.file_stem(name)
        beside = f"{_BESIDE}:{stem}.tag\n{_BESIDE}:{stem}.xml"
        return f"{_MIRROR}:{stem}.tag\n{_MIRROR}:{stem}.xml\n{beside}" if self.tags_dir is not None else beside

    def candidates(self, ref: str) -> str:
        """TagStore's read candidates of ``ref`` as listing keys, "\\n"-joined: "m:NAME.tag", "b:NAME.xml"."""
        beside = self.split_ref(ref)[0].parent
        return "\n".join(f"{_BESIDE if c.parent == beside else _MIRROR}:{c.name}"
                         for c in self.store.read_candidates(ref))

    # ------------------------------------------------------------------ tags
    def tags(self, path: str, ref_rel: str, size: int, mtime: int, fmt: str, cands: str,
             tcols: tuple | None, same_image: bool) -> tuple[tuple | None, Entry | None]:
        """(new TAG_COLUMNS, or None when ``tcols`` still hold; the entry, when entries are built): the
        first of the image's tag-file candidates found in the folder listings; its tags come from the
        index unless it changed."""
        listings = self.listings
        found = key = None
        for key in cands.split("\n"):
            found = listings.get(key[0], _EMPTY).get(key[2:])
            if found is not None:
                try:
                    tag_st = found.stat()
                    break
                except OSError:
                    found = None
        build = self.build_all or (self.build and not same_image)
        if found is None:
            if tcols is not None and tcols[0] is None and tcols[5] is not None:
                new = None  # had none, has none
            else:
                new = (None, None, None, "", None, 0)
            return new, Entry(path, ref_rel, size, mtime, fmt, None, {}, {}) if build or new else None
        tag_path = (self.mirror_prefix if key[0] == _MIRROR else self.beside_prefix) + key[2:]
        tag_size, tag_mtime = tag_st.st_size, tag_st.st_mtime_ns
        if tcols is not None and tcols[2] == tag_mtime and tcols[1] == tag_size and tcols[0] == key \
                and tcols[5] is not None:
            if not build:
                return None, None
            return None, Entry(path, ref_rel, size, mtime, fmt, tag_path, dict(self.db.tagset(tcols[5])[0]),
                               self.memo.loads(tcols[3]), tcols[4], tcols[4])
        ahead = listings.get(_AHEAD) if key[0] == _BESIDE else None
        got = ahead.pop(key[2:], None) if ahead else None
        if got is not None and got[0] == tag_size and got[1] == tag_mtime:
            tags, preds, error = got[2]
        else:
            if self.probe_file is None:
                self.readers()
            tags, preds, error = read_tag_file(self.read_tags, tag_path)
        tagset = ERROR_SET if error is not None else _tagset(self.db, tags, preds, self.tagsets)
        new = (key, tag_size, tag_mtime, _dumps(preds), error, tagset)
        if not self.build:
            return new, None
        return new, Entry(path, ref_rel, size, mtime, fmt, tag_path, tags, preds, error, error)


_EMPTY: dict = {}


def read_tag_file(read_tags, path: str) -> tuple[dict, dict, str | None]:
    """(tags, predictions, None) of a tag file, or ({}, {}, the one-line problem) when it cannot be read."""
    try:
        tags, preds = read_tags(path)
    except ForeignXml as err:  # another program's NAME.xml: no tags (as TagStore.load), unless a .tag says so
        return ({}, {}, None) if path.lower().endswith(".xml") else ({}, {}, str(err))
    except TaggerError as err:
        return {}, {}, str(err)
    except OSError as err:
        return {}, {}, f"{path}: cannot read: {err.strerror or err}"
    return tags, preds, None


def never_image(name: str) -> bool:
    """A file name no image has: one of ``SKIP_SUFFIXES`` (text, code, archives, temporary and partial files)
    or a backup's trailing ``~``. The folder's listing and a followed folder's events ask the same."""
    dot = name.rfind(".")
    return name.endswith("~") or (dot > 0 and name[dot:].lower() in SKIP_SUFFIXES)


def skipped(name: str, listing) -> bool:
    """Never an image (``never_image``), or an Eiger data file read through its master file."""
    if never_image(name):
        return True
    m = _EIGER_DATA.match(name) if "_data_" in name else None
    return bool(m and f"{m.group('stem')}_master.h5" in listing)


def _no_rows() -> Iterator[tuple]:
    yield from ()


def _listing(folder: Path, cat: "Catalog | None" = None) -> dict[str, os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            listing = {e.name: e for e in it}
    except OSError:
        return {}
    if cat is not None and cat.sweep_temps_before is not None:
        for name in [n for n in listing if n[0] == "."]:
            if remove_stale_temp(listing[name], cat.sweep_temps_before):
                del listing[name]
                cat.swept += 1
    return listing
