"""Questionable labels and outlier images.

Questionable: a head trained on the *other* folds (cross-validation) gives p for each labelled image,
so a label never vouches for itself; a confident p that contradicts the person's label is listed,
most contradictory first. Outliers: an isolation forest on the embedded features (learn/outliers.py); the
score is higher for images that are easier to isolate (more unusual).
"""

from __future__ import annotations

import numpy as np

from tui_tagger.learn.heads import _sigmoid, fit_scores

MIN_PER_CLASS = 3  # below this many positives or negatives a tag cannot be cross-validated


def cross_val_p(Z: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0, C: float | None = None,
                prior=None) -> np.ndarray | None:
    """Out-of-fold p for every row of ``Z`` (labels ``y`` in {0, 1}), or None with too few of a class.
    ``C`` and ``prior`` as ``heads.fit_scores`` takes them: each fold fits the head that is built."""
    from sklearn.model_selection import StratifiedKFold

    y = (np.asarray(y) > 0.5).astype(int)
    smallest = int(min(y.sum(), len(y) - y.sum()))
    if smallest < MIN_PER_CLASS:
        return None
    p = np.empty(len(y))
    skf = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
    for train, test in skf.split(Z, y):
        coef, b = fit_scores(Z[train], y[train], C, prior=prior)
        p[test] = _sigmoid(Z[test] @ coef + b)
    return p


def questionable(Z: np.ndarray, labels: dict[str, np.ndarray], min_confidence: float = 0.8,
                 seed: int = 0) -> list[tuple[int, str, bool, float]]:
    """(row, tag, human label, cross-validated p) where p contradicts the label with at least
    ``min_confidence``, the strongest contradictions first."""
    out = []
    for tag, lab in labels.items():
        known = np.flatnonzero(~np.isnan(lab))
        p = cross_val_p(Z[known], lab[known], seed=seed)
        if p is None:
            continue
        human = lab[known] > 0.5
        wrong = np.where(human, p <= 1 - min_confidence, p >= min_confidence)
        out += [(int(known[i]), tag, bool(human[i]), float(p[i])) for i in np.flatnonzero(wrong)]
    out.sort(key=lambda t: -abs(float(t[2]) - t[3]))
    return out


OUTLIER_VARIANCE = 0.9  # the leading columns of Z that hold this share of its variance


def outlier_scores(Z: np.ndarray, seed: int = 0) -> np.ndarray:
    """Isolation-forest anomaly score per row (higher = more unusual; about 0.3-0.8), on the leading
    columns of ``Z`` (PCA scores, strongest first) that hold 90 % of the variance: a forest splits on a
    random column each time, and dozens of near-empty noise columns would hide an image that stands far
    out along one strong direction."""
    from sklearn.ensemble import IsolationForest

    Z = np.asarray(Z, dtype=np.float64)
    var = Z.var(axis=0)
    if Z.ndim == 2 and Z.shape[1] > 2 and var.sum() > 0:
        share = np.cumsum(np.sort(var)[::-1]) / var.sum()
        keep = np.argsort(-var, kind="stable")[: max(2, int(np.searchsorted(share, OUTLIER_VARIANCE)) + 1)]
        Z = Z[:, np.sort(keep)]
    forest = IsolationForest(n_estimators=200, max_samples=min(256, len(Z)), random_state=seed)
    forest.fit(Z)
    return -forest.score_samples(Z)


def roc(scores: np.ndarray, truth: np.ndarray) -> dict | None:
    """ROC curve and AUC of ``scores`` against boolean ``truth``; None without both classes."""
    from sklearn.metrics import roc_auc_score, roc_curve

    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any():
        return None
    fpr, tpr, _ = roc_curve(truth, scores)
    return {"auc": float(roc_auc_score(truth, scores)),
            "fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}
