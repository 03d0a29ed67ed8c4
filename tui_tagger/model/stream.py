"""Predicting frames as they come: refs are submitted one at a time, decoded and preprocessed in persistent
worker processes (``data.decode_item``: the decode of ``predict``), and the model runs on whatever is decoded,
in batches of up to ``batch``, never waiting for a batch to fill. Results come out in submission order.

The same model, preprocessing, heads and physics check as ``LocalPredictor.predict_paths``: only the feeding
differs (a list there, a live source here). ``tui-tagger watch`` drives it from ``core.follow.Follower``; a
TUI worker thread can drive it the same way."""

from __future__ import annotations

import collections
import multiprocessing
import time
from typing import Any

import numpy as np

from tui_tagger.core.workers import silence_worker
from tui_tagger.model.data import decode_item, default_workers

_WORKER: dict[str, Any] = {}


def _init_worker(config: dict[str, Any], physics: bool) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (it finishes the frame in hand)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    silence_worker()
    _WORKER.update(config=config, physics=physics, poni_cache={})


def _decode(ref: str):
    return decode_item(ref, _WORKER["config"], _WORKER["physics"], _WORKER["poni_cache"])


class StreamPredictor:
    """``submit(ref, token)`` then ``results()``: [(token, (ref, {tag: p} or None, error or None))] of the frames
    finished so far, in submission order. ``workers`` decoding processes (0: decode in this process at submit)."""

    def __init__(self, predictor, batch: int = 32, workers: int | None = None, in_flight: int | None = None):
        self.predictor = predictor
        self.batch = max(1, batch)
        self.workers = default_workers() if workers is None else max(0, workers)
        self.in_flight = in_flight or max(4, 4 * self.batch)  # decoded but not yet predicted, at most
        self._column = {t: j for j, t in enumerate(predictor.tags)}
        self._queue: collections.deque = collections.deque()  # (token, ref, AsyncResult or ready tuple)
        self._pool = None
        physics = bool(getattr(predictor, "physics", False))
        if self.workers:
            # fork: the workers start at once (no second torch import); created before any watcher thread
            self._pool = multiprocessing.get_context("fork").Pool(
                self.workers, initializer=_init_worker, initargs=(dict(predictor.preprocess), physics))
        self._inline = (dict(predictor.preprocess), physics, {})
        import torch

        from tui_tagger.model.infer import model_threads

        self._threads = torch.get_num_threads()  # the model's threads: the cores the decoding workers leave
        want = model_threads(torch.device(predictor.device), self.workers)
        if want is not None and want != self._threads:
            torch.set_num_threads(want)

    def __len__(self) -> int:
        """Frames submitted and not yet returned by ``results``."""
        return len(self._queue)

    def full(self) -> bool:
        return len(self._queue) >= self.in_flight

    def submit(self, ref: str, token: Any = None) -> None:
        if self._pool is not None:
            self._queue.append((token, ref, self._pool.apply_async(_decode, (ref,))))
        else:
            self._queue.append((token, ref, decode_item(ref, *self._inline)))

    def _ready(self, item) -> bool:
        job = item[2]
        return not hasattr(job, "ready") or job.ready()

    def results(self, wait: float = 0.0) -> list[tuple[Any, tuple]]:
        """The finished frames at the head of the queue (waiting up to ``wait`` seconds for the first one)."""
        if not self._queue:
            return []
        if not self._ready(self._queue[0]):
            self._queue[0][2].wait(wait)
        taken = []
        while self._queue and len(taken) < self.batch and self._ready(self._queue[0]):
            token, ref, job = self._queue.popleft()
            taken.append((token, ref, job.get() if hasattr(job, "get") else job))
        if not taken:
            return []
        good = [i for i, (_, _, (x, _, _)) in enumerate(taken) if x is not None]
        rows = self._predict(np.stack([taken[i][2][0] for i in good])) if good else []
        out: list[tuple[Any, tuple]] = [(token, (ref, None, err)) for token, ref, (_, err, _) in taken]
        for i, row in zip(good, rows):
            token, ref, (_, _, sure) = taken[i]
            out[i] = (token, (ref, self.predictor.probabilities(np.array(row), sure, self._column), None))
        return out

    def _predict(self, x: np.ndarray) -> np.ndarray:
        """The model on ``x`` in batches of 1, 2, 4, 8 ... frames only: a live stream gives batches of every size,
        and the CPU backend keeps buffers for each input shape it has seen (30 MB or so a shape; 1 to 32 frames
        grew the process by 200 MB over a long run), so a few shapes keep memory flat. Frames are independent:
        the probabilities do not depend on the split."""
        out, start = [], 0
        while start < len(x):
            n = 1 << ((len(x) - start).bit_length() - 1)
            out.append(self.predictor.predict_arrays(x[start : start + n]))
            start += n
        return np.concatenate(out)

    def drain(self, timeout: float | None = None) -> list[tuple[Any, tuple]]:
        """Every submitted frame's result (the frames in hand when a watch stops)."""
        out = []
        end = None if timeout is None else time.monotonic() + timeout
        while self._queue and (end is None or time.monotonic() < end):
            out += self.results(wait=0.1)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
            import torch

            torch.set_num_threads(self._threads)

    def __enter__(self) -> "StreamPredictor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Following:
    """Frames from a ``core.follow.Follower`` through a ``StreamPredictor``, for whoever shows them: iterate for
    (arrival, (ref, {tag: p} or None, error or None)) as predictions come out, until ``stopped()`` says so,
    then the frames in hand (those complete but not started stay in ``waiting``, for the next run). Each frame
    is recorded done (``Follower.done``) once the caller has handled it. ``idle()`` is called every turn (reap
    child processes, check a cancel flag). ``tui-tagger watch`` prints what it yields; a TUI worker thread can
    post it as messages."""

    def __init__(self, follower, stream: StreamPredictor, stopped, idle=None):
        self.follower = follower
        self.stream = stream
        self.stopped = stopped
        self.idle = idle
        self.waiting: collections.deque = collections.deque()

    def __iter__(self):
        follower, stream, waiting = self.follower, self.stream, self.waiting
        while not self.stopped():
            busy = len(stream) > 0 or bool(waiting)
            if len(waiting) < 4 * stream.in_flight:  # behind (a large backlog): take no more until these are out
                waiting.extend(follower.next(timeout=0.0 if busy else 0.2))
            while waiting and not stream.full():
                arrival = waiting.popleft()
                stream.submit(arrival.ref, arrival)
            for arrival, result in stream.results(wait=0.02 if len(stream) else 0.0):
                yield arrival, result
                follower.done(arrival, result[2])
            if self.idle is not None:
                self.idle()
        for arrival, result in stream.drain():
            yield arrival, result
            follower.done(arrival, result[2])
