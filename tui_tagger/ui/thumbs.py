"""Row thumbnails: a memory cache in front of the core's disk cache, filled by background threads that
hand the decoding to worker processes (``ui/decoding.py``) and wait for it without holding the GIL.

The lists ask for the rows on screen; the newest requests are served first (a user scrolling past
does not wait for rows already gone), and nothing here ever blocks the UI thread. A zoom asks for another
size (``set_size``): the cache starts again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from tui_tagger.ui import decoding

FAILED = np.zeros((0, 0, 3), np.uint8)  # an image that could not be read: drawn as a marker
BATCH_S = 0.03  # thumbnails arriving within this long make one repaint
CACHE_BYTES = 64 << 20  # the memory cache's size (about 20000 thumbnails of the smallest zoom)


class ThumbLoader:
    def __init__(self, size: tuple[int, int], settings, on_ready, workers: int = decoding.WORKERS + 1,
                 capacity: int | None = None, decode=None):
        self.size = tuple(size)  # (w, h) px
        self.settings = settings
        self.on_ready = on_ready  # called from a worker thread with no arguments
        self._fixed_capacity = capacity
        self.capacity = capacity or self._capacity_for(self.size)
        self.decode = decode or decoding.thumbnail  # (ref, size, settings) -> uint8 RGB or None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._wanted: list[str] = []  # stack: newest last
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = False
        self._fresh: set[str] = set()  # arrived since the UI last asked (take_fresh)
        self._notified = 0.0
        self._generation = 0  # a new size or settings: what is decoding for the old ones is dropped
        self._threads = [threading.Thread(target=self._run, daemon=True, name="thumbs") for _ in range(workers)]
        for t in self._threads:
            t.start()

    def get(self, ref: str) -> np.ndarray | None:
        """The thumbnail if cached, else None (and it is queued)."""
        with self._lock:
            arr = self._cache.get(ref)
            if arr is not None:
                return arr
            if ref not in self._queued:
                self._queued.add(ref)
                self._wanted.append(ref)
                self._wake.notify()
        return None

    def peek(self, ref: str) -> np.ndarray | None:
        """The thumbnail if cached, else None (nothing is queued)."""
        with self._lock:
            return self._cache.get(ref)

    def forget(self, refs) -> None:
        """Drop the cached thumbnails of ``refs`` (their files were written again): the next ``get`` decodes
        them anew (the disk cache is keyed by the file's size and time)."""
        with self._lock:
            for ref in refs:
                self._cache.pop(ref, None)

    def take_fresh(self) -> set[str]:
        """The images whose thumbnails arrived since the last call (the rows to repaint)."""
        with self._lock:
            fresh, self._fresh = self._fresh, set()
        return fresh

    def mark_fresh(self, ref: str) -> None:
        """``ref``'s row is to repaint as if its thumbnail just arrived (its Sixel / iTerm2 image is encoded:
        ui/widgets/inline_images.py); called from any thread."""
        with self._lock:
            self._fresh.add(ref)
        self.on_ready()

    @property
    def pending(self) -> int:
        return len(self._queued)

    def forget_queue(self) -> None:
        """Drop queued requests (after a jump: the rows asked for are no longer on screen)."""
        with self._lock:
            self._queued.difference_update(self._wanted)
            self._wanted.clear()

    def set_settings(self, settings) -> None:
        with self._lock:
            self.settings = settings
            self._restart()

    def set_size(self, size: tuple[int, int]) -> None:
        """Thumbnails fitted in ``size`` (w, h) px from now on (a zoom)."""
        with self._lock:
            if tuple(size) == self.size:
                return
            self.size = tuple(size)
            self.capacity = self._fixed_capacity or self._capacity_for(self.size)
            self._restart()

    @staticmethod
    def _capacity_for(size) -> int:
        return max(500, CACHE_BYTES // max(1, 3 * size[0] * size[1]))

    def _restart(self) -> None:
        self._cache.clear()
        self._queued.clear()
        self._wanted.clear()
        self._generation += 1

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._wanted and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                ref = self._wanted.pop()
                settings, size, generation = self.settings, self.size, self._generation
            try:
                arr = self.decode(ref, size, settings)
            except Exception:  # the worker pool broke twice: a marker, like a corrupt image
                arr = None
            arr = FAILED if arr is None else arr
            with self._lock:
                if generation != self._generation:
                    continue
                self._queued.discard(ref)
                self._cache[ref] = arr
                self._fresh.add(ref)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
                # coalesce: tell the UI when the queue drains, or once per batch while it fills
                now = time.monotonic()
                notify = not self._wanted or now - self._notified >= BATCH_S
                if notify:
                    self._notified = now
            if notify:
                self.on_ready()
