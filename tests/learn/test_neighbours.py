"""A label on one frame of a series carries to its near-duplicates, and nowhere else."""

import numpy as np

from tui_tagger.learn.heads import fit_embedding, fit_scores, with_prior
from tui_tagger.learn.live import LiveHead
from tui_tagger.learn.neighbours import bandwidth, near_correction


def _folder(seed=0):
    """60 frames spread out, then a series of 6 near-duplicates of another frame: (features, the series' rows)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 30))
    series = rng.normal(size=30) + 0.02 * rng.normal(size=(6, 30))
    return np.vstack([X, series]), np.arange(60, 66)


def test_a_label_carries_to_its_series_only():
    Z, series = _folder()
    p = np.full(len(Z), 0.2)  # the head says absent everywhere
    h = bandwidth(Z)
    out = near_correction(p, Z, [series[0]], [1.0], h)
    assert (out[series[1:]] > 0.5).all()  # its near-duplicates follow the label
    assert (out[:60] < 0.5).all() and np.abs(out[:60] - 0.2).mean() < 0.01  # frames unlike it keep the head's p
    assert out[series[0]] == 0.2  # the labelled frame's own p is the head's (the label shows it)
    assert np.array_equal(near_correction(p, Z, [], [], h), p)


def test_the_correction_moves_towards_the_labels_never_past_them():
    Z, series = _folder(1)
    p = np.full(len(Z), 0.9)
    out = near_correction(p, Z, [series[0]], [1.0], bandwidth(Z))
    assert np.all(out >= p) and np.all(out <= 1.0)
    out = near_correction(p, Z, [series[0], series[1]], [1.0, 0.0], bandwidth(Z))  # a series labelled both ways
    assert np.all((out[series[2:]] > 0.5) & (out[series[2:]] < 0.9))  # towards the labels' mean, not past it


def test_the_live_head_corrects_a_series_from_one_label():
    """The model (its own head on the features) is sure and wrong on a series; one label on one of its frames
    puts the rest right, while the head from the model alone barely moves."""
    X, series = _folder(2)
    X[series, 0] -= X[series[0], 0] + 2.0  # the model's logit there: about -5.6
    truth = X[:, 0] > 0.8
    truth[series] = True
    w, c = np.eye(X.shape[1])[0] * 2.0, -1.6  # the model: present where X[:, 0] > 0.8
    head = LiveHead("cnn")
    head.paths, head.X = [f"f{i:03d}" for i in range(len(X))], X
    head._row = {p: i for i, p in enumerate(head.paths)}
    head.embedding = fit_embedding(X)
    head._Z = head.embedding.transform(X)
    emb, prior = with_prior(head.embedding, w, c)
    head._spaces["T"] = (emb, emb.transform(X), prior)
    labels = {head.paths[i]: bool(truth[i]) for i in [*np.flatnonzero(truth[:60])[:3], *np.flatnonzero(~truth[:60])[:3]]}
    labels[head.paths[series[0]]] = True
    p = head.fit(labels, "T")
    assert all(p[head.paths[i]] > 0.5 for i in series[1:])
    _, Z, prior = head.space("T")
    coef, b = fit_scores(Z[[head._row[q] for q in labels]], np.array([float(v) for v in labels.values()]), prior=prior)
    alone = Z @ coef + b >= 0  # what the linear head alone says
    assert not alone[series[1:]].any()
    said = np.array([p[q] >= 0.5 for q in head.paths[:60]])
    assert np.mean(said == truth[:60]) >= np.mean(alone[:60] == truth[:60])  # the rest no worse


def test_learning_curve_scores_the_corrected_p():
    """A folder of 15 series of 8 frames; the model is sure and wrong on 5 of them. Labels on a frame of each
    of those put its series right: the curve (what ``learning-curve`` prints) gains from it."""
    from tui_tagger.learn.curve import learning_curve

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(15, 10))
    Z0 = np.repeat(centres, 8, axis=0) + 0.02 * rng.normal(size=(120, 10))
    truth = np.repeat(rng.random(15) < 0.5, 8).astype(float)
    wrong = np.repeat(np.arange(15) < 5, 8)
    logit = np.where((truth > 0.5) != wrong, 4.0, -4.0) + 0.1 * rng.normal(size=120)
    Z = np.hstack([Z0, logit[:, None]])
    prior = (np.eye(11)[10], 0.0)  # the fit starts from the model's logit, the last column
    kw = {"step": 10, "max_labels": 30, "prior": prior, "repeats": 10}
    near = learning_curve(Z, truth, near=True, **kw)[-1]
    alone = learning_curve(Z, truth, near=False, **kw)[-1]
    assert near["random_accuracy"] > alone["random_accuracy"] + 0.02
    assert near["accuracy"] >= alone["accuracy"]
