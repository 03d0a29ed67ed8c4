"""The decoding workers that feed the model, without torch: frames decoded and preprocessed (``data.decode_item``)
in worker processes, handed over in input order (``Feed``) or as submitted (``DecodePool``, the stream of
``watch``), a bounded number ahead of the model.

How the workers start (``start_method``): forked where this process has a single thread (at once; ``predict``
starts them before torch is imported, so that decoding overlaps the model's import and load), else from a fork
server: a fork of a many-threaded process (the TUI's, or one whose torch has started its threads) copies locks
that another thread held, and a DataLoader worker forked from the TUI died of that, rarely."""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import threading
import time
from typing import Any, Iterator

import numpy as np

from tui_tagger.core.workers import keep_freed_memory, silence_worker
from tui_tagger.model.data import decode_item

# Decoded frames held ahead of the model, at most (in bytes of model input: 512 frames of 256 x 256 float32).
AHEAD_BYTES = 128 * 2**20

# Added to the decoding workers' nice value. 0 for predict and watch (the model waits for them); the TUI raises
# it, as for its thumbnail workers, so that `p` and follow decode beside the keys without taking the UI's core.
WORKER_NICE = 0

_WORKER: dict[str, Any] = {}


def _init_worker(config: dict[str, Any], physics: bool, slots, nice: int = 0) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (it finishes the frames in hand)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    silence_worker()
    keep_freed_memory()
    _WORKER.update(config=config, physics=physics, poni_cache={}, frames=_frames(slots, config))
    _warm(physics)


def _warm(physics: bool) -> None:
    """What the first frame would import, now, before it comes (the readers' registry, tifffile, the physics
    check: 0.12 s of the first frame's 0.14 s; a watch's first frame, a predict started before torch)."""
    import importlib

    names = ["tui_tagger.core.formats", "tui_tagger.core.formats.tiff", "tifffile"]
    if physics:
        names += ["tui_tagger.core.frame_rules", "tui_tagger.core.geometry", "tui_tagger.core.geometry.headers",
                  "tui_tagger.core.signal", "tui_tagger.core.beamstop", "tui_tagger.core.calibrant", "numpy.ma"]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # a reader that cannot be imported says so at its first frame, as before
            pass


def _frames(slots, config: dict[str, Any]) -> np.ndarray | None:
    """The shared slots as (n, S, S) float32 (None without slots)."""
    if slots is None:
        return None
    size = int(config["size"])
    return np.frombuffer(slots.create_memoryview(), np.float32).reshape(-1, size, size)


def _decode(ref: str, slot: int | None):
    """``data.decode_item``; the input goes back in its shared slot where it has one (True stands for it): a
    256 x 256 input through a pipe cost the parent 1 ms of CPU, a fifth of the model's."""
    x, error, sure = decode_item(ref, _WORKER["config"], _WORKER["physics"], _WORKER["poni_cache"])
    frames = _WORKER["frames"]
    if slot is not None and x is not None and frames is not None and x.shape == frames.shape[1:]:
        frames[slot] = x
        return True, error, sure
    return x, error, sure


def _serve(conn, config: dict[str, Any], physics: bool, slots, nice: int = 0) -> None:
    """A decoding worker: (job, ref, slot) in, (job, result) out, in order, until the pipe closes."""
    _init_worker(config, physics, slots, nice)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        job, ref, slot = task
        result = _decode(ref, slot)
        try:
            conn.send((job, result))
        except (EOFError, OSError):
            return
        except Exception as err:  # a physics result that does not pickle: the frame still gets its one line
            conn.send((job, (None, f"{ref}: {type(err).__name__}: {' '.join(str(err).split())}", None)))


