"""The catalog's index read for a viewer of a million frames: the tag counts that choose its first tag, the
few rows its first screen shows (paged queries on the (tagset, skey) index), and the whole folder as
compact tuples (one tag dict per distinct tag set, one string prefix per folder), all from the index alone
(no file system) and with no ``Entry`` per frame. Read-only: ``Catalog.changes()`` keeps the index current.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterator
from types import MappingProxyType

from tui_tagger.core.catalog import Catalog, Entry, _IndexRows
from tui_tagger.core.index_db import SEP, path_form

EMPTY: dict = {}  # the tags of every row that has none (shared: replaced, never edited)
NO_PREDICTIONS = MappingProxyType({})  # the predictions of every row that has none: read-only, so an edit fails


class Counts:
    """What the index holds, from one index-only query: ``images`` (entries; a container's frames each
    count), ``tags`` (name -> images with it, in the order each name first appears in walk order, as
    ``Session.counts`` gives them once every row is loaded)."""

    def __init__(self, images: int, tags: dict[str, int]):
        self.images, self.tags = images, tags


def counts(cat: Catalog, per_tag: bool = True) -> Counts:
    """``per_tag`` False: the images only (``tags`` empty), a count of the index, ~10x cheaper."""
    db = cat.db
    if not per_tag:
        n = sum(r[0] for q in ("files", "frames")
                for r in db._fetch(f"SELECT count(*) FROM {q} WHERE tagset IS NOT NULL"))
        return Counts(n, {})
    rows = db._fetch("SELECT tagset, count(*), min(skey) FROM files WHERE tagset IS NOT NULL GROUP BY tagset")
    rows += [(t, n, k.replace("/", SEP)) for t, n, k in db._fetch(
        "SELECT tagset, count(*), min(ref) FROM frames WHERE tagset IS NOT NULL GROUP BY tagset")]
    rows.sort(key=lambda r: r[2])  # first appearance in walk order decides the order of the names
    images, tags = 0, {}
    for tid, n, _ in rows:
        images += n
        for name in db.tagset(tid)[0]:
            tags[name] = tags.get(name, 0) + n
    return Counts(images, tags)


def tag_names(cat: Catalog) -> list[str]:
    """Every tag name of the index's tag sets (those of images gone since, too): to resolve a name typed."""
    names: dict[str, None] = {}
    for tags, _ in cat.db.load_tagsets().values():
        names.update(dict.fromkeys(tags))
    return list(names)


def _json_path(name: str) -> str | None:
    return None if '"' in name or "\\" in name else f'$."{name}"'


def first_rows(cat: Catalog, tag: str, positive: bool, limit: int, by_p: bool = True) -> list[Entry]:
    """About the first ``limit`` entries of a viewer's positive (with ``tag``) or negative list, in its
    order: with ``by_p``, those with a p for ``tag`` first (positives lowest p first, negatives highest),
    then the others in walk order (a list's name order but where a name holds a character sorting before
    "/"). Paged: a few ``LIMIT`` reads of the (tagset, skey) index; a container's frames from its first
    containers only. The viewer sorts them as its lists do; they are its first screen, not its whole list."""
    db = cat.db
    sets = db.load_tagsets()
    ids = [tid for tid, (tags, _) in sets.items() if (tag in tags) == positive]
    if not positive:
        ids.append(-1)  # ERROR_SET: a tag file that cannot be read has no tags
    keys: list[str] = []
    scored = [tid for tid in ids if tid in sets and tag in sets[tid][1]]
    path = _json_path(tag)
    if by_p and scored and path is not None:
        order = "ASC" if positive else "DESC"
        marks = ",".join(str(int(t)) for t in scored)
        keys = [r[0] for r in db._fetch(
            f"SELECT skey FROM files WHERE tagset IN ({marks}) AND error IS NULL AND json_extract(predictions, ?) "
            f"IS NOT NULL ORDER BY json_extract(predictions, ?) {order}, skey LIMIT ?", (path, path, limit))]
    if len(keys) < limit:
        seen = set(keys)
        streams = [[r[0] for r in db._fetch("SELECT skey FROM files INDEXED BY files_tagset WHERE tagset = ? "
                                            "ORDER BY skey LIMIT ?", (tid, limit))] for tid in ids]
        for key in heapq.merge(*streams):
            if key not in seen:
                keys.append(key)
                if len(keys) >= limit:
                    break
    reader = _IndexRows(cat, None)
    out = []
    for key in keys:
        row = db.file_row(key)
        if row is not None:
            out.extend(reader.entries_of(row))
    if db.has_containers():
        for (key,) in db._fetch("SELECT skey FROM files WHERE frames IS NOT NULL ORDER BY skey LIMIT ?", (limit,)):
            row = db.file_row(key)
            if row is not None:
                out.extend(e for e in reader.entries_of(row) if (tag in e.tags) == positive)
    return out


