"""Few-label heads: standardise + PCA (fitted on every image's features, labelled or not) + logistic
regression on the labelled ones.

A head for a tag the model has starts from the model (``model_prior``, ``with_prior``): on the CNN's
features the model's own logit is one more linear score, and the head learns a correction to it (an L2
prior centred on the model's weights, not on zero, turning about the model's boundary: ``correction_origin``),
so a few labels adjust the model's p rather than learn the tag from scratch, and no label at all gives the
model's p. (Real-dev, 28 frames: the model alone is
right on 0.71-0.95 of the frames for its experiment-type tags, a head from scratch on 2-10 labels often
worse; see ``benchmarks/bench_fewlabel_real.py``.)

The embedding (scaler + PCA) is unsupervised, so it is fitted once per folder on all images and shared
by every tag; a head then trains in milliseconds from a few dozen labels. The head itself and its file
format (numpy only) are ``tui_tagger.model.headfile``; they are re-exported here for the learn code.
"""

from __future__ import annotations

import numpy as np

from tui_tagger.core.errors import TaggerError
from tui_tagger.model.headfile import (  # noqa: F401 - the head and its files, used through this module
    FORMAT, FORMAT_VERSION, Embedding, Head, HeadFileError, _sigmoid, head_path, load_model_heads,
    model_digest, model_heads_dirs, save_model_head,
)

MAX_COMPONENTS = 50
# inverse L2 strength of the logistic regression on the PCA scores; chosen on the synthetic learning
# curves (C = 1 beat 0.1 at 10-50 labels on every tag tried)
DEFAULT_C = 1.0
# the same for a head that starts from the model (a correction to it): a stronger pull to the model; on a
# synthetic folder of one experiment type (283 GISAXS frames, 23 tags) 0.3 beat 1 at every k from 2 to 10
# labels, suggested and random orders alike (a run that is not tuned to real frames)
PRIOR_C = 0.3
# the penalty on a correction's move of the boundary where it crosses the folder (``correction_origin``),
# against 1 for each weight: a prior sd of about 3 logits, as a folder of one experiment can hold a tag at
# odds some 20 times the training set's, and a model meets real frames off by a bias. Measured on a
# synthetic TSAXS folder with the model's logit for every tag raised by 2: at 10 labels 0.953 suggested /
# 0.925 random with 0.1, 0.918 / 0.889 with 1 (the former parametrisation: 0.942 / 0.907); lowered by 2:
# 0.968 / 0.951 (former 0.967 / 0.947)
SHIFT_PRECISION = 0.1
# Measured and not kept (README): the shift's precision tightened where a folder's logits crowd the boundary,
# or chosen per fit by the labels' Laplace evidence or calibration against the model (each lost on a biased
# model: a crowd at the boundary and a bias look alike from <= 10 labels); the class weights off or
# square-rooted for a fit from the model


def fit_embedding(X: np.ndarray, n_components: int = MAX_COMPONENTS, seed: int = 0,
                  weights: np.ndarray | None = None) -> Embedding:
    """Standardise + PCA with at most ``n_components`` (fewer than images and than features); ``weights``:
    each standardised column times its weight first (``features.column_weights``: blocks of features given
    shares of the variance). Exact PCA
    through numpy.linalg (``seed`` is unused: nothing is random), which releases the GIL: scipy.linalg's
    svd and lu (sklearn's PCA) hold it, 0.1-1.3 s on 4000 x 768 in the TUI's worker, and the keys wait."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise TaggerError("need features of at least 2 images to learn anything")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    # constant features carry nothing; a floor keeps near-constant ones from being blown up to noise
    scale = np.where(scale > 1e-6, scale, 1.0)
    if weights is not None:
        scale = scale / np.asarray(weights, dtype=np.float64)
    Xs = (X - mean) / scale
    k = max(1, min(n_components, X.shape[0] - 1, X.shape[1]))
    centre = Xs.mean(axis=0)  # zero up to rounding
    Xs -= centre
    if X.shape[1] <= 2048:  # the covariance's eigenvectors (BLAS + LAPACK, no GIL): d x d is small
        var, vecs = np.linalg.eigh(Xs.T @ Xs)
        components, top = vecs[:, ::-1][:, :k].T, float(var[-1])
    else:
        _, sv, vt = np.linalg.svd(Xs, full_matrices=False)
        components, top = vt[:k], float(sv[0]) ** 2
    # one sign per component (as sklearn's svd_flip): its largest loading positive
    components = components * np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])[:, None]
    # one common unit, not whitening: the L2 prior then favours the strong directions, and the weak,
    # noisy ones are not blown up (whitening lost 10-20 points of AP in the synthetic learning curves)
    sdev = np.full(k, np.sqrt(max(top / (X.shape[0] - 1), 1e-12)))
    # fold the centre into the scaler mean: one affine map at transform time
    return Embedding(mean + centre * scale, scale, np.ascontiguousarray(components), sdev)


Prior = tuple  # (coef0, intercept0): the head a fit starts from, on the same embedded features
_PRIORS: dict[tuple, dict[str, tuple[np.ndarray, float]]] = {}  # per model file: {tag: (w, c)}


def model_prior(tag: str, model: str | None = None) -> tuple[np.ndarray, float] | None:
    """(w, c) with the model's logit for ``tag`` = X @ w + c on its penultimate (CNN) features X (its last
    layer is linear), or None when the model lacks the tag or has no such layer. ``model``: the default
    model when None. Read from the file without torch (``model.peek.last_layer``): the TUI's live head calls
    this in the app's process, where torch is never imported (the model runs in a process of its own)."""
    import os

    from tui_tagger.model.locate import default_model_path
    from tui_tagger.model.peek import last_layer

    path = str(model or default_model_path())
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _PRIORS:
        found = last_layer(path)
        _PRIORS[key] = {} if found is None else {t: (w.copy(), float(c)) for t, w, c in zip(*found)}
    return _PRIORS[key].get(tag)


