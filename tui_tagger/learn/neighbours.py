"""Near neighbours of labelled images: a correction of a few-label head where the folder holds series.

A real folder is mostly series: tens to thousands of frames of one sample, nearly alike. A label on one
frame of a series says the most about the others, and a linear head on a handful of labels barely moves for
it (its L2 pull to the model, ``heads.PRIOR_C``). ``near_correction`` adds to every image's p the labelled
images' errors (human label - head p), weighted by how near they are (a Gaussian of the distance in the
embedding) against a pull to the head: p' = p + sum_l w_l (y_l - p_l) / (PULL + sum_l w_l). The weight
falls off at ``NEAR`` of the folder's typical distance between two images (``typical_distance``, the unit
``learn.suggest`` spreads its picks by too), so near-duplicates of a labelled frame follow its label and the
rest of the folder keeps the head's p. A saved head (``train-head``, the TUI's) is the linear head alone.

Measured (``benchmarks/bench_fewlabel_real.py --series 6`` against ``--no-near``): on the real-dev frames as
series (each real frame six times: Poisson noise at another exposure, shifted), mean accuracy over 8 tags at
5 / 10 suggested labels 0.893 -> 0.922 / 0.938 -> 0.975, tags under 90 % at 10 labels 2 -> 0, cells where
suggested labels lose to random ones (k = 2-10) 13 -> 4; on real-dev itself (no two frames alike) and on a
synthetic GISAXS folder of independent frames unchanged. A graph over all images (correct-and-smooth) lost
0.05-0.08 on real-dev, where a frame's nearest neighbours are of other experiments.
"""

from __future__ import annotations

import numpy as np

# The bandwidth, as a share of the median distance between two images of the folder, and the head's weight
# against the labels near a frame (a labelled duplicate, w = 1, carries 80 % of its error). Chosen on the
# real-dev series and a synthetic GISAXS folder of independent frames (see the module doc): a wider kernel
# (0.25) or a stronger pull (0.5, 1) gained less on the series (0.25 and 1: 0.923 at 5 labels); 0.25 with
# 0.25 lost 0.002 and a tag at 2-10 labels on the synthetic folder, where no two frames are alike.
NEAR = 0.15
PULL = 0.25
_CHUNK = 4096  # rows per block: an 85k folder with 500 labels stays at a few MB


def typical_distance(Z: np.ndarray, rng: np.random.Generator | None = None) -> float:
    """The median distance between two images (a sample of 4000 pairs): the folder's unit of "alike", here
    and in ``learn.suggest``."""
    n = len(Z)
    if n < 2:
        return 1.0
    rng = rng if rng is not None else np.random.default_rng(0)
    a = rng.integers(0, n, size=min(4000, n * n))
    b = rng.integers(0, n, size=a.size)
    d = np.sqrt(((Z[a] - Z[b]) ** 2).sum(axis=1))
    return float(np.median(d[d > 0])) if (d > 0).any() else 1.0


def bandwidth(Z: np.ndarray) -> float:
    """The length scale of ``near_correction`` on these images."""
    return NEAR * typical_distance(Z)


def near_correction(p: np.ndarray, Z: np.ndarray, labelled: np.ndarray, y: np.ndarray, h: float) -> np.ndarray:
    """``p`` (the head's p of every row of ``Z``) with the errors of the rows ``labelled`` (human labels ``y``,
    1 or 0) carried to the rows near them (see the module doc); the labelled rows keep their p."""
    p = np.asarray(p, dtype=np.float64)
    labelled = np.asarray(labelled, dtype=np.intp)
    if not len(labelled) or h <= 0:
        return p.copy()
    Z = np.asarray(Z, dtype=np.float64)
    L = Z[labelled]
    err = np.asarray(y, dtype=np.float64) - p[labelled]
    ln = (L * L).sum(axis=1)
    out = p.copy()
    for s in range(0, len(Z), _CHUNK):
        q = Z[s:s + _CHUNK]
        d2 = np.maximum((q * q).sum(axis=1)[:, None] + ln[None, :] - 2 * q @ L.T, 0)
        w = np.exp(-d2 / (2 * h * h))
        out[s:s + _CHUNK] += (w @ err) / (PULL + w.sum(axis=1))
    out[labelled] = p[labelled]
    return np.clip(out, 0.0, 1.0)
