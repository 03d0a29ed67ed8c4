"""Outlier analysis of a folder: isolation-forest scores of the images' embedded features
(``learn.review.outlier_scores``), the most unusual listed, and the ROC of the scores against a tag over
the reviewed images (is the tag a rare, unusual-looking class?). The TUI's review (``r``) and its
analysis views' Outliers tab use it; numpy and scikit-learn only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def outlier_count(n: int) -> int:
    """How many outliers are listed: 2 % of the folder, at least 10, at most 200."""
    return min(200, max(10, n // 50))


@dataclass
class Outliers:
    """Outlier scores of the images with features (``scores[i]`` belongs to ``paths[i]``), the ones listed
    (``top``, most unusual first) and the ROC of the scores against the current tag (None without both
    classes among the reviewed images)."""

    paths: list[str]
    scores: np.ndarray
    top: list[int]
    labels: dict[str, bool]  # the reviewed images among ``paths``: path -> has the tag
    roc: dict | None
    problems: list[str]
    source: str = "physics"  # the features scored

    @property
    def source_label(self) -> str:
        from tui_tagger.learn.features import SOURCE_LABELS

        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def positives(self) -> int:
        return sum(self.labels.values())

    @property
    def negatives(self) -> int:
        return len(self.labels) - self.positives


def outlier_analysis(paths: list[str], Z, labels: dict[str, bool], problems=(), seed: int = 0,
                     source: str = "physics") -> Outliers:
    """``learn.review.outlier_scores`` of the embedded features ``Z`` (row i: ``paths[i]``) and the ROC of
    those scores against ``labels`` (path -> has the tag; the reviewed images)."""
    from tui_tagger.learn.review import outlier_scores, roc

    scores = outlier_scores(Z, seed)
    top = [int(i) for i in np.argsort(-scores, kind="stable")[: outlier_count(len(paths))]]
    known = [i for i, p in enumerate(paths) if p in labels]
    lab = {paths[i]: labels[paths[i]] for i in known}
    curve = roc(scores[known], np.array([lab[paths[i]] for i in known], dtype=bool)) if known else None
    return Outliers(list(paths), scores, top, lab, curve, list(problems), source)
