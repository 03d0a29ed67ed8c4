"""The UI's door to the core's files: catalog, tag store, tag files, image formats, display, thumbnail cache.

The UI reads and writes files only through these few functions (an import-linter contract in
pyproject.toml keeps it so), so a change of a core signature is a one-line change here. Value types (errors,
printable text, the vocabulary, tag queries) the UI imports from the core directly. No Textual in this
module: it runs in worker threads.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from tui_tagger.config import Settings

STALE_TEMP_S = 10.0  # a temp file of ours this much older than the scan is a save that a crash cut short


def catalog(root: Path, tags_dir: Path | None):
    """The folder's catalog: ``.scan()`` streams its entries (from the index cache where files are
    unchanged), ``.update_tags(path, tagfile)`` keeps the index current after a save."""
    from tui_tagger.core.catalog import Catalog

    cat = Catalog(root, tags_dir=tags_dir)
    # the session saves tag files: temp files of a save a crash cut short go (a live session's own save
    # is seconds old at most)
    cat.sweep_temps_before = time.time() - STALE_TEMP_S
    return cat


def index_counts(catalog, per_tag: bool = True):
    """``core.catalog_rows.Counts`` of the folder's index (no file system): images (0 when cold) and, with
    ``per_tag``, images per tag."""
    from tui_tagger.core.catalog_rows import counts

    return counts(catalog, per_tag)


def index_tag_names(catalog) -> list[str]:
    """Every tag name the index knows (``core.catalog_rows.tag_names``)."""
    from tui_tagger.core.catalog_rows import tag_names

    return tag_names(catalog)


def first_rows(catalog, tag: str, positive: bool, limit: int, by_p: bool = True) -> list:
    """About the first ``limit`` entries of the positive or negative list, from a few pages of the index."""
    from tui_tagger.core.catalog_rows import first_rows as _first_rows

    return _first_rows(catalog, tag, positive, limit, by_p)


def index_rows(catalog):
    """Every entry of the index as compact tuples (``core.catalog_rows.all_rows``), in walk order."""
    from tui_tagger.core.catalog_rows import all_rows

    return all_rows(catalog)


def scan_changes(catalog, nice: int = 0):
    """The change check of ``catalog``'s folder in a child process (``core.catalog_check``; a cold index:
    every entry), so that it never holds this process's GIL: yields ``Change(kind, path, entry)`` as the walk
    finds them, kind "changed" or "removed". Raises TaggerError (one line) if the check failed; the folders
    that could not be listed end in ``catalog.problems``. ``stop_changes`` ends it early."""
    from tui_tagger.config import cache_dir
    from tui_tagger.core.catalog_check import BackgroundCheck
    from tui_tagger.core.errors import TaggerError

    check = catalog.background_check = BackgroundCheck(
        catalog.root, catalog.tags_dir, cache_dir=cache_dir(), sweep_temps_before=catalog.sweep_temps_before,
        nice=nice)
    if getattr(catalog, "check_stopped", False):  # the app closed before it started
        check.close()
        return
    try:
        yield from check
    finally:
        check.close()
        catalog.problems = check.problems
    if check.error and not getattr(catalog, "check_stopped", False):
        raise TaggerError(check.error)


def stop_changes(catalog) -> None:
    """End ``scan_changes``' child process (the app is closing); its iteration ends."""
    if catalog is None:
        return
    catalog.check_stopped = True
    check = getattr(catalog, "background_check", None)
    if check is not None:
        check.close()


def tag_store(root: Path, tags_dir: Path | None):
    from tui_tagger.core.tagstore import TagStore

    return TagStore(tags_dir=tags_dir, root=root)


def make_tag(name: str, source: str | None, p: float | None = None):
    from tui_tagger.core.tagfile import Tag

    return Tag(name=name, id=None, source=source, p=p)


def merge(base: dict, mine: dict, theirs: dict):
    from tui_tagger.core.tagfile import merge_tags

    return merge_tags(base, mine, theirs)


