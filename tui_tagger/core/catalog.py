"""Scan a folder tree for detector images and their tags, with an SQLite index cache.

A cold scan sniffs each file's first bytes (``formats.sniff``; images are never decoded here), asks
multi-frame containers for their frame refs, and parses each image's tag file. All of it is kept in an
index keyed by (size, mtime_ns) of the image and of its tag file, so a warm scan is one ``os.scandir``
walk plus a stat per file: nothing is opened or parsed unless it changed. Entries stream out as they
are found, folder by folder in name order, so a viewer can show the first screen before a cold scan of
a big tree ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tui_tagger import config
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
# Where a tag file was found, as stored in the index: tags_dir mirror or beside the image.
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
        self._db_path = index_path(self.root, self.tags_dir, cache_dir)
        self._db: IndexDB | None = None
        self._entries: dict[str, Entry] = {}  # by path, from the last scan
        self._image_errors: dict[str, ErrorRow] = {}
        # folders that could not be listed (permissions): the scan goes on without them
        self.problems: list[str] = []

    @property
    def db(self) -> IndexDB:
        if self._db is None:
            self._db = IndexDB(self._db_path)
        return self._db

    # ------------------------------------------------------------------ public API
    def scan(self) -> Iterator[Entry]:
        """Stream the entries, folder by folder in name order, updating the index as it goes."""
        return _Scan(self).run()

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


class _Scan:
    """One walk of the tree: compares each file with the index and writes back what changed."""

    def __init__(self, catalog: Catalog):
        self.cat = catalog
        self.root = catalog.root
        self.root_prefix = os.path.join(catalog.root, "")  # "data/" : paths as the user gave the root
        self.tags_dir = catalog.tags_dir
        self.skip_dirs: set[str] = set()
        if self.tags_dir is not None:
            self.skip_dirs.add(os.path.realpath(self.tags_dir))
        self.memo: dict[str, dict] = {}
        self.files_out: list[tuple] = []
        self.tags_out: list[tuple] = []
        self.visited: set[tuple[int, int]] = set()
        self.seen_files: set[str] = set()  # images and non-images: the rest are dropped from the index

    def run(self) -> Iterator[Entry]:
        from tui_tagger.core.formats import frame_refs, sniff
        from tui_tagger.core.tagfile import TagFile
        from tui_tagger.core.tagstore import image_stem

        self.sniff, self.frame_refs, self.read_tags, self.image_stem = sniff, frame_refs, TagFile.read, image_stem
        db = self.cat.db
        self.files_db, self.tags_db, errors = db.load()
        self.cat._image_errors = errors
        self.cat.problems = []
        seen_entries: dict[str, Entry] = {}
        seen_files = self.seen_files
        complete = False
        try:
            for entry in self.walk():
                seen_entries[entry.path] = entry
                yield entry
                if len(self.files_out) + len(self.tags_out) >= _BATCH:
                    self.flush()
            complete = True
        finally:
            if complete:  # only a finished walk knows what was deleted
                seen_refs = {e.rel for e in seen_entries.values()}
                self.flush(
                    drop_files=[k for k in self.files_db if k not in seen_files],
                    drop_tags=[k for k in self.tags_db if k not in seen_refs],
                    drop_errors=[k for k in errors if k not in seen_refs],
                )
                self.cat._entries = seen_entries
            else:
                self.flush()
                self.cat._entries.update(seen_entries)

    def flush(self, **drops) -> None:
        self.cat.db.write(files=self.files_out, tags=self.tags_out, **drops)
        self.files_out, self.tags_out = [], []

    # ------------------------------------------------------------------ the walk
    def walk(self) -> Iterator[Entry]:
        """Depth-first in name order (files and folders interleaved, as sorted relative paths would be).
        One generator with an explicit stack: nested generators cost more than the stat per file."""
        stack: list[tuple[Path, str, Iterator[str] | None, dict]] = [(self.root, "", None, {})]
        while stack:
            folder, rel_dir, names, listing = stack[-1]
            if names is None:
                listing = self.list_folder(folder)
                if listing is None:
                    stack.pop()
                    continue
                names = iter(sorted(listing))
                tag_listings = [(_BESIDE, listing)]
                if self.tags_dir is not None:  # mirrored tag files win over those beside the image
                    tag_listings.insert(0, (_MIRROR, _listing(self.tags_dir / rel_dir)))
                stack[-1] = (folder, rel_dir, names, listing)
                self.tag_listings = tag_listings
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
                        stack.append((sub, rel, None, {}))
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
                if stack:  # back in the parent: its tag listings again
                    parent, parent_rel, _, parent_listing = stack[-1]
                    self.tag_listings = [(_BESIDE, parent_listing)]
                    if self.tags_dir is not None:
                        self.tag_listings.insert(0, (_MIRROR, _listing(self.tags_dir / parent_rel)))

    def list_folder(self, folder: Path) -> dict[str, os.DirEntry] | None:
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in self.visited:  # a symlink loop
                return None
            self.visited.add(key)
            with os.scandir(folder) as it:
                return {e.name: e for e in it if e.name[0] != "." and e.name != "__pycache__"}
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
        path = self.root_prefix + rel if os.sep == "/" else str(self.root / rel)
        row = self.files_db.get(rel)
        open_error = None
        if row is not None and row[1] == size and row[2] == mtime:
            fmt, stem, frames = row[3], row[4], row[5]
        else:
            fmt, stem, frames, open_error = self.probe(path)
            self.files_out.append((rel, size, mtime, fmt, stem, frames))
        if fmt is None:
            return []
        if not frames:
            entries = [self.entry(path, rel, size, mtime, fmt, stem)]
        else:
            entries = [self.entry(path + sfx, rel + sfx, size, mtime, fmt, st_) for sfx, st_ in json.loads(frames)]
        errors = self.cat._image_errors
        if open_error or errors:
            for entry in entries:
                err = errors.get(entry.rel)
                image_error = open_error or (err.message if err and (err.size, err.mtime_ns) == (size, mtime) else None)
                if image_error:
                    entry.error = f"{image_error}; {entry.error}" if entry.error else image_error
        return entries

    def probe(self, path: str) -> tuple[str | None, str | None, str | None, str | None]:
        """(format, tag-file stem, JSON [suffix, stem] per frame or None, error): first bytes, frame count."""
        fmt = self.sniff(path)
        if fmt is None:
            return None, None, None, None
        stem = self.image_stem(path)[1]
        try:
            refs = self.frame_refs(path)
        except TaggerError as err:
            return fmt, stem, None, str(err)
        except Exception as err:  # noqa: BLE001 - a reader bug must not stop the scan of a whole tree
            return fmt, stem, None, f"{path}: cannot list frames: {err}"
        if len(refs) == 1 and refs[0] == path:
            return fmt, stem, None, None
        frames = [[_suffix(path, r), self.image_stem(r)[1]] for r in refs]
        return fmt, stem, json.dumps(frames), None

    # ------------------------------------------------------------------ tags
    def entry(self, path: str, ref_rel: str, size: int, mtime: int, fmt: str, stem: str) -> Entry:
        """The entry with its tags: the tag file is found in the folder listings (mirror first, .tag
        before .xml, as TagStore reads them) and its tags come from the index unless it changed."""
        found = None
        for where, listing in self.tag_listings:
            found = listing.get(stem + ".tag") or listing.get(stem + ".xml")
            if found is not None:
                break
        row = self.tags_db.get(ref_rel)
        if found is not None:
            try:
                tag_st = found.stat()
            except OSError:
                found = None
        if found is None:
            if row is None or row[1] is not None:
                self.tags_out.append((ref_rel, None, None, None, "", "", None))
            return Entry(path, ref_rel, size, mtime, fmt, None, {}, {})
        key = where + ":" + found.name  # cwd-independent, unlike found.path
        tag_size, tag_mtime = tag_st.st_size, tag_st.st_mtime_ns
        if row is not None and row[3] == tag_mtime and row[2] == tag_size and row[1] == key:
            memo = self.memo
            tags = memo.get(row[4]) if row[4] else {}
            if tags is None:
                tags = memo[row[4]] = json.loads(row[4])
            preds = _loads(row[5], memo) if row[5] else {}
            return Entry(path, ref_rel, size, mtime, fmt, found.path, dict(tags), preds, row[6], row[6])
        tags: dict[str, str | None] = {}
        preds: dict[str, float] = {}
        error = None
        try:
            tf = self.read_tags(found.path)
            tags = {name: tag.source for name, tag in tf.tags.items()}
            preds = dict(tf.predictions)
        except TaggerError as err:
            error = str(err)
        except OSError as err:
            error = f"{found.path}: cannot read: {err.strerror or err}"
        self.tags_out.append((ref_rel, key, tag_size, tag_mtime, _dumps(tags), _dumps(preds), error))
        return Entry(path, ref_rel, size, mtime, fmt, found.path, tags, preds, error, error)


def _listing(folder: Path) -> dict[str, os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return {e.name: e for e in it}
    except OSError:
        return {}