def with_prior(embedding: Embedding, w: np.ndarray, c: float) -> tuple[Embedding, Prior]:
    """``embedding`` with one more score, the linear logit X @ w (less a constant), and the head on it that
    gives X @ w + c exactly: a fit from that head (``fit_scores(..., prior=)``) is a correction to the
    model, and the result is a plain ``Head`` (the file format does not change)."""
    w = np.asarray(w, dtype=np.float64)
    emb = Embedding(embedding.mean, embedding.scale, np.vstack([embedding.components, (w * embedding.scale)[None, :]]),
                    np.append(embedding.sdev, 1.0))
    coef0 = np.zeros(emb.dim)
    coef0[-1] = 1.0
    return emb, (coef0, float(embedding.mean @ w + c))


def tag_embedding(embedding: Embedding, tag: str, source: str,
                  model: str | None = None) -> tuple[Embedding, Prior | None]:
    """The embedding a head for ``tag`` learns on, and the head it starts from: the model's own (see
    ``with_prior``) on CNN (or combined) features when the model has the tag, else ``embedding`` and no prior."""
    found = model_prior(tag, model) if source in ("cnn", "combined") else None
    if found is not None and source == "combined":  # the CNN's block comes first; the logit reads it alone
        found = (np.pad(found[0], (0, max(0, embedding.mean.shape[0] - found[0].shape[0]))), found[1])
    if found is None or found[0].shape != embedding.mean.shape:
        return embedding, None
    return with_prior(embedding, *found)


