"""Attribute relationships over a folder (no Textual, no torch): how often tags occur together, how they
correlate, and how well the model does on each tag where people have labelled the images.

Inputs are plain data so a worker thread can use a snapshot of the session:

- co-occurrence / correlation: one set of tag names per image (the session's current tags, unsaved
  corrections included);
- performance: per image ``(tags, predictions, reviewed)`` where ``tags`` maps name -> source (as
  ``Session.tags``), ``predictions`` maps name -> p, and ``reviewed`` says a person decided on the image's
  tags (only then is a missing tag a negative; a tag only the model added is no label, as in
  ``learn.folder``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass
class Relations:
    """Co-occurrence and correlation of the ``tags`` (most frequent first) over ``n`` images."""

    n: int
    tags: list[str]
    counts: np.ndarray  # (t,) images with each tag
    co: np.ndarray  # (t, t) images with both tags (the diagonal: counts)
    phi: np.ndarray  # (t, t) phi coefficient (Pearson r of the 0/1 vectors); NaN where a tag is constant

    def pairs(self, k: int | None = None) -> list[tuple[str, str, int, float]]:
        """(a, b, together, phi) for every pair of distinct tags, the strongest correlation (|phi|) first."""
        out = []
        for i in range(len(self.tags)):
            for j in range(i + 1, len(self.tags)):
                r = float(self.phi[i, j])
                if not math.isnan(r):
                    out.append((self.tags[i], self.tags[j], int(self.co[i, j]), r))
        out.sort(key=lambda t: (-abs(t[3]), -t[2], t[0], t[1]))
        return out[:k] if k is not None else out


def tag_matrix(tag_sets: Iterable[Iterable[str]], top: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(Y, tags): Y[i, j] True when image i has tags[j]; tags by frequency (then name), the ``top`` most."""
    sets = [set(s) for s in tag_sets]
    freq: dict[str, int] = {}
    for s in sets:
        for name in s:
            freq[name] = freq.get(name, 0) + 1
    tags = sorted(freq, key=lambda t: (-freq[t], t))
    if top is not None:
        tags = tags[:top]
    col = {t: j for j, t in enumerate(tags)}
    Y = np.zeros((len(sets), len(tags)), dtype=bool)
    for i, s in enumerate(sets):
        for name in s:
            j = col.get(name)
            if j is not None:
                Y[i, j] = True
    return Y, tags


def phi_matrix(Y: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns of a 0/1 matrix (the phi coefficient); NaN for a constant column."""
    Y = np.asarray(Y, dtype=np.float64)
    n = len(Y)
    if n == 0:
        return np.full((Y.shape[1], Y.shape[1]), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = np.corrcoef(Y, rowvar=False) if Y.shape[1] > 1 else np.ones((Y.shape[1], Y.shape[1]))
    r = np.atleast_2d(r)
    constant = Y.std(axis=0) == 0
    r[constant, :] = np.nan
    r[:, constant] = np.nan
    return np.clip(r, -1.0, 1.0)


def relations(tag_sets: Iterable[Iterable[str]], top: int | None = 12) -> Relations:
    """Co-occurrence counts and phi correlation of the ``top`` most frequent tags."""
    Y, tags = tag_matrix(tag_sets, top)
    Yf = Y.astype(np.int64)
    co = Yf.T @ Yf
    return Relations(len(Y), tags, Yf.sum(axis=0), co, phi_matrix(Y))


@dataclass
class TagScore:
    """The model on one tag, over the images that have both a prediction for it and a person's label."""

    tag: str
    n: int  # labelled images with a prediction
    support: int  # of them, positives
    ap: float | None  # average precision; None without both classes
    precision: float
    recall: float
    threshold: float

    @property
    def prevalence(self) -> float:
        return self.support / self.n if self.n else 0.0


def performance(rows: Iterable[tuple[Mapping[str, str | None], Mapping[str, float], bool]],
                thresholds: Mapping[str, float] | float | None = None, min_labels: int = 1) -> list[TagScore]:
    """Per-tag AP, precision and recall at the threshold (the model's per tag, else 0.5), worst first:
    lowest AP first; tags whose AP is undefined (one class only among the labels) after those, the
    lowest recall first."""
    from sklearn.metrics import average_precision_score, precision_score, recall_score

    truth: dict[str, list[int]] = {}
    probs: dict[str, list[float]] = {}
    for tags, preds, reviewed in rows:
        if not preds:
            continue
        for tag, p in preds.items():
            if p is None:
                continue
            source = tags.get(tag, "absent")
            if source == "absent":
                if not reviewed:
                    continue
                y = 0
            elif source == "model":
                continue  # the model's own tag is no label
            else:
                y = 1
            truth.setdefault(tag, []).append(y)
            probs.setdefault(tag, []).append(float(p))
    out = []
    for tag in truth:
        y = np.array(truth[tag], dtype=int)
        p = np.array(probs[tag], dtype=float)
        if len(y) < min_labels:
            continue
        if isinstance(thresholds, Mapping):
            thr = float(thresholds.get(tag, 0.5))
        else:
            thr = 0.5 if thresholds is None else float(thresholds)
        support = int(y.sum())
        ap = float(average_precision_score(y, p)) if 0 < support < len(y) else None
        guess = (p >= thr).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prec = float(precision_score(y, guess, zero_division=0))
            rec = float(recall_score(y, guess, zero_division=0))
        out.append(TagScore(tag, len(y), support, ap, prec, rec, thr))
    out.sort(key=lambda s: (s.ap is None, s.ap if s.ap is not None else s.recall, s.recall, s.tag))
    return out
