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


def load_predictor(model: str | None = None, device: str = "auto"):
    """``model`` (default: ``$TUI_TAGGER_MODEL``, the user's ``model.pt``, the shipped one) on ``device``
    (auto: the best there is). Raises TaggerError naming where a model was looked for."""
    try:
        from tui_tagger.model.locate import default_model_path
        from tui_tagger.model.infer import LocalPredictor
    except ImportError as err:  # torch missing: say what to install, not a traceback
        raise TaggerError(f"prediction needs torch ({err}); install it with pip install torch") from None
    return LocalPredictor.load(model or default_model_path(), device)


def model_name(predictor) -> str:
    info = getattr(predictor, "info", None)
    return str(getattr(info, "name", None) or type(predictor).__name__)


def run_batches(predictor, paths: list[str], on_batch: Callable[[list[Result], int], None],
                cancelled: Callable[[], bool], batch: int = 32, workers: int | None = None) -> int:
    """Predict ``paths``; ``on_batch(results, done_so_far)`` about every BATCH_S. Stops early (returns
    what was done) when ``cancelled()``; the results already handed over stay."""
    pending: list[Result] = []
    done, last = 0, time.monotonic()
    results: Iterable[Result] = predictor.predict_paths(paths, batch=batch, workers=workers)
    try:
        for result in results:
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
