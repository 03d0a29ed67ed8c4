"""The one preprocessing function: its properties, and that training and prediction feed the model
exactly the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from tui_tagger.core.photons import photon_gain
from tui_tagger.model.checkpoint import ModelInfo
from tui_tagger.model.data import FrameDataset, batches, load_and_preprocess
from tui_tagger.model.infer import LocalPredictor
from tui_tagger.model.nets import create_model
from tui_tagger.model.transforms import preprocess, preprocess_config


def test_output_is_fixed_size_in_unit_range_with_masked_pixels_zero():
    rng = np.random.default_rng(0)
    data = rng.poisson(50, (300, 200)).astype(np.float32)
    data[0, 0] = 1e9  # a hot pixel must not squash the range
    mask = np.ones_like(data, dtype=bool)
    mask[:, :100] = False
    cfg = preprocess_config({"size": 64, "fit": "stretch"})
    out = preprocess(data, mask, cfg)
    assert out.shape == (64, 64) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.all(out[:, :30] == 0.0)  # the masked left half
    assert out[:, 34:].mean() > 0.2  # valid pixels are spread over the range, not crushed by the hot pixel


@pytest.mark.parametrize("shape", [(1, 1), (7, 300), (64, 64), (1043, 981)])
def test_any_shape_and_degenerate_content_gives_finite_output(shape):
    cfg = preprocess_config({"size": 64})
    for data in (np.zeros(shape), np.full(shape, np.nan), np.full(shape, 7.0)):
        out = preprocess(data, None, cfg)
        assert out.shape == (64, 64) and np.isfinite(out).all()
    assert preprocess(np.ones(shape), np.zeros(shape, bool), cfg).max() == 0.0  # all masked


def test_pad_keeps_a_ring_round_on_a_wide_frame():
    yy, xx = np.mgrid[:100, :200]
    ring = (np.abs(np.hypot(yy - 50, xx - 100) - 40) < 2) * 1000.0 + 1
    out = preprocess(ring, None, preprocess_config({"size": 100, "reduce": "max"}))
    ys, xs = np.nonzero(out > 0.5)
    assert abs((ys.max() - ys.min()) - (xs.max() - xs.min())) <= 4  # round, not an ellipse


def test_unknown_options_are_refused():
    with pytest.raises(ValueError):
        preprocess_config({"sise": 10})
    with pytest.raises(ValueError):
        preprocess_config({"version": 99})
    with pytest.raises(ValueError):
        preprocess_config({"size": 16})  # too small for five convolutions and three pools


def test_training_and_prediction_see_identical_inputs(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(3):
        p = tmp_path / f"f{i}.tif"
        tifffile.imwrite(p, rng.poisson(30, (120, 90)).astype(np.uint16))
        paths.append(str(p))
    cfg = preprocess_config({"size": 64})
    expected = np.stack([load_and_preprocess(p, cfg) for p in paths])
    # what train (and evaluate) read: the batch pipeline, here with a worker process
    (index, x, errors), = list(batches(paths, cfg, batch=8, workers=1))
    assert index == [0, 1, 2] and not errors
    np.testing.assert_array_equal(x[:, 0].numpy(), expected)
    assert FrameDataset(paths, cfg)[1][1].tobytes() == expected[1].tobytes()
    # what predict feeds the model: the same arrays, given the checkpoint's stored config (the physics check
    # off: these frames are noise alone, which it rules on; the inputs are what is compared here)
    info = ModelInfo("alexnet-tagger", {}, ["a", "b"], cfg)
    predictor = LocalPredictor(create_model("alexnet-tagger", 2).eval(), info, __import__("torch").device("cpu"),
                               physics=False)
    from_paths = np.array([list(p.values()) for _, p, _ in predictor.predict_paths(paths, 2, 0)])
    np.testing.assert_allclose(from_paths, predictor.predict_arrays(expected), atol=1e-4)


def test_shrinking_first_equals_mapping_every_pixel_first():
    """The block-max shortcut must give what mapping each pixel and then taking block maxima gives."""
    rng = np.random.default_rng(2)
    data = rng.poisson(40, (128, 128)).astype(np.float32)
    mask = rng.random(data.shape) > 0.2
    full = preprocess(data, mask, preprocess_config({"size": 128}))  # no resize: every pixel mapped
    expected = full.reshape(64, 2, 64, 2).max(axis=(1, 3))
    np.testing.assert_allclose(preprocess(data, mask, preprocess_config({"size": 64})), expected, atol=1e-6)


def test_with_invalid_minus_one_padding_gaps_and_masked_pixels_are_not_dark_pixels():
    """A strip detector padded to a square: the padding and a module gap must not read as a dark region
    (0 is also the darkest real pixel), or the padding's edge passes for a GISAXS horizon."""
    rng = np.random.default_rng(0)
    strip = rng.poisson(20, (64, 512)).astype(np.float32)
    strip[:, 0] = 0  # a dark column of real pixels
    mask = np.ones_like(strip, dtype=bool)
    mask[:, 248:264] = False  # a gap between modules (two whole 8-pixel blocks at this size)
    for reduce in ("max", "mean"):
        out = preprocess(strip, mask, preprocess_config({"size": 64, "invalid": -1.0, "reduce": reduce}))
        assert out.shape == (64, 64)
        assert np.all(out[:24] == -1.0) and np.all(out[-24:] == -1.0)  # the padding above and below
        assert np.all(out[30:34, 31:33] == -1.0)  # the gap
        assert out[30:34].min() >= -1.0 and (out[30:34, 34:] >= 0).all()  # real pixels stay in [0, 1]
    old = preprocess(strip, mask, preprocess_config({"size": 64}))
    assert old.min() == 0.0 and np.all(old[:24] == 0.0)  # the first models' input, unchanged
    assert preprocess_config({})["invalid"] == 0.0  # a model file without the key is read as before
    with pytest.raises(ValueError):
        preprocess_config({"invalid": 0.5})


