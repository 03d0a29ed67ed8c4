"""The 2-D embedding of per-image features: shape, determinism, clusters, the disk-cached features."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.learn import embedding as E


def _blobs(n=90, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[: n // 3, :4] += 8  # three well separated blobs
    X[n // 3: 2 * n // 3, 4:8] += 8
    return X


@pytest.mark.parametrize("method", E.METHODS)
def test_embedding_shape_and_determinism(method):
    X = _blobs()
    Y = E.embed(X, method, seed=0)
    assert Y.shape == (90, 2) and np.isfinite(Y).all()
    assert np.allclose(Y, E.embed(X, method, seed=0))


def test_odd_inputs():
    assert E.embed(np.zeros((0, 5))).shape == (0, 2)
    assert E.embed(np.ones((2, 5)), "tsne").shape == (2, 2)
    X = _blobs(20)
    X[3, 4] = np.nan
    X[:, 7] = 1.0  # a constant feature
    assert np.isfinite(E.embed(X, "tsne")).all()
    with pytest.raises(ValueError):
        E.embed(X, "umap-ish")


def test_clusters_find_the_blobs_largest_first():
    X = _blobs()
    Y = E.embed(X, "pca")
    labels = E.clusters(Y)
    assert labels.max() + 1 == 3
    counts = np.bincount(labels)
    assert list(counts) == sorted(counts, reverse=True)
    for block in (slice(0, 30), slice(30, 60), slice(60, 90)):
        assert len(set(labels[block])) == 1  # each blob is one cluster
    assert np.array_equal(labels, E.clusters(Y))


def test_large_tsne_places_the_rest_by_neighbours(monkeypatch):
    monkeypatch.setattr(E, "TSNE_MAX", 40)
    Y = E.embed(_blobs(120), "tsne")
    assert Y.shape == (120, 2) and np.isfinite(Y).all()


def test_diffusion_map_unrolls_a_curve_that_pca_folds():
    # frames varying along one physical parameter lie on a curve in feature space: the diffusion map's
    # first coordinate follows the parameter, where PCA's does not
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 3 * np.pi, 600))
    X = np.column_stack([t * np.cos(t), t * np.sin(t), rng.normal(0, 0.1, 600)])
    assert abs(spearmanr(t, E.embed(X, "diffusion")[:, 0]).correlation) > 0.9
    assert abs(spearmanr(t, E.embed(X, "pca")[:, 0]).correlation) < 0.6


def test_diffusion_map_separates_blobs_and_places_the_rest(monkeypatch):
    monkeypatch.setattr(E, "TSNE_MAX", 60)
    X = _blobs(150)
    labels = E.clusters(E.embed(X, "diffusion"))
    for block in (slice(0, 50), slice(50, 100), slice(100, 150)):
        assert len(set(labels[block])) == 1
    assert len(set(labels)) == 3


def test_image_embedding_uses_cached_physics_features(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "ui"))
    from support import make_folder

    root = make_folder(tmp_path / "d", n=8)
    items = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.glob("*.tif"))]
    emb = E.image_embedding(items, "pca", workers=1, cache_dir=tmp_path / "cache")
    assert emb.xy.shape == (8, 2) and len(emb.paths) == 8 and emb.problems == []
    assert sum(len(emb.members(c)) for c in range(emb.n_clusters)) == 8
    assert any((tmp_path / "cache").rglob("*"))  # the features are on disk for the next time
    again = E.image_embedding(items, "pca", workers=1, cache_dir=tmp_path / "cache")
    assert np.allclose(emb.xy, again.xy)
