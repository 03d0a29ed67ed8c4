"""Attribute relationships: co-occurrence counts, phi correlation signs, per-tag performance worst first."""

from __future__ import annotations

import math

import numpy as np

from tui_tagger.learn.relations import performance, phi_matrix, relations


def _folder():
    # A and B always together, C never with A, D on everything (constant), E on a few unrelated images
    sets = []
    for i in range(40):
        s = {"D"}
        if i % 2 == 0:
            s |= {"A", "B"}
        else:
            s.add("C")
        if i % 5 == 0:
            s.add("E")
        sets.append(s)
    return sets


def test_cooccurring_tags_correlate_positively_and_exclusive_ones_negatively():
    rel = relations(_folder(), top=None)
    i = {t: k for k, t in enumerate(rel.tags)}
    assert rel.n == 40
    assert rel.tags[0] == "D"  # most frequent first
    assert rel.counts[i["A"]] == 20 and rel.co[i["A"], i["B"]] == 20 and rel.co[i["A"], i["C"]] == 0
    assert rel.phi[i["A"], i["B"]] > 0.99
    assert rel.phi[i["A"], i["C"]] < -0.99
    assert abs(rel.phi[i["A"], i["E"]]) < 0.2
    assert math.isnan(rel.phi[i["D"], i["A"]])  # a tag on every image says nothing
    pairs = rel.pairs()
    assert {pairs[0][0], pairs[0][1]} in ({"A", "B"}, {"A", "C"}, {"B", "C"})
    assert all("D" not in (a, b) for a, b, _, _ in pairs)


def test_phi_matches_pearson_and_top_limits_the_tags():
    rng = np.random.default_rng(0)
    Y = rng.random((50, 4)) < 0.4
    assert np.allclose(phi_matrix(Y), np.corrcoef(Y.astype(float), rowvar=False))
    rel = relations(_folder(), top=2)
    assert rel.tags == ["D", "A"] and rel.co.shape == (2, 2)
    empty = relations([set(), set()])
    assert empty.tags == [] and empty.n == 2


def test_performance_worst_first_and_labels_only_from_people():
    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):
        good, bad = i % 3 == 0, i % 2 == 0
        tags = {}
        if good:
            tags["good"] = "human"
        if bad:
            tags["bad"] = None  # a file that does not say who tagged: a person
        p_good = 0.9 if good else 0.1  # the model is right on "good"
        p_bad = float(rng.random())  # and guesses on "bad"
        rows.append((tags, {"good": p_good, "bad": p_bad, "modelish": 0.8}, True))
    # model-only tags are no labels; unreviewed images give no negatives
    rows.append(({"modelish": "model"}, {"modelish": 0.99}, True))
    rows.append(({}, {"good": 0.99}, False))
    scores = performance(rows)
    assert [s.tag for s in scores][:2] == ["bad", "good"]
    by = {s.tag: s for s in scores}
    assert by["good"].ap == 1.0 and by["good"].precision == 1.0 and by["good"].recall == 1.0
    assert by["bad"].ap < 0.8
    assert by["good"].n == 60  # the unreviewed image is left out
    assert by["modelish"].ap is None and by["modelish"].n == 60 and by["modelish"].support == 0
    assert scores[-1].tag == "modelish"  # undefined AP after the defined ones


def test_performance_uses_the_models_thresholds():
    rows = [({"t": "human"}, {"t": 0.6}, True), ({}, {"t": 0.4}, True), ({"t": "human"}, {"t": 0.3}, True)]
    assert performance(rows)[0].recall == 0.5
    s = performance(rows, {"t": 0.25})[0]
    assert s.threshold == 0.25 and s.recall == 1.0 and s.precision == 2 / 3
