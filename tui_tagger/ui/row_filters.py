"""Filters that keep rows by what the rows alone say (part of a name, a set of images), decided in C a slice
of rows at a time: a million names are looked through in ~0.2 s, in a worker on a big folder, holding the
GIL a few ms at a time (``/``: ui/view.py; the split: ``Session.split``)."""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter, contains

from tui_tagger.ui.sorted_rows import CHUNK

_REL, _PATH = attrgetter("rel"), attrgetter("path")


class NameContains:
    """Rows whose name (``rel``, any case) contains ``needle``. Like each class here, a ``ViewFilter.keep``
    (row, tags) -> bool whose ``flags(rows)`` says it for a slice of rows, in C."""

    def __init__(self, needle: str) -> None:
        self.needle = needle.lower()

    def __call__(self, row, tags) -> bool:
        return self.needle in row.rel.lower()

    def flags(self, rows: list):
        return map(contains, map(str.lower, map(_REL, rows)), repeat(self.needle))


class PathIn:
    """Rows of these images (paths)."""

    def __init__(self, paths) -> None:
        self.paths = frozenset(paths)

    def __call__(self, row, tags) -> bool:
        return row.path in self.paths

    def flags(self, rows: list):
        return map(self.paths.__contains__, map(_PATH, rows))


def any_kept(rows: list, keep) -> bool:
    """Some row passes ``keep`` (stops at the first slice that has one)."""
    return any(any(keep.flags(rows[i:i + CHUNK])) for i in range(0, len(rows), CHUNK))
