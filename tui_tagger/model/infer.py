"""Inference behind one small interface, so that a model served from another (GPU) machine can
replace the in-process one: a client preprocesses (numpy only, ``transforms.preprocess`` with the
model's ``preprocess`` config) and sends (N, S, S) float32 arrays."""

from __future__ import annotations

import collections
import contextlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np
import torch

from tui_tagger.core.errors import TaggerError
from tui_tagger.core.frame_rules import PHYSICS_FLOOR  # noqa: F401  (re-exported)
from tui_tagger.model.checkpoint import ModelInfo, load_checkpoint
from tui_tagger.model.data import batches, default_workers
from tui_tagger.model.device import resolve_device
from tui_tagger.model.nets import for_inference, mirror_average

# (path, {tag: p} or None, one-line error or None)
Result = tuple[str, "dict[str, float] | None", "str | None"]

# The physics check (``core.frame_rules``): what a frame's rings, geometry and beamstop make sure is laid
# over the network's p (calibrant tags raised to at least PHYSICS_FLOOR, ruled-out experiment types and a
# linear stop where a round one is measured lowered); nothing else moves.


def physics_env() -> bool:
    """``TUI_TAGGER_PHYSICS=0`` turns the physics check off by default (the network alone)."""
    from tui_tagger.config import env_flag

    return env_flag("TUI_TAGGER_PHYSICS", True)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def model_lanes(device: torch.device, workers: int) -> int:
    """Batches the model runs at once on the CPU beside ``workers`` decoding processes, each in its own thread:
    2, so that the model takes the core a decoding worker leaves idle (it waits for a batch, it has decoded all
    ahead, it is done) without a second OpenMP thread per batch spinning against the worker. Frames are
    independent and each batch runs on as many threads as with one lane: the same p. 1 on a GPU or without
    workers."""
    return 2 if device.type == "cpu" and workers > 0 and usable_cores() >= 2 else 1


