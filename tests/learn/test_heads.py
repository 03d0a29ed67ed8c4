"""Few-label heads: they learn, and a saved head gives back exactly the same probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.core.errors import TaggerError
from tui_tagger.learn.heads import Head, HeadFileError, fit_embedding, head_path, train_head


def _data(n=300, d=40, seed=0):
    # like image features: a few underlying factors seen through many correlated values
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 5))
    X = (latent @ rng.normal(size=(5, d)) + 0.3 * rng.normal(size=(n, d))).astype(np.float32)
    y = (latent[:, 0] + 0.5 * latent[:, 1] > 0.8).astype(float)
    return X, y


def test_head_learns_from_few_labels_and_round_trips(tmp_path):
    X, y = _data()
    idx = np.random.default_rng(1).choice(len(X), 40, replace=False)
    head = train_head("Ring: Oriented z", X[idx], y[idx], X_all=X)
    p = head.predict_proba(X)
    assert np.mean((p >= 0.5) == (y > 0.5)) > 0.85
    path = head_path("Ring: Oriented z", root=tmp_path)
    head.save(path)
    again = Head.load(path)
    assert again.tag == "Ring: Oriented z"
    assert again.info["positives"] == int(y[idx].sum())
    np.testing.assert_array_equal(again.predict_proba(X), p)


def test_one_class_labels_give_a_constant_head():
    X, _ = _data(50)
    head = train_head("Bragg rods", X[:10], np.zeros(10), X_all=X)
    p = head.predict_proba(X)
    assert np.all(p == p[0]) and p[0] < 0.5


def test_bad_head_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(HeadFileError) as err:
        Head.load(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(HeadFileError, match="no such head file"):
        Head.load(tmp_path / "missing.npz")


def test_features_of_another_length_are_refused():
    X, y = _data(60)
    head = train_head("t", X, y)
    with pytest.raises(TaggerError, match="values per image"):
        head.predict_proba(X[:, :10])


def test_embedding_never_has_more_components_than_images():
    X, _ = _data(8, 100)
    assert fit_embedding(X).dim == 7


def test_heads_of_different_tags_and_places_do_not_collide(tmp_path):
    a = head_path("Ring: Oriented z", root=tmp_path)
    b = head_path("Ring/ Oriented z", root=tmp_path)
    c = head_path("Ring: Oriented z", model=tmp_path / "m.pt")
    assert len({a, b, c}) == 3
    assert c.parent == tmp_path / "m.pt.heads"


def test_a_head_is_one_affine_map_of_the_features():
    from tui_tagger.learn.heads import train_head

    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 12)) * rng.uniform(0.1, 5, 12) + rng.normal(size=12)
    y = (X[:, 2] + 0.3 * X[:, 5] > X[:, 2].mean()).astype(float)
    head = train_head("T", X, y, X_all=X)
    w, c = head.linear()
    np.testing.assert_allclose(X @ w + c, head.decision(X), rtol=1e-9, atol=1e-9)
