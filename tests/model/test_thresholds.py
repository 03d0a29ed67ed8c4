"""Per-tag thresholds chosen on validation data (train and average store them; predict and the TUI show the
tags over them)."""

import numpy as np

from tui_tagger.model.metrics import F1_PLATEAU, best_thresholds


def _f1(t, p, thr):
    pred = p >= thr
    tp = (pred & (t > 0)).sum()
    return 2 * tp / max(pred.sum() + (t > 0).sum(), 1)


def test_a_wide_plateau_gives_its_middle_not_its_highest_ragged_point():
    # positives at 0.55-0.95, negatives at 0.05-0.45: every threshold in the gap separates them perfectly;
    # one positive at 0.30 makes the best single point sit at the low end of the gap
    rng = np.random.default_rng(0)
    pos, neg = rng.uniform(0.55, 0.95, 200), rng.uniform(0.05, 0.45, 200)
    p = np.concatenate([pos, neg, [0.30]])
    t = np.concatenate([np.ones(200), np.zeros(200), [1]])
    thr = best_thresholds(t[:, None], p[:, None], ["X"])["X"]
    assert 0.47 < thr < 0.53  # the gap's middle, not its edge (the lowest positive, 0.551), where F1 peaks
    best = max(_f1(t, p, c) for c in np.unique(p))
    assert _f1(t, p, thr) >= best - F1_PLATEAU


def test_a_sharp_optimum_is_kept():
    # the classes overlap except at one point: F1 falls off quickly on either side of it
    p = np.linspace(0.01, 0.99, 99)
    t = (p >= 0.8).astype(int)
    t[::7] = 1 - t[::7]  # some noise
    thr = best_thresholds(t[:, None], p[:, None], ["X"])["X"]
    best = max(_f1(t, p, c) for c in p)
    assert _f1(t, p, thr) >= best - F1_PLATEAU
    assert abs(thr - 0.8) < 0.1


def test_too_few_positives_give_the_default():
    p = np.linspace(0, 1, 20)[:, None]
    t = np.zeros((20, 1))
    t[3] = 1
    assert best_thresholds(t, p, ["X"], default=0.5) == {"X": 0.5}
