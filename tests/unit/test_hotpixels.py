"""Hot pixels and zingers: single bright pixels found, scattering never (core.hotpixels)."""

from __future__ import annotations

import numpy as np

from tui_tagger.core.hotpixels import hot_pixels


def scattering_frame(seed: int = 0, shape=(400, 300)):
    """Poisson background, a sharp ring two pixels wide, and Bragg spots of 3x3 pixels whose edge pixels hold
    20 % of the peak (as a detector's point spread gives): bright, but none of it alone."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices(shape)
    r = np.hypot(yy - 180, xx - 140)
    lam = 20 + 3000 * np.exp(-0.5 * ((r - 90) / 1.0) ** 2)
    data = rng.poisson(lam).astype(np.float32)
    for y, x in [(30, 30), (50, 250), (350, 60), (370, 280)]:
        data[y - 1:y + 2, x - 1:x + 2] += 4000 * np.array([[0.2, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 0.2]])
    return data


def plant(data: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """``n`` hot pixels far from each other and the ring, at 50x the frame's maximum: their flat indices."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices(data.shape)
    quiet = (np.abs(np.hypot(yy - 180, xx - 140) - 90) > 6).ravel()
    spots = np.zeros(data.shape, bool)
    for y, x in [(30, 30), (50, 250), (350, 60), (370, 280)]:
        spots[y - 3:y + 4, x - 3:x + 4] = True
    quiet &= ~spots.ravel() & (yy % 4 == 1).ravel() & (xx % 4 == 1).ravel()  # never side by side
    at = np.sort(rng.choice(np.flatnonzero(quiet), n, replace=False))
    data.flat[at] = data.max() * 50
    return at


def test_isolated_bright_pixels_are_found_and_rings_and_spots_are_not():
    data = scattering_frame()
    at = plant(data, 40)
    floor, bright = np.percentile(data, [1, 99.9])
    found = hot_pixels(data, None, floor, bright)
    np.testing.assert_array_equal(np.sort(found), at)


def test_a_clean_frame_has_none():
    data = scattering_frame(seed=3)
    floor, bright = np.percentile(data, [1, 99.9])
    assert hot_pixels(data, None, floor, bright).size == 0


def test_masked_pixels_are_neither_found_nor_neighbours():
    data = scattering_frame()
    at = plant(data, 10)
    valid = np.ones(data.shape, bool)
    valid.flat[at[:3]] = False  # already masked: not reported again
    # a hot pixel whose only bright neighbour is a masked (flagged) pixel is still hot
    y, x = np.divmod(at[5], data.shape[1])
    data[y, x + 1] = 1e9
    valid[y, x + 1] = False
    floor, bright = np.percentile(data[valid], [1, 99.9])
    found = hot_pixels(data, valid, floor, bright)
    np.testing.assert_array_equal(np.sort(found), at[3:])


def test_known_candidates_give_the_same_answer_as_the_full_pass():
    data = scattering_frame()
    plant(data, 25)
    floor, bright = np.percentile(data, [1, 99.9])
    full = hot_pixels(data, None, floor, bright)
    cand = np.flatnonzero(data > bright)
    np.testing.assert_array_equal(hot_pixels(data, None, floor, bright, candidates=cand), full)
    assert full.size == 25
