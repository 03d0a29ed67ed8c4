"""The live head's next image to label (the TUI's n): learn.suggest's pick among the images with features,
never a labelled or excluded one."""

from __future__ import annotations

import numpy as np

from tui_tagger.learn.heads import fit_embedding
from tui_tagger.learn.live import LiveHead
from tui_tagger.learn.suggest import suggest


def _head(n: int = 120, d: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    truth = X[:, 0] + 0.5 * X[:, 1] > 0.7
    head = LiveHead("physics")
    head.paths, head.X = [f"f{i:03d}" for i in range(n)], X
    head._row = {p: i for i, p in enumerate(head.paths)}
    head.embedding = fit_embedding(X)
    head._Z = head.embedding.transform(X)
    return head, truth


def test_the_next_image_is_suggests_pick_among_the_open_ones():
    head, truth = _head()
    pos, neg = np.flatnonzero(truth)[:3], np.flatnonzero(~truth)[:3]
    labels = {head.paths[i]: bool(truth[i]) for i in [*pos, *neg]}
    y = np.full(len(head.paths), np.nan)
    for i in [*pos, *neg]:
        y[i] = float(truth[i])
    shown = set(head.paths[10:40])
    got = head.suggest(labels, None, exclude=shown)
    assert got is not None and got not in labels and got not in shown
    # the pick benchmarks/bench_fewlabel_real.py measures: one at a time from learn.suggest
    (i, _), = suggest(head._Z, y, 1, exclude=np.arange(10, 40), seed=len(labels))
    assert got == head.paths[i]
    # the cold start too (no label yet): a representative frame, not one excluded
    first = head.suggest({}, None, exclude=shown)
    assert first is not None and first not in shown


def test_nothing_left_to_label_gives_none():
    head, truth = _head(n=20)
    labels = {p: bool(t) for p, t in zip(head.paths[:10], truth[:10])}
    assert head.suggest(labels, None, exclude=set(head.paths[10:])) is None
    assert LiveHead("physics").suggest({}, None) is None  # no features yet
