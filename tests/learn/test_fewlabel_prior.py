"""A few-label head for a tag the model has starts from the model's own p: no label gives the model's
logit exactly, a few labels correct a model that is off on this folder, and the live head answers from the
first label (a head from scratch needs 2 of each)."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.learn.curve import learning_curve
from tui_tagger.learn.heads import fit_embedding, fit_scores, model_prior, tag_embedding, with_prior
from tui_tagger.learn.live import LiveHead
from tui_tagger.model.locate import shipped_model_paths

SHIPPED = shipped_model_paths()[0]
needs_model = pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model in models/")


def _folder(seed: int = 0, n: int = 300, d: int = 40):
    """Features of a folder and the truth of a tag that is a linear function of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = np.zeros(d)
    w[:3] = (2.0, -1.5, 1.0)
    truth = (X @ w > 0.8).astype(float)  # a minority tag (about 30 %)
    return X, w, truth


def test_without_labels_the_head_is_the_model():
    X, w, _ = _folder()
    emb, prior = with_prior(fit_embedding(X), w, -0.8)
    coef, b = fit_scores(np.zeros((0, emb.dim)), np.zeros(0), prior=prior)
    np.testing.assert_allclose(emb.transform(X) @ coef + b, X @ w - 0.8, atol=1e-9)


def test_a_few_labels_correct_a_model_that_is_off_on_this_folder():
    X, w, truth = _folder()
    # the model's logit is right in direction but says "present" on most frames here (the real
    # "Linear beamstop on nearly every frame" case): 10 labels must move it, not start over
    emb, prior = with_prior(fit_embedding(X), w, 2.0)
    Z = emb.transform(X)
    model_acc = np.mean(((X @ w + 2.0) > 0) == (truth > 0.5))
    rng = np.random.default_rng(1)
    accs, scratch = [], []
    base = fit_embedding(X).transform(X)
    for _ in range(20):
        idx = rng.choice(len(X), 10, replace=False)
        if truth[idx].min() == truth[idx].max():
            continue
        rest = np.setdiff1d(np.arange(len(X)), idx)
        coef, b = fit_scores(Z[idx], truth[idx], prior=prior)
        accs.append(np.mean(((Z[rest] @ coef + b) > 0) == (truth[rest] > 0.5)))
        coef, b = fit_scores(base[idx], truth[idx])
        scratch.append(np.mean(((base[rest] @ coef + b) > 0) == (truth[rest] > 0.5)))
    assert model_acc < 0.7
    assert np.mean(accs) > model_acc + 0.08
    assert np.mean(accs) > np.mean(scratch) + 0.08


def test_one_class_labelled_stays_near_the_model():
    X, w, truth = _folder()
    emb, prior = with_prior(fit_embedding(X), w, -0.8)
    Z = emb.transform(X)
    neg = np.flatnonzero(truth == 0)[:3]
    coef, b = fit_scores(Z[neg], truth[neg], prior=prior)
    agree = np.mean(((Z @ coef + b) > 0) == ((X @ w - 0.8) > 0))
    assert agree > 0.9  # three negatives do not turn the head into "absent everywhere"


def test_one_label_absent_near_the_boundary_keeps_a_rare_tags_positives():
    """A rare tag the model is right and sure about (the mean frame's logit far below 0): one frame near
    p = 0.5 labelled absent makes the head a little less sure there, not absent on the positives (it did
    when the correction turned about the folder's mean: the model's logit scaled down about -9)."""
    X, w, _ = _folder()
    logit = 3 * (X @ w - 4.0)  # about 4 % present
    emb, prior = with_prior(fit_embedding(X), 3 * w, -12.0)
    Z = emb.transform(X)
    present = logit > 0
    near = int(np.argmin(np.where(present, np.inf, np.abs(logit))))  # absent, the model's p nearest 0.5
    coef, b = fit_scores(Z[[near]], np.zeros(1), prior=prior)
    after = Z @ coef + b
    assert 3 <= present.sum() <= 30
    assert np.mean(after[present] > 0) >= 0.75  # (0.37 then)
    assert after[near] < logit[near]  # the label moved it


def test_suggested_labels_are_not_worse_than_random_ones_from_the_model():
    X, w, truth = _folder(seed=3)
    emb, prior = with_prior(fit_embedding(X), w * 0.5, 1.5)  # a weak, shifted model
    points = learning_curve(emb.transform(X), truth, step=2, max_labels=10, prior=prior, repeats=10)
    assert all(p["accuracy"] >= p["random_accuracy"] - 0.02 for p in points), points
    assert points[-1]["accuracy"] > points[0]["accuracy"] - 0.02


@needs_model
def test_the_prior_is_the_models_last_layer_and_only_for_its_tags_on_cnn_features():
    found = model_prior("GISAXS", str(SHIPPED))
    assert found is not None and found[0].ndim == 1
    assert model_prior("Sample: oriented film", str(SHIPPED)) is None
    X = np.random.default_rng(0).normal(size=(30, found[0].shape[0]))
    base = fit_embedding(X)
    emb, prior = tag_embedding(base, "GISAXS", "cnn", str(SHIPPED))
    assert prior is not None and emb.dim == base.dim + 1
    assert tag_embedding(base, "GISAXS", "physics", str(SHIPPED)) == (base, None)
    assert tag_embedding(base, "Sample: oriented film", "cnn", str(SHIPPED)) == (base, None)


@needs_model
def test_the_live_head_answers_from_the_first_label_for_a_tag_the_model_has():
    w, c = model_prior("GISAXS", str(SHIPPED))
    X = np.random.default_rng(0).normal(size=(40, w.shape[0])).astype(np.float32)
    head = LiveHead("cnn", str(SHIPPED))
    head.paths, head.X = [f"f{i}" for i in range(len(X))], X
    head._row = {p: i for i, p in enumerate(head.paths)}
    head.embedding = fit_embedding(X)
    head._Z = head.embedding.transform(X)
    probs = head.fit({"f0": bool(X[0] @ w + c > 0)}, "GISAXS")
    assert probs is not None and head.last.info["from_model"]  # the status bar says "on the model's p"
    model_says = (X @ w + c) > 0
    assert np.mean([(probs[p] >= 0.5) == model_says[i] for i, p in enumerate(head.paths)]) > 0.9
    assert head.fit({"f0": True}, "Sample: oriented film") is None  # from scratch: 2+ and 2- first
