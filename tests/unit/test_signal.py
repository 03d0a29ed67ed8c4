"""A frame with nothing on it but detector noise is told from every frame that holds scattering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tui_tagger.core.formats import read_image
from tui_tagger.core.signal import is_blank
from tui_tagger.core.synth import generate_frame

REAL_DEV = Path(__file__).resolve().parents[1] / "data" / "real-dev"


def test_ccd_pedestal_with_read_noise_zingers_and_dead_pixels_is_blank():
    rng = np.random.default_rng(3)
    frame = rng.normal(100.0, 3.0, (1024, 1024))
    ys, xs = rng.integers(0, 1024, 200), rng.integers(0, 1024, 200)
    frame[ys, xs] = 60000  # cosmic rays in a long dark exposure
    frame[rng.integers(0, 1024, 50), rng.integers(0, 1024, 50)] = 0  # dead pixels
    assert is_blank(frame.astype(np.uint16))


@pytest.mark.parametrize("level", [0.001, 0.05, 0.5, 3.0])
def test_counting_detector_with_stray_counts_is_blank(level):
    rng = np.random.default_rng(4)
    frame = rng.poisson(level, (1043, 981)).astype(np.int32)
    frame[rng.integers(0, 1043, 5), rng.integers(0, 981, 5)] = 1_000_000  # hot pixels
    assert is_blank(frame)


def test_module_gaps_flagged_and_masked_do_not_count_as_structure():
    rng = np.random.default_rng(5)
    frame = rng.poisson(0.02, (1043, 981)).astype(np.int32)
    frame[195:212, :] = -1
    frame[:, 487:494] = -1
    assert is_blank(frame, frame >= 0)


def test_faint_scattering_far_below_the_noise_of_one_pixel_is_not_blank():
    """Solution SAXS at a third of the read noise per pixel still lifts the blocks near the beam."""
    rng = np.random.default_rng(6)
    y, x = np.mgrid[:1024, :1024]
    q = np.hypot(x - 512, y - 512) / 1024
    frame = rng.normal(100.0, 3.0, (1024, 1024)) + 1.0 * np.exp(-(q / 0.15) ** 2)
    assert not is_blank(frame.astype(np.float32))


@pytest.mark.parametrize("units", [1.0, 0.001])
def test_weak_scattering_normalised_to_small_numbers_is_not_blank(units):
    """Counts per second or per monitor count: a median under 1 in other units is no counting detector's."""
    rng = np.random.default_rng(8)
    y, x = np.mgrid[:1043, :981]
    r = np.hypot(x - 490, y - 520)
    frame = rng.poisson(200 * (1 + 0.03 * np.exp(-r / 150))).astype(np.float64) * units  # a 3 % rise
    assert not is_blank(frame.astype(np.float32))
    dark = rng.normal(100.0, 3.0, (1024, 1024)) * units  # a dark CCD frame stays blank in any units
    assert is_blank(dark.astype(np.float32))


def test_ccd_quadrants_at_other_offsets_are_not_called_blank():
    """Not sure (a step, not noise), so the check stays silent rather than risk hiding signal."""
    rng = np.random.default_rng(7)
    frame = rng.normal(100.0, 3.0, (1024, 1024))
    frame[:512, 512:] += 4.0
    assert not is_blank(frame.astype(np.float32))


def test_generated_dark_frames_are_blank_and_no_other_family_is():
    for i in range(6):
        counts, mask, _, meta = generate_frame(21, i, 256, ["dark"])
        assert is_blank(counts, mask), (i, meta.get("detector"))
    for family in ("classic", "solution", "empty", "detector", "crystal", "calibrant"):
        for i in range(6):
            counts, mask, tags, _ = generate_frame(22, i, 256, [family])
            assert not is_blank(counts, mask), (family, i, tags)


@pytest.mark.parametrize("name", ["xsp__latest_0077027_craw.tiff", "xsp__latest_0079035_craw.tiff"])
def test_real_frames_are_not_blank(name):
    frame = read_image(REAL_DEV / name)
    assert not is_blank(frame.data, frame.mask)


def test_too_few_pixels_to_judge_is_not_blank():
    assert not is_blank(np.zeros((20, 20), np.uint16))
    assert not is_blank(np.zeros((10,), np.uint16))


def test_a_dark_frame_keeps_only_its_experiment_type_in_predict(tmp_path):
    """The shipped model alone reads a CCD dark frame as strong scattering with the beam off the image;
    predict (so the TUI, watch and evaluate) says nothing about it but what its geometry could."""
    import tifffile

    from tui_tagger.core.frame_rules import EXPERIMENT_TYPES
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.locate import shipped_model_paths

    rng = np.random.default_rng(8)
    path = tmp_path / "dark_00001.tif"
    tifffile.imwrite(path, rng.normal(100.0, 3.0, (1024, 1024)).clip(0).astype(np.uint16))
    model = next(m for m in shipped_model_paths() if m.exists())
    network = dict(next(iter(LocalPredictor.load(model, physics=False).predict_paths([str(path)], 1, 0)))[1])
    ruled = dict(next(iter(LocalPredictor.load(model, physics=True).predict_paths([str(path)], 1, 0)))[1])
    assert max(network.values()) > 0.5  # what the rule is there for: the network alone sees something
    assert all(p <= 0.05 for tag, p in ruled.items() if tag not in EXPERIMENT_TYPES)
    assert {t: ruled[t] for t in EXPERIMENT_TYPES} == {t: network[t] for t in EXPERIMENT_TYPES}
