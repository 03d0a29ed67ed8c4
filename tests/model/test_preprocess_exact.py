"""The faster preprocessing (one sort for the percentiles, strided block max, no masked copy when every pixel
is valid) gives the model exactly the inputs of the straightforward one it replaced, so predictions stay."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.core.hotpixels import hot_pixels
from tui_tagger.core.photons import NORMALISED_BELOW, photon_gain
from tui_tagger.model import transforms


def reference(data: np.ndarray, mask: np.ndarray | None, config: dict) -> np.ndarray:
    """The preprocessing as first written: np.percentile, a where() copy, reshape(...).max(); hot pixels
    (``config["hot"]``) found by one pass over the frame and masked, the percentiles taken again without
    them where there are many; the counts over the floor scaled to at most _MAX_GAIN units per photon, or to
    photons from under NORMALISED_BELOW (fractions only; ``config["unit"]``)."""
    data = np.asarray(data, dtype=np.float32)
    size = int(config["size"])
    valid = np.isfinite(data)
    if mask is not None:
        valid &= mask
    values = data[valid]
    invalid = np.float32(config["invalid"])
    if not values.size:
        return np.full((size, size), invalid, dtype=np.float32)
    if values.size > transforms._SAMPLE:
        values = values[:: values.size // transforms._SAMPLE]
    qs = [config["floor_percentile"], config["pmin"], config["pmax"]]
    floor, lo, hi = np.percentile(values, qs)
    unit = 1.0
    if config["unit"]:
        g = photon_gain(data, valid)
        if g is not None and g > transforms._MAX_GAIN:
            unit = transforms._MAX_GAIN / g
        elif g is not None and g < NORMALISED_BELOW:
            sample = values[:: max(1, values.size // 4096)]
            unit = 1.0 if np.array_equal(sample, np.rint(sample)) else 1.0 / g  # counts are left as they are
    if config["hot"]:
        level = floor + transforms._HOT_LEVEL * (np.percentile(values, transforms._HOT_PERCENTILE) - floor)
        hot = hot_pixels(data, valid, floor, level)
        valid.flat[hot] = False
        if hot.size * transforms._HOT_SHARE_OF_TAIL > data.size:
            values = data[valid]
            floor, lo, hi = np.percentile(values[:: max(1, values.size // transforms._SAMPLE)], qs)
    lo, hi = np.log1p(max(lo - floor, 0.0) * unit), np.log1p(max(hi - floor, 0.0) * unit)
    scale = 1.0 / (hi - lo) if hi > lo else 0.0
    x = np.where(valid, data, np.float32(-np.inf))
    h, w = x.shape
    if config["fit"] == "pad" and h != w:
        n = max(h, w)
        square = np.full((n, n), -np.inf, dtype=np.float32)
        square[(n - h) // 2 : (n - h) // 2 + h, (n - w) // 2 : (n - w) // 2 + w] = x
        x = square
    for axis in (0, 1):
        n = x.shape[axis]
        if n > size:
            f = -(-n // size)
            m = -(-n // f)
            pad = [(0, 0), (0, 0)]
            pad[axis] = (0, m * f - n)
            x = np.pad(x, pad, constant_values=-np.inf)
            x = x.reshape((m, f, x.shape[1]) if axis == 0 else (x.shape[0], m, f)).max(axis=axis + 1)
            n = m
        if n != size:
            x = np.take(x, (np.arange(size) * n) // size, axis=axis)
    hole = np.isneginf(x)
    x = np.ascontiguousarray(x, dtype=np.float32)
    np.subtract(x, np.float32(floor), out=x)
    np.clip(x, 0.0, None, out=x)
    if unit != 1.0:
        np.multiply(x, np.float32(unit), out=x)
    np.log1p(x, out=x)
    np.subtract(x, np.float32(lo), out=x)
    np.multiply(x, np.float32(scale), out=x)
    np.clip(x, 0.0, 1.0, out=x)
    if invalid:
        x[hole] = invalid
    return x


def frames():
    rng = np.random.default_rng(7)
    yield "poisson 1024", rng.poisson(100, (1024, 1024)).astype(np.uint16), None
    yield "wide range, masked", rng.lognormal(3, 2, (619, 487)).astype(np.float32), rng.random((619, 487)) > 0.2
    nan = rng.lognormal(3, 1, (300, 1100)).astype(np.float32)
    nan[5:9] = np.nan
    yield "nan rows, strip", nan, None
    yield "small, grown", rng.poisson(5, (100, 80)).astype(np.float32), np.ones((100, 80), bool)
    yield "already the size", rng.poisson(30, (256, 256)).astype(np.float32), None
    yield "500 units per photon", (rng.poisson(40, (700, 600)) * 500.0).astype(np.float32), None
    yield "0.002 units per photon", (rng.poisson(40, (700, 600)) * 0.002).astype(np.float32), None
    for name, shape in (("zingers", (1024, 900)), ("zingers, small, grown", (120, 90))):
        zingers = rng.poisson(100, shape).astype(np.float32)
        zingers.flat[rng.choice(zingers.size, 40, replace=False)] = 5e5
        yield name, zingers, None


@pytest.mark.parametrize("invalid, hot, unit", [(0.0, False, False), (-1.0, False, False), (0.0, True, False),
                                               (-1.0, True, False), (0.0, True, True), (-1.0, True, True)])
def test_fast_preprocessing_equals_the_reference_bit_for_bit(invalid, hot, unit):
    config = transforms.preprocess_config({"invalid": invalid, "hot": hot, "unit": unit})
    for name, data, mask in frames():
        kept = np.array(data, copy=True)
        out = transforms.preprocess(data, mask, config)
        ref = reference(data, mask, config)
        assert out.dtype == np.float32 and out.shape == (256, 256)
        assert np.array_equal(out, ref), name
        assert np.array_equal(data, kept, equal_nan=True), f"{name}: the caller's frame was changed"


def test_percentiles_are_numpys():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 1000, 262144):
        values = rng.lognormal(2, 2, n).astype(np.float32)
        assert transforms._percentiles(values, (1.0, 0.5, 99.9)) == list(np.percentile(values, [1.0, 0.5, 99.9]))


def test_predictions_unchanged_through_the_pipeline(tmp_path):
    """predict_paths (decode + fast preprocessing in workers + model) gives the probabilities of the reference
    preprocessing fed straight to the model, to 1e-5."""
    import tifffile

    from tests.model.helpers import labelled_arrays
    from tui_tagger.model.checkpoint import ModelInfo
    from tui_tagger.model.device import resolve_device
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.nets import create_model

    import torch

    torch.manual_seed(0)
    info = ModelInfo("alexnet-tagger", {}, ["a", "b", "c"], transforms.preprocess_config({"size": 64, "invalid": -1.0}))
    predictor = LocalPredictor(create_model(info.arch, 3).eval(), info, resolve_device("cpu"), physics=False)
    images, _ = labelled_arrays(6, 200, seed=4)
    paths = []
    for i, img in enumerate(images):
        paths.append(str(tmp_path / f"f{i}.tif"))
        tifffile.imwrite(paths[-1], img.astype(np.uint16))
    got = list(predictor.predict_paths(paths, batch=4, workers=0))
    from tui_tagger.core.formats import read_image

    ref_inputs = np.stack([reference(read_image(p).data, read_image(p).mask, info.preprocess) for p in paths])
    want = predictor.predict_arrays(ref_inputs)
    for (path, probs, error), row in zip(got, want):
        assert error is None
        assert np.allclose([probs[t] for t in info.tags], row, atol=1e-4 + 1e-5)  # predict_paths rounds to 4 places
