"""Suggestions for a head that starts from the model's p: a frame unlike every labelled one is asked about
before an equally sure typical one, and the picks bracket the head's boundary from both sides instead of
chasing it to one side (see ``learn/suggest.py``)."""

from __future__ import annotations

import numpy as np

from tui_tagger.learn.curve import learning_curve
from tui_tagger.learn.suggest import suggest


def _folder(seed: int, shift: float = 0.0, n: int = 300, d: int = 6):
    """PCA-like scores plus the model's logit as the last column (the prior head reads it alone); the
    truth is the model's logit moved by ``shift``: a model off by a bias on this folder."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d + 1))
    Z[:, -1] = 3 * Z[:, 0] + 0.5 * rng.normal(size=n) - 2.0
    truth = (Z[:, -1] - shift > 0).astype(float)
    return Z, truth, (np.r_[np.zeros(d), 1.0], 0.0)


def test_a_frame_unlike_the_others_is_asked_before_an_equally_sure_typical_one():
    Z, _, prior = _folder(0)
    Z[:2, :-1] = 0.0
    Z[0, 3] = 8.0  # far from every other frame, in a direction the model's logit ignores
    Z[:2, -1] = -3.0  # the model is as sure of both that the tag is absent (p 0.05)
    picks = [i for i, _ in suggest(Z, np.full(len(Z), np.nan), len(Z), prior=prior, reserve=0.0)]
    assert picks.index(0) < picks.index(1)


def test_ten_suggested_labels_hold_both_classes_where_the_tag_is_on_a_minority_of_frames():
    # one class only pushes the head's boundary one way: the picks ask where the fewer labels' class is
    # called, so the labels find the rarer class as often as the common one (then 2 of 10 were present)
    for shift in (1.0, -1.0):
        for seed in range(4):
            Z, truth, prior = _folder(seed, shift)
            assert 0.1 < truth.mean() < 0.45
            labels = np.full(len(Z), np.nan)
            for _ in range(10):  # one at a time, as in the TUI
                (i, _), = suggest(Z, labels, 1, prior=prior)
                labels[i] = truth[i]
            present = int(np.nansum(labels))
            assert 4 <= present <= 6, (shift, seed, present)


def test_following_suggestions_beats_random_labels_where_the_model_is_off_by_a_bias():
    for shift in (1.0, -1.0):
        Z, truth, prior = _folder(3, shift)
        model = np.mean((Z[:, -1] > 0) == (truth > 0.5))
        points = learning_curve(Z, truth, step=1, max_labels=10, prior=prior, repeats=20)
        suggested = np.array([p["accuracy"] for p in points])
        rand = np.array([p["random_accuracy"] for p in points])
        assert suggested.mean() > rand.mean(), (shift, suggested, rand)
        assert suggested[-1] > model + 0.03, (shift, suggested, model)
