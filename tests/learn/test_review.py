"""Review: planted label errors and planted outliers come first."""

from __future__ import annotations

import numpy as np

from tui_tagger.learn.curve import learning_curve
from tui_tagger.learn.review import outlier_scores, questionable, roc


def test_planted_label_errors_come_first():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 6))
    truth = (Z[:, 0] > 0.3).astype(float)
    labels = truth.copy()
    # wrong labels on clear-cut images
    planted = [int(i) for i in np.argsort(-np.abs(Z[:, 0] - 0.3))[:5]]
    labels[planted] = 1 - labels[planted]
    labels[rng.choice(300, 40, replace=False)] = np.nan  # some images not reviewed
    labels[planted] = 1 - truth[planted]
    found = questionable(Z, {"Ring: Isotropic": labels}, min_confidence=0.8)
    assert {row for row, *_ in found[:5]} == set(planted)
    row, tag, human, p = found[0]
    assert tag == "Ring: Isotropic" and human == bool(labels[row]) and abs(float(human) - p) > 0.8


def test_tag_with_too_few_labels_is_skipped():
    Z = np.random.default_rng(1).normal(size=(50, 3))
    labels = np.zeros(50)
    labels[:2] = 1
    assert questionable(Z, {"rare": labels}) == []


def test_planted_outliers_come_first_and_roc_auc():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(500, 8))
    planted = [7, 99, 333]
    Z[planted] += rng.normal(scale=8, size=(3, 8))
    scores = outlier_scores(Z)
    assert set(np.argsort(-scores)[:3]) == set(planted)
    truth = np.zeros(500, bool)
    truth[planted] = True
    curve = roc(scores, truth)
    assert curve["auc"] > 0.99 and curve["fpr"][0] == 0 and curve["tpr"][-1] == 1
    assert roc(scores, np.zeros(500, bool)) is None


def test_learning_curve_points():
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(300, 5))
    truth = (Z[:, 0] + Z[:, 1] > 1.5).astype(float)
    points = learning_curve(Z, truth, step=10, max_labels=40, repeats=2)
    assert [p["labels"] for p in points] == [10, 20, 30, 40]
    assert set(points[0]) == {"labels", "accuracy", "ap", "random_accuracy", "random_ap"}
    assert points[-1]["accuracy"] > 0.85 and points[-1]["ap"] > 0.6
