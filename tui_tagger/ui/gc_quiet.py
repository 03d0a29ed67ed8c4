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
import time
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


@contextmanager
def collections_on() -> Iterator[None]:
    """Collections again for a while within a ``no_collections`` block that waits on the user meanwhile (the
    keys' garbage is collected, not kept to be frozen at the block's end). What the block made so far is frozen
    first, as it would be at its end: collections walking it (a half-done import's ~100k objects) held the UI
    thread up to 440 ms."""
    gc.freeze()
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


# ---- full collections that walk what is there for good -------------------------------------------------
SLOW_FULL_MS = 20.0  # a full collection slower than this walked many objects
# ...and when it freed under a tenth of what it walked, they are there for good. What it walked is estimated
# from its CPU time (not its wall time, which a busy machine stretches: a slow machine walks ~1,500 objects a
# ms; a faster one is frozen a little less often): counting them (gc.get_objects(2)) held the UI thread
# 45-120 ms at 300k objects, a key's wait
GARBAGE_PER_MS = 150
RECLAIM_REST_S = 60.0  # after this long without a key or a click, what freezes kept in cycles is freed
RECLAIM_MAX = 1_000_000  # ...where no more objects are frozen: a walk of 650k took 0.4 s (a million rows: none)
_slow = {"due": False, "start": 0.0, "cpu": 0.0, "collected": 0, "ms": 0.0, "frozen": 0}


def _time_full(phase: str, info: dict) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _slow["start"], _slow["cpu"] = time.perf_counter(), time.thread_time()
    elif (time.perf_counter() - _slow["start"]) * 1000 > SLOW_FULL_MS:
        _slow["due"], _slow["collected"] = True, int(info.get("collected", 0))
        _slow["ms"] = (time.thread_time() - _slow["cpu"]) * 1000


def watch_full_collections() -> None:
    """Note each full collection that walked for long (the live head's imports of torch, scipy and sklearn
    leave ~200k long-lived objects: each full collection then held the GIL 90-190 ms, 7 in 10 s while `p`'s
    results arrived, the keys waiting); ``freeze_if_due`` then freezes what is there."""
    if _time_full not in gc.callbacks:
        gc.callbacks.append(_time_full)


def freeze_if_due() -> bool:
    """After a slow full collection that found little to free, freeze every object there is: later
    collections skip them (nothing is garbage right after a collection, so little is frozen with it). A
    frozen object dropped later in a cycle is not freed until ``reclaim_at_rest`` (Textual's renders, cached
    a while: with `p` running and keys held, ~15k objects a minute). Called from a timer of the UI's."""
    if not _slow["due"]:
        return False
    _slow["due"] = False
    if _slow["collected"] > GARBAGE_PER_MS * _slow["ms"]:
        return False  # mostly short-lived: walked again next time rather than kept
    gc.freeze()
    _slow["frozen"] += 1
    return True


def reclaim_at_rest(rest_s: float) -> bool:
    """After RECLAIM_REST_S without input, where ``freeze_if_due`` froze since the last time: everything
    thawed, collected once (what frozen cycles held is freed: 0.4 s for 650k objects, while nobody waits)
    and frozen again."""
    if rest_s < RECLAIM_REST_S or not _slow["frozen"]:
        return False
    if gc.get_freeze_count() > RECLAIM_MAX:  # a walk of seconds, which a key back from the rest would wait
        _slow["frozen"] = 0  # (what freezes hold stays: small beside what is frozen there)
        return False
    _slow["frozen"] = 0
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return True


# ---- full collections when the user rests -----------------------------------------------------------
# Python runs a full collection at every 10th middle-generation one, wherever it falls: inside a key's repaint
# (15-27 ms walking the ~50k objects the last ones left, under load, every ~4 s while Down was held on 400 real
# frames with p running). Once the app runs (``full_collections_at_rest``) they wait for a rest instead.
FULL_REST_S = 0.5  # a full collection waits for this long without a key or a click...
FULL_EVERY = 10  # ...once this many middle-generation collections came since the last (Python's own spacing)
FULL_LATEST = 100  # ...or, keys held all along, at this many regardless (~40 s of keys: its walk grows meanwhile)
_thresholds: tuple | None = None  # Python's own, while the app holds full collections back


def full_collections_at_rest() -> None:
    """Python runs no full collection by itself from now on: ``collect_at_rest`` runs them (``thaw`` ends it)."""
    global _thresholds
    if _thresholds is None:
        _thresholds = gc.get_threshold()
        gc.set_threshold(_thresholds[0], _thresholds[1], 1 << 30)


def collect_at_rest(rest_s: float) -> bool:
    """A full collection when one is due and the user has rested ``rest_s`` >= FULL_REST_S (or one is long
    overdue); called from the UI's timer. Never while collections are off (a worker's quiet block)."""
    if _thresholds is None or not gc.isenabled():
        return False
    due = gc.get_count()[2]  # middle-generation collections since the last full one
    if due < FULL_EVERY or (rest_s < FULL_REST_S and due < FULL_LATEST):
        return False
    gc.collect()
    return True


def freeze_long_lived() -> None:
    """What is there lives as long as the process: the app's first screen (its modules, widgets and styles:
    a first full collection walked them in ~40 ms), a worker's big imports (the live head's)."""
    gc.collect(1)  # the young garbage first (~1 ms), so that it is not frozen with them
    gc.freeze()


def thaw() -> None:
    """The app is closing: what was frozen goes back to the collector (the process may go on: a test's, an
    embedding program's, where a closed app's cycles would otherwise stay for good)."""
    global _thresholds
    _slow["due"], _slow["frozen"] = False, 0
    if _thresholds is not None:
        gc.set_threshold(*_thresholds)  # Python's full collections again
        _thresholds = None
    gc.unfreeze()