def display_settings(**kw):
    from tui_tagger.core.display import DisplaySettings

    return DisplaySettings(**kw)


def colormap_names() -> list[str]:
    from tui_tagger.core import display

    names = getattr(display, "COLORMAPS", None)
    return list(names) if names else ["cmr", "gray"]


def read_frame(ref: str):
    from tui_tagger.core.formats import read_image

    return read_image(ref)


def render(frame, settings, size: tuple[int, int]) -> np.ndarray:
    from tui_tagger.core.display import render as _render

    return _render(frame, settings, size)


_THUMBS: dict = {}  # (cache folder, max bytes) -> ThumbnailCache


def thumbnail_cache_place() -> tuple[str, int]:
    """(folder, max bytes) of the disk thumbnail cache, as this process's environment says (a decoding
    worker process is handed it: its own environment is the one it started with)."""
    from tui_tagger.config import cache_dir

    return str(cache_dir() / "thumbs"), Settings.from_env().thumbnail_cache_bytes


def thumbnail(ref: str, size: tuple[int, int], settings, place: tuple[str, int] | None = None) -> np.ndarray:
    """A small uint8 RGB thumbnail fitted in ``size`` (w, h) px, through the core's disk cache (``place``:
    ``thumbnail_cache_place()``'s, else this process's)."""
    from tui_tagger.core.display import thumbnail as _thumb
    from tui_tagger.core.thumbcache import ThumbnailCache

    place = place or thumbnail_cache_place()
    cache = _THUMBS.get(place)
    if cache is None:
        cache = _THUMBS[place] = ThumbnailCache(place[0], place[1])
    return cache.get_or_make(ref, size, settings, lambda: _thumb(read_frame(ref), size, settings))


def fsync_enabled() -> bool:
    return Settings.from_env().fsync


def file_meta(ref: str) -> dict:
    path = ref.split("::", 1)[0]
    try:
        st = os.stat(path)
    except OSError:
        return {}
    return {"size": st.st_size, "mtime": st.st_mtime}


# ---- following the folder (ui/follow.py) ----------------------------------------------------------------
def follower(root: Path, since: float, report):
    """A ``core.follow.Follower`` of ``root`` for the TUI: the frames there now are the scan's (baseline), those
    changed from ``since`` on are handed out as they complete; nothing is recorded between runs (the TUI writes
    no predictions, so ``watch``'s record of what it predicted is left alone)."""
    from tui_tagger.core.follow import Follower

    return Follower([root], backlog="none", since=since, state=False, report=report, gone=True)


def arrival_entries(root: Path, tags_dir: Path | None, refs: list[str]) -> list:
    """Catalog entries (``core.catalog.Entry``) for frames that just arrived, with the tags of their tag files
    (a tag file that cannot be read: the entry's error, as the scan gives it)."""
    from tui_tagger.core.catalog import Entry
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.core.formats import sniff
    from tui_tagger.core.tagstore import split_ref

    store = tag_store(root, tags_dir)
    out = []
    base = str(root).rstrip(os.sep) + os.sep
    for ref in refs:
        file = str(split_ref(ref)[0])
        try:
            st = os.stat(file)
        except OSError:
            continue  # gone already
        rel = (ref[len(base):] if ref.startswith(base) else os.path.basename(file)).replace(os.sep, "/")
        tags: dict = {}
        preds: dict = {}
        tag_path = error = None
        try:
            tf = store.load(ref)
            if tf is not None:
                tags = {name: t.source for name, t in tf.tags.items()}
                preds, tag_path = dict(tf.predictions), str(tf.path)
        except TaggerError as err:
            error = str(err)
        except OSError as err:
            error = f"{file}: cannot read its tag file: {err.strerror or err}"
        out.append(Entry(ref, rel, st.st_size, st.st_mtime_ns, sniff(file), tag_path, tags, preds, error, error))
    return out
