"""Scan a folder tree for detector images and their tags, with an SQLite index cache.

A cold scan reads each file's first bytes once (``formats.probe``: the format, and for containers and
possible stacks the frame count; single frames are never decoded) and parses each image's tag file. All
of it is kept in an index keyed by (size, mtime_ns) of the image and of its tag file, so a warm scan is
one ``os.scandir`` walk plus a stat per file: nothing is opened or parsed unless it changed. Entries
stream out as they are found, folder by folder in name order.

A viewer paints its first screen from ``cached_entries()`` (the index alone, no file system), then runs
``scan(changes_only=True)`` in a worker: it yields only what differs from the index, and leaves the
paths of vanished entries in ``removed``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tui_tagger import config
from tui_tagger.core.atomic import remove_stale_temp
from tui_tagger.core.errors import FileProblem, TaggerError
from tui_tagger.core.index_db import ErrorRow, IndexDB
from tui_tagger.core.query import Query, parse_query
from tui_tagger.core.vocabulary import Vocabulary, default_vocabulary

# Never images: skipped before sniffing. Extensionless files (MarCCD frames) and unknown suffixes
# are sniffed, which reads only a few KiB once; the verdict is cached in the index.
SKIP_SUFFIXES = frozenset(
    ".tag .xml .txt .log .json .csv .tsv .py .pyc .ipynb .md .rst .yaml .yml .ini .cfg .toml .sh .bat "
    ".pdf .html .htm .js .css .doc .docx .xls .xlsx .ppt .pptx .odt .zip .tar .7z .rar .sqlite .db "
    ".tmp .swp .bak .lock .pkl .pt .pth .onnx .npz .mat .m .c .h .cpp .java".split()
)
# Eiger/NeXus data files are read through their master file, not listed on their own.
_EIGER_DATA = re.compile(r"^(?P<stem>.+)_data_\d{6}\.(?:h5|hdf5|hdf|nxs)$", re.IGNORECASE)
# Rows are written in batches: one transaction per batch keeps a cold scan of 100k files fast.
_BATCH = 2000
# Where a tag-file candidate lives, as stored in the index: the tags_dir mirror or beside the image.
_MIRROR, _BESIDE = "m", "b"


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


def index_path(root: str | os.PathLike, tags_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None) -> Path:
    """``<cache>/index/<hash of the absolute root and tags_dir>.sqlite``."""
    key = f"{Path(root).resolve()}\0{Path(tags_dir).resolve() if tags_dir else ''}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return Path(cache_dir or config.cache_dir()) / "index" / f"{digest}.sqlite"


def folder_vocabulary(entries: Iterable[Entry], base: Vocabulary | None = None) -> Vocabulary:
    """The vocabulary plus every tag (and predicted name) found in ``entries``: all are searchable."""
    vocab = base.copy() if base is not None else default_vocabulary()
    seen: set[str] = set()
    for e in entries:
        for name in (*e.tags, *e.predictions):
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
        from tui_tagger.core.tagstore import mirror_folder

        self.mirror_base = mirror_folder(self.tags_dir, self.root) if self.tags_dir is not None else None
        self._db_path = index_path(self.root, self.tags_dir, cache_dir)
        self._db: IndexDB | None = None
        self._entries: dict[str, Entry] = {}  # by path, from the last scan (or cached_entries)
        self._image_errors: dict[str, ErrorRow] = {}
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

    # ------------------------------------------------------------------ public API
    def cached_entries(self) -> list[Entry]:
        """What the index holds, in scan order, without touching the file system (empty before the first
        scan): a viewer's instant first screen. ``scan(changes_only=True)`` then brings it up to date."""
        with _gc_paused():
            return self._cached_entries()

    def _cached_entries(self) -> list[Entry]:
        files, frame_tags, errors = self.db.load(images_only=True)
        self._image_errors = errors
        memo: dict[str, dict] = {}
        prefixes = _Prefixes(self)
        out: list[Entry] = []
        for rel, row in files.items():  # in walk order
            size, mtime, fmt, frames = row[1], row[2], row[3], row[5]
            beside, mirror = prefixes.get(rel)
            path = beside + rel[rel.rfind("/") + 1:]
            if not frames:  # the common case, inlined: this loop is the viewer's wait for a first screen
                key = row[7]
                if key:
                    tag_path = (mirror if key[0] == _MIRROR else beside) + key[2:]
                    entry = Entry(path, rel, size, mtime, fmt, tag_path, _loads(row[10], memo),
                                  _loads(row[11], memo), row[12], row[12])
                else:
                    entry = Entry(path, rel, size, mtime, fmt, None, {}, {})
                refs = (entry,)
            else:
                refs = [_cached_entry(path + sfx, rel + sfx, size, mtime, fmt, frame_tags.get(rel + sfx), beside,
                                      mirror, memo) for sfx, _ in json.loads(frames)]
            for entry in refs:
                if errors:
                    err = errors.get(entry.rel)
                    if err is not None and err.size == size and err.mtime_ns == mtime:
                        entry.error = f"{err.message}; {entry.error}" if entry.error else err.message
                out.append(entry)
        self._entries = {e.path: e for e in out}
        return out

    def scan(self, changes_only: bool = False) -> Iterator[Entry]:
        """Stream the entries, folder by folder in name order, updating the index as it goes.
        ``changes_only``: yield only entries that are new or differ from the index (image or tag file
        changed); unchanged ones keep the Entry objects ``cached_entries`` gave. Once the walk is done,
        ``removed`` lists the paths of the entries that are gone."""
        return _Scan(self, changes_only).run()

    def refresh(self) -> tuple[list[Entry], list[str]]:
        """(new or changed entries, paths of removed ones) since the index was written: ``scan(True)``."""
        changed = list(self.scan(changes_only=True))
        return changed, self.removed

    def entries(self) -> list[Entry]:
        return list(self.scan())

    def search(self, query: str | Query) -> list[Entry]:
        return search(self.entries(), query)

    def vocabulary(self) -> Vocabulary:
        """The vocabulary extended with the tags of the last scan."""
        return folder_vocabulary(self._entries.values())

    def get(self, path: str | os.PathLike) -> Entry | None:
        return self._entries.get(os.fspath(path))

    def update_tags(self, path: str | os.PathLike, tagfile) -> Entry | None:
        """Refresh one entry after the viewer saved (or deleted: ``tagfile=None``) its tag file."""
        entry = self._entries.get(os.fspath(path))
        if entry is None:
            return None
        tag_path = tag_size = tag_mtime = None
        tags: dict[str, str | None] = {}
        preds: dict[str, float] = {}
        if tagfile is not None:
            tags = {name: tag.source for name, tag in tagfile.tags.items()}
            preds = dict(tagfile.predictions)
            tag_path = str(tagfile.path)
            try:
                st = os.stat(tagfile.path)
                tag_size, tag_mtime = st.st_size, st.st_mtime_ns
            except OSError:  # not written yet: keep the tags, the next scan re-reads
                pass
        entry.tags, entry.predictions, entry.tag_path, entry.tag_error = tags, preds, tag_path, None
        key = None
        if tagfile is not None:
            from tui_tagger.core.tagstore import split_ref

            beside = os.path.realpath(split_ref(entry.path)[0].parent) == os.path.realpath(tagfile.path.parent)
            key = f"{_BESIDE if beside else _MIRROR}:{tagfile.path.name}"
        err = self._image_errors.get(entry.rel)
        entry.error = err.message if err and (err.size, err.mtime_ns) == (entry.size, entry.mtime_ns) else None
        self.db.write(tags=[(entry.rel, key, tag_size, tag_mtime, _dumps(tags), _dumps(preds), None)])
        return entry

    def mark_error(self, path: str | os.PathLike, message: str) -> None:
        """Record that the image could not be read (the viewer found it corrupt); kept until it changes."""
        entry = self._entries.get(os.fspath(path))
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


