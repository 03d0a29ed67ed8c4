"""A 2-D map of the images from their features (no Textual, no torch), and k-means clusters on it.

The features are the physics features (``learn.features``, cached on disk per image). They are
standardised, then mapped to 2-D by PCA, t-SNE (scikit-learn; no hand-written t-SNE) or a diffusion map
(as in Z. Su, "Classification of single-crystal 'diffuse' images": the leading non-trivial eigenvectors of
a random walk on the images' nearest-neighbour graph,
which unrolls a family of frames that varies along a few physical parameters). t-SNE and the diffusion map
are fitted on at most ``TSNE_MAX`` evenly spread images; every other image is placed at the mean position
of its nearest fitted neighbours in the (PCA-reduced) feature space. Everything is seeded: the same
features give the same map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

METHODS = ("tsne", "pca", "diffusion")
LABELS = {"tsne": "t-SNE", "pca": "PCA", "diffusion": "diffusion map"}
DIFFUSION_K = 15  # neighbours per image in the diffusion map's graph (also its local bandwidth)
TSNE_MAX = 4000  # images t-SNE is fitted on; the rest are placed by nearest neighbours
PRE_DIMS = 30  # PCA dimensions t-SNE starts from (the usual speed-up; removes noise too)


def standardize(X: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per feature; non-finite values become the feature's mean; constant
    features stay 0."""
    X = np.array(X, dtype=np.float64)
    if X.size == 0:
        return X.reshape(len(X), -1)
    bad = ~np.isfinite(X)
    if bad.any():
        col = np.nanmean(np.where(bad, np.nan, X), axis=0)
        col = np.where(np.isfinite(col), col, 0.0)
        X[bad] = np.take(col, np.nonzero(bad)[1])
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    return (X - mu) / sd


