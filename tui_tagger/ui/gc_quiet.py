"""Big lists built in a worker thread without the garbage collector walking them.

A list of a million rows (a big folder's Positive and Negative lists, review's pick of images) is walked by
each collection that finds it young: one reference at a time, ~60 ms per million at load 3-4 and with the GIL
held, whichever thread the collection runs on, so the keys wait. A new pair of lists was walked twice (young,
then middle-aged: 120-175 ms on the UI thread in the repaint after review's lists landed), then by each
full collection while they were shown (52-85 ms each).

``no_collections()`` runs a block with collections off; ``keep`` set in it freezes what is tracked at its end
(``gc.freeze``: later collections skip it, as scan.py does for the rows themselves), after a collection of
the young generations (~1 ms: less garbage frozen with it). The cost: what is frozen and later dropped in a
cycle is never freed (12 rebuilds at 1M: ~1.1k objects per freeze, RSS as without the freeze): lists of
fewer than ``FREEZE_FROM`` rows in all are not worth it (review's few images; a test's apps, torn down, would
stay in memory).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

FREEZE_FROM = 100_000  # rows: a list of fewer is walked in a few ms


class Quiet:
    """What ``no_collections`` yields: set ``keep`` in the block when what it made is kept a long time."""

    keep = False


@contextmanager
def no_collections() -> Iterator[Quiet]:
    """No garbage collection while the block runs (its temporaries go by their reference counts); where the
    block sets ``keep``, what it made is frozen at its end, never walked again."""
    gc.collect(1)  # (now, not at the end: then the block's new lists would be young, and walked)
    quiet = Quiet()
    was = gc.isenabled()
    gc.disable()
    try:
        yield quiet
    finally:
        if quiet.keep:
            gc.freeze()
        if was:
            gc.enable()
