"""What to label next: uncertainty, bracketing the head's boundary from both sides, spread across the data,
with a budget for likely rare positives.

Works on embedded features ``Z`` (``heads.Embedding``: PCA scores in one common unit, so Euclidean distance is
meaningful) and a label vector (1 present, 0 absent, NaN not labelled):

- both classes labelled, or a head that starts from the model's p (``prior``, ``heads.tag_embedding``): that
  head's logit with its spread (``heads.logit_posterior``: the fit read as a Bayesian logistic regression);
  value = uncertainty 1 - |2p - 1| of the p averaged over that spread (MacKay's moderated p), so a frame
  unlike every labelled one counts as uncertain even where the model's p is far from 0.5: on real frames
  the model can be sure and wrong. Where p is the caller's, the uncertainty of that p. Each pick is the
  most uncertain frame on the side of the boundary (p >= 0.5 or < 0.5) of the class with fewer labels so
  far (the other side where that one is empty; a tie goes to "present", the class looked for): class-
  balanced uncertainty sampling. With few labels the boundary's place is what is least known, and one
  label near p = 0.5 moves it by 0.6-0.8 logits (the shift's wide prior, ``heads.SHIFT_PRECISION``); the
  next most uncertain frames then lie beyond the moved boundary, on one side, and the frames the move
  made wrong are not asked about (synthetic GISAXS "Yoneda": 1 present then 9 absent labels, accuracy
  under the model's own). Labels of both classes in step bracket the boundary;
- fewer than ``MIN_EACH`` of a class labelled (the cold start): the medoids of the groups of frames no
  labelled image belongs to yet (k-means), biggest group first: representative *and* different, so the
  first labels cover the data's kinds of frames and soon hold both classes. (On the synthetic held-out-tag
  learning curves this beat the former "most typical first", whose picks were all of the majority class, at
  20 labels on 3 tags of 4 and made suggestions beat random choice from 30 labels on all 4.) A head of
  the labelled images against the unlabelled ones (positive-unlabelled learning) still fills the reserve.

Greedy selection multiplies each candidate's value by (1 - similarity to the nearest labelled or
already chosen image), so a run of near-duplicate frames yields one pick, not ten. ``reserve`` of the
picks go to the highest-p unlabelled images: a tag with 6 positives in 85k still comes up.

Measured and not kept (``benchmarks/bench_fewlabel_real.py``; see the README): expected error reduction
(each candidate's label applied by a one-label Laplace update, the errors left counted under the head's own
moderated p: it trusts the p that is wrong on real frames), and coverage (k-means medoids at every other
pick or for the first two; uncertainty times distance to the labelled frames): each lost more at 2-3 labels;
a medoid every third pick, and BALD (the label's mutual information with the head's weights) as the value,
lost more cells on real-dev and the synthetic folders.
"""

from __future__ import annotations

import math

import numpy as np

from tui_tagger.learn.heads import _sigmoid, fit_scores, logit_posterior
from tui_tagger.learn.neighbours import typical_distance

# candidates considered per kind of pick (the rest cannot win anyway): keeps 85k-image folders fast
_POOL = 4000
_CHUNK = 2048
SIMILAR = 0.25  # the similarity length scale, as a share of the typical distance between two images
MIN_EACH = 2  # labelled positives and negatives before uncertainty means something
_MAX_GROUPS = 200  # k-means groups at most in the cold start (labelled images beyond share them)


def _max_similarity(P: np.ndarray, Q: np.ndarray, h: float) -> np.ndarray:
    """For each row of P, max over rows of Q of exp(-|p - q|^2 / (2 h^2)) (0 when Q is empty)."""
    out = np.zeros(len(P))
    if len(Q) == 0 or len(P) == 0:
        return out
    pn = (P * P).sum(axis=1)
    for s in range(0, len(Q), _CHUNK):
        q = Q[s:s + _CHUNK]
        d2 = np.maximum(pn[:, None] + (q * q).sum(axis=1)[None, :] - 2 * P @ q.T, 0)
        np.maximum(out, np.exp(-d2.min(axis=1) / (2 * h * h)), out=out)
    return out


