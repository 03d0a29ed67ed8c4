"""The shared embedding is the exact PCA of the standardised features (numpy.linalg, which leaves the GIL to
the UI's thread while it computes), with sklearn's signs, on small folders and large ones alike."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tui_tagger.learn.heads import fit_embedding


@pytest.mark.parametrize("n, d", [(40, 12), (2500, 30), (8, 60)])
def test_the_embedding_is_the_principal_components_of_the_standardised_features(n, d):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, d)) * rng.gamma(2.0, size=d) + rng.normal(size=d)
    emb = fit_embedding(X)
    std = X.std(axis=0)
    Xs = (X - X.mean(axis=0)) / np.where(std > 1e-6, std, 1.0)
    k = min(50, n - 1, d)
    pca = PCA(n_components=k, svd_solver="full").fit(Xs)
    assert emb.components.shape == (k, d)
    np.testing.assert_allclose(emb.components, pca.components_, atol=1e-8)  # signs included
    np.testing.assert_allclose(emb.sdev, np.sqrt(pca.explained_variance_[0]), rtol=1e-9)
    Z = emb.transform(X)
    # scores are uncorrelated, strongest first, and centred
    var = Z.var(axis=0)
    assert np.all(np.diff(var) <= 1e-9 * var[0])
    cov = np.cov(Z, rowvar=False)
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 1e-8 * var[0]
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-8)