def _pca(Z: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    dims = max(1, min(dims, Z.shape[0], Z.shape[1]))
    out = PCA(n_components=dims, random_state=seed).fit_transform(Z)
    if out.shape[1] < 2:  # one feature or one image: a line
        out = np.column_stack([out, np.zeros(len(out))])
    return out


def embed(X: np.ndarray, method: str = "pca", seed: int = 0, weights: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) coordinates of the rows of ``X`` by ``method`` ("pca", "tsne" or "diffusion"); ``weights``: each
    standardised column times its weight (``features.column_weights``), the whole kept at one unit a column."""
    if method not in METHODS:
        raise ValueError(f"unknown embedding {method!r}; choose one of: {', '.join(METHODS)}")
    X = np.asarray(X)
    n = len(X)
    if n == 0:
        return np.zeros((0, 2))
    if n < 3 or X.ndim != 2 or X.shape[1] == 0:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    Z = standardize(X)
    if weights is not None:
        Z = Z * (np.asarray(weights) * np.sqrt(Z.shape[1] / float(np.sum(np.square(weights)))))
    if method == "pca" or n < 5:
        return _pca(Z, 2, seed)[:, :2]
    P = _pca(Z, PRE_DIMS, seed)
    fit_rows = np.arange(n)
    if n > TSNE_MAX:
        fit_rows = np.linspace(0, n - 1, TSNE_MAX).round().astype(int)
    m = len(fit_rows)
    if method == "diffusion":
        Y_fit = diffusion_map(P[fit_rows], seed=seed)
    else:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (m - 1) / 3.0)))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=500,
                    learning_rate="auto")
        Y_fit = tsne.fit_transform(P[fit_rows])
    if m == n:
        return Y_fit
    from sklearn.neighbors import NearestNeighbors

    out = np.empty((n, 2))
    out[fit_rows] = Y_fit
    rest = np.setdiff1d(np.arange(n), fit_rows)
    k = min(5, m)
    _, nn = NearestNeighbors(n_neighbors=k).fit(P[fit_rows]).kneighbors(P[rest])
    out[rest] = Y_fit[nn].mean(axis=1)
    return out


def diffusion_map(P: np.ndarray, k: int = DIFFUSION_K, seed: int = 0) -> np.ndarray:
    """(n, 2) diffusion coordinates (Coifman & Lafon 2006) of the rows of ``P``: a k-nearest-neighbour
    graph with self-tuning Gaussian weights (each image's bandwidth is the distance to its k-th
    neighbour), the density normalisation alpha = 1 (so the map follows the data's shape, not where frames
    are dense), then the 2nd and 3rd eigenvectors of the random walk, scaled by their eigenvalues."""
    from scipy.sparse import coo_matrix, diags
    from scipy.sparse.linalg import eigsh
    from sklearn.neighbors import NearestNeighbors

    n = len(P)
    k = max(2, min(k, n - 1))
    dist, nn = NearestNeighbors(n_neighbors=k + 1).fit(P).kneighbors(P)
    sigma = np.maximum(dist[:, -1], 1e-12)
    rows = np.repeat(np.arange(n), k + 1)
    w = np.exp(-(dist ** 2) / (sigma[:, None] * sigma[nn])).ravel()
    W = coo_matrix((w, (rows, nn.ravel())), shape=(n, n)).tocsr()
    W = W.maximum(W.T)  # symmetric: i near j or j near i
    q = np.asarray(W.sum(axis=1)).ravel()
    K = diags(1 / q) @ W @ diags(1 / q)  # alpha = 1
    d = np.asarray(K.sum(axis=1)).ravel()
    S = diags(d ** -0.5) @ K @ diags(d ** -0.5)  # symmetric conjugate of the random walk D^-1 K
    v0 = np.random.default_rng(seed).random(n)
    vals, vecs = eigsh(S, k=min(3, n - 1), which="LA", v0=v0)
    order = np.argsort(-vals)
    vals, vecs = vals[order], vecs[:, order]
    psi = vecs / vecs[:, :1]  # right eigenvectors of the walk; the first is constant
    out = psi[:, 1:3] * vals[1:3]
    out *= np.sign(out[np.argmax(np.abs(out), axis=0), np.arange(out.shape[1])])  # a fixed orientation
    if out.shape[1] < 2:
        out = np.column_stack([out, np.zeros(n)])
    return out


def clusters(Y: np.ndarray, k: int | None = None, seed: int = 0, k_max: int = 8) -> np.ndarray:
    """k-means labels (0..k-1, largest cluster first) of the 2-D points; without ``k``, the k in
    2..k_max with the best silhouette score (on a sample of at most 2000 points)."""
    from sklearn.cluster import KMeans

    Y = np.asarray(Y, dtype=np.float64)
    n = len(Y)
    if n < 4:
        return np.zeros(n, dtype=int)
    if k is None:
        from sklearn.metrics import silhouette_score

        best, best_score = 2, -2.0
        for kk in range(2, min(k_max, n - 1) + 1):
            labels = KMeans(kk, n_init=4, random_state=seed).fit_predict(Y)
            if len(set(labels)) < 2:
                continue
            score = silhouette_score(Y, labels, sample_size=min(2000, n), random_state=seed)
            if score > best_score + 1e-9:
                best, best_score = kk, score
        k = best
    labels = KMeans(min(k, n), n_init=10, random_state=seed).fit_predict(Y)
    order = np.argsort(-np.bincount(labels), kind="stable")  # biggest first: cluster 1 is the largest
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    return remap[labels]


@dataclass
class Embedding:
    """The map of the images that have features: ``xy[i]`` and ``cluster[i]`` belong to ``paths[i]``."""

    method: str
    paths: list[str]
    xy: np.ndarray
    cluster: np.ndarray
    problems: list[str] = field(default_factory=list)  # images left out (unreadable), one line each
    source: str = "physics"  # the features it was computed from (learn.features.SOURCES)

    @property
    def source_label(self) -> str:
        from tui_tagger.learn.features import SOURCE_LABELS

        return SOURCE_LABELS.get(self.source, self.source)

    def members(self, c: int) -> list[str]:
        return [p for p, k in zip(self.paths, self.cluster) if k == c]

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1 if len(self.cluster) else 0


def image_embedding(items: list[tuple[str, int, int]], method: str = "tsne", seed: int = 0, cache_dir=None,
                    workers: int | None = None, progress: Callable[[int, int], None] | None = None,
                    k: int | None = None, source: str | None = None, model: str | None = None) -> Embedding:
    """Features of ``items`` = [(ref, size, mtime_ns)] (``source``, default ``features.default_source()``:
    the CNN's when there is a model -- ``model``, else the default one -- as the heads use; from the on-disk
    cache where current), their 2-D embedding and k-means clusters."""
    from tui_tagger.learn import features

    source = source or features.default_source(model)
    fs = features.compute(items, source, model=model, workers=workers, progress=progress, cache_dir=cache_dir)
    xy = embed(fs.X, method, seed, features.column_weights(source, fs.X))
    return Embedding(method, fs.refs, xy, clusters(xy, k, seed), fs.problems, source)
