"""A few-label head that follows a person's corrections (no UI, no torch: the CNN features come from the
model's process, ``features.compute(embed=)``, and the model's own head from its file, ``heads.model_prior``).

The folder's features are computed once (``learn.features``, cached on disk, so a second session starts
at once); the embedding (PCA) is fitted once on every image. Each retrain is then a class-balanced
logistic regression on the labelled images' embedded features: well under a second for thousands of
labels, so it can run after every few corrections. On CNN features, a head for a tag the model has starts
from the model's own p (``heads.tag_embedding``): the first corrections adjust it, and it answers from the
first label; a head for a tag the model does not have can be saved with the model (``save_with_model``), so
that predict gives it from then on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tui_tagger.learn.heads import Embedding, Head, fit_embedding, fit_scores, tag_embedding
from tui_tagger.learn.neighbours import bandwidth, near_correction

MIN_EACH = 2  # positives and negatives needed before a head from scratch says anything (one from the model: 1 label)


def prepare(model: str | None = None) -> str:
    """Import what the features and a fit need, ahead of the first correction; returns the feature source.
    An import holds the GIL (scipy's and sklearn's: 0.1-0.3 s at a time), so the UI calls this while the user
    rests rather than on the first correction, when keys follow. Never torch: the app's process has no model
    (the CNN features come from a model process, the model's head from its file)."""
    from tui_tagger.learn.features import default_source

    source = default_source(model)
    import scipy.optimize  # noqa: F401 - the fit from the model's head
    import sklearn.cluster  # noqa: F401 - n's first picks (learn.suggest's group medoids)
    import sklearn.linear_model  # noqa: F401 - the fit from scratch

    import tui_tagger.learn.suggest  # noqa: F401 - n's pick

    if source in ("cnn", "combined"):
        import tui_tagger.model.peek  # noqa: F401 - the model's head, read from its file
    return source


class LiveHead:
    def __init__(self, source: str = "physics", model: str | None = None):
        self.source = source
        self.model = model
        self.last: Head | None = None  # the head of the last successful fit
        self._last_labels: tuple[list[int], np.ndarray] = ([], np.zeros(0))  # its rows and labels
        self.paths: list[str] = []
        self.X: np.ndarray | None = None
        self.embedding: Embedding | None = None
        self._Z: np.ndarray | None = None
        self._h: float | None = None  # the folder's bandwidth for near_correction (once per folder)
        self._row: dict[str, int] = {}
        self._cnn_embedding: Embedding | None = None  # combined features: the CNN block's, for a saved head
        self._spaces: dict[str, tuple] = {}  # per tag: (embedding, Z, prior) when the model has the tag
        self.problems: list[str] = []

    @property
    def ready(self) -> bool:
        return self._Z is not None

    def load(self, items: list[tuple[str, int, int]], progress: Callable[[int, int], None] | None = None,
             cache_dir=None, workers: int | None = None, cluster=None, embed=None) -> None:
        """Features of ``items`` = [(ref, size, mtime_ns)]; unreadable images are left out (``problems``).
        ``cluster`` (``model.cluster.Cluster``): the ones not in the cache are computed on its workers;
        ``embed``: see ``features.compute``."""
        from tui_tagger.learn import features

        fs = features.compute(items, self.source, model=self.model, workers=workers, progress=progress,
                              cache_dir=cache_dir, cluster=cluster, embed=embed)
        self.paths, self.X, self.problems = fs.refs, fs.X, fs.problems
        self._row = {p: i for i, p in enumerate(self.paths)}
        self._spaces = {}
        self._cnn_embedding = None
        if len(self.paths) >= 2:
            self.embedding = fit_embedding(self.X, weights=features.column_weights(self.source, self.X))
            self._Z = self.embedding.transform(self.X)
        self._h = None

    def space(self, tag: str | None) -> tuple[Embedding, np.ndarray, tuple | None]:
        """(embedding, embedded features, the head a fit starts from) for ``tag``: the model's own head on
        CNN features when the model has the tag (``heads.tag_embedding``), else the shared embedding."""
        if tag and self.source in ("cnn", "combined"):
            if tag not in self._spaces:
                emb, prior = tag_embedding(self.embedding, tag, self.source, self.model)
                self._spaces[tag] = (emb, emb.transform(self.X) if prior is not None else self._Z, prior)
            return self._spaces[tag]
        return self.embedding, self._Z, None

    def fit(self, labels: dict[str, bool], tag: str | None = None) -> dict[str, float] | None:
        """p(tag) for every image with features, from ``labels`` (path -> present); None while there are
        fewer than ``MIN_EACH`` labelled positives or negatives, unless the head starts from the model
        (then from the first label)."""
        if self._Z is None:
            return None
        emb, Z, prior = self.space(tag)
        idx = [(self._row[p], v) for p, v in labels.items() if p in self._row]
        y = np.array([v for _, v in idx], dtype=np.float64)
        if prior is None and (int(y.sum()) < MIN_EACH or int(len(y) - y.sum()) < MIN_EACH):
            return None
        if prior is not None and not len(y):
            return None  # the model's own p: nothing learnt yet
        rows = [i for i, _ in idx]
        coef, intercept = fit_scores(Z[rows], y, prior=prior)
        self._last_labels = (rows, y)
        self.last = Head(tag or "", emb, coef, intercept,
                         {"positives": int(y.sum()), "negatives": int(len(y) - y.sum()), "trained_in": "tui",
                          **({"from_model": True} if prior is not None else {})})
        z = np.clip(Z @ coef + intercept, -30, 30)
        if self._h is None:
            self._h = bandwidth(self._Z)
        p = near_correction(1.0 / (1.0 + np.exp(-z)), self._Z, rows, y, self._h)
        return {path: round(float(v), 4) for path, v in zip(self.paths, p)}

    def suggest(self, labels: dict[str, bool], tag: str | None = None, exclude=()) -> str | None:
        """The image to label next for ``tag`` (``learn.suggest``, one pick, as measured in
        ``benchmarks/bench_fewlabel_real.py``: class-balanced uncertainty from the model's p where the model has
        the tag, group medoids until a head from scratch has 2+ and 2- labels), among the images with features
        that are neither labelled (``labels``: path -> present) nor in ``exclude``; None when none is left."""
        if self._Z is None:
            return None
        from tui_tagger.learn.suggest import suggest

        _, Z, prior = self.space(tag)
        y = np.full(len(self.paths), np.nan)
        for path, present in labels.items():
            i = self._row.get(path)
            if i is not None:
                y[i] = 1.0 if present else 0.0
        skip = np.array([i for i, path in enumerate(self.paths) if path in exclude], dtype=np.intp)
        # the seed follows the labels: the same labels give the same pick
        picks = suggest(Z, y, 1, prior=prior, exclude=skip, seed=len(labels))
        return self.paths[picks[0][0]] if picks else None

    def model_path(self) -> str:
        from tui_tagger.model.locate import default_model_path

        return str(self.model or default_model_path())

    def save_with_model(self, folder: str | None = None):
        """Save the last fitted head with the model (on combined features: learnt again on the CNN's block)
        unless the model has the tag itself (a head from a few corrections must not silently replace the
        model's own p; train-head does that on request). Returns the path, or None when not saved."""
        if self.last is None or self.source not in ("cnn", "combined") or not self.last.tag:
            return None
        from tui_tagger.learn.heads import model_prior, save_model_head

        if self.last.info.get("from_model") or model_prior(self.last.tag, self.model) is not None:
            return None  # the model has the tag (its head read from the file: no torch here)
        head = self.last if self.source == "cnn" else self._cnn_head()
        if folder:
            head.info["folder"] = str(folder)
        return save_model_head(head, self.model_path())

    def _cnn_head(self) -> Head:
        """The last head's labels learnt again on the CNN's block of the combined features alone: predict
        has the model's features only."""
        from tui_tagger.learn.physics import DIM

        X = self.X[:, :self.X.shape[1] - DIM]
        rows, y = self._last_labels
        if self._cnn_embedding is None:  # once per folder, as the shared one
            self._cnn_embedding = fit_embedding(X)
        emb = self._cnn_embedding
        coef, intercept = fit_scores(emb.transform(X[rows]), y)
        return Head(self.last.tag, emb, coef, intercept, dict(self.last.info))

    def review(self, labels: dict[str, bool], min_confidence: float = 0.8, outliers: int = 30,
               seed: int = 0) -> tuple[list[tuple[str, bool, float]], list[tuple[str, float]]]:
        """(questionable labels as (path, human label, cross-validated p), most contradictory first;
        the ``outliers`` most unusual images as (path, score)) -- ``learn.review`` on these features."""
        from tui_tagger.learn.review import outlier_scores, questionable

        if self._Z is None:
            return [], []
        lab = np.full(len(self.paths), np.nan)
        for path, present in labels.items():
            i = self._row.get(path)
            if i is not None:
                lab[i] = 1.0 if present else 0.0
        found = questionable(self._Z, {"tag": lab}, min_confidence, seed)
        scores = outlier_scores(self._Z, seed)
        top = np.argsort(-scores, kind="stable")[:outliers]
        return ([(self.paths[i], human, p) for i, _, human, p in found],
                [(self.paths[i], float(scores[i])) for i in top])