def _hot_frame(shape, n, seed=0):
    """Poisson background with a ring, and ``n`` isolated hot pixels far above it: (data, their flat indices)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices(shape)
    r = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)
    data = rng.poisson(30 + 400 * np.exp(-0.5 * ((r - min(shape) / 4) / 2.0) ** 2)).astype(np.float32)
    grid = np.flatnonzero(((yy % 5 == 2) & (xx % 5 == 2)).ravel())  # never side by side
    at = np.sort(rng.choice(grid, n, replace=False))
    data.flat[at] = 1e6
    return data, at


@pytest.mark.parametrize("shape, size", [((600, 600), 128), ((300, 700), 128), ((90, 120), 128)])
def test_hot_pixels_leave_the_input_as_if_they_were_masked(shape, size):
    # many (1 in 300, more than the 0.1 % pmax cuts): each would be a bright dot after the block max
    n = max(10, shape[0] * shape[1] // 300)
    data, at = _hot_frame(shape, n)
    cfg = preprocess_config({"size": size, "invalid": -1.0})
    masked = np.ones(shape, bool)
    masked.flat[at] = False
    out = preprocess(data, None, cfg)
    np.testing.assert_array_equal(out, preprocess(data, masked, {**cfg, "hot": False}))
    dirty = preprocess(data, None, {**cfg, "hot": False})
    assert (dirty == 1.0).sum() >= min(n, size * size // 8)  # what the network saw before: dots at full scale
    assert (out == 1.0).sum() + n // 2 <= (dirty == 1.0).sum()


def test_a_few_hot_pixels_are_masked_and_a_clean_frame_is_unchanged():
    data, at = _hot_frame((800, 800), 12)
    clean = data.copy()
    clean.flat[at] = 30
    cfg = preprocess_config({"size": 128, "invalid": -1.0})
    assert cfg["hot"] is True  # the default, and so for every checkpoint stored before the key
    np.testing.assert_array_equal(preprocess(clean, None, cfg), preprocess(clean, None, {**cfg, "hot": False}))
    out, dirty = preprocess(data, None, cfg), preprocess(data, None, {**cfg, "hot": False})
    ref = preprocess(clean, None, cfg)
    assert np.abs(out - ref).max() < 0.15 < np.abs(dirty - ref).max()
    with pytest.raises(ValueError, match="hot"):
        preprocess_config({"hot": "yes"})


def test_a_frame_in_any_units_outside_a_few_per_photon_gives_the_model_one_input():
    rng = np.random.default_rng(5)
    yy, xx = np.indices((500, 500))
    r = np.hypot(yy - 250, xx - 250)
    photons = rng.poisson(30 * (1 + 10 * np.exp(-r / 50)) + 300 * np.exp(-0.5 * ((r - 140) / 4) ** 2))
    cfg = preprocess_config({"size": 128, "invalid": -1.0})
    as_counts = preprocess(photons.astype(np.float32), None, cfg)
    # a counting detector's frame (about 1 unit per photon) is left as it was
    np.testing.assert_array_equal(as_counts, preprocess(photons.astype(np.float32), None, {**cfg, "unit": False}))
    adu = [preprocess((photons * k).astype(np.float32), None, cfg) for k in (50.0, 1000.0)]
    np.testing.assert_allclose(adu[0], adu[1], atol=1e-5)  # x50 and x1000: the same input
    before = preprocess((photons * 1000.0).astype(np.float32), None, {**cfg, "unit": False})
    assert np.abs(adu[1] - as_counts).mean() < 0.5 * np.abs(before - as_counts).mean()
    # intensities normalised to small numbers (per second, per monitor count) are read as the photons again
    small = preprocess((photons * 0.001).astype(np.float32), None, cfg)
    small_before = preprocess((photons * 0.001).astype(np.float32), None, {**cfg, "unit": False})
    assert np.abs(small - as_counts).mean() < 0.01 < np.abs(small_before - as_counts).mean()
    # whole numbers whose noise a point spread smoothed measure under 0.1 per photon too: counts, left alone
    k = 5
    blurred = np.rint(sum(np.roll(photons, (dy, dx), (0, 1)) for dy in range(k) for dx in range(k)) / k ** 2)
    assert photon_gain(blurred) < 0.1
    np.testing.assert_array_equal(preprocess(blurred.astype(np.float32), None, cfg),
                                  preprocess(blurred.astype(np.float32), None, {**cfg, "unit": False}))
