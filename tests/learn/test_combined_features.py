"""Combined features (the CNN's vector, then the physics one): one row per image both could read, each block
its share of the heads' embedding, the model's own p kept for its tags, and a live head for a tag the model
lacks saved on the CNN's features alone (what predict has)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tui_tagger.model.locate import shipped_model_paths

SHIPPED = shipped_model_paths()[0]
pytestmark = pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model in models/")


def _items(folder):
    paths = sorted(str(p) for p in folder.iterdir() if p.suffix == ".tif")
    return [(p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]


@pytest.fixture
def combined(folder, tmp_path):
    from tui_tagger.learn.features import compute

    items = _items(folder)
    return items, compute(items, "combined", model=str(SHIPPED), cache_dir=tmp_path / "cache", workers=1)


def test_one_row_per_readable_image_cnn_block_first(combined, tmp_path):
    from tui_tagger.learn.features import compute
    from tui_tagger.learn.physics import DIM

    items, fs = combined
    cnn = compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path / "cache")
    phys = compute(items, "physics", cache_dir=tmp_path / "cache", workers=1)
    assert fs.refs == cnn.refs == phys.refs and fs.X.shape == (len(items) - 1, cnn.X.shape[1] + DIM)
    np.testing.assert_array_equal(fs.X[:, :cnn.X.shape[1]], cnn.X)
    np.testing.assert_array_equal(fs.X[:, cnn.X.shape[1]:], phys.X)
    assert len(fs.problems) == 1 and "broken.tif" in fs.problems[0]  # named once, not once per source


def test_the_physics_block_gets_its_share_of_the_embedding(combined):
    from tui_tagger.learn.features import PHYSICS_SHARE, column_weights
    from tui_tagger.learn.physics import DIM

    X = combined[1].X
    w = column_weights("combined", X)
    live = X.std(axis=0) > 1e-6
    share = np.sum(w[-DIM:][live[-DIM:]] ** 2) / np.sum(w[live] ** 2)
    assert share == pytest.approx(PHYSICS_SHARE)
    assert column_weights("cnn", X[:, :-DIM]) is None


def test_no_label_gives_the_models_own_logit(combined):
    from tui_tagger.learn.features import column_weights
    from tui_tagger.learn.heads import fit_embedding, model_prior, tag_embedding
    from tui_tagger.learn.physics import DIM

    X = combined[1].X.astype(np.float64)
    w, c = model_prior("GISAXS", str(SHIPPED))
    emb, prior = tag_embedding(fit_embedding(X, weights=column_weights("combined", X)), "GISAXS", "combined",
                               str(SHIPPED))
    assert prior is not None
    np.testing.assert_allclose(emb.transform(X) @ prior[0] + prior[1], X[:, :-DIM] @ w + c, rtol=1e-6, atol=1e-6)


def test_a_live_head_for_a_new_tag_is_saved_on_the_cnn_features(combined, tmp_path, monkeypatch):
    import shutil

    from tui_tagger.learn.live import LiveHead
    from tui_tagger.learn.physics import DIM
    from tui_tagger.model.headfile import load_model_heads

    model = tmp_path / "m.pt"
    shutil.copy(SHIPPED, model)
    items, fs = combined
    head = LiveHead("combined", str(model))
    head.load(items, cache_dir=tmp_path / "cache", workers=1)
    labels = {p: i % 2 == 0 for i, p in enumerate(head.paths[:4])}
    assert head.fit(labels, "Sample holder visible") is not None
    saved = head.save_with_model(str(tmp_path))
    assert saved is not None
    heads = load_model_heads(str(model))
    found = [h for h in heads if h.tag == "Sample holder visible"]
    assert found and found[0].embedding.mean.shape == (fs.X.shape[1] - DIM,)
