"""A folder as the learning code sees it: readable images in catalog order, their features, and
per-tag labels read from their tag files.

Labels: an image counts as *reviewed* when it has a readable tag file holding at least one tag that a
person (or the synthetic generator, or a file that does not say) stated; an empty tag file counts too, one of
the model's predictions alone does not (``vocabulary.reviewed_tags``).
For a tag, a reviewed image is a positive when the tag is there (source human/None/synthetic) and a
negative when it is not (but an experiment type on an image that names none: ``vocabulary.decides``); a
tag the model added (source "model") is no label at all, and images with no tag file, or only model tags,
are unlabelled.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from tui_tagger.core.errors import TaggerError
from tui_tagger.core.vocabulary import decides, reviewed_tags


@dataclass
class FolderData:
    entries: list  # core.catalog.Entry, one per row of X
    X: np.ndarray
    problems: list[str] = field(default_factory=list)  # images left out, one line each

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.entries]

    def labels(self, tag: str) -> np.ndarray:
        return tag_labels(self.entries, tag)


def reviewed(entry) -> bool:
    if entry.tag_path is None or entry.tag_error:
        return False
    return reviewed_tags(entry.tags, entry.predictions)


def tag_labels(entries: list, tag: str) -> np.ndarray:
    """1.0 present, 0.0 absent, NaN unknown, per entry (see the module doc)."""
    out = np.full(len(entries), np.nan)
    for i, e in enumerate(entries):
        if not reviewed(e):
            continue
        source = e.tags.get(tag, "absent")
        if source == "absent":
            if decides(tag, e.tags):
                out[i] = 0.0
        elif source != "model":
            out[i] = 1.0
    return out


def folder_tags(entries: list) -> list[str]:
    """Every tag a person (or the generator) stated somewhere in the folder, in first-seen order."""
    seen: dict[str, None] = {}
    for e in entries:
        if reviewed(e):
            for name, source in e.tags.items():
                if source != "model":
                    seen.setdefault(name, None)
    return list(seen)


def resolve_tag(name: str, entries: list) -> str:
    """The spelling of ``name`` used in the folder or the vocabulary (case-insensitive), or a
    TaggerError naming the nearest known tags."""
    from tui_tagger.core.catalog import folder_vocabulary

    vocab = folder_vocabulary(entries)
    found = vocab.get(name.strip())
    if found is None:
        near = vocab.nearest(name)
        hint = f"; did you mean: {', '.join(repr(n) for n in near)}?" if near else ""
        raise TaggerError(f"unknown tag {name!r}{hint}")
    return found.name


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() and total >= 50 and (done % 50 == 0 or done == total):
        print(f"\rfeatures: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def load_folder(root, tags_dir=None, source: str = "physics", model: str | None = None,
                workers: int | None = None, cluster=None) -> FolderData:
    """Scan ``root`` (recursively) and compute (or fetch from the cache) every readable image's features
    (``cluster``: the uncached ones on a Dask cluster's workers, ``features.compute``)."""
    from tui_tagger.core.catalog import Catalog
    from tui_tagger.learn import features

    catalog = Catalog(root, tags_dir=tags_dir)
    try:
        entries = catalog.entries()
    finally:
        catalog.close()
    problems = [e.error for e in entries if e.error and not e.tag_error]
    entries = [e for e in entries if not (e.error and not e.tag_error)]
    if not entries:
        raise TaggerError(f"{root}: no readable images found")
    fs = features.compute([(e.path, e.size, e.mtime_ns) for e in entries], source, model=model,
                          workers=workers, progress=_progress, cluster=cluster)
    problems += fs.problems
    if len(fs.rows) < 2:
        raise TaggerError(f"{root}: fewer than 2 readable images; nothing to learn from")
    return FolderData([entries[i] for i in fs.rows], fs.X, problems)
