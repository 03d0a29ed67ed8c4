"""Beam centre, azimuthal profiles, isotropic background and an anisotropy score (seed 002).

A scattering image is treated as an isotropic part (rings: a function of the distance from the beam
centre only, e.g. solvent scattering) plus an anisotropic part (arcs, spots, streaks, diffuse
features). The isotropic part is the azimuthal median per one-pixel radius bin over valid pixels;
the median ignores the few bright spots and arcs that cover less than half of a ring.

Coordinates: ``center = (x, y)`` in pixels, x along columns, y along rows, (0, 0) the centre of the
first pixel.
"""

from __future__ import annotations

import math

import numpy as np

# the beam-centre search works on a copy of about this many pixels per side
_SEARCH_SIDE = 384
# below this correlation between the image and its 180-degree rotation there is no usable symmetry
_MIN_SYMMETRY = 0.15


def _valid(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    finite = np.isfinite(data)
    return finite if mask is None else finite & np.asarray(mask, dtype=bool)


def _block_mean(data: np.ndarray, valid: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid pixels in f x f blocks (edge remainder dropped), and the valid-count per block."""
    rows, cols = (data.shape[0] // f) * f, (data.shape[1] // f) * f
    d = np.where(valid, data, 0)[:rows, :cols].astype(np.float64)
    v = valid[:rows, :cols]
    s = d.reshape(rows // f, f, cols // f, f).sum(axis=(1, 3))
    n = v.reshape(rows // f, f, cols // f, f).sum(axis=(1, 3))
    with np.errstate(all="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), 0.0), n


def find_beam_center(data: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float] | None:
    """The beam centre (x, y) as the centre of point symmetry of the image, or None when none is found.

    Scattering from an unoriented or single-domain sample is centrosymmetric about the direct beam
    (Friedel symmetry), so the centre c maximises the correlation between I(r) and I(2c - r). Every
    candidate is scored at once with FFT convolutions of a log image block-averaged to about 384
    pixels a side (masked pixels excluded from every sum, so beamstops, detector gaps and dead
    corners do not count); a parabola through the best score gives a sub-block position. Typical
    error: under a pixel for 1k frames, 1-2 pixels for 2k-4k frames; 0.1-0.2 s per frame.

    Works with the direct beam blocked by a beamstop (the rings around it carry the symmetry).
    Limits: the centre must lie on the detector, with a fair part of the pattern visible on both sides of
    it (GISAXS images, whose lower half is cut by the sample horizon, and beams within a few percent of
    the edge are not reliably found); a pattern that is only a straight streak is symmetric about
    every point on it, and the one picked may not be the beam; a featureless or strongly asymmetric
    image gives None.
    """
    from scipy import fft

    data = np.asarray(data, dtype=np.float32)
    valid = _valid(data, mask)
    if data.ndim != 2 or valid.sum() < 64:
        return None
    f = max(1, math.ceil(max(data.shape) / _SEARCH_SIDE))
    small, count = _block_mean(data, valid, f)
    m = count >= max(1, (f * f) // 2)  # a block counts when at least half of it is valid
    if m.sum() < 64:
        return None
    # log compresses the rings' dynamic range so the whole pattern counts, not just the brightest spot
    floor = np.percentile(small[m], 1.0)
    g = np.log1p(np.maximum(small - floor, 0) / max(np.percentile(small[m] - floor, 50.0), 1e-12))
    g = np.where(m, g - g[m].mean(), 0.0)
    gvar = float((g[m] ** 2).mean())
    if not gvar > 0:  # a flat frame has no centre
        return None
    mw = m.astype(np.float64)

    # sums over the overlap of the image with its point reflection about c = s / 2, for every s:
    #   n = conv(m, m), S = conv(g, m), Q = conv(g^2, m), C = conv(g, g)
    shape = [fft.next_fast_len(2 * k - 1, real=True) for k in g.shape]
    G, M, G2 = (fft.rfft2(a, shape, workers=2) for a in (g, mw, g * g))
    n, S, Q, C = (fft.irfft2(a * b, shape, workers=2) for a, b in ((M, M), (G, M), (G2, M), (G, G)))
    with np.errstate(all="ignore"):
        n = np.maximum(np.round(n), 0)
        cov = C - S * S / np.maximum(n, 1)
        var = Q - S * S / np.maximum(n, 1)
        # the variance floor keeps flat, featureless overlaps (pure background) from scoring
        # a perfect but meaningless correlation
        r = cov / (np.maximum(var, 0) + 0.1 * np.maximum(n, 1) * gvar)
    # ignore tiny overlaps (a corner reflected onto itself correlates perfectly and means nothing);
    # a slight preference for large overlaps breaks ties in favour of the whole pattern
    total = mw.sum()
    r = np.where(n >= max(0.05 * total, 32), r, -1.0)
    score = r * (n / total) ** 0.1
    sy, sx = np.unravel_index(int(np.argmax(score)), score.shape)
    if r[sy, sx] < _MIN_SYMMETRY:
        return None
    dy, dx = _parabolic_peak(score, sy, sx)
    # s indexes pairs of block centres: the block centre of index k is at full-resolution (k + 0.5) f - 0.5
    cy = ((sy + dy) / 2 + 0.5) * f - 0.5
    cx = ((sx + dx) / 2 + 0.5) * f - 0.5
    return (float(cx), float(cy))


def _parabolic_peak(a: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Sub-pixel offset of the maximum at (y, x) from a parabola through its neighbours."""

    def offset(lo: float, mid: float, hi: float) -> float:
        den = lo - 2 * mid + hi
        return float(np.clip(0.5 * (lo - hi) / den, -0.5, 0.5)) if den < 0 else 0.0

    dy = offset(a[y - 1, x], a[y, x], a[y + 1, x]) if 0 < y < a.shape[0] - 1 else 0.0
    dx = offset(a[y, x - 1], a[y, x], a[y, x + 1]) if 0 < x < a.shape[1] - 1 else 0.0
    return dy, dx


def _radii(shape: tuple[int, ...], center: tuple[float, float]) -> np.ndarray:
    """Distance of every pixel from ``center`` = (x, y), float32."""
    y = np.arange(shape[0], dtype=np.float32) - np.float32(center[1])
    x = np.arange(shape[1], dtype=np.float32) - np.float32(center[0])
    return np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)


def _center_or_find(data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None) -> tuple[float, float]:
    if center is None:
        center = find_beam_center(data, mask)
    if center is None:  # no symmetry found: the geometric centre is the least-surprising guess
        center = ((data.shape[1] - 1) / 2, (data.shape[0] - 1) / 2)
    return (float(center[0]), float(center[1]))


def radial_profile(
    data: np.ndarray,
    mask: np.ndarray | None,
    center: tuple[float, float] | None = None,
    nbins: int | None = None,
    statistic: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuthal average: (radius of each bin's centre, mean or median of valid pixels, pixel count).

    ``nbins`` None gives one-pixel bins out to the farthest pixel. Bins with no valid pixel are NaN.
    """
    data = np.asarray(data, dtype=np.float32)
    valid = _valid(data, mask)
    center = _center_or_find(data, mask, center)
    r = _radii(data.shape, center)
    rmax = float(r.max()) + 1e-6
    nbins = max(1, int(nbins) if nbins else math.ceil(rmax))
    width = rmax / nbins
    b = np.minimum((r[valid] / width).astype(np.intp), nbins - 1)
    values = data[valid].astype(np.float64)
    counts = np.bincount(b, minlength=nbins)
    if statistic == "median":
        prof = _binned_median(b, values, nbins)
    elif statistic == "mean":
        with np.errstate(all="ignore"):
            prof = np.bincount(b, values, minlength=nbins) / counts
    else:
        raise ValueError(f"statistic must be 'mean' or 'median', not {statistic!r}")
    radii = (np.arange(nbins) + 0.5) * width
    return radii, np.where(counts > 0, prof, np.nan), counts


def _binned_median(bins: np.ndarray, values: np.ndarray, nbins: int) -> np.ndarray:
    """Median of ``values`` in each bin (NaN for empty bins): one sort, no Python loop over bins."""
    order = np.lexsort((values, bins))
    sv = values[order]
    counts = np.bincount(bins, minlength=nbins)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    out = np.full(nbins, np.nan)
    out[has] = 0.5 * (sv[lo[has]] + sv[hi[has]])
    return out


def isotropic_background(
    data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None = None, statistic: str = "median"
) -> np.ndarray:
    """The isotropic part of the image: per-radius azimuthal median (or mean) of valid pixels,
    interpolated back onto every pixel (float32, same shape). ``center`` None: found with
    ``find_beam_center`` (the image centre when that fails)."""
    data = np.asarray(data, dtype=np.float32)
    center = _center_or_find(data, mask, center)
    radii, prof, _ = radial_profile(data, mask, center, statistic=statistic)
    known = np.isfinite(prof)
    if not known.any():
        return np.zeros(data.shape, dtype=np.float32)
    return np.interp(_radii(data.shape, center), radii[known], prof[known]).astype(np.float32)


def remove_background(
    data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None = None, statistic: str = "median"
) -> np.ndarray:
    """``data`` minus its isotropic background (float32); invalid pixels are 0."""
    data = np.asarray(data, dtype=np.float32)
    residual = data - isotropic_background(data, mask, center, statistic)
    return np.where(_valid(data, mask), residual, np.float32(0))


def anisotropy_score(data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None = None) -> float:
    """Fraction of the intensity that is not isotropic: sum |I - I_iso| / sum I over valid pixels,
    with I measured from the frame's floor (0.5th percentile, so a detector pedestal does not dilute
    it). 0 for perfect rings; shot noise alone gives a little (about 1/sqrt(counts)); arcs, spots and
    streaks push it towards 1. Clipped to [0, 1]; NaN when no pixel is valid or the frame is flat."""
    data = np.asarray(data, dtype=np.float32)
    valid = _valid(data, mask)
    if not valid.any():
        return math.nan
    values = data[valid].astype(np.float64)
    floor = float(np.percentile(values, 0.5))
    iso = isotropic_background(data, mask, center)[valid].astype(np.float64)
    signal = np.maximum(values - floor, 0)
    total = signal.sum()
    if total <= 0:
        return math.nan
    residual = np.abs(signal - np.maximum(iso - floor, 0)).sum()
    return float(min(1.0, residual / total))