def _loads(text: str | None, memo: dict) -> dict:
    """Decode a cached JSON object; identical strings (common: many images share tags) decode once."""
    if not text:
        return {}
    hit = memo.get(text)
    if hit is None:
        hit = memo[text] = json.loads(text)
    return dict(hit)  # each entry owns its dict


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
        self.root = catalog.root
        self.root_prefix = os.path.join(catalog.root, "")  # "data/": paths keep the root as the user gave it
        tags_dir = catalog.tags_dir
        self.mirror_root = os.path.join(catalog.mirror_base, "") if tags_dir is not None else ""
        self.cache: dict[str, tuple[str, str]] = {}

    def get(self, rel: str) -> tuple[str, str]:
        rel_dir = rel[: rel.rfind("/") + 1]  # "" or "a/b/"
        hit = self.cache.get(rel_dir)
        if hit is None:
            hit = self.cache[rel_dir] = self.folder(rel_dir.rstrip("/"))
        return hit

    def folder(self, rel_dir: str) -> tuple[str, str]:
        sub = rel_dir.replace("/", os.sep) + os.sep if rel_dir else ""
        return self.root_prefix + sub, self.mirror_root + sub if self.mirror_root else ""

    def path(self, rel: str) -> str:
        """The image path of ``rel`` (a file's, not a frame's)."""
        return self.get(rel)[0] + rel[rel.rfind("/") + 1:]