def correction_origin(prior: Prior) -> np.ndarray:
    """The point of the prior head's decision boundary nearest the folder's mean (the origin of Z): a head
    fitted from ``prior`` turns its weights about it (``_fit_from``), so a change of the weights alone (the
    model too sure, its logit scaled down) leaves the boundary where it crosses the folder, and moving that
    boundary is the intercept's job, as in Platt scaling (p = sigmoid(a * logit + b), a near 1, b near 0).
    Turning about the folder's mean instead, one label "absent" on a frame near p = 0.5 of a rare tag scaled
    the model's logit down about the mean frame's logit (-9 say) and flipped most of the positives to absent
    ("Powder" on a synthetic TSAXS folder: accuracy 0.96 -> 0.90 at the second suggested label)."""
    coef0, b0 = np.asarray(prior[0], dtype=np.float64), float(prior[1])
    norm2 = float(coef0 @ coef0)
    return -b0 * coef0 / norm2 if norm2 > 0 else np.zeros_like(coef0)


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-label weights giving both classes the same total (all 1 while one class is labelled)."""
    t = y > 0.5
    n, pos = len(y), int(t.sum())
    return np.where(t, n / (2 * pos), n / (2 * (n - pos))) if 0 < pos < n else np.ones(n)


def _fit_from(Z: np.ndarray, y: np.ndarray, C: float, prior: Prior) -> tuple[np.ndarray, float]:
    """A class-balanced logistic regression whose L2 penalty is centred on ``prior``: the correction to it is
    penalised as its weights and its value at ``correction_origin`` (``SHIFT_PRECISION``), so with one class
    labelled, or none, the fit stays near the prior instead of running off."""
    from scipy.optimize import minimize

    coef0, b0 = np.asarray(prior[0], dtype=np.float64), float(prior[1])
    n = len(y)
    if n == 0:
        return coef0.copy(), b0
    z0 = correction_origin(prior)
    sw = _balanced_weights(y)
    s = np.where(y > 0.5, 1.0, -1.0)

    def objective(theta):
        dc = theta[:-1] - coef0
        shift = theta[-1] - b0 + dc @ z0  # the correction's value at z0: how far it moves the boundary there
        m = s * (Z @ theta[:-1] + theta[-1])
        g = -s * sw * _sigmoid(-m)
        value = C * float(sw @ np.logaddexp(0, -m)) + 0.5 * float(dc @ dc + SHIFT_PRECISION * shift * shift)
        pull = SHIFT_PRECISION * shift
        return value, np.concatenate([C * (Z.T @ g) + dc + pull * z0, [C * g.sum() + pull]])

    res = minimize(objective, np.append(coef0, b0), jac=True, method="L-BFGS-B")
    return res.x[:-1].copy(), float(res.x[-1])


class LogitPosterior:
    """The head's logit read as a Bayesian logistic regression (``logit_posterior``): ``mean(Z)`` the fitted
    head's logit, ``variance(Z)`` its Laplace spread, evaluated on any rows (suggest asks for a few thousand
    of an 85k folder: one small matrix product each)."""

    def __init__(self, coef: np.ndarray, intercept: float, origin: np.ndarray, cov_factor: np.ndarray):
        self.coef, self.intercept, self.origin = coef, intercept, origin
        self._factor = cov_factor  # F with the covariance of (weights, shift at origin) = F @ F.T

    def mean(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef + self.intercept

    def variance(self, Z: np.ndarray) -> np.ndarray:
        G = (Z - self.origin) @ self._factor[:-1] + self._factor[-1]
        return np.einsum("ij,ij->i", G, G)


def logit_posterior(Z_labelled: np.ndarray, y: np.ndarray, C: float | None = None,
                    prior: Prior | None = None) -> LogitPosterior | None:
    """The fit of ``fit_scores`` read as the peak of a Bayesian logistic regression (its L2 penalty the prior),
    with the Laplace approximation for its spread: large for a frame unlike the labelled ones, in directions
    they have not pinned down (the model's p alone stands behind it there). None without both classes or a
    prior."""
    y = np.asarray(y, dtype=np.float64)
    if prior is None and not 0 < int((y > 0.5).sum()) < len(y):
        return None
    coef, b = fit_scores(Z_labelled, y, C, prior=prior)
    if prior is not None:  # the penalty acts on (weights, their shift at correction_origin)
        C, z0, intercept_precision = PRIOR_C if C is None else C, correction_origin(prior), SHIFT_PRECISION
    else:  # from scratch: the intercept is not penalised
        C, z0, intercept_precision = DEFAULT_C if C is None else C, np.zeros(Z_labelled.shape[1]), 1e-6
    A = np.hstack([Z_labelled - z0, np.ones((len(y), 1))])
    p = _sigmoid(Z_labelled @ coef + b)
    H = np.eye(A.shape[1])
    H[-1, -1] = intercept_precision
    H += C * (A * (_balanced_weights(y) * p * (1 - p))[:, None]).T @ A
    # H^-1 = L^-T L^-1 (Cholesky H = L L^T): the variance at b is |L^-1 b|^2 = |b @ L^-T|^2
    L = np.linalg.cholesky(H)
    factor = np.linalg.solve(L, np.eye(len(H))).T
    return LogitPosterior(coef, b, z0, factor)


def fit_scores(Z: np.ndarray, y: np.ndarray, C: float | None = None,
               prior: Prior | None = None) -> tuple[np.ndarray, float]:
    """(coef, intercept) of a class-balanced logistic regression on embedded features ``Z`` (``C``: the
    inverse L2 strength, ``DEFAULT_C``, or ``PRIOR_C`` with a prior, when None). ``prior`` (coef0,
    intercept0): the fit starts from that head and the penalty pulls towards it (any number of labels, none
    too). Without one and with one class only, a constant head: a smoothed prevalence and zero weights."""
    y = np.asarray(y, dtype=np.float64)
    if prior is not None:
        return _fit_from(np.asarray(Z, dtype=np.float64), y, PRIOR_C if C is None else C, prior)
    C = DEFAULT_C if C is None else C
    pos = int((y > 0.5).sum())
    if pos == 0 or pos == len(y):
        p = (pos + 0.5) / (len(y) + 1.0)
        return np.zeros(Z.shape[1]), float(np.log(p / (1 - p)))
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
    lr.fit(Z, (y > 0.5).astype(int))
    return lr.coef_[0].astype(np.float64), float(lr.intercept_[0])


def train_head(tag: str, X_labelled: np.ndarray, y: np.ndarray, X_all: np.ndarray | None = None,
               embedding: Embedding | None = None, C: float | None = None, info: dict | None = None,
               prior: tuple[np.ndarray, float] | None = None) -> Head:
    """A head for ``tag`` from labelled features (y: 1 present, 0 absent). The embedding is fitted
    on ``X_all`` (every image, labelled or not) when given, else on the labelled features. ``prior``
    (w, c): the model's own logit X @ w + c for the tag (``model_prior``), which the head starts from."""
    if embedding is None:
        embedding = fit_embedding(X_all if X_all is not None else X_labelled)
    start = None
    if prior is not None:
        embedding, start = with_prior(embedding, *prior)
    coef, intercept = fit_scores(embedding.transform(X_labelled), y, C, prior=start)
    y = np.asarray(y)
    meta = {"positives": int((y > 0.5).sum()), "negatives": int((y <= 0.5).sum()), **(info or {})}
    return Head(tag, embedding, coef, intercept, meta)
