"""A list of rows kept in sort order, so moving one image between lists costs O(log n) key computations
(bisect) and one memmove, not a re-sort of 100k rows in Python."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from itertools import compress

SORTS = ("p", "name", "time", "newest")
# rows per pass in C (map, compress, Counter, freeing): a worker's pass over a million rows (the lists split in
# the background, the live head's picks) holds the GIL ~1 ms at a time, not ~100 ms: keys get it between
CHUNK = 1 << 13


def release(rows: list) -> None:
    """Empty a big list a slice at a time: freeing a million references at once holds the GIL ~10 ms, which a
    key waits out (a worker's temporaries, the lists a rebuild replaced)."""
    while rows:
        del rows[-CHUNK:]


def select(rows: list, flags_of: Callable) -> list:
    """The rows for which ``flags_of(slice)`` (an iterator of bools, made in C: map, operator) says True, a
    slice at a time (a worker's pass over a million rows holds the GIL ~1 ms at a time)."""
    out: list = []
    for i in range(0, len(rows), CHUNK):
        part = rows[i:i + CHUNK]
        out += compress(part, flags_of(part))
    return out


def name_key(r) -> tuple:
    """A row's place in name order: its relative path, and a container's frames (``scan.h5::/entry/data#12``,
    ``series.edf#3``) by their number, not as text (#2 before #10, as the detector wrote them)."""
    rel = r.rel
    head, hash_, tail = rel.rpartition("#")
    if hash_ and tail.isdigit():
        return head, int(tail), r.path
    return rel, -1, r.path


def sort_key(sort: str, tag: str, positive: bool) -> Callable:
    """The key of a row in the positive or negative list. With "p", likely mistakes come first:
    positives lowest p first, negatives highest p first; rows without p after the scored ones, by name."""
    if sort == "name":
        return name_key
    if sort == "time":
        return lambda r: (r.mtime_ns, name_key(r))
    if sort == "newest":  # a followed folder: the frames just written on top
        return lambda r: (-r.mtime_ns, name_key(r))
    sign = 1.0 if positive else -1.0

    def key(r):
        p = r.predictions.get(tag)
        return (p is None, 0.0 if p is None else sign * p, name_key(r))

    return key


class SortedRows:
    """Rows in the order of their *listed* keys. A row's p can change without its row moving (steady
    lists): ``freeze`` first keeps the key it was listed by (``frozen``, path -> key), so lookups still
    find it; ``stale`` says some listed order is older than the rows' p, ``resort`` catches up."""

    def __init__(self, rows: Iterable = (), key: Callable = name_key, presorted: bool = False):
        """``presorted``: ``rows`` is a list in ``key`` order, and this object's own from now on (not copied:
        half a million rows on a tag change)."""
        self.key = key
        self.rows = rows if presorted and isinstance(rows, list) else sorted(rows, key=key)
        self.frozen: dict[str, object] = {}  # path -> the key a row is listed by, where its own key changed

    def __len__(self) -> int:
        return len(self.rows)

    def listed_key(self, row):
        frozen = self.frozen
        if frozen:
            k = frozen.get(row.path)
            if k is not None:
                return k
        return self.key(row)

    def _bisect(self, k) -> int:
        return bisect_left(self.rows, k, key=self.listed_key if self.frozen else self.key)

    def index(self, row) -> int | None:
        """Where ``row`` is listed, or None. Rows are looked up by their listed key: a row whose key
        changed since it was listed (a rescan replaced it) needs a ``freeze`` or a full rebuild first."""
        rows = self.rows
        i = self._bisect(self.listed_key(row))
        if i < len(rows) and rows[i].path == row.path:
            return i
        return None

    def freeze(self, rows) -> None:
        """Keep these rows where they are listed: call before their sort keys change (new p)."""
        for row in rows:
            if row.path not in self.frozen:
                self.frozen[row.path] = self.key(row)

    def settle(self, rows) -> None:
        """After their keys changed: rows whose key is the listed one after all need no freezing."""
        frozen = self.frozen
        for row in rows:
            if frozen.get(row.path) == self.key(row):
                del frozen[row.path]

    @property
    def stale(self) -> bool:
        """Some listed row's key changed since it was listed (its place is older than its p)."""
        return bool(self.frozen)

    def _frozen_listed(self):
        for path, k in self.frozen.items():
            i = bisect_left(self.rows, k, key=self.listed_key)
            if i < len(self.rows) and self.rows[i].path == path:
                yield i, k

    def insert(self, row, key=None) -> int:
        """List ``row`` at its own key now (or at ``key``: kept where it was, frozen)."""
        if key is None:
            self.frozen.pop(row.path, None)
            k = self.key(row)
        else:
            k = self.frozen[row.path] = key
        i = self._bisect(k)
        self.rows.insert(i, row)
        return i

    def remove(self, row) -> int | None:
        i = self.index(row)
        if i is not None:
            del self.rows[i]
        self.frozen.pop(row.path, None)
        return i

    def resort(self) -> list:
        """Every row to its own key's place (the rows that moved: O(moved log n)); nothing frozen after."""
        moved = [self.rows[i] for i, k in self._frozen_listed() if self.key(self.rows[i]) != k]
        for row in moved:
            self.remove(row)
        self.frozen.clear()
        for row in moved:
            self.insert(row)
        return moved