def _cached_entry(path: str, rel: str, size: int, mtime: int, fmt: str, trow: tuple | None,
                  beside: str, mirror: str, memo: dict) -> Entry:
    """The Entry an index row describes (``trow``: its TAG_COLUMNS row, or None / NULLs for no tag file)."""
    if trow is None or not trow[1]:
        return Entry(path, rel, size, mtime, fmt, None, {}, {})
    key = trow[1]
    tag_path = (mirror if key[0] == _MIRROR else beside) + key[2:]
    tags = _loads(trow[4], memo)
    preds = _loads(trow[5], memo)
    return Entry(path, rel, size, mtime, fmt, tag_path, tags, preds, trow[6], trow[6])


class _Scan:
    """One walk of the tree: compares each file with the index and writes back what changed."""

    def __init__(self, catalog: Catalog, changes_only: bool):
        self.cat = catalog
        self.changes_only = changes_only
        self.root = catalog.root
        self.tags_dir = catalog.tags_dir
        self.prefixes = _Prefixes(catalog)
        self.skip_dirs: set[str] = set()
        if self.tags_dir is not None:
            self.skip_dirs.add(os.path.realpath(self.tags_dir))
        self.memo: dict[str, dict] = {}
        self.files_out: list[tuple] = []
        self.tags_out: list[tuple] = []
        self.visited: set[tuple[int, int]] = set()
        self.seen_files: set[str] = set()  # images and non-images: the rest are dropped from the index
        self.changed = False  # set by image()/entry() for the entry being built

    def run(self) -> Iterator[Entry]:
        from tui_tagger.core import formats
        from tui_tagger.core.tagfile import TagFile
        from tui_tagger.core.tagstore import TagStore, split_ref

        self.probe_file, self.read_tags = formats.probe_problem, TagFile.read
        self.store, self.split_ref = TagStore(self.tags_dir, self.root), split_ref
        cat = self.cat
        with _gc_paused():
            self.files_db, self.frame_tags_db, errors = cat.db.load()
        cat._image_errors = errors
        cat.problems, cat.removed = [], []
        self.known = cat._entries  # Entry objects to keep when unchanged (from cached_entries or a scan)
        seen_entries: dict[str, Entry] = {}
        complete = False
        changes_only = self.changes_only
        try:
            for entry in self.walk():
                seen_entries[entry.path] = entry
                if not changes_only or self.changed:
                    yield entry
                if len(self.files_out) + len(self.tags_out) >= _BATCH:
                    self.flush()
            complete = True
        finally:
            if complete:  # only a finished walk knows what was deleted
                self.finish(seen_entries, errors)
            else:
                self.flush()
                cat._entries = {**self.known, **seen_entries}

    def finish(self, seen_entries: dict[str, Entry], errors: dict) -> None:
        seen_files = self.seen_files
        seen_refs = {e.rel for e in seen_entries.values()}
        removed, removed_paths = [], []
        for rel, row in self.files_db.items():  # what the index listed that this walk did not find
            if row[3] is None:
                continue
            for sfx in [""] if not row[5] else [sfx for sfx, _ in json.loads(row[5])]:
                if rel + sfx not in seen_refs:
                    removed.append(rel + sfx)
                    removed_paths.append(self.prefixes.path(rel) + sfx)
        self.cat.removed = removed_paths
        drop_tags = removed + [k for k in self.frame_tags_db if k not in seen_refs]
        self.flush(drop_files=[rel for rel in self.files_db if rel not in seen_files], drop_tags=drop_tags,
                   drop_errors=[k for k in errors if k not in seen_refs])
        self.cat._entries = seen_entries

    def flush(self, **drops) -> None:
        self.cat.db.write(files=self.files_out, tags=self.tags_out, **drops)
        self.files_out, self.tags_out = [], []

    # ------------------------------------------------------------------ the walk
    def walk(self) -> Iterator[Entry]:
        """Depth-first in name order (files and folders interleaved, as sorted relative paths would be).
        One generator with an explicit stack: nested generators cost more than the stat per file."""
        stack: list[list] = [[self.root, "", None, None]]  # folder, rel, names left, listings
        while stack:
            top = stack[-1]
            folder, rel_dir, names, listings = top
            if names is None:
                listing = self.list_folder(folder)
                if listing is None:
                    stack.pop()
                    continue
                top[2] = names = iter(sorted(listing))
                top[3] = listings = {_BESIDE: listing}
                if self.tags_dir is not None:
                    listings[_MIRROR] = _listing(self.cat.mirror_base / rel_dir, self.cat)
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
                        stack.append([sub, rel, None, None])
                    break
                dot = name.rfind(".")
                if dot > 0 and name[dot:].lower() in SKIP_SUFFIXES:
                    continue
                m = _EIGER_DATA.match(name) if "_data_" in name else None
                if m and f"{m.group('stem')}_master.h5" in listing:
                    continue
                yield from self.image(e, rel)
            else:
                stack.pop()

    def list_folder(self, folder: Path) -> dict[str, os.DirEntry] | None:
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in self.visited:  # a symlink loop
                return None
            self.visited.add(key)
            with os.scandir(folder) as it:
                listing = {e.name: e for e in it if e.name != "__pycache__"}
            hidden = [n for n in listing if n[0] == "."]
            for name in hidden:
                e = listing.pop(name)
                if self.cat.sweep_temps_before is not None and remove_stale_temp(e, self.cat.sweep_temps_before):
                    self.cat.swept += 1
            return listing
        except OSError as err:
            self.cat.problems.append(f"{folder}: cannot list the folder: {err.strerror or err}")
            return None

    def image(self, e: os.DirEntry, rel: str) -> list[Entry]:
        try:
            st = e.stat()
        except OSError:  # a dangling link, or gone since the listing
            return []
        size, mtime = st.st_size, st.st_mtime_ns
        self.seen_files.add(rel)
        path = self.beside_prefix + e.name
        row = self.files_db.get(rel)
        if row is not None and row[1] == size and row[2] == mtime:
            fmt, cands, frames, same_image = row[3], row[4], row[5], True
        else:
            fmt, cands, frames, problem = self.probe(path)
            self.files_out.append((rel, size, mtime, fmt, cands, frames))
            same_image = False
            if problem is not None:  # empty or mislabelled: known from the first bytes, listed as corrupt
                err_row = ErrorRow(size, mtime, problem)
                self.cat._image_errors[rel] = err_row
                self.cat.db.write(errors=[(rel, *err_row)])
        if fmt is None:
            return []
        if not frames:
            entries = [self.entry(path, rel, size, mtime, fmt, cands, row[6:] if row else None, same_image)]
        else:
            ftags, entries, changed = self.frame_tags_db, [], False
            for sfx, c in json.loads(frames):
                entries.append(self.entry(path + sfx, rel + sfx, size, mtime, fmt, c, ftags.get(rel + sfx),
                                          same_image))
                changed = changed or self.changed
            self.changed = changed
        errors = self.cat._image_errors
        if errors:
            known = self.known
            for entry in entries:
                err = errors.get(entry.rel)
                if err is not None and err.size == size and err.mtime_ns == mtime and known.get(entry.path) is not entry:
                    entry.error = f"{err.message}; {entry.error}" if entry.error else err.message
        return entries

    def probe(self, path: str) -> tuple[str | None, str | None, str | None, str | None]:
        """(format, tag-file candidates, JSON [suffix, candidates] per frame or None, the problem the first
        bytes prove or None): one read of the first bytes; only containers are opened to count frames."""
        fmt, refs, problem = self.probe_file(path)
        if fmt is None:
            return None, None, None, None
        if len(refs) == 1 and refs[0] == path:
            return fmt, self.candidates(path), None, problem
        frames = [[_suffix(path, r), self.candidates(r)] for r in refs]
        return fmt, self.candidates(path), json.dumps(frames), problem

    def candidates(self, ref: str) -> str:
        """TagStore's read candidates of ``ref`` as listing keys, "\\n"-joined: "m:NAME.tag", "b:NAME.xml"."""
        beside = self.split_ref(ref)[0].parent
        return "\n".join(f"{_BESIDE if c.parent == beside else _MIRROR}:{c.name}"
                         for c in self.store.read_candidates(ref))

    # ------------------------------------------------------------------ tags
    def entry(self, path: str, ref_rel: str, size: int, mtime: int, fmt: str, cands: str,
              row: tuple | None, same_image: bool) -> Entry:
        """The entry with its tags: the first of the image's tag-file candidates found in the folder
        listings; its tags come from the index (``row``, TAG_COLUMNS) unless it changed."""
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
        if found is None:
            if row is None or row[1] is not None or row[0] is None:
                self.tags_out.append((ref_rel, None, None, None, "", "", None))
                self.changed = True
            elif same_image:
                known = self.known.get(path)
                if known is not None and known.tag_path is None:
                    self.changed = False
                    return known
                self.changed = known is None and bool(self.known)
            else:
                self.changed = True
            return Entry(path, ref_rel, size, mtime, fmt, None, {}, {})
        tag_path = (self.mirror_prefix if key[0] == _MIRROR else self.beside_prefix) + key[2:]
        tag_size, tag_mtime = tag_st.st_size, tag_st.st_mtime_ns
        if row is not None and row[3] == tag_mtime and row[2] == tag_size and row[1] == key:
            if same_image:
                known = self.known.get(path)
                if known is not None and known.tag_path == tag_path:
                    self.changed = False
                    return known
                self.changed = known is None and bool(self.known)
            else:
                self.changed = True
            memo = self.memo
            return Entry(path, ref_rel, size, mtime, fmt, tag_path, _loads(row[4], memo), _loads(row[5], memo),
                         row[6], row[6])
        self.changed = True
        tags: dict[str, str | None] = {}
        preds: dict[str, float] = {}
        error = None
        try:
            tf = self.read_tags(tag_path)
            tags = {name: tag.source for name, tag in tf.tags.items()}
            preds = dict(tf.predictions)
        except TaggerError as err:
            error = str(err)
        except OSError as err:
            error = f"{tag_path}: cannot read: {err.strerror or err}"
        self.tags_out.append((ref_rel, key, tag_size, tag_mtime, _dumps(tags), _dumps(preds), error))
        return Entry(path, ref_rel, size, mtime, fmt, tag_path, tags, preds, error, error)


_EMPTY: dict = {}


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
