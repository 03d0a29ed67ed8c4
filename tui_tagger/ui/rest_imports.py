"""Imports that wait for the user to rest: a worker thread importing a large library (the live head's scipy and
sklearn, ~1,300 modules) takes the GIL from the keys for as long as the imports last (0.5-1 s of the UI
thread's time while a held Down went in, the warm-up having started in a rest just before). ``while_resting``
holds that thread before each module it loads until the user has rested (``resting()`` is true), so a key
pressed meanwhile waits at most for the one module being loaded.

The hold is at the start of a module's load (the loader's ``create_module``), where the global import lock is
not held: other threads' imports go on; only one importing a module this thread is loading waits with it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

POLL_S = 0.05  # how often a held import looks whether the user rests


class _Held:
    """A module's loader, holding the import until the user rests; the module keeps its real loader."""

    def __init__(self, loader, wait: Callable[[], None]):
        self._loader, self._wait = loader, wait

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        self._wait()
        spec.loader = self._loader  # (the module's __spec__: its real loader from now on)
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        module.__loader__ = self._loader
        self._loader.exec_module(module)


class _Gate:
    """A meta path finder: for one thread, each module's spec (found by the finders after it) with a held loader."""

    def __init__(self, thread: int, resting: Callable[[], bool], held):
        self.thread, self.resting, self.held = thread, resting, held

    def wait(self) -> None:
        if self.resting():
            return
        with self.held():
            while not self.resting():
                time.sleep(POLL_S)

    def find_spec(self, name, path, target=None):
        if threading.get_ident() != self.thread:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Held(spec.loader, self.wait)
                return spec
        return None


@contextmanager
def while_resting(resting: Callable[[], bool], held=nullcontext):
    """Within, the calling thread's imports load each module only while ``resting()`` (called from this
    thread: it must be cheap and thread-safe, e.g. a comparison of the time of the last key); ``held()``: a
    context manager around each hold."""
    gate = _Gate(threading.get_ident(), resting, held)
    sys.meta_path.insert(0, gate)
    try:
        yield gate
    finally:
        try:
            sys.meta_path.remove(gate)
        except ValueError:
            pass
