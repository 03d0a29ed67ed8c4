"""Learning curves: simulate a person labelling ``step`` images at a time, following the suggestions
or picking at random, on a folder whose labels are all known; score the head on the images not yet
labelled (accuracy at p = 0.5, average precision). The head's p is corrected near the labelled images
(``neighbours.near_correction``), as the TUI's live head does."""

from __future__ import annotations

import numpy as np

from tui_tagger.learn.heads import _sigmoid, fit_scores
from tui_tagger.learn.neighbours import bandwidth, near_correction
from tui_tagger.learn.suggest import suggest

RANDOM_REPEATS = 5  # random choice is noisy: its figures are the mean over this many orders


def _score(Z: np.ndarray, truth: np.ndarray, labelled: np.ndarray, C: float | None, prior=None,
           near: tuple[np.ndarray, float] | None = None) -> tuple[float, float]:
    """(accuracy, AP) on the unlabelled images of a head fitted on the labelled ones (from ``prior``);
    ``near`` (the images' features without the model's logit, bandwidth): the p corrected near the labels."""
    from sklearn.metrics import average_precision_score

    rest = np.ones(len(Z), dtype=bool)
    rest[labelled] = False
    if not rest.any():
        return float("nan"), float("nan")
    if len(labelled) or prior is not None:
        coef, b = fit_scores(Z[labelled], truth[labelled], C, prior=prior)
    else:  # nothing known yet: a constant guess of "absent"
        coef, b = np.zeros(Z.shape[1]), -1.0
    p = _sigmoid(Z @ coef + b)
    if near is not None and len(labelled):
        p = near_correction(p, near[0], labelled, truth[labelled], near[1])
    p = p[rest]
    t = truth[rest] > 0.5
    acc = float(np.mean((p >= 0.5) == t))
    ap = float(average_precision_score(t, p)) if t.any() else float("nan")
    return acc, ap


def learning_curve(Z: np.ndarray, truth: np.ndarray, step: int = 5, max_labels: int = 50, seed: int = 0,
                   C: float | None = None, repeats: int = RANDOM_REPEATS, prior=None, near: bool = True) -> list[dict]:
    """Points {"labels", "accuracy", "ap", "random_accuracy", "random_ap"} for 0 < labels <= max_labels.
    ``prior``: the head every fit starts from (``heads.tag_embedding``; ``Z`` is then that embedding's, its
    last column the model's logit). ``near``: correct the head's p near the labelled images (see above)."""
    Z = np.asarray(Z, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    n = len(Z)
    max_labels = min(max_labels, n - 1)
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(n) for _ in range(repeats)]
    labels = np.full(n, np.nan)
    base = Z[:, :-1] if prior is not None else Z  # alike in the folder's features, not in the model's logit
    near_ = (base, bandwidth(base)) if near else None
    points = []
    for count in range(step, max_labels + 1, step):
        missing = count - int((~np.isnan(labels)).sum())
        for i, _ in suggest(Z, labels, missing, seed=seed, prior=prior):
            labels[i] = truth[i]
        acc, ap = _score(Z, truth, np.flatnonzero(~np.isnan(labels)), C, prior, near_)
        rand = np.array([_score(Z, truth, order[:count], C, prior, near_) for order in orders])
        points.append({"labels": count, "accuracy": acc, "ap": ap,
                       "random_accuracy": float(np.nanmean(rand[:, 0])),
                       "random_ap": float(np.nanmean(rand[:, 1])) if not np.isnan(rand[:, 1]).all() else float("nan")})
    return points
