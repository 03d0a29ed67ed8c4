"""Grad-CAM (model.cam): the map is exact about the preprocessing's geometry, and on the shipped model
it is finite, in [0, 1], not uniform, and overlays the original frame."""

from __future__ import annotations


import numpy as np
import pytest

from tui_tagger.model.cam import frame_index, to_frame
from tui_tagger.model.locate import shipped_model_paths
from tui_tagger.model.transforms import preprocess, preprocess_config

SHIPPED = shipped_model_paths()[0]
needs_model = pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model in models/")


@pytest.mark.parametrize("shape", [(1024, 1024), (300, 700), (100, 60), (1043, 981), (256, 256)])
@pytest.mark.parametrize("size", [256, 128])
def test_frame_index_follows_preprocess_exactly(shape, size):
    """A single bright pixel lands where frame_index says (pad to a square, block max, nearest)."""
    cfg = preprocess_config({"size": size})
    ri, ci = frame_index(shape, cfg)
    rng = np.random.default_rng(sum(shape) + size)
    for _ in range(4):
        r, c = int(rng.integers(shape[0])), int(rng.integers(shape[1]))
        data = np.zeros(shape, np.float32)
        data[r, c] = 1000
        x = preprocess(data, None, cfg)
        ys, xs = np.nonzero(x == x.max())
        assert ri[r] in ys and ci[c] in xs


def test_to_frame_on_a_display_grid_covers_the_frame():
    cfg = preprocess_config({"size": 64, "fit": "pad"})
    heat = np.zeros((64, 64), np.float32)
    heat[:, 32:] = 1.0  # the right half of the square
    full = to_frame(heat, (40, 100), cfg)
    assert full.shape == (40, 100)
    assert full[:, :48].max() == 0 and full[:, 52:].min() == 1  # the frame fills the square's width
    small = to_frame(heat, (40, 100), cfg, shape=(10, 25))
    assert small.shape == (10, 25) and small[:, :12].max() == 0 and small[:, 13:].min() == 1


def _frame_with(tag: str, size: int = 1024, meta: bool = False):
    from tui_tagger.core.synth import generate_frame

    for index in range(60):
        data, mask, tags, info = generate_frame(0, index, size, families=["classic"])
        if tag in tags:
            return (data, mask, info) if meta else (data, mask)
    raise AssertionError(f"no synthetic frame with {tag}")


@needs_model
def test_grad_cam_on_the_shipped_model():
    torch = pytest.importorskip("torch")
    from tui_tagger.model.cam import CamModel

    cm = CamModel(SHIPPED)
    data, mask = _frame_with("Circular beamstop")
    data = data[:, 100:]  # not square: the padding must be undone
    mask = mask[:, 100:]
    r = cm.cam(data, mask, "Circular beamstop")
    size = cm.info.preprocess["size"]  # the model's input size
    assert r.heat.dtype == np.float32 and r.heat.shape == (size, size)
    assert np.isfinite(r.heat).all() and r.heat.min() >= 0 and r.heat.max() <= 1
    assert not r.empty and r.heat.max() == pytest.approx(1.0, abs=0.05)
    overlay = r.to_frame()
    assert overlay.shape == data.shape and overlay.dtype == np.float32
    # not uniform: the hottest tenth of the frame holds far more than a tenth of the map's mass
    flat = np.sort(overlay.ravel())[::-1]
    assert flat[: flat.size // 10].sum() > 0.2 * flat.sum()
    assert overlay.std() > 0.05
    # the p beside the heat map is the one predict gives (the mirror average of the shipped model)
    from tui_tagger.model.infer import LocalPredictor

    pred = LocalPredictor(cm.model, cm.info, torch.device("cpu"))
    probs = pred.predict_arrays(preprocess(data, mask, cm.info.preprocess))[0]
    for tag in ("Circular beamstop", "Peaks: Isolated"):  # the second far from 0 or 1 on this frame
        assert cm.cam(data, mask, tag).p == pytest.approx(float(probs[cm.info.tags.index(tag)]), abs=1e-4)
    with pytest.raises(KeyError):
        cm.cam(data, mask, "Not a tag of this model")


@needs_model
def test_grad_cam_of_a_beamstop_is_hotter_on_the_beamstop():
    """The shipped model finds the circular beamstop: its map is hotter on the stop than elsewhere."""
    pytest.importorskip("torch")
    from tui_tagger.model.cam import CamModel

    data, mask, meta = _frame_with("Circular beamstop", 512, meta=True)
    r = CamModel(SHIPPED).cam(data, mask, "Circular beamstop")
    overlay = r.to_frame()
    # the stop from the generator's truth (the mask holds the detector's dead pixels, not the stop)
    geo, inst = meta["geometry"], meta["instrument"]
    yy, xx = np.indices(overlay.shape)
    stop = np.hypot(xx - geo["cx"], yy - geo["cy"]) <= inst["bs_size"] + 8
    assert stop.any()
    assert overlay[stop].mean() > 3 * overlay[~stop].mean()


@needs_model
def test_grad_cam_goes_through_a_head_saved_with_the_model(tmp_path):
    # a head that is exactly the model's own "Circular beamstop" output, under a new name, must give the
    # same map; CamModel finds the heads saved with the model, as predict does
    pytest.importorskip("torch")
    import shutil

    from tui_tagger.learn.heads import Embedding, Head, save_model_head
    from tui_tagger.model.cam import CamModel

    model = tmp_path / "m.pt"
    shutil.copy(SHIPPED, model)
    base = CamModel(model)
    k = base.info.tags.index("Circular beamstop")
    w = base.model.head.weight[k].detach().double().numpy()
    d = w.size
    emb = Embedding(np.zeros(d), np.ones(d), np.eye(d), np.ones(d))
    save_model_head(Head("My beamstop", emb, w, float(base.model.head.bias[k].detach())), model)
    cm = CamModel(model)
    assert "My beamstop" in cm.tags
    data, mask = _frame_with("Circular beamstop")
    # predict averages the model's own logits with the mirrored frame's, never a head's (heads learn on frames
    # as they are): compare the frame as it is, or the test would measure how symmetric the model is
    cm.info.training = {**cm.info.training, "config": {**(cm.info.training.get("config") or {}), "flip": False}}
    assert not cm.info.mirror
    mine, theirs = cm.cam(data, mask, "My beamstop"), cm.cam(data, mask, "Circular beamstop")
    assert mine.p == pytest.approx(theirs.p, abs=1e-4)
    np.testing.assert_allclose(mine.heat, theirs.heat, atol=1e-4)
    assert not mine.empty
