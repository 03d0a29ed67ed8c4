"""``p``: the model over the marked images, else the folder (a mixin of TaggerApp). The worker loads the
predictor and runs ``ui.predict.run_batches``, posting ``PredictStarted``, ``PredictionsArrived`` (a batch
about every quarter second) and ``PredictFinished``; the rows re-sort where they belong as their p arrive.
``p`` again or Escape cancels (the p that arrived stay). ``p`` on the folder while its rows are still being
listed (a big folder behind its first screen, a cold scan) waits for them: the whole folder, not the first
few hundred rows listed so far.
"""

from __future__ import annotations

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui import decoding, predict
from tui_tagger.ui.cluster_status import where_of
from tui_tagger.ui.messages import ClusterReady, PredictFinished, PredictionsArrived, PredictStarted


def thresholds_of(predictor) -> dict[str, float]:
    """The model's per-tag thresholds (checkpoint info) for the Performance view; {} when it has none."""
    info = getattr(predictor, "info", None)
    try:
        return {str(k): float(v) for k, v in (getattr(info, "thresholds", None) or {}).items()}
    except (TypeError, ValueError):
        return {}


class PredictionMixin:
    _predict_waiting = False  # p pressed while the folder's rows were still being listed: runs once they are

    def rows_incomplete(self) -> bool:
        """The folder's rows are still coming: loading behind the first screen, or a cold scan's walk."""
        return bool(self.loading) or (self.scanning and not self.verifying)

    def rows_complete(self) -> None:
        """Every row is listed (``ui/scan.py``): a ``p`` that waited for them runs now."""
        if self._predict_waiting and not self.rows_incomplete():
            self._predict_waiting = False
            self.action_predict()

    def make_predictor(self, model: str | None, device: str | None, own_process: bool = False, keep: bool = True):
        """The predictor of ``p`` (and of the followed frames): on the cluster when the app has one, else
        ``model`` on ``device``, else the app's default; ``own_process``: the model in a child process, so
        that it never takes the UI's GIL, kept for the next ``p`` (``keep``) or the caller's to close. Called
        in worker threads (loads torch, connects)."""
        if self.cluster is not None:
            return predict.load_predictor(model, device or "auto", cluster=self.cluster)
        explicit = model or device not in (None, "auto")
        if not explicit and self.predictor_factory is not predict.load_predictor:
            return self.predictor_factory()  # the predictor the app was given (an embedding program, a test)
        if own_process and not keep:
            return predict.model_process(model, device)
        if own_process:
            self.model_process = predict.model_process(model, device, getattr(self, "model_process", None))
            return self.model_process
        return predict.load_predictor(model, device or "auto")

    def close_model_process(self) -> None:
        process, self.model_process = getattr(self, "model_process", None), None
        if process is not None and hasattr(process, "close"):
            process.close()

    def action_predict(self) -> None:
        """Run the model over the marked images (else the whole folder); ``p`` again cancels."""
        if self.predicting is not None:
            self.action_cancel()
            return
        marked = self.pos.marked | self.neg.marked
        if self._predict_waiting:
            self._predict_waiting = False
            self.notify("Prediction cancelled (it was waiting for the folder's list).")
            return
        if not marked and self.rows_incomplete():
            self._predict_waiting = True
            self.notify("p: the model runs over the whole folder once all its images are listed (p again: not).")
            return
        paths = [r.path for r in self.session.rows if r.path in marked] if marked else \
            [r.path for r in self.session.rows if not r.error]
        if not paths:
            self.notify("Nothing to predict.")
            return
        self.predicting = (0, len(paths))
        opts = self.predict_options or {}
        self.predict(paths, self.model_file(), opts.get("device"), opts.get("batch") or 32, opts.get("workers"))

    def action_cancel(self) -> None:
        if self.predicting is None:
            self.cancel_training()
            return
        self.workers.cancel_group(self, "predict")
        done, total = self.predicting
        self.predicting = None
        self.notify(f"Prediction cancelled after {done} of {total} images (their p stays).")

    @work(thread=True, exclusive=True, group="predict", description="predict")  # (not a repr of every path)
    def predict(self, paths: list[str], model: str | None, device: str | None, batch: int,
                workers: int | None) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        decoding.yield_to_ui()  # the model computes at a lower priority than the keys (its threads too)
        try:
            predictor = self.make_predictor(model, device, own_process=True)
            name = predict.model_name(predictor)
            where = str(getattr(predictor, "device", "?"))
            if self.cluster is not None:
                where = where_of(self.cluster)
                self.post_message(ClusterReady(where))
            self.post_message(PredictStarted(where, thresholds_of(predictor)))

            def on_batch(results, done):
                if not worker.is_cancelled:
                    self.post_message(PredictionsArrived(list(results), done, name))

            done = predict.run_batches(predictor, paths, on_batch, lambda: worker.is_cancelled,
                                       batch=batch, workers=workers)
        except TaggerError as err:
            if not worker.is_cancelled:  # (a cancelled run's end is not the next run's)
                self.post_message(PredictFinished(None, str(err)))
            return
        except Exception as err:  # never a traceback on screen
            if not worker.is_cancelled:
                self.post_message(PredictFinished(None, f"prediction failed: {type(err).__name__}: {err}"))
            return
        if not worker.is_cancelled:
            self.post_message(PredictFinished(done, None))

    def on_predict_started(self, msg: PredictStarted) -> None:
        self.model_thresholds = msg.thresholds  # the Performance view's precision/recall
        self.predict_device = msg.device

    def on_predictions_arrived(self, msg: PredictionsArrived) -> None:
        if self.predicting is None:
            return  # cancelled meanwhile
        self.predicting = (msg.done, self.predicting[1])
        self.apply_predictions(msg.results, msg.model)

    def on_predict_finished(self, msg: PredictFinished) -> None:
        self.predicting = None
        if msg.error:
            self.notify(msg.error, severity="error", timeout=12)
        else:
            self.notify(f"Predicted {msg.done} images on {self.predict_device}.")
