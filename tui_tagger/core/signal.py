"""Is there anything on a frame but detector noise? (numpy only)

A dark frame (shutter closed, beam down, a detector read out with no exposure) holds no scattering: only a
readout pedestal with its noise (CCD, image plate) or a stray count here and there (a counting detector).
The network never sees counts: preprocessing stretches the frame's own percentile range to [0, 1], so pure
noise arrives at full contrast and reads as strong, high-background scattering with the beam off the frame.
The counts themselves settle it: scattering, however weak, varies over the frame (more at low q than at
high q, more on a ring than beside it), so the means of large blocks of pixels differ by far more than
the pixel noise allows; in noise alone they agree to within it.
"""

from __future__ import annotations

import numpy as np

from tui_tagger.core.photons import photon_gain, whole_numbers

BLOCKS = 64  # square blocks over the frame, whatever its shape: large ones average noise down, enough of
# them to see any structure
MIN_BLOCK_PIXELS = 64  # a block with fewer valid pixels is left out (a gap, a mask, a strip's edge)
MIN_BLOCKS = 16
# Block means of pure noise scatter as sigma / sqrt(n); scattering spreads them by far more. The frame is
# blank when the largest deviation from the median block mean stays within this many of those sigmas
# (over 64 blocks of Gaussian noise a 6-sigma deviation has odds under 1e-7: noise never passes as signal).
BLANK_SIGMAS = 6.0
SAMPLE_PIXELS = 1 << 16
STAT_PIXELS = 1 << 14  # the level and the noise are medians: a quarter of that sample sets them to ~1 %
QUANTUM = 12 ** -0.5  # the noise of rounding to whole counts: integer pixels never read as quieter
CLIP_SIGMAS = 10.0  # zingers, hot and dead pixels: clipped before the block means, they are not scattering


def _pixel_sigma(data: np.ndarray, valid: np.ndarray) -> float:
    """The noise of one pixel, from the differences of horizontal neighbours: smooth scattering cancels
    there, so a frame full of signal is not taken for a noisy one (its spread over the frame would be)."""
    step = max(1, data.size // STAT_PIXELS)  # every few rows: the same answer, a fraction of the time
    a, b = data[::step, 1:].astype(np.float64), data[::step, :-1].astype(np.float64)
    ok = valid[::step, 1:] & valid[::step, :-1]
    d = (a - b)[ok]
    mad = float(np.median(np.abs(d - np.median(d)))) * 1.4826 / np.sqrt(2.0) if d.size else 0.0
    if np.issubdtype(data.dtype, np.integer):
        mad = max(mad, QUANTUM)
    return max(mad, 1e-6)


def _photon_unit(data: np.ndarray, valid: np.ndarray, values: np.ndarray) -> float | None:
    """One photon in the frame's units: 1 where the pixels are whole numbers (counts), else what the frame's
    noise says (``core.photons``), or None. Frames normalised to small numbers (x 0.001: a median under 1)
    were held to a photon's noise of 1 and called blank, 5 of real-dev's 26."""
    return 1.0 if whole_numbers(values) else photon_gain(data, valid)


def is_blank(data: np.ndarray, mask: np.ndarray | None = None) -> bool:
    """True when the frame's valid pixels are, for sure, noise about one level: no scattering at all.

    False whenever the blocks differ by more than the noise allows, which includes any frame with signal,
    and a CCD whose quadrants read out at different offsets (not sure, so not called blank)."""
    data = np.asarray(data)
    if data.ndim != 2:
        return False
    valid = np.isfinite(data) if np.issubdtype(data.dtype, np.floating) else np.ones(data.shape, bool)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    sigma = _pixel_sigma(data, valid)  # at full resolution: neighbours must be neighbours
    full, full_valid = data, valid
    # the blocks from every k-th pixel of every k-th row: the z-test counts the pixels it averages, so
    # it stays exact; some 2^16 pixels (1000 a block) see far less than a pixel's noise, at a fraction of the time
    k = max(1, int(np.ceil(np.sqrt(data.size / SAMPLE_PIXELS))))
    data, valid = data[::k, ::k], valid[::k, ::k]
    values = data[valid].astype(np.float64)
    if values.size < MIN_BLOCKS * MIN_BLOCK_PIXELS:
        return False
    level = float(np.median(values[:: max(1, values.size // STAT_PIXELS)]))
    unit = _photon_unit(full, full_valid, values) if level < 1.0 else None
    if unit is not None:  # a counting detector: Poisson noise about its mean count (a median of 0 says too little)
        level_mean = float(np.mean(np.clip(values, None, level + CLIP_SIGMAS * max(sigma, unit))))
        sigma = max(sigma, float(np.sqrt(unit * max(level_mean, 0.0))))
    lo, hi = level - CLIP_SIGMAS * sigma, level + CLIP_SIGMAS * sigma
    side = np.sqrt(data.size / BLOCKS)
    row_starts = np.linspace(0, data.shape[0], max(1, round(data.shape[0] / side)) + 1).astype(int)[:-1]
    col_starts = np.linspace(0, data.shape[1], max(1, round(data.shape[1] / side)) + 1).astype(int)[:-1]

    def block_sums(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.add.reduceat(x, row_starts, axis=0), col_starts, axis=1).ravel()

    clipped = np.where(valid, np.clip(data.astype(np.float64), lo, hi), 0.0)
    n = block_sums(valid.astype(np.float64))
    keep = n >= MIN_BLOCK_PIXELS
    counts = n[keep]
    means = block_sums(clipped)[keep] / np.maximum(counts, 1)
    spreads = np.sqrt(np.maximum(block_sums(clipped * clipped)[keep] / np.maximum(counts, 1) - means ** 2, 0.0))
    if len(means) < MIN_BLOCKS:
        return False
    centre = float(np.median(means))
    # a block mean's noise from the pixels' own scatter within blocks (the typical block: one a ring crosses
    # does not set it), never below the neighbour noise: sparse dark counts of a large gain add to it
    noise = max(sigma, float(np.median(spreads)))
    z = np.abs(means - centre) / (noise / np.sqrt(counts))
    return bool(z.max() <= BLANK_SIGMAS)
