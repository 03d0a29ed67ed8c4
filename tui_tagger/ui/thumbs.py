"""Row thumbnails: a memory cache in front of the core's disk cache, filled by background threads.

The lists ask for the rows on screen; the newest requests are served first (a user scrolling past
does not wait for rows already gone), and nothing here ever blocks the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from tui_tagger.ui import backend

FAILED = np.zeros((0, 0, 3), np.uint8)  # an image that could not be read: drawn as a marker
BATCH_S = 0.03  # thumbnails arriving within this long make one repaint


class ThumbLoader:
    def __init__(self, size: tuple[int, int], settings, on_ready, workers: int = 2, capacity: int = 20000):
        self.size = size  # (w, h) px
        self.settings = settings
        self.on_ready = on_ready  # called from a worker thread with no arguments
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._wanted: list[str] = []  # stack: newest last
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = False
        self._fresh: set[str] = set()  # arrived since the UI last asked (take_fresh)
        self._notified = 0.0
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

    def take_fresh(self) -> set[str]:
        """The images whose thumbnails arrived since the last call (the rows to repaint)."""
        with self._lock:
            fresh, self._fresh = self._fresh, set()
        return fresh

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
            self._cache.clear()
            self._queued.clear()
            self._wanted.clear()

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
                settings = self.settings
            try:
                arr = backend.thumbnail(ref, self.size, settings)
                arr = np.ascontiguousarray(arr[..., :3], dtype=np.uint8)
            except Exception:  # a corrupt image: the row shows a marker, the inspect pane the error
                arr = FAILED
            with self._lock:
                self._queued.discard(ref)
                if settings is not self.settings:
                    continue
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
