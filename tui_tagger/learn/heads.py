"""Few-label heads: standardise + PCA (fitted on every image's features, labelled or not) + logistic
regression on the labelled ones.

The embedding (scaler + PCA) is unsupervised, so it is fitted once per folder on all images and shared
by every tag; a head then trains in milliseconds from a few dozen labels. The head itself and its file
format (numpy only) are ``tui_tagger.model.headfile``; they are re-exported here for the learn code.
"""

from __future__ import annotations

import numpy as np

from tui_tagger.core.errors import TaggerError
from tui_tagger.model.headfile import (  # noqa: F401 - the head and its files, used through this module
    FORMAT, FORMAT_VERSION, Embedding, Head, HeadFileError, _sigmoid, head_path, load_model_heads,
    model_digest, model_heads_dirs, save_model_head,
)

MAX_COMPONENTS = 50
# inverse L2 strength of the logistic regression on the PCA scores; chosen on the synthetic learning
# curves (C = 1 beat 0.1 at 10-50 labels on every tag tried)
DEFAULT_C = 1.0


def fit_embedding(X: np.ndarray, n_components: int = MAX_COMPONENTS, seed: int = 0) -> Embedding:
    """Standardise + PCA with at most ``n_components`` (fewer than images and than features)."""
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise TaggerError("need features of at least 2 images to learn anything")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    # constant features carry nothing; a floor keeps near-constant ones from being blown up to noise
    scale = np.where(scale > 1e-6, scale, 1.0)
    Xs = (X - mean) / scale
    k = max(1, min(n_components, X.shape[0] - 1, X.shape[1]))
    pca = PCA(n_components=k, svd_solver="randomized" if X.shape[0] > 2000 else "full", random_state=seed)
    pca.fit(Xs)
    # one common unit, not whitening: the L2 prior then favours the strong directions, and the weak,
    # noisy ones are not blown up (whitening lost 10-20 points of AP in the synthetic learning curves)
    sdev = np.full(k, np.sqrt(max(float(pca.explained_variance_[0]), 1e-12)))
    # fold the PCA mean (zero up to rounding) into the scaler mean: one affine map at transform time
    return Embedding(mean + pca.mean_ * scale, scale, pca.components_.astype(np.float64), sdev)


def fit_scores(Z: np.ndarray, y: np.ndarray, C: float = DEFAULT_C) -> tuple[np.ndarray, float]:
    """(coef, intercept) of a class-balanced logistic regression on embedded features ``Z``.
    With one class only, a constant head: a smoothed prevalence and zero weights."""
    y = np.asarray(y, dtype=np.float64)
    pos = int((y > 0.5).sum())
    if pos == 0 or pos == len(y):
        p = (pos + 0.5) / (len(y) + 1.0)
        return np.zeros(Z.shape[1]), float(np.log(p / (1 - p)))
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
    lr.fit(Z, (y > 0.5).astype(int))
    return lr.coef_[0].astype(np.float64), float(lr.intercept_[0])


def train_head(tag: str, X_labelled: np.ndarray, y: np.ndarray, X_all: np.ndarray | None = None,
               embedding: Embedding | None = None, C: float = DEFAULT_C, info: dict | None = None) -> Head:
    """A head for ``tag`` from labelled features (y: 1 present, 0 absent). The embedding is fitted
    on ``X_all`` (every image, labelled or not) when given, else on the labelled features."""
    if embedding is None:
        embedding = fit_embedding(X_all if X_all is not None else X_labelled)
    coef, intercept = fit_scores(embedding.transform(X_labelled), y, C)
    y = np.asarray(y)
    meta = {"positives": int((y > 0.5).sum()), "negatives": int((y <= 0.5).sum()), **(info or {})}
    return Head(tag, embedding, coef, intercept, meta)
