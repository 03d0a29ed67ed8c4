"""Prediction for the TUI, without Textual: load a `Predictor` (tui_tagger.model.infer's interface, so a
model served from another machine can replace the in-process one) and run it in batches, handing each
batch of results to the caller. Runs in a worker thread: torch is imported here, never on the UI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tui_tagger.core.errors import TaggerError

# (path, {tag: p} or None, error or None) -- the Predictor's Result
Result = tuple[str, "dict[str, float] | None", "str | None"]
BATCH_S = 0.25  # results arriving within this long reach the lists together (one re-sort per batch)


def load_predictor(model: str | None = None, device: str = "auto", cluster=None):
    """``model`` (default: ``$TUI_TAGGER_MODEL``, the user's ``model.pt``, the shipped one) on ``device``
    (auto: the best there is); with ``cluster`` (``model.cluster.Cluster``) on its workers (a
    ``RemotePredictor``: connects now). Raises TaggerError naming where a model was looked for."""
    try:
        from tui_tagger.model.locate import default_model_path
        from tui_tagger.model.infer import LocalPredictor
    except ImportError as err:  # torch missing: say what to install, not a traceback
        raise TaggerError(f"prediction needs torch ({err}); install it with pip install torch") from None
    from tui_tagger.model import feed
    from tui_tagger.ui.decoding import NICE

    feed.WORKER_NICE = NICE  # p and follow decode at the thumbnail workers' lower priority: the keys come first
    if cluster is not None:
        cluster.client  # an unreachable scheduler: its one line before the model is loaded here
        return cluster.predictor(model or default_model_path(), device)
    return LocalPredictor.load(model or default_model_path(), device)


# The model's process and its decoding workers: below the thumbnail workers (decoding.NICE, what is on screen).
# Not SCHED_IDLE, which measured a little better for the keys: there a busy shared machine would starve p.
MODEL_NICE = 19


def model_process(model: str | None = None, device: str | None = None, previous=None):
    """``p``'s model in a process of its own (``model.process.ModelProcess``) at MODEL_NICE: ``previous``
    again when it serves the same model and device and is still alive (its model is
    loaded), else a new one (``previous`` is closed). Raises TaggerError with the child's one line."""
    from tui_tagger.model.locate import default_model_path
    from tui_tagger.model.process import ModelProcess

    key = (str(model or default_model_path()), device or "auto")
    if previous is not None:
        if previous.key == key and previous.alive():
            return previous
        if not previous.busy:  # (a cancelled run still stopping keeps its process until it has stopped)
            previous.close()
    return ModelProcess(key[0], key[1], nice=MODEL_NICE)


class ProcessEmbed:
    """``embed(refs)`` for ``learn.features.compute``: the CNN features from a model process (``model_process``)
    started at the first call (a folder whose features are all cached starts none). ``close()`` ends it."""

    def __init__(self, model: str | None = None, workers: int | None = None):
        self.model, self.workers, self.process = model, workers, None

    def __call__(self, refs: list[str]):
        if self.process is None:
            self.process = model_process(self.model)
        return self.process.embed_paths(refs, workers=self.workers)

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None


def model_name(predictor) -> str:
    info = getattr(predictor, "info", None)
    return str(getattr(info, "name", None) or type(predictor).__name__)


def run_batches(predictor, paths: list[str], on_batch: Callable[[list[Result], int], None],
                cancelled: Callable[[], bool], batch: int = 32, workers: int | None = None) -> int:
    """Predict ``paths``; ``on_batch(results, done_so_far)`` about every BATCH_S. Stops early (returns
    what was done) when ``cancelled()``; the results already handed over stay."""
    pending: list[Result] = []
    done, last = 0, time.monotonic()
    indexed = getattr(predictor, "predict_indexed", None)  # a cluster's: in the order batches complete
    results: Iterable = indexed(paths, batch, workers) if indexed is not None else \
        predictor.predict_paths(paths, batch=batch, workers=workers)
    try:
        for result in results:
            if indexed is not None:
                result = result[1]
            if cancelled():
                break
            pending.append(result)
            done += 1
            now = time.monotonic()
            if now - last >= BATCH_S:
                on_batch(pending, done)
                pending, last = [], now
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stops the decoding workers of a cancelled run
    if pending:
        on_batch(pending, done)
    return done


def open_stream(predictor, batch: int = 32, workers: int | None = None):
    """Frames submitted one at a time (the followed folder): ``submit(ref, token)``, ``results(wait)``, ``full()``,
    ``len()``, ``close()`` -- a cluster's ``RemoteStream``, ``model.stream.StreamPredictor`` for a local model
    (the model, preprocessing, heads and physics of ``p``), else ``PathsStream`` over ``predict_paths``."""
    if hasattr(predictor, "stream"):
        return predictor.stream(batch)
    if hasattr(predictor, "probabilities") and hasattr(predictor, "predict_arrays") and \
            "size" in (getattr(predictor, "preprocess", None) or {}):
        from tui_tagger.model.stream import StreamPredictor

        return StreamPredictor(predictor, batch, workers, in_flight=max(8, 2 * batch))
    return PathsStream(predictor, batch)


class PathsStream:
    """The stream interface over any ``Predictor``'s ``predict_paths`` (what is submitted is predicted, in
    batches, when ``results`` is called)."""

    def __init__(self, predictor, batch: int = 32):
        self.predictor, self.batch = predictor, max(1, batch)
        self.in_flight = 4 * self.batch
        self._queue: list = []

    def __len__(self) -> int:
        return len(self._queue)

    def full(self) -> bool:
        return len(self._queue) >= self.in_flight

    def submit(self, ref: str, token=None) -> None:
        self._queue.append((token, ref))

    def results(self, wait: float = 0.0) -> list:
        part, self._queue = self._queue[: self.batch], self._queue[self.batch:]
        if not part:
            return []
        results = list(self.predictor.predict_paths([ref for _, ref in part], batch=self.batch, workers=0))
        return [(token, result) for (token, _), result in zip(part, results)]

    def close(self) -> None:
        self._queue = []
