"""A list of rows kept in sort order, so moving one image between lists costs O(log n) key computations
(bisect) and one memmove, not a re-sort of 100k rows in Python."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable

SORTS = ("p", "name", "time")


def sort_key(sort: str, tag: str, positive: bool) -> Callable:
    """The key of a row in the positive or negative list. With "p", likely mistakes come first:
    positives lowest p first, negatives highest p first; rows without p after the scored ones, by name."""
    if sort == "name":
        return lambda r: (r.rel, r.path)
    if sort == "time":
        return lambda r: (r.mtime_ns, r.rel, r.path)
    sign = 1.0 if positive else -1.0

    def key(r):
        p = r.predictions.get(tag)
        return (p is None, 0.0 if p is None else sign * p, r.rel, r.path)

    return key


class SortedRows:
    def __init__(self, rows: Iterable = (), key: Callable = lambda r: (r.rel, r.path), presorted: bool = False):
        self.key = key
        self.rows = list(rows) if presorted else sorted(rows, key=key)

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, row) -> int | None:
        """Where ``row`` is listed, or None. Rows are looked up by their key: a row whose key changed
        since it was listed (a rescan replaced it) needs a full rebuild first (the app does that)."""
        rows = self.rows
        i = bisect_left(rows, self.key(row), key=self.key)
        if i < len(rows) and rows[i].path == row.path:
            return i
        return None

    def insert(self, row) -> int:
        i = bisect_left(self.rows, self.key(row), key=self.key)
        self.rows.insert(i, row)
        return i

    def remove(self, row) -> int | None:
        i = self.index(row)
        if i is not None:
            del self.rows[i]
        return i
