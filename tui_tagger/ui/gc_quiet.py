"""Big lists built in a worker thread without the garbage collector walking them.

A list of a million rows (a big folder's Positive and Negative lists, review's pick of images) is walked by
each collection that finds it young: one reference at a time, ~60 ms per million at load 3-4 and with the GIL
held, whichever thread the collection runs on, so the keys wait. A new pair of lists was walked twice (young,
then middle-aged: 120-175 ms on the UI thread in the repaint after review's lists landed), then by each
full collection while they were shown (52-85 ms each).

``no_collections()`` runs a block with collections off; ``keep=True`` freezes what is tracked at its end
(``gc.freeze``: later collections skip it, as scan.py does for the rows themselves), after a collection of
the young generations (~1 ms: less garbage frozen with it). The cost: what is frozen and later dropped in a
cycle is never freed (12 rebuilds at 1M: ~1.1k objects per freeze, RSS as without the freeze): lists of
fewer than ``FREEZE_FROM`` rows are not worth it (a test's apps, torn down, would stay in memory).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

FREEZE_FROM = 100_000  # rows: a list of fewer is walked in a few ms


@contextmanager
def no_collections(keep: bool = False) -> Iterator[None]:
    """No garbage collection while the block runs (its temporaries go by their reference counts);
    ``keep``: what it made is kept a long time: frozen at its end, never walked again."""
    if keep:
        gc.collect(1)
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep:
            gc.freeze()
        if was:
            gc.enable()