def model_threads(device: torch.device, workers: int) -> int | None:
    """torch's intra-op threads of each of the model's lanes while ``workers`` decoding processes run beside the
    model on the CPU: the cores they leave, shared by the lanes, at least one (None: leave torch's choice, on a
    GPU or without workers). On 2 cores, 2 OpenMP threads beside a decoding worker spin against it: 23 ms of CPU
    per frame in the model's process instead of 6, and a third of the frames per second on a loaded machine
    (predict_paths, measured)."""
    if device.type != "cpu" or workers <= 0:
        return None
    return max(1, min(torch.get_num_threads(), (usable_cores() - workers) // model_lanes(device, workers)))


@contextlib.contextmanager
def cpu_threads(device: torch.device, workers: int):
    """``model_threads`` for the duration of the block, then torch's setting as it was."""
    want = model_threads(device, workers)
    before = torch.get_num_threads()
    if want is None or want == before:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Predictor(Protocol):
    tags: list[str]
    device: str
    preprocess: dict[str, Any]

    def predict_arrays(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed (N, S, S) float32 -> probabilities (N, len(tags)) float32."""

    def predict_paths(
        self, paths: list[str], batch: int = 32, workers: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[Result]:
        """One result per path, in order; ``progress(n)`` after each n images."""


class LocalPredictor:
    """The model in this process: batches under ``inference_mode``, channels_last (about 1.6x on CPU),
    pinned memory and autocast on CUDA.

    ``physics`` (default on, ``TUI_TAGGER_PHYSICS=0`` off): ``predict_paths`` also runs the physics check
    on each raw frame in the decoding workers (``data.frame_physics``: a powder calibrant named from its
    ring positions, only where the geometry gives q and the match is sure) and raises p of the tags it
    makes sure to at least ``PHYSICS_FLOOR``. ``predict_arrays`` sees preprocessed arrays only: no check."""

    def __init__(self, model: torch.nn.Module, info: ModelInfo, device: torch.device, heads: list | None = None,
                 physics: bool | None = None):
        self.info = info
        self.preprocess = dict(info.preprocess)
        self._device = device
        self.device = str(device)
        self.model = for_inference(model.eval()).to(device, memory_format=torch.channels_last)
        self.physics = physics_env() if physics is None else bool(physics)
        self.set_heads(heads or [])

    def set_heads(self, heads: list) -> None:
        """Few-label heads (``learn.heads.Head``) on the penultimate features: a head's tag is added to the
        model's, or replaces the model's p for a tag it has (a head learnt from the user's labels)."""
        if heads and getattr(self.model, "embed", None) is None:
            raise TaggerError(f"{self.info.arch}: this architecture gives no features for heads")
        self.heads = list(heads)
        self.tags = list(self.info.tags) + [h.tag for h in self.heads if h.tag not in self.info.tags]
        self._head_columns = [self.tags.index(h.tag) for h in self.heads]

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", heads: bool = True,
             problems: list[str] | None = None, physics: bool | None = None) -> "LocalPredictor":
        """The model in ``path`` and (``heads``) the heads saved with it; unreadable heads are named in
        ``problems`` and left out. ``physics``: see the class (None: ``TUI_TAGGER_PHYSICS``, default on)."""
        dev = resolve_device(device)
        model, info = load_checkpoint(path, "cpu")
        found = []
        if heads:
            from tui_tagger.model.headfile import load_model_heads

            found = load_model_heads(path, problems)
        return cls(model, info, dev, found, physics)

    def _autocast(self):
        if self._device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _forward(self, x: torch.Tensor) -> np.ndarray:
        x = x.to(self._device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            if not self.heads:
                logits = mirror_average(self.model, x) if self.info.mirror else self.model(x)
                return torch.sigmoid(logits.float()).cpu().numpy()
            feats = self.model.embed(x)  # one pass gives the model's logits and the heads' features
            logits = self.model.head(feats)
            if self.info.mirror:  # heads learn on the frames as they are: only the model's logits are averaged
                logits = (logits + self.model(x.flip(-1))) * 0.5
            probs = torch.sigmoid(logits.float()).cpu().numpy()
            feats = feats.float().cpu().numpy()
        out = np.zeros((len(probs), len(self.tags)), np.float32)
        out[:, : probs.shape[1]] = probs
        for head, column in zip(self.heads, self._head_columns):
            out[:, column] = head.predict_proba(feats)
        return out

    def embed_paths(self, paths: list[str], batch: int = 32, workers: int | None = None) -> Iterator[tuple]:
        """(path, penultimate-layer vector or None, error or None) per path, in order."""
        workers = default_workers() if workers is None else workers
        pin = self._device.type == "cuda"
        embed = getattr(self.model, "embed", None)
        if embed is None:
            raise TaggerError(f"{self.info.arch}: this architecture gives no features")
        for index, x, errors in batches(list(paths), self.preprocess, batch, workers, pin):
            done: dict[int, tuple] = {i: (paths[i], None, e) for i, e in errors}
            if x is not None:
                x = x.to(self._device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                with torch.inference_mode(), self._autocast():
                    vecs = embed(x).float().cpu().numpy()
                for i, vec in zip(index, vecs):
                    done[i] = (paths[i], vec, None)
            for i in sorted(done):
                yield done[i]

    def predict_arrays(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim == 2:
            batch = batch[None]
        return self._forward(torch.from_numpy(np.ascontiguousarray(batch))[:, None])

    def probabilities(self, row: np.ndarray, sure=None, column: dict[str, int] | None = None) -> dict[str, float]:
        """{tag: p} of one frame's model output ``row`` (changed in place), the physics check's result ``sure``
        (``data.frame_physics``) applied: what predict_paths and the streaming pipeline report."""
        if sure:
            sure.apply_row(row, self.tags)
        return {t: round(float(p), 4) for t, p in zip(self.tags, row)}

    def predict_paths(
        self, paths: list[str], batch: int = 32, workers: int | None = None,
        progress: Callable[[int], None] | None = None, feed=None,
    ) -> Iterator[Result]:
        """``feed``: a ``model.feed.Feed`` of ``paths`` already decoding (with this model's preprocessing and
        physics check), started before the model was loaded; it is closed at the end."""
        workers = default_workers() if workers is None else workers
        pin = self._device.type == "cuda"
        column = {t: j for j, t in enumerate(self.tags)}
        source = batches(list(paths), self.preprocess, batch, workers, pin, self.physics, feed)
        with cpu_threads(self._device, workers), contextlib.closing(source):
            yield from self._predict_batches(paths, source, model_lanes(self._device, workers), column, progress)

    def _predict_batches(self, paths, source, lanes, column, progress) -> Iterator[Result]:
        """The model on each batch of ``source`` as it comes, ``lanes`` batches at once (each in a thread of its
        own); the results in input order."""
        pending: collections.deque = collections.deque()  # (index, probabilities or a Future, errors, physics)
        with ThreadPoolExecutor(lanes) if lanes > 1 else contextlib.nullcontext() as lane:
            for index, x, errors, *more in source:
                found = more[0] if more else [None] * len(index)
                if x is None:
                    probs = np.zeros((0, len(self.tags)), np.float32)
                else:
                    probs = lane.submit(self._forward, x) if lane is not None else self._forward(x)
                pending.append((index, probs, errors, found))
                while len(pending) >= lanes:
                    yield from self._batch_results(paths, *pending.popleft(), column, progress)
            while pending:
                yield from self._batch_results(paths, *pending.popleft(), column, progress)

    def _batch_results(self, paths, index, probs, errors, found, column, progress) -> Iterator[Result]:
        if isinstance(probs, Future):
            probs = probs.result()
        done: dict[int, Result] = {i: (paths[i], None, e) for i, e in errors}
        for i, row, sure in zip(index, probs, found):
            done[i] = (paths[i], self.probabilities(row, sure, column), None)
        for i in sorted(done):
            yield done[i]
        if progress:
            progress(len(done))
