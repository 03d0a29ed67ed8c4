"""Suggestions: uncertain first, spread out (no near-duplicate runs), rare positives surface."""

from __future__ import annotations

import numpy as np

from tui_tagger.learn.suggest import suggest


def test_uncertain_images_come_first():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 5))
    p = 1 / (1 + np.exp(-4 * Z[:, 0]))
    labels = np.full(len(Z), np.nan)
    picks = suggest(Z, labels, 5, p=p, reserve=0.0)
    chosen = [i for i, _ in picks]
    assert len(chosen) == 5
    # the picks sit near the boundary: far more uncertain than a typical image
    assert np.mean(np.abs(p[chosen] - 0.5)) < 0.1 < np.mean(np.abs(p - 0.5))
    scores = [s for _, s in picks]
    assert scores == sorted(scores, reverse=True)


def test_uncertainty_from_a_head_trained_on_the_labels():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(500, 4))
    truth = (Z[:, 0] > 0).astype(float)
    labels = np.full(len(Z), np.nan)
    far = np.argsort(-np.abs(Z[:, 0]))[:30]  # easy labels far from the boundary
    labels[far] = truth[far]
    chosen = [i for i, _ in suggest(Z, labels, 6, reserve=0.0)]
    assert not set(chosen) & set(far)
    assert np.median(np.abs(Z[chosen, 0])) < np.median(np.abs(Z[:, 0]))


def test_near_duplicate_frames_are_not_suggested_together():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(200, 6))
    run = base[0] + 1e-3 * rng.normal(size=(30, 6))  # 30 near-identical frames, all maximally uncertain
    Z = np.concatenate([run, base])
    p = np.concatenate([np.full(30, 0.5), np.clip(0.5 + 0.4 * rng.random(200), 0, 1)])
    picks = [i for i, _ in suggest(Z, np.full(len(Z), np.nan), 10, p=p, reserve=0.0)]
    assert sum(i < 30 for i in picks) == 1


def test_rare_positives_surface_within_the_budget():
    rng = np.random.default_rng(3)
    n = 20000
    Z = rng.normal(size=(n, 8))
    rare = rng.choice(n, 6, replace=False)
    Z[rare, 0] += 6.0  # 6 positives in 20k, all off in one direction
    truth = np.zeros(n)
    truth[rare] = 1
    labels = np.full(n, np.nan)
    labels[rare[:2]] = 1  # two found so far ...
    neg = rng.choice(np.setdiff1d(np.arange(n), rare), 200, replace=False)
    labels[neg] = 0  # ... among 200 negatives
    picks = [i for i, _ in suggest(Z, labels, 10)]
    assert set(picks) & set(rare[2:])


def test_cold_start_gives_distinct_unlabelled_images_spread_over_groups():
    rng = np.random.default_rng(4)
    centres = rng.normal(scale=10, size=(5, 3))
    Z = np.concatenate([c + rng.normal(size=(100, 3)) for c in centres])
    picks = [i for i, _ in suggest(Z, np.full(len(Z), np.nan), 5)]
    assert len(set(picks)) == 5
    assert len({i // 100 for i in picks}) >= 4  # at least 4 of the 5 groups


def test_nothing_left_to_label_gives_nothing():
    Z = np.random.default_rng(5).normal(size=(10, 2))
    assert suggest(Z, np.zeros(10), 5) == []


def test_with_one_class_labelled_the_next_picks_cover_the_groups_no_label_reached():
    # the cold start: 20 negatives, all from one kind of frame; the next picks are one of each other kind,
    # not more of the kind already seen (that is how the first positives of a new tag turn up)
    rng = np.random.default_rng(6)
    centres = rng.normal(scale=10, size=(5, 4))
    Z = np.concatenate([c + rng.normal(size=(200, 4)) for c in centres])
    labels = np.full(len(Z), np.nan)
    labels[rng.choice(200, 20, replace=False)] = 0.0
    picks = [i for i, _ in suggest(Z, labels, 4)]
    assert len(picks) == 4 and all(np.isnan(labels[i]) for i in picks)
    assert {i // 200 for i in picks} == {1, 2, 3, 4}
