"""Display pipeline: levels from valid pixels only, scalings, masked colour, thumbnails that keep peaks."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.core.colormaps import COLORMAPS, MASKED_RGB, colorbar, colormap_lut
from tui_tagger.core.display import (
    DisplaySettings,
    colorize,
    downsample_max,
    downsample_rms,
    fit_size,
    normalize,
    render,
    render_array,
    thumbnail,
)
from tui_tagger.core.errors import ExpressionError, TaggerError

MASKED = np.array(MASKED_RGB, dtype=np.uint8)


def _ramp(h=64, w=80):
    return np.tile(np.arange(w, dtype=np.float32), (h, 1))


# --- colour maps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COLORMAPS)
def test_every_colormap_is_a_256_entry_rgb_table(name):
    lut = colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert not np.array_equal(lut[0], lut[-1])


def test_required_colormaps_exist_and_default_runs_black_to_white():
    assert {"gray", "viridis", "magma", "cmr"} <= set(COLORMAPS)
    cmr = colormap_lut("cmr")
    assert cmr[0].tolist() == [0, 0, 0] and cmr[-1].tolist() == [255, 255, 255]
    # blue comes before the warm colours
    assert np.argmax(cmr[:, 2] > 150) < np.argmax(cmr[:, 0] > 250)
    assert colormap_lut("viridis")[0].tolist() == [68, 1, 84]  # the published table's first entry


def test_unknown_colormap_error_lists_the_names():
    with pytest.raises(TaggerError, match="viridis"):
        colormap_lut("nope")
    with pytest.raises(TaggerError, match="known"):
        DisplaySettings(colormap="nope")


def test_colorbar_spans_the_map():
    bar = colorbar("gray", 50)
    assert bar.shape == (1, 50, 3) and bar.dtype == np.uint8
    assert bar[0, 0].tolist() == [0, 0, 0] and bar[0, -1].tolist() == [255, 255, 255]
    assert np.all(np.diff(bar[0, :, 0].astype(int)) >= 0)


# --- settings -------------------------------------------------------------------------------------


def test_settings_key_is_stable_and_distinguishes_settings():
    a = DisplaySettings()
    assert a.key() == DisplaySettings().key()
    others = [
        DisplaySettings(scaling="linear"),
        DisplaySettings(pmax=99.0),
        DisplaySettings(colormap="gray"),
        DisplaySettings(expression="log1p(img)"),
        DisplaySettings(scaling="gamma", gamma=0.3),
    ]
    assert len({a.key(), *(o.key() for o in others)}) == 1 + len(others)


@pytest.mark.parametrize("bad", [dict(scaling="sqrtlog"), dict(pmin=50, pmax=10), dict(pmax=101), dict(gamma=0)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(TaggerError):
        DisplaySettings(**bad)


# --- normalisation --------------------------------------------------------------------------------


def test_percentiles_ignore_masked_pixels():
    data = _ramp()
    mask = np.ones(data.shape, bool)
    data[:, :10] = 1e9  # a hot masked region must not squash the range
    mask[:, :10] = False
    norm = normalize(data, mask, DisplaySettings(scaling="linear", pmin=0, pmax=100))
    assert np.isnan(norm[:, :10]).all()
    assert norm[0, 10] == pytest.approx(0.0) and norm[0, -1] == pytest.approx(1.0)
    assert 0.4 < norm[0, 45] < 0.6


@pytest.mark.parametrize("scaling", ["linear", "log", "gamma"])
def test_scalings_are_monotonic_and_in_range(scaling):
    norm = normalize(_ramp(), None, DisplaySettings(scaling=scaling, pmin=0, pmax=100))
    row = norm[0]
    assert row.min() == pytest.approx(0.0) and row.max() == pytest.approx(1.0)
    assert np.all(np.diff(row) >= 0)


def test_log_lifts_faint_values_more_than_linear():
    data = _ramp()
    lin = normalize(data, None, DisplaySettings(scaling="linear", pmin=0, pmax=100))
    log = normalize(data, None, DisplaySettings(scaling="log", pmin=0, pmax=100))
    assert log[0, 8] > 2 * lin[0, 8]


def test_log_of_negative_values_uses_the_floor():
    data = _ramp() - 40.0  # -40 .. 39
    norm = normalize(data, None, DisplaySettings(scaling="log", pmin=0, pmax=100))
    assert np.isfinite(norm).all()
    assert norm[0, 0] == pytest.approx(0.0) and norm[0, -1] == pytest.approx(1.0)


def test_percentile_trimming_saturates_outliers():
    data = _ramp()
    data[0, 0] = 1e6  # one hot pixel
    norm = normalize(data, None, DisplaySettings(scaling="linear", pmin=1, pmax=99))
    assert norm[0, 0] == 1.0 and norm[5, 79] == pytest.approx(1.0)  # top 1% saturated
    assert 0.45 < norm[5, 40] < 0.55  # the bulk keeps the whole range instead of being crushed to 0


def test_all_masked_constant_and_nan_images_do_not_fail():
    data = np.full((20, 30), 7.0, np.float32)
    s = DisplaySettings()
    assert np.isnan(normalize(data, np.zeros(data.shape, bool), s)).all()
    assert (normalize(data, None, s) == 0).all()
    data[3, 4] = np.nan
    norm = normalize(data, None, s)
    assert np.isnan(norm[3, 4]) and np.isfinite(norm).sum() == data.size - 1
    rgb = render_array(np.full((5, 5), np.nan, np.float32), None, s)
    assert (rgb == MASKED).all()


def test_masked_and_nan_pixels_get_the_masked_colour():
    data = _ramp(8, 8)
    mask = np.ones(data.shape, bool)
    mask[2, 3] = False
    data[5, 5] = np.nan
    rgb = render_array(data, mask, DisplaySettings(colormap="gray"))
    assert (rgb[2, 3] == MASKED).all() and (rgb[5, 5] == MASKED).all()
    assert not (rgb[0, 0] == MASKED).all()


def test_colorize_maps_ends_of_the_range():
    norm = np.array([[0.0, 1.0, np.nan, 2.0]], np.float32)
    rgb = colorize(norm, "gray")
    assert rgb.tolist()[0] == [[0, 0, 0], [255, 255, 255], list(MASKED_RGB), [255, 255, 255]]


# --- thumbnails -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,size,expected",
    [((1024, 1024), (200, 200), (200, 200)), ((1000, 2000), (200, 200), (100, 200)), ((300, 100), (64, 64), (64, 21)),
     ((10, 10), (100, 50), (50, 50))],
)
def test_thumbnail_fits_inside_and_keeps_aspect(shape, size, expected):
    assert fit_size(shape, size) == expected
    rgb = thumbnail((np.random.default_rng(0).random(shape, dtype=np.float32), None), size, DisplaySettings())
    assert rgb.shape == (*expected, 3) and rgb.dtype == np.uint8


def test_thumbnail_keeps_single_pixel_bragg_peaks():
    rng = np.random.default_rng(1)
    data = rng.poisson(10, (1024, 1024)).astype(np.float32)
    peaks = [(17, 901), (500, 3), (1023, 1023), (333, 667)]
    for y, x in peaks:
        data[y, x] = 5e4
    rgb = thumbnail((data, None), (100, 100), DisplaySettings(colormap="gray", scaling="linear", pmax=99.99))
    starts = np.arange(100) * 1024 // 100  # first source row/column of each thumbnail pixel
    for y, x in peaks:
        ty, tx = np.searchsorted(starts, y, "right") - 1, np.searchsorted(starts, x, "right") - 1
        assert rgb[ty, tx].tolist() == [255, 255, 255], (y, x)
    assert np.median(rgb[:, :, 0]) < 230  # the background is not simply saturated


def test_block_max_ignores_masked_pixels():
    data = np.ones((8, 8), np.float32)
    mask = np.ones((8, 8), bool)
    data[0:4, 0:4] = 1000.0
    mask[0:4, 0:4] = False  # a masked hot block must not leak into the thumbnail
    mask[4:8, 4:8] = False
    small, valid = downsample_max(data, mask, (2, 2))
    assert valid.tolist() == [[False, True], [True, False]]
    assert small[0, 1] == 1.0 and small[1, 0] == 1.0


def test_block_rms_is_taken_over_the_valid_pixels_of_each_block_above_the_floor():
    rng = np.random.default_rng(4)
    data = rng.gamma(2.0, 10.0, (100, 73)).astype(np.float32)
    valid = rng.random((100, 73)) > 0.2
    valid[:15, :15] = False  # a block with no valid pixel stays invalid
    small, ok = downsample_rms(data, valid, (7, 5), floor=3.0)
    rows, cols = np.append(np.arange(7) * 100 // 7, 100), np.append(np.arange(5) * 73 // 5, 73)
    for i in range(7):
        for j in range(5):
            block = data[rows[i]:rows[i + 1], cols[j]:cols[j + 1]][valid[rows[i]:rows[i + 1], cols[j]:cols[j + 1]]]
            assert ok[i, j] == (block.size > 0)
            if block.size:
                assert small[i, j] == pytest.approx(3.0 + np.sqrt(np.mean(np.maximum(block - 3.0, 0) ** 2)), rel=1e-4)


def test_thumbnail_of_a_uniform_region_has_the_full_views_colour():
    # downsample-first keeps the full view's display levels: a region without structure looks the same in both
    rng = np.random.default_rng(2)
    data = rng.gamma(2.0, 50.0, (256, 256)).astype(np.float32)
    data[:, 128:] = 80.0
    s = DisplaySettings(colormap="gray", scaling="linear")
    full = render((data, None), s)
    small = thumbnail((data, None), (64, 64), s)
    assert np.abs(small[:, 40:, 0].astype(int) - int(full[0, 200, 0])).max() <= 1


def test_a_small_thumbnail_of_a_weak_ring_pattern_shows_the_ring_not_a_white_square():
    # counting noise puts a pixel over the top display level in nearly every block of a weak frame: a 12 px
    # thumbnail made of block maxima was all white, and one could not tell a ring from anything else
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:1024, :1024]
    r = np.hypot(y - 512, x - 512)
    data = rng.poisson(2.0 + 6.0 * np.exp(-0.5 * ((r - 300) / 15) ** 2)).astype(np.float32)
    rgb = thumbnail((data, None), (12, 12), DisplaySettings(colormap="gray"))[:, :, 0].astype(int)
    assert (rgb >= 250).mean() < 0.25
    ty, tx = np.mgrid[:12, :12]
    tr = np.hypot((ty + 0.5) * 1024 / 12 - 512, (tx + 0.5) * 1024 / 12 - 512)
    on_ring, off_ring = rgb[np.abs(tr - 300) < 30], rgb[(tr < 180) | ((tr > 420) & (tr < 500))]
    assert np.median(on_ring) > np.median(off_ring) + 40


def test_render_accepts_a_frame_like_object_and_upscales():
    class Frame:
        data = _ramp(10, 20)
        mask = np.ones((10, 20), bool)

    assert render(Frame(), DisplaySettings()).shape == (10, 20, 3)
    assert render(Frame(), DisplaySettings(), size=(80, 80)).shape == (40, 80, 3)


def test_render_applies_the_expression_and_reports_bad_ones():
    data = _ramp(10, 20)
    s = DisplaySettings(colormap="gray", scaling="linear", pmin=0, pmax=100)
    plain = render_array(data, None, s)
    flipped = render_array(data, None, DisplaySettings(**{**s.__dict__, "expression": "-img"}))
    assert np.array_equal(plain[:, ::-1], flipped)
    with pytest.raises(ExpressionError):
        render_array(data, None, DisplaySettings(expression="img.__class__"))


def test_render_refuses_non_2d_arrays():
    with pytest.raises(TaggerError, match="2-D"):
        render_array(np.zeros((3, 4, 5)), None, DisplaySettings())