def all_rows(cat: Catalog) -> Iterator[tuple]:
    """Every entry the index holds, in walk order, as (path, rel, size, mtime_ns, tags, predictions, error,
    tag_error): ``error`` the image's own problem (it cannot be read), ``tag_error`` its tag file's (its tags
    are unknown; the image may be fine);
    ``tags`` is one dict per distinct tag set, shared by every row that has it (replace it, never edit), and
    ``predictions`` ``NO_PREDICTIONS`` (read-only) for none; paths are built on one prefix per folder."""
    db = cat.db
    prefixes = cat._prefixes
    errors = db.errors()
    cat._image_errors = errors
    tagsets: dict = {}
    preds: dict[str, dict] = {}
    ints: dict[int, int] = {}  # equal sizes share one int object
    reader = None
    for row in _file_rows(db):
        rel = row[0].replace(SEP, "/")
        if not rel.isascii():
            rel = path_form(rel)
        if row[3]:  # a container: its frames, each an entry
            reader = reader or _IndexRows(cat, None)
            full = db.file_row(row[0])
            for e in reader.entries_of(full) if full is not None else ():
                yield (e.path, e.rel, e.size, e.mtime_ns, _shared(tagsets, e.tags),
                       e.predictions or NO_PREDICTIONS, e.image_error, e.tag_error)
            continue
        size = ints.setdefault(row[1], row[1])
        path = prefixes.get(rel)[0] + rel[rel.rfind("/") + 1:]
        if row[4]:  # a tag file: its tag set, predictions and problem
            tid = row[7]
            tags = tagsets.get(tid)
            if tags is None:
                tags = tagsets[tid] = dict(db.tagset(tid)[0]) or EMPTY
            text = row[5]
            if text:
                p = preds.get(text)
                if p is None:
                    if len(preds) > 100_000:
                        preds.clear()
                    p = preds[text] = json.loads(text)
                p = dict(p)  # each row its own: a viewer sets new p in place
            else:
                p = NO_PREDICTIONS
            tag_error = row[6] if row[6] is None or row[6].isascii() else path_form(row[6])
        else:
            tags, p, tag_error = EMPTY, NO_PREDICTIONS, None
        error = None
        if errors:
            err = errors.get(rel)
            if err is not None and err.size == row[1] and err.mtime_ns == row[2]:
                error = err.message
        yield path, rel, size, row[2], tags, p, error, tag_error


_COLUMNS = "skey, size, mtime_ns, frames, tag_key, predictions, error, tagset"


def _file_rows(db) -> Iterator[tuple]:
    """(skey, size, mtime_ns, frames, tag_key, predictions, error, tagset) of every image, in key order: one
    statement on a read-only connection of its own (a snapshot; half the CPU of ``iter_files``' chunks),
    else (an in-memory index) in chunks."""
    conn = db.read_only_connection()
    if conn is not None:
        after = None  # the last key given: a read that fails goes on from there in chunks
        try:
            cur = conn.execute(f"SELECT {_COLUMNS} FROM files WHERE format IS NOT NULL ORDER BY skey")
            while True:
                rows = cur.fetchmany(8192)
                if not rows:
                    return
                yield from rows
                after = rows[-1][0]
        except sqlite3.Error:
            if after is not None:
                for r in db.iter_files("format IS NOT NULL", after=after):
                    yield r[0], r[1], r[2], r[5], r[6], r[9], r[10], r[11]
                return
        finally:
            conn.close()
    for r in db.iter_files("format IS NOT NULL"):
        yield r[0], r[1], r[2], r[5], r[6], r[9], r[10], r[11]


def _shared(tagsets: dict, tags: dict) -> dict:
    if not tags:
        return EMPTY
    key = tuple(tags.items())
    hit = tagsets.get(key)
    if hit is None:
        hit = tagsets[key] = tags
    return hit