def start_method() -> str:
    """"fork" where this process runs one Python thread, else "forkserver" (the platform's default where neither
    exists). Native thread pools (numpy's OpenBLAS, torch's OpenMP) do not count: a worker never calls them
    while a fork could have copied them mid-work (OpenBLAS quiesces at a fork, torch marks the child)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else multiprocessing.get_start_method()


class _Job:
    __slots__ = ("id", "ref", "slot", "result")

    def __init__(self, job_id: int, ref: str, slot: int | None):
        self.id, self.ref, self.slot = job_id, ref, slot
        self.result: tuple | None = None


class _Worker:
    def __init__(self, process, conn):
        self.process, self.conn = process, conn
        self.jobs: collections.deque = collections.deque()  # sent, result not yet read: in the worker's order


class DecodePool:
    """``workers`` processes decoding refs with one preprocessing config (and the physics check). ``submit(ref)``
    gives a job; ``result(job)`` its ``data.decode_item`` (input or None, error or None, physics), the input a
    view of the job's shared slot (one of ``slots``) until ``release(job)``; without a free slot the input comes
    through the pipe. A pipe per worker and no helper thread: results are read by whoever asks for one
    (``multiprocessing.Pool``'s result and worker threads cost the parent 0.6 ms of CPU a frame, its worker
    thread waking for every result). A worker that dies fails its frames (one line each) and is replaced."""

    def __init__(self, config: dict[str, Any], physics: bool, workers: int, slots: int = 0):
        from multiprocessing.heap import BufferWrapper

        size = int(config["size"])
        shared = BufferWrapper(slots * size * size * 4) if slots > 0 else None  # pages taken as they are written
        self._args = (dict(config), bool(physics), shared, WORKER_NICE)
        self._frames = _frames(shared, config)
        self._free = list(range(slots - 1, -1, -1))
        self._count = 0
        self.method = start_method()
        self._workers = [self._start() for _ in range(max(1, workers))]

    def _start(self) -> _Worker:
        method = start_method()  # again for a replacement: this process may have threads by now
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload([__name__])  # the server imports numpy and the readers once, never torch
        conn, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child, *self._args), daemon=True, name="tui-tagger-decode")
        process.start()
        child.close()
        return _Worker(process, conn)

    def submit(self, ref: str) -> _Job:
        job = _Job(self._count, ref, self._free.pop() if self._free else None)
        self._count += 1
        worker = min(self._workers, key=lambda w: len(w.jobs))
        worker.jobs.append(job)
        try:
            worker.conn.send((job.id, ref, job.slot))
        except (OSError, ValueError):
            self._lost(worker)
        return job

    def _collect(self, timeout: float | None) -> None:
        """Read the results that have come (waiting up to ``timeout`` for one)."""
        from multiprocessing.connection import wait

        busy = {w.conn: w for w in self._workers if w.jobs}
        if not busy:
            return
        for conn in wait(list(busy), timeout):
            worker = busy[conn]
            try:
                job_id, result = conn.recv()
            except (EOFError, OSError):
                self._lost(worker)
                continue
            job = worker.jobs.popleft()
            job.result = result if job.id == job_id else (None, f"{job.ref}: decoding went out of step", None)

    def _lost(self, worker: _Worker) -> None:
        """A worker died (killed, out of memory, a reader's crash): its frames fail, a new worker takes its place."""
        worker.process.join(1)
        code = worker.process.exitcode
        why = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        for job in worker.jobs:
            job.result = (None, f"{job.ref}: the decoding process stopped ({why})", None)
        worker.jobs.clear()
        worker.conn.close()
        self._workers[self._workers.index(worker)] = self._start()

    def ready(self, job: _Job) -> bool:
        if job.result is None:
            self._collect(0)
        return job.result is not None

    def wait(self, job: _Job, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: for ever) for the job's result; whether it is there."""
        end = None if timeout is None else time.monotonic() + timeout
        while job.result is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            self._collect(left)
        return job.result is not None

    def result(self, job: _Job) -> tuple:
        """The job's (input or None, error or None, physics), waiting for it."""
        self.wait(job)
        x, error, sure = job.result
        return (self._frames[job.slot] if x is True else x), error, sure

    def release(self, job: _Job) -> None:
        """The job's slot is free again (its input copied or no longer needed)."""
        if job.slot is not None:
            self._free.append(job.slot)
            job.slot = None

    def close(self) -> None:
        for worker in self._workers:
            worker.process.terminate()
        for worker in self._workers:
            worker.process.join(5)
            worker.conn.close()
        self._workers = []


class Feed:
    """The refs of one run decoded in order: by a ``DecodePool`` started at once (``workers`` > 0), at most
    ``ahead`` frames ahead of the consumer, or in the consumer's own process (0). ``batches(n)`` gives
    (indices, (B, S, S) float32 or None, [(index, error)], [physics]) per n refs, what ``data.batches`` hands on
    as tensors. Close it (or use it as a context manager) to stop the workers."""

    def __init__(self, refs: list[str], config: dict[str, Any], physics: bool = False, workers: int = 0,
                 ahead: int | None = None):
        self.refs = list(refs)
        self.config = dict(config)
        self.physics = bool(physics)
        size = int(self.config["size"])
        self.ahead = ahead or max(64, AHEAD_BYTES // (4 * size * size))
        self._pool = DecodePool(self.config, self.physics, workers, self.ahead) if workers > 0 and self.refs else None
        self._jobs: collections.deque = collections.deque()
        self._next = 0
        self._poni_cache: dict = {}
        self._fill()

    def matches(self, config: dict[str, Any], physics: bool) -> bool:
        """Whether this feed decodes what a model with this preprocessing and physics check needs."""
        return self.config == dict(config) and self.physics == bool(physics)

    def _fill(self) -> None:
        while self._pool is not None and self._next < len(self.refs) and len(self._jobs) < self.ahead:
            self._jobs.append(self._pool.submit(self.refs[self._next]))
            self._next += 1

    def items(self) -> Iterator[tuple[int, np.ndarray | None, str | None, Any]]:
        """(index, model input or None, error or None, physics) per ref, in order; an input is valid until the
        next item is asked for (it is a view of a shared slot: copy it to keep it)."""
        job = None
        for i, ref in enumerate(self.refs):
            if self._pool is None:
                yield (i, *decode_item(ref, self.config, self.physics, self._poni_cache))
                continue
            if job is not None:
                self._pool.release(job)  # the item handed out last has been used
                self._fill()
            job = self._jobs.popleft()
            yield (i, *self._pool.result(job))

    def batches(self, size: int) -> Iterator[tuple]:
        """(indices, (B, S, S) float32 or None, [(index, error)], [physics]) per ``size`` refs."""
        side = int(self.config["size"])
        index, rows, errors, found = [], None, [], []
        for i, x, error, sure in self.items():
            if x is None:
                errors.append((i, error))
            else:
                if rows is None:
                    rows = np.empty((size, side, side), np.float32)
                rows[len(index)] = x  # the one copy out of the shared slot
                index.append(i)
                found.append(sure)
            if len(index) + len(errors) >= size:
                yield index, (rows[: len(index)] if index else None), errors, found
                index, rows, errors, found = [], None, [], []
        if index or errors:
            yield index, (rows[: len(index)] if index else None), errors, found

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._jobs.clear()

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