def unlabelled_p(Z: np.ndarray, labels: np.ndarray, C: float | None = None, seed: int = 0) -> np.ndarray | None:
    """p(present) for every image from the labelled ones by a head from scratch, or None without labels (see
    module doc; a head from the model's p is ``heads.logit_posterior``'s)."""
    known = ~np.isnan(labels)
    kw = {} if C is None else {"C": C}
    if not known.any():
        return None
    y = labels[known]
    if 0 < y.sum() < len(y):
        coef, b = fit_scores(Z[known], y, **kw)
        return _sigmoid(Z @ coef + b)
    # one class: the labelled images against a sample of the unlabelled ones
    rng = np.random.default_rng(seed)
    unl = np.flatnonzero(~known)
    if len(unl) == 0:
        return np.full(len(Z), float(y[0]))
    other = rng.choice(unl, size=min(len(unl), max(200, 4 * int(known.sum()))), replace=False)
    Zt = np.concatenate([Z[known], Z[other]])
    positive = y[0] > 0.5
    yt = np.concatenate([np.full(int(known.sum()), 1.0 if positive else 0.0),
                         np.full(len(other), 0.0 if positive else 1.0)])
    coef, b = fit_scores(Zt, yt, **kw)
    return _sigmoid(Z @ coef + b)


def _medoids(Z: np.ndarray, cand: np.ndarray, taken: np.ndarray, k: int, rng: np.random.Generator,
             h: float, diversity: float) -> list[tuple[int, float]]:
    """Up to ``k`` of ``cand``: the images nearest the centres of the k-means groups of (``cand`` + the
    labelled ``taken``) that hold no labelled image, biggest group first, each discounted by its
    similarity to the labelled images and the picks before it (a big kind of frame split into several
    groups gives one pick, not several); score = the group's share of the images."""
    from sklearn.cluster import KMeans

    rows = np.concatenate([cand, taken])
    groups = min(len(rows), min(len(taken), _MAX_GROUPS) + k)
    if groups < 2 or k <= 0:
        return [(int(i), 1.0) for i in cand[:k]]
    km = KMeans(n_clusters=groups, n_init=1, max_iter=100, random_state=int(rng.integers(2**31))).fit(Z[rows])
    lab = km.labels_
    covered = set(lab[len(cand):].tolist())
    sizes = np.bincount(lab, minlength=groups)
    medoids, share = [], []
    for g in range(groups):
        members = np.flatnonzero(lab[:len(cand)] == g)
        if g in covered or len(members) == 0:
            continue
        d = ((Z[cand[members]] - km.cluster_centers_[g]) ** 2).sum(axis=1)
        medoids.append(int(cand[members[int(np.argmin(d))]]))
        share.append(sizes[g] / len(rows))
    if not medoids:
        return []
    return _greedy(Z, np.array(medoids, dtype=np.intp), np.array(share), taken, k, h, diversity)


def _greedy(Z: np.ndarray, cand: np.ndarray, value: np.ndarray, taken: np.ndarray, k: int, h: float,
            diversity: float) -> list[tuple[int, float]]:
    """Pick ``k`` of ``cand`` maximising value * (1 - diversity * similarity to ``taken`` + picks)."""
    sim = _max_similarity(Z[cand], Z[taken], h)
    picks: list[tuple[int, float]] = []
    alive = np.ones(len(cand), dtype=bool)
    Zc = Z[cand]
    for _ in range(min(k, len(cand))):
        score = np.where(alive, value * (1 - diversity * sim), -np.inf)
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break
        picks.append((int(cand[j]), float(score[j])))
        alive[j] = False
        d2 = ((Zc - Zc[j]) ** 2).sum(axis=1)
        np.maximum(sim, np.exp(-d2 / (2 * h * h)), out=sim)
    return picks


def _sides(Z: np.ndarray, cand: np.ndarray, value: np.ndarray, positive: np.ndarray, taken: np.ndarray,
           counts: list[int], k: int, h: float, diversity: float) -> list[tuple[int, float]]:
    """``_greedy`` with each pick from the side of the head's boundary (``positive``: p >= 0.5) of the class
    with fewer labels so far (``counts``: [absent, present], picks included; a tie goes to "present"), the
    other side where that one is empty: see the module doc."""
    Zc = Z[cand]
    sim = _max_similarity(Zc, Z[taken], h)
    alive = np.ones(len(cand), dtype=bool)
    counts = list(counts)
    picks: list[tuple[int, float]] = []
    for _ in range(min(k, len(cand))):
        score = value * (1 - diversity * sim)
        side = alive & (positive == (counts[1] <= counts[0]))
        if not side.any():
            side = alive
        score = np.where(side, score, -np.inf)
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break
        picks.append((int(cand[j]), float(score[j])))
        counts[int(positive[j])] += 1
        alive[j] = False
        np.maximum(sim, np.exp(-((Zc - Zc[j]) ** 2).sum(axis=1) / (2 * h * h)), out=sim)
    return picks


