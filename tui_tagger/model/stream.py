"""Predicting frames as they come: refs are submitted one at a time, decoded and preprocessed in persistent
worker processes (``data.decode_item``: the decode of ``predict``), and the model runs on whatever is decoded,
in batches of up to ``batch``, never waiting for a batch to fill. Results come out in submission order.

The same model, preprocessing, heads and physics check as ``LocalPredictor.predict_paths``: only the feeding
differs (a list there, a live source here). ``tui-tagger watch`` drives it from ``core.follow.Follower``; a
TUI worker thread can drive it the same way."""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np

from tui_tagger.model.data import decode_item, default_workers
from tui_tagger.model.feed import DecodePool


class StreamPredictor:
    """``submit(ref, token)`` then ``results()``: [(token, (ref, {tag: p} or None, error or None))] of the frames
    finished so far, in submission order. ``workers`` decoding processes (``model.feed.DecodePool``: forked where
    this process has one thread, from a fork server where it has more, as in the TUI; 0: decode in this process
    at submit)."""

    GATHER_S = 0.25  # how long decoded frames wait for more to fill a batch while others are being decoded

    def __init__(self, predictor, batch: int = 32, workers: int | None = None, in_flight: int | None = None):
        self.predictor = predictor
        self.batch = max(1, batch)
        self.workers = default_workers() if workers is None else max(0, workers)
        self.in_flight = in_flight or max(4, 4 * self.batch)  # decoded but not yet predicted, at most
        self._column = {t: j for j, t in enumerate(predictor.tags)}
        self._queue: collections.deque = collections.deque()  # (token, ref, pool job or decoded tuple)
        self._pool = None
        self._head_ready: float | None = None  # when the frame at the head was first seen decoded
        physics = bool(getattr(predictor, "physics", False))
        if self.workers:
            self._pool = DecodePool(predictor.preprocess, physics, self.workers, slots=self.in_flight)
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
            self._queue.append((token, ref, self._pool.submit(ref)))
        else:
            self._queue.append((token, ref, decode_item(ref, *self._inline)))

    def _ready(self, item) -> bool:
        return isinstance(item[2], tuple) or self._pool.ready(item[2])

    def _ready_at_head(self) -> int:
        n = 0
        for item in self._queue:
            if n >= self.batch or not self._ready(item):
                break
            n += 1
        return n

    def results(self, wait: float = 0.0) -> list[tuple[Any, tuple]]:
        """The finished frames at the head of the queue (waiting up to ``wait`` seconds for the first one). While
        more frames are being decoded behind them, the first ones wait up to ``GATHER_S`` for a fuller batch: the
        model on a frame or two at a time took 8 ms of CPU a frame, against 5.5 in batches of 8 or more, and
        that CPU was the decoding worker's. A lone frame (a detector at 10 frames/s) goes at once."""
        if not self._queue:
            return []
        if not self._ready(self._queue[0]) and wait > 0:
            self._pool.wait(self._queue[0][2], wait)
        ready = self._ready_at_head()
        if not ready:
            return []
        now = time.monotonic()
        if self._head_ready is None:
            self._head_ready = now
        left = self._head_ready + self.GATHER_S - now
        if ready < min(self.batch, len(self._queue)) and left > 0:  # more are coming: wait for a fuller batch
            if wait > 0:
                self._pool.wait(self._queue[ready][2], min(wait, left))
                ready = self._ready_at_head()
            if ready < min(self.batch, len(self._queue)) and time.monotonic() < self._head_ready + self.GATHER_S:
                return []
        self._head_ready = None
        if len(self._queue) > ready:  # more behind: a whole power of two now, the rest joins the next batch
            ready = 1 << (ready.bit_length() - 1)
        taken, jobs = [], []
        for _ in range(ready):
            token, ref, job = self._queue.popleft()
            if not isinstance(job, tuple):
                jobs.append(job)
                job = self._pool.result(job)  # the input: a view of the job's shared slot until released
            taken.append((token, ref, job))
        good = [i for i, (_, _, (x, _, _)) in enumerate(taken) if x is not None]
        x = np.stack([taken[i][2][0] for i in good]) if good else None
        for job in jobs:
            self._pool.release(job)
        rows = self._predict(x) if good else []
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
            self._pool.close()
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
