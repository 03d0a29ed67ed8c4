"""How many of a frame's units make one photon: the photon transfer curve, from the frame alone (numpy only).

A counting detector's pixel holds photons, and their Poisson noise has variance equal to the count. A frame
in other units (an integrating detector's ADU, counts per second, counts normalised to the monitor or to
absolute intensity) is the counts times a gain g, over an offset: its noise variance is g times (value -
offset) plus the read noise. Preprocessing takes log1p of the counts, whose knee at one photon sets what
the network sees: the same frame times 10 lost 3 of real-dev's 10 experiment types the network alone had
right, times 1000 lost 7 (``benchmarks/bench_real_robust.py``).

The gain is the slope of the noise variance against the level: second differences along sampled rows and
columns (x[i-1] - 2 x[i] + x[i+1]: a gradient cancels, the noise variance is 6 g (level - offset)), their
robust spread (the interquartile range) in bins of the local level, a Theil-Sen line through the bins (the
offset and the read noise are its intercept). Real-dev's frames give 0.2-2.2 (a counting detector about 1),
the synthetic test's about 1 for half of them and over 4 for 1 in 20 (its CCDs and image plates, and sharp
structure, which only adds to the spread).
"""

from __future__ import annotations

import numpy as np

# A frame of fractions measuring under this many units per photon holds intensities in a unit of its own
# (per second, per monitor count, absolute): no detector counts so (real-dev's least is 0.2). Whole numbers
# measuring that low are counts whose noise a point spread smoothed (5 of 900 synthetic test frames).
NORMALISED_BELOW = 0.1
LINES = 24  # rows sampled, and as many columns
SAMPLES = 1 << 13  # triplets at most per direction (a fixed stride): one sort of these sets the bins
BINS = 16
MIN_PER_BIN = 100


def photon_gain(data: np.ndarray, valid: np.ndarray | None = None, enough: float | None = None) -> float | None:
    """Units per photon of ``data`` (2-D), or None where the frame cannot tell (too few valid pixels, no
    spread of levels, or noise under one unit: sparse counts). The lower of the estimates along rows and along
    columns: structure only adds to the spread, and a streak or an edge along one direction adds to the
    differences across it alone. ``enough``: a caller that only needs to know whether the gain is over it
    gets the rows' estimate where that is at most ``enough`` (the lower one can only be lower), the columns
    unread (half the cost: the common frame, a counting detector's, measures about 1)."""
    h, w = data.shape
    if h < 3 or w < 3:
        return None
    rows = np.linspace(0, h - 1, min(LINES, h)).astype(int)
    along_rows = _along(data[rows], None if valid is None else valid[rows])
    if enough is not None and along_rows is not None and along_rows <= enough:
        return along_rows
    cols = np.linspace(0, w - 1, min(LINES, w)).astype(int)
    found = [g for g in (along_rows, _along(data[:, cols].T, None if valid is None else valid[:, cols].T))
             if g is not None]
    return min(found) if found else None


def _along(lines: np.ndarray, valid: np.ndarray | None) -> float | None:
    """``photon_gain`` from the second differences along ``lines`` (rows of pixels)."""
    ok = np.isfinite(lines) if valid is None else np.isfinite(lines) & valid
    a, b, c = lines[:, :-2], lines[:, 1:-1], lines[:, 2:]
    both = ok[:, :-2] & ok[:, 1:-1] & ok[:, 2:]
    d, m = (a - 2 * b + c)[both], ((a + b + c) / 3)[both]
    if d.size < BINS * MIN_PER_BIN:
        return None
    if d.size > SAMPLES:
        d, m = d[:: d.size // SAMPLES], m[:: m.size // SAMPLES]
    order = np.argsort(m)
    cut = int(0.02 * m.size)  # the darkest and brightest 2 %: shadows' edges, peaks
    per = (m.size - 2 * cut) // BINS
    sel = order[cut:cut + per * BINS]
    d, m = d[sel].reshape(BINS, per), m[sel].reshape(BINS, per)  # bins of rising level
    d.partition((per // 4, (3 * per) // 4), axis=1)  # the quartiles, in place: a robust sigma per bin
    sigma = (d[:, (3 * per) // 4].astype(np.float64) - d[:, per // 4]) / 1.349
    levels, variances = m.mean(axis=1, dtype=np.float64), sigma ** 2 / 6
    i, j = np.triu_indices(BINS, 1)
    apart = levels[j] - levels[i] > 0
    if apart.sum() < BINS:
        return None
    g = float(np.median((variances[j] - variances[i])[apart] / (levels[j] - levels[i])[apart]))
    # photons' noise grows with the level: over the frame's levels it must at least double the darkest bins'
    # variance, or the spread is a read noise, a smooth pattern added to a flat noise, a background
    # subtracted: no photons to count (a slope near 0 there would read as a tiny unit)
    if g <= 0 or g * (levels[-1] - levels[0]) < float(np.median(variances[:BINS // 4])):
        return None
    return g


def whole_numbers(values: np.ndarray, n: int = 4096) -> bool:
    """Are ``values`` (a sample of a frame's valid pixels) whole numbers: counts or ADU, never intensities in a
    unit of their own? (n of them, at a fixed stride.)"""
    sample = values[:: max(1, values.size // n)]
    return bool(np.array_equal(sample, np.rint(sample)))


def normalised(g: float | None, sample: np.ndarray) -> bool:
    """Is a frame of ``g`` units per photon (``photon_gain``) whose pixels include ``sample`` one of normalised
    intensities: fractions, under ``NORMALISED_BELOW``? Divided by ``g`` it is in photons again."""
    return g is not None and g < NORMALISED_BELOW and not whole_numbers(sample)


def normalised_gain(data: np.ndarray, valid: np.ndarray | None, sample: np.ndarray) -> float | None:
    """``photon_gain`` of a frame of normalised intensities (``normalised``), else None; whole numbers cost no
    estimate."""
    if whole_numbers(sample):
        return None
    g = photon_gain(data, valid)
    return g if normalised(g, sample) else None