def _pool(value: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Indices of the ``_POOL // 2`` highest values on each side (the rest cannot win anyway)."""
    out = []
    for side in (True, False):
        idx = np.flatnonzero(positive == side)
        out.append(idx[np.argsort(-value[idx], kind="stable")[:_POOL // 2]])
    return np.concatenate(out)


def suggest(Z: np.ndarray, labels: np.ndarray, k: int = 10, *, reserve: float = 0.2, diversity: float = 1.0,
            seed: int = 0, p: np.ndarray | None = None, exclude: np.ndarray | None = None,
            prior=None) -> list[tuple[int, float]]:
    """Up to ``k`` (row, score) pairs, best first: the unlabelled images whose labels would teach the most.

    ``p``: p(present) per image when already known (else a head is fitted here, from ``prior`` when given:
    ``heads.tag_embedding``); ``exclude``: rows that must not be suggested (unreadable, or skipped by the
    user)."""
    Z = np.asarray(Z, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    open_ = np.isnan(labels)
    if exclude is not None:
        open_[np.asarray(exclude)] = False
    unl = np.flatnonzero(open_)
    if k <= 0 or len(unl) == 0:
        return []
    taken = np.flatnonzero(~np.isnan(labels))
    h = SIMILAR * typical_distance(Z, rng)
    n_known, n_pos = len(taken), int(np.nansum(labels))
    # uncertainty means something when p comes from a head of both classes, from the caller, or from the model
    # (a prior) from the first label on: there, group medoids first gave 0.74 against 0.84 at 2 labels on
    # real-dev (random 0.82) and were no better on a synthetic folder (bench_fewlabel_real.py)
    informed = p is not None or prior is not None or (n_pos >= MIN_EACH and n_known - n_pos >= MIN_EACH)
    posterior = None  # the head's logit and its spread, where a head is fitted here (see the module doc)
    if p is None and informed:
        posterior = logit_posterior(Z[taken], labels[taken], prior=prior)
        mean = posterior.mean(Z)
        p = _sigmoid(mean)
    elif p is None:
        p = unlabelled_p(Z, labels, seed=seed)
    n_reserve = min(k - 1, math.ceil(k * reserve)) if k > 1 else 0

    picks: list[tuple[int, float]] = []
    if p is not None and n_reserve:
        # rare positives: the most likely unlabelled ones, spread out like the rest
        cand = unl[np.argsort(-p[unl], kind="stable")[:_POOL]]
        picks = _greedy(Z, cand, p[cand], taken, n_reserve, h, diversity)
    chosen = np.array([i for i, _ in picks], dtype=np.intp)
    open_[chosen] = False
    rest = np.flatnonzero(open_)
    if not informed:
        # cold start: group medoids (see the module doc); a candidate sample keeps it fast
        if len(rest) > _POOL:
            rest = rng.choice(rest, size=_POOL, replace=False)
        picks += _medoids(Z, rest, np.concatenate([taken, chosen]).astype(np.intp), k - len(picks), rng, h, diversity)
        picks.sort(key=lambda t: -t[1])
        return picks
    positive = p[rest] >= 0.5
    if posterior is None:
        value = 1 - np.abs(2 * p[rest] - 1)
    else:
        # the moderated p needs the spread: on the frames the head is least sure of by its mean, and a
        # sample of the others (a frame far from every labelled one can be uncertain at any mean)
        m = np.abs(mean[rest])
        near = _pool(-m, positive)
        if len(rest) > 2 * _POOL:
            near = np.union1d(near, rng.choice(len(rest), size=_POOL, replace=False))
        rest, positive, m = rest[near], positive[near], m[near]
        value = 1 - np.abs(2 * _sigmoid(m / np.sqrt(1 + np.pi * posterior.variance(Z[rest]) / 8)) - 1)
    keep = _pool(value, positive)
    counts = [n_known - n_pos + len(chosen) - int((p[chosen] >= 0.5).sum()), n_pos + int((p[chosen] >= 0.5).sum())]
    picks += _sides(Z, rest[keep], value[keep], positive[keep], np.concatenate([taken, chosen]), counts,
                    k - len(picks), h, diversity)
    picks.sort(key=lambda t: -t[1])
    return picks
