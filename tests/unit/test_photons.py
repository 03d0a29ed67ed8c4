"""Units per photon from the frame's own noise (core.photons): the photon transfer curve."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.core.photons import photon_gain


def counts(seed: int = 0, shape=(600, 500), level: float = 40.0):
    """Photons: a Poisson frame with a ring and a falling background, as a counting detector writes it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices(shape)
    r = np.hypot(yy - 250, xx - 260)
    lam = level * (1 + 20 * np.exp(-r / 60)) + 400 * np.exp(-0.5 * ((r - 150) / 6) ** 2)
    return rng.poisson(lam).astype(np.float64)


@pytest.mark.parametrize("gain, offset", [(1.0, 0.0), (8.0, 100.0), (1000.0, 0.0), (0.001, 0.0)])
def test_the_gain_of_a_frame_in_other_units_is_found(gain, offset):
    g = photon_gain((counts() * gain + offset).astype(np.float32))
    assert g is not None and 0.75 * gain < g < 1.33 * gain


def test_it_scales_with_the_units_and_ignores_masked_pixels():
    data = counts(seed=1)
    valid = np.ones(data.shape, bool)
    valid[:, 200:207] = False  # a module gap, flagged -1
    flagged = np.where(valid, data, -1.0)
    g = photon_gain(flagged, valid)
    assert g == pytest.approx(photon_gain(data), rel=0.15)
    assert photon_gain(flagged * 50, valid) == pytest.approx(50 * g, rel=1e-6)


def test_frames_that_cannot_tell_give_none():
    rng = np.random.default_rng(2)
    assert photon_gain(rng.poisson(0.01, (400, 400)).astype(np.float32)) is None  # stray counts only
    assert photon_gain(np.full((300, 300), 7.0)) is None  # no noise, one level
    assert photon_gain(np.ones((2, 50))) is None


def test_enough_answers_whether_the_gain_is_over_it_from_the_rows_alone():
    """A caller asking only whether the gain is over ``enough`` (preprocessing's 4 units per photon) gets the
    rows' estimate where that settles it, never a gain on the other side of ``enough`` than the full answer."""
    for gain in (1.0, 2.5, 10.0, 40.0):
        data = (counts() * gain).astype(np.float32)
        full, quick = photon_gain(data), photon_gain(data, enough=4.0)
        assert (quick <= 4.0) == (full <= 4.0)
        assert quick >= full  # the rows' estimate, or the same lower of the two
        if full > 4.0:
            assert quick == full
    # a streak along the rows inflates their estimate: over enough, the columns are read and the lower wins
    data = counts().astype(np.float32)
    data[:, ::7] += np.linspace(0, 400, data.shape[0], dtype=np.float32)[:, None]
    assert photon_gain(data, enough=4.0) == photon_gain(data)
