"""Inference averages a frame with its mirror when (and only when) the model was trained on mirrored frames."""

from __future__ import annotations

import numpy as np
import torch

from tui_tagger.model.checkpoint import ModelInfo
from tui_tagger.model.infer import LocalPredictor
from tui_tagger.model.nets import create_model
from tui_tagger.model.transforms import preprocess_config

TAGS = ["Ring: Isotropic", "Vertical streaks", "Ring: Oriented other"]


def _predictor(flip: bool | None) -> LocalPredictor:
    torch.manual_seed(0)
    model = create_model("alexnet-tagger", len(TAGS)).eval()
    training = {} if flip is None else {"config": {"flip": flip}}
    info = ModelInfo("alexnet-tagger", {}, TAGS, preprocess_config({"size": 64}), {}, training)
    return LocalPredictor(model, info, torch.device("cpu"))


def _frames() -> np.ndarray:
    rng = np.random.default_rng(1)
    x = rng.random((4, 64, 64), dtype=np.float32)
    x[:, :, :20] *= 0.1  # lopsided, so that a frame and its mirror differ
    return x


def test_a_model_trained_on_flips_gives_a_frame_and_its_mirror_the_same_probabilities():
    pred = _predictor(flip=True)
    x = _frames()
    p = pred.predict_arrays(x)
    assert np.allclose(p, pred.predict_arrays(x[:, :, ::-1].copy()), atol=1e-5)
    with torch.no_grad():
        t = torch.from_numpy(x)[:, None]
        expected = torch.sigmoid((pred.model(t) + pred.model(t.flip(-1))) / 2).numpy()
    assert np.allclose(p, expected, atol=1e-5)


def test_a_model_not_trained_on_flips_sees_the_frame_as_it_is():
    for flip in (False, None):  # None: a model that says nothing of how it was trained
        pred = _predictor(flip=flip)
        x = _frames()
        p = pred.predict_arrays(x)
        with torch.no_grad():
            expected = torch.sigmoid(pred.model(torch.from_numpy(x)[:, None])).numpy()
        assert np.allclose(p, expected, atol=1e-5)
        assert not np.allclose(p, pred.predict_arrays(x[:, :, ::-1].copy()), atol=1e-4)



def test_the_predictor_folds_batch_norm_into_a_copy_giving_the_same_p():
    """Predict runs a copy with each BatchNorm folded into its convolution (less CPU per frame): the p are
    the trained network's, and the network passed in keeps its BatchNorms (it may be trained further)."""
    torch.manual_seed(3)
    model = create_model("alexnet-tagger", len(TAGS))
    model.train()
    with torch.no_grad():  # running statistics away from their initial 0 / 1, so folding has work to do
        for _ in range(3):
            model(torch.rand(4, 1, 64, 64) * 3)
    model.eval()
    frames = _frames()
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.from_numpy(frames)[:, None])).numpy()
    info = ModelInfo("alexnet-tagger", {}, TAGS, preprocess_config({"size": 64}), {}, {"config": {"flip": False}})
    pred = LocalPredictor(model, info, torch.device("cpu"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in pred.model.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 5
    np.testing.assert_allclose(pred.predict_arrays(frames), expected, atol=1e-5)


def test_a_frame_with_no_valid_pixel_is_one_line_not_a_guess(tmp_path):
    import tifffile

    nan = tmp_path / "all_nan.tif"
    tifffile.imwrite(nan, np.full((64, 80), np.nan, np.float32))
    flagged = tmp_path / "all_flagged.tif"
    tifffile.imwrite(flagged, np.full((64, 80), 2**32 - 1, np.uint32))  # every pixel a detector's flag
    dark = tmp_path / "dark.tif"
    tifffile.imwrite(dark, np.zeros((64, 80), np.uint16))  # real zeros: a frame, predicted
    results = list(_predictor(flip=None).predict_paths([str(nan), str(flagged), str(dark)], workers=0))
    for (path, probs, error), name in zip(results[:2], ["all_nan.tif", "all_flagged.tif"]):
        assert probs is None and name in error and "no valid pixel" in error and "\n" not in error
    assert results[2][1] is not None and results[2][2] is None
