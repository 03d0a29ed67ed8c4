"""Powder calibrants named from their ring positions: AgBH, LaB6, CeO2 and Si (numpy only, no torch).

A calibrant is a powder whose rings lie at known q: silver behenate's lamellar orders q_n = n 2 pi / d
(d = 58.380 A), and the cubic lines q = 2 pi sqrt(h^2 + k^2 + l^2) / a of LaB6 (primitive cubic,
a = 4.15692 A), CeO2 (fluorite, fcc: h, k, l all odd or all even, a = 5.4111 A) and Si (diamond: fcc,
and h + k + l = 4n when all even, a = 5.43123 A). ``identify`` finds the sharp, isotropic rings of a
frame and names the calibrants whose lines they are, or nothing; ``analyse`` says what it saw.

A name is only given where the physics is sure: a wrong "AgBH" on a sample frame is worse than a miss,
which leaves the network's own answer in place.

- **q needs the geometry.** The sample-detector distance, the wavelength and the pixel size (a header
  or a PONI file: ``tui_tagger.core.geometry.geometry_of``) turn ring radii into q. The beam centre is
  the geometry's, moved by up to ``_REFINE_MAX`` pixels where that makes the strongest rings rounder
  and sharper (headers are often a pixel or two off); the image's (``radial.find_beam_center``) where
  the geometry has none. A centre further off blurs the rings out of sight: a miss, never a wrong name.
- **Without the distance or the wavelength no calibrant is named.** Ring radii alone give ratios, and
  ratios do not name a substance: every lamellar material shows orders 1 : 2 : 3 (a lamellar polymer
  is not AgBH unless its first order is at 0.1076 1/A), every primitive cubic powder LaB6's ratios,
  every fcc powder CeO2's. Such frames get ``lamellar`` (the orders of one spacing, in pixels) where
  they have them, and no calibrant; at wide angles the ratios even depend on the unknown distance. A
  folder whose instrument is known gets its geometry from a ``.poni`` file beside its frames.
- **Rings.** A ring is a peak of the azimuthal average (a trimmed mean over ``SECTORS`` sectors, so a
  spot or an arc moves it little) standing clear of its local background (``_MIN_SIGNIFICANCE`` noise
  units, ``_MIN_CONTRAST``), sharp (FWHM at most ``_MAX_FWHM_PX`` pixels or ``_MAX_FWHM_REL`` of its
  radius) and there in at least ``MIN_COVERAGE`` of the sectors the detector covers at its radius, at
  least three (a ring, not a spot or an oriented arc). A peak rising out of a shadow (a beamstop's
  edge) may be a line but is no evidence against one.
- **Matching.** One common scale factor, within ``SCALE_SLACK`` of 1 (header distances and wavelengths
  are good to about a percent; every percent more lets in more lattices of the same kind), puts the
  lines on the rings, each within twice its radius error (half a pixel plus a tenth of its width).
  Sure needs: at least two lines found; at least half of the calibrant's first ``MAX_LINES`` lines in
  the radius range the frame shows, and at most one of its first four missing (the first lines are
  among the strongest); the rings up to the last line found mostly its own (their contrast, and at
  most one other ring in three as strong as its neighbours: a finer lamellar series whose every fifth
  order falls on AgBH's is not AgBH); and a confidence of at least ``SURE``: one minus the chance that
  peaks as dense in log q as the frame's fall on that many lines by accident (Poisson-binomial), times
  the scale factors and calibrants tried. A second calibrant of the same frame (a mixture) must agree
  with the first's scale factor within ``SCALE_AGREE``; the first's rings are no evidence for it.
- What no ring position can tell: a lamellar sample within a percent or so of AgBH's spacing showing
  two or more orders, or a primitive cubic powder within a percent of LaB6's cell, is named as the
  calibrant.

Cost: the profile is made from every ``stride``-th pixel of each row and column (every pixel near the
beam, where rings are small), about ``_MAX_SAMPLES`` pixels in all: some 10-20 ms for a 1024 x 1024
frame whose header gives the beam centre, some 40 ms more where the image must give it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from tui_tagger.core.crystal import AGBH_D, CEO2_A, LAB6_A, SI_A, cubic_reflections

CALIBRANTS = ("AgBH", "LaB6", "CeO2", "Si")

SECTORS = 36  # azimuthal sectors of 10 degrees where the frame surrounds the beam ...
_SECTORS_SEEN = 8  # ... and at least this many across the frame where it does not (the beam off the frame)
SCALE_SLACK = 0.015  # one common q scale factor within 1 +- this (distance and wavelength errors)
SCALE_AGREE = 0.008  # a second calibrant of the frame: its scale factor within this of the first's (centre errors)
MIN_TOL = 0.003  # the smallest relative q tolerance of a ring
MAX_LINES = 12  # a calibrant's lines counted: its first ones in the frame's range
SURE = 0.99  # confidence from which a name is given
MIN_COVERAGE = 0.6  # share of the covered azimuth a ring must show in
_MAX_SAMPLES = 400_000  # about as many pixels the profile is made from (strided away from the beam)
_FULL_WINDOW = 96  # full-resolution half-window (pixels) about the beam
_MAX_CELLS = 1_000_000  # sectors x radius bins at most (memory)
_MIN_SIGNIFICANCE = 6.0  # a peak's height over its background, in noise units
_MIN_CONTRAST = 0.05  # and relative to the background
_MAX_FWHM_PX = 16.0  # a sharp peak: FWHM at most this many pixels (a laboratory beam's size) ...
_MAX_FWHM_REL = 0.025  # ... or this share of its radius, whichever is larger
_OTHER_SHARE = 0.25  # another ring among a calibrant's counts as strong from this share of its neighbours' contrast
_CONTRAST_CAP = 100.0  # contrast counted at most (a ring on a zero background has infinite contrast)
_REFINE_RINGS = 5  # the strongest rings that refine the beam centre ...
_REFINE_MAX = 8.0  # ... by at most this many pixels
_REFINE_PASSES = 3


# ----------------------------------------------------------------------------------------------- lines


def _cubic_lines(a: float, qmax: float, lattice: str) -> list[tuple[float, str]]:
    """(q, "hkl") of the powder lines of a cubic cell up to qmax, one per h^2 + k^2 + l^2."""
    out: dict[int, str] = {}
    for h, k, l, n2, _ in cubic_reflections(a, qmax):  # noqa: E741
        odd = h % 2 + k % 2 + l % 2
        if lattice in ("fcc", "diamond") and odd not in (0, 3):
            continue
        if lattice == "diamond" and odd == 0 and (h + k + l) % 4:
            continue
        out.setdefault(n2, f"{h}{k}{l}")
    return [(2 * math.pi * math.sqrt(n2) / a, out[n2]) for n2 in sorted(out)]


@lru_cache(maxsize=32)
def calibrant_lines(name: str, qmax: float) -> tuple[tuple[float, str], ...]:
    """(q in 1/A, reflection) of calibrant ``name``'s rings up to ``qmax``, lowest q first."""
    if name == "AgBH":
        return tuple((2 * math.pi * n / AGBH_D, f"00{n}" if n < 10 else f"0 0 {n}")
                     for n in range(1, int(qmax * AGBH_D / (2 * math.pi)) + 1))
    if name == "LaB6":
        return tuple(_cubic_lines(LAB6_A, qmax, "primitive"))
    if name == "CeO2":
        return tuple(_cubic_lines(CEO2_A, qmax, "fcc"))
    if name == "Si":
        return tuple(_cubic_lines(SI_A, qmax, "diamond"))
    raise ValueError(f"unknown calibrant {name!r}; known: {', '.join(CALIBRANTS)}")


# ----------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RingPeak:
    """A sharp peak of the azimuthal average: where (radius in pixels, q when the geometry gives it), how
    wide (FWHM, pixels), how strong (height over the local background, relative to it: ``contrast``;
    in noise units: ``significance``) and in which share of the covered azimuth it shows (``coverage``)."""

    radius: float
    fwhm: float
    height: float
    contrast: float
    significance: float
    coverage: float
    sectors: int  # sectors with data at this radius
    q: float | None = None
    edge: bool = False  # rising out of a shadow (a beamstop's edge): no evidence against a calibrant

    @property
    def ring(self) -> bool:
        """Around most of the azimuth the detector covers there (and over at least 3 sectors)."""
        return self.coverage >= MIN_COVERAGE and self.sectors >= 3


@dataclass(frozen=True)
class Identification:
    """A calibrant named from its rings: ``matched`` = (reflection, expected q, observed peak) per line
    found; ``expected`` the lines the frame could show (at most ``MAX_LINES``); ``scale`` the observed over
    the expected q (the geometry's error); ``chance`` the probability of such a match by accident; ``other``
    the rings up to the last line found that are none of the lines (a shadow's edge left out)."""

    calibrant: str
    confidence: float
    sure: bool
    scale: float
    matched: tuple[tuple[str, float, RingPeak], ...]
    expected: int
    chance: float
    other: int = 0

    def describe(self) -> str:
        lines = ", ".join(f"{hkl} q {q:.4f}" for hkl, q, _ in self.matched)
        return (f"{self.calibrant} ({'sure' if self.sure else 'not sure'}, confidence {self.confidence:.4f}): "
                f"{len(self.matched)} of {self.expected} lines, {self.other} other rings among them, "
                f"q scale {self.scale:.4f} [{lines}]")


@dataclass(frozen=True)
class Lamellar:
    """Equally spaced rings (orders 1 : 2 : 3 ... of one spacing), found without q: the first order's
    radius in pixels and the orders seen. Not a calibrant by itself (any lamellar sample shows them)."""

    spacing_px: float
    orders: tuple[int, ...]


@dataclass
class RingAnalysis:
    """What ``analyse`` found: the beam centre (x, y) used, every sharp peak of the azimuthal average,
    the calibrants named (sure first) and tried, lamellar orders, and why nothing was named."""

    center: tuple[float, float] | None = None
    peaks: list[RingPeak] = field(default_factory=list)
    identifications: list[Identification] = field(default_factory=list)
    lamellar: Lamellar | None = None
    with_q: bool = False
    note: str = ""

    @property
    def sure(self) -> list[Identification]:
        return [i for i in self.identifications if i.sure]


# ----------------------------------------------------------------------------------------------- geometry


def _q_geometry(geometry):
    """(distance_m, wavelength_m, pixel_size_m, tilted) when ``geometry`` gives q, else None."""
    if geometry is None:
        return None
    from tui_tagger.core.geometry.base import plausible

    g = geometry
    if not (plausible("distance_m", g.distance_m) and plausible("wavelength_m", g.wavelength_m)
            and plausible("pixel_size_m", g.pixel_size_m)):
        return None
    if g.detector_2theta_deg:  # a swung detector arm: q is not computed (see geometry.base)
        return None
    tilted = g.rotations_rad is not None and any(abs(v) > 1e-4 for v in g.rotations_rad)
    return g.distance_m, g.wavelength_m, g.pixel_size_m, tilted


def geometry_center(geometry) -> tuple[float, float] | None:
    """The beam centre (x, y) in ``radial``'s pixel convention (0 at the first pixel's centre) from a
    ``Geometry`` (row, col with 0 at the first pixel's outer edge), or None."""
    if geometry is None:
        return None
    from tui_tagger.core.geometry.base import direct_beam_px

    beam = direct_beam_px(geometry)
    if beam is None or not all(math.isfinite(v) for v in beam):
        return None
    return float(beam[1]) - 0.5, float(beam[0]) - 0.5


# ----------------------------------------------------------------------------------------------- profile


@dataclass
class _Profile:
    radius: np.ndarray  # bin centres (pixels, or equivalent pixels for a tilted detector)
    sector_mean: np.ndarray  # (sectors, nbins), NaN where a sector has no sample
    sector_count: np.ndarray  # (sectors, nbins)
    level: np.ndarray  # (nbins,) trimmed mean over the sectors with data: spots and arcs do not make a ring
    sectors: np.ndarray  # (nbins,) sectors with data


def _sample_index(shape: tuple[int, int], center: tuple[float, float], valid: np.ndarray) -> np.ndarray:
    rows, cols = shape
    stride = max(1, round(math.sqrt(rows * cols / _MAX_SAMPLES)))
    take = np.zeros(shape, dtype=bool)
    take[::stride, ::stride] = True
    if stride > 1:
        cx, cy = center
        x0, x1 = max(0, int(cx) - _FULL_WINDOW), min(cols, int(cx) + _FULL_WINDOW + 1)
        y0, y1 = max(0, int(cy) - _FULL_WINDOW), min(rows, int(cy) + _FULL_WINDOW + 1)
        if x0 < x1 and y0 < y1:
            take[y0:y1, x0:x1] = True
    return np.flatnonzero(take & valid)


def _sector_count(shape: tuple[int, int], center: tuple[float, float]) -> int:
    """``SECTORS``, or more where the beam lies off the frame, so that the frame's arcs span several."""
    rows, cols = shape
    cx, cy = center
    if -0.5 <= cx <= cols - 0.5 and -0.5 <= cy <= rows - 0.5:
        return SECTORS
    corners = np.array([[-0.5 - cx, -0.5 - cy], [cols - 0.5 - cx, -0.5 - cy], [-0.5 - cx, rows - 0.5 - cy],
                        [cols - 0.5 - cx, rows - 0.5 - cy]])
    ang = np.arctan2(corners[:, 1], corners[:, 0])
    mid = math.atan2(rows / 2 - 0.5 - cy, cols / 2 - 0.5 - cx)  # angles about the frame's direction
    rel = (ang - mid + math.pi) % (2 * math.pi) - math.pi
    span = float(rel.max() - rel.min())
    return int(min(720, max(SECTORS, math.ceil(_SECTORS_SEEN * 2 * math.pi / max(span, 1e-3)))))


def _profile(data: np.ndarray, valid: np.ndarray, center: tuple[float, float], geometry) -> _Profile:
    rows, cols = data.shape
    idx = _sample_index(data.shape, center, valid)
    y = (idx // cols).astype(np.float32)
    x = (idx % cols).astype(np.float32)
    dx, dy = x - np.float32(center[0]), y - np.float32(center[1])
    qg = _q_geometry(geometry)
    if qg is not None and qg[3]:  # a tilted detector (PONI): rings are conics, the equivalent radius is not
        from tui_tagger.core.geometry.base import two_theta

        dist, _, (p1, p2), _ = qg
        tth = two_theta(geometry, y.astype(np.float64) + 0.5, x.astype(np.float64) + 0.5, data.shape)
        r = (np.tan(np.minimum(tth, 1.5)) * dist / math.sqrt(p1 * p2)).astype(np.float32)
    elif qg is not None and abs(qg[2][0] / qg[2][1] - 1) > 1e-3:  # non-square pixels: ellipses in pixels
        p1, p2 = qg[2]
        pm = math.sqrt(p1 * p2)
        r = np.hypot(dx * np.float32(p2 / pm), dy * np.float32(p1 / pm))
    else:
        r = np.hypot(dx, dy)
    phi = np.arctan2(dy, dx)
    nb = int(r.max()) + 2 if r.size else 1
    ns = min(_sector_count(data.shape, center), max(SECTORS, _MAX_CELLS // nb))
    sector = ((phi + np.float32(math.pi)) * np.float32(ns / (2 * math.pi))).astype(np.int32)
    np.minimum(sector, ns - 1, out=sector)
    b = r.astype(np.int32)  # one-pixel bins: bin k holds radii [k, k + 1)
    cell = sector * nb + b
    values = data.ravel()[idx].astype(np.float64)
    count = np.bincount(cell, minlength=ns * nb).reshape(ns, nb)
    total = np.bincount(cell, values, minlength=ns * nb).reshape(ns, nb)
    with np.errstate(all="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    sectors = (count > 0).sum(axis=0)
    # per radius, the count-weighted mean of the sectors' means without the highest and the lowest
    # quarter: a spot or an arc in a few sectors moves it little, and it is nearly as quiet as the mean
    order = np.argsort(np.where(count > 0, mean, np.inf), axis=0)
    m_sorted = np.take_along_axis(mean, order, axis=0)
    c_sorted = np.take_along_axis(count, order, axis=0).astype(np.float64)
    rank = np.arange(ns)[:, None]
    keep = (rank >= sectors[None, :] // 4) & (rank < sectors[None, :] - sectors[None, :] // 4)
    w = np.where(keep, c_sorted, 0.0)
    with np.errstate(all="ignore"):
        level = np.where(sectors > 0, (np.nan_to_num(m_sorted) * w).sum(axis=0) / w.sum(axis=0), np.nan)
    return _Profile(np.arange(nb) + 0.5, mean, count, level, sectors)


# ----------------------------------------------------------------------------------------------- peaks


def _running_noise(p: np.ndarray) -> np.ndarray:
    """Per bin, the noise of the profile: a robust spread of its second differences nearby."""
    d2 = np.full(p.shape, np.nan)
    d2[1:-1] = p[1:-1] - 0.5 * (p[:-2] + p[2:])
    n = len(p)
    out = np.full(n, np.nan)
    half = 15
    a = np.abs(d2)
    for start in range(0, n, half):
        lo, hi = max(0, start - half), min(n, start + 2 * half)
        seg = a[lo:hi]
        seg = seg[np.isfinite(seg)]
        if seg.size >= 5:
            out[start : start + half] = 1.4826 * np.median(seg) / math.sqrt(1.5)
    return out


def _running_min(p: np.ndarray, half: int) -> np.ndarray:
    """Minimum over bins i - half .. i + half (NaN bins ignored; NaN where all are)."""
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.concatenate([np.full(half, np.inf), np.where(np.isfinite(p), p, np.inf), np.full(half, np.inf)])
    out = sliding_window_view(padded, 2 * half + 1).min(axis=1)
    return np.where(np.isfinite(out), out, np.nan)


def _find_peaks(prof: _Profile) -> list[RingPeak]:
    p = prof.level
    n = len(p)
    ok = np.isfinite(p)
    if ok.sum() < 8:
        return []
    ps = np.where(ok, p, np.nan)
    # light smoothing (1-2-1): maxima and half-height crossings are found on it, so noise does not split a
    # peak; the height is read off the profile itself
    sm = ps.copy()
    sm[1:-1] = 0.25 * ps[:-2] + 0.5 * ps[1:-1] + 0.25 * ps[2:]
    sm = np.where(np.isfinite(sm), sm, ps)
    noise = _running_noise(ps)
    low = float(np.nanmin(ps))
    # candidates: local maxima standing clear of the nearby minimum (the full test follows)
    with np.errstate(invalid="ignore"):
        clear = (sm - _running_min(sm, 8)) >= 0.5 * _MIN_SIGNIFICANCE * noise
    out: list[RingPeak] = []
    for i in np.flatnonzero(clear[2:-2]) + 2:
        v = sm[i]
        if not (np.isfinite(v) and v >= sm[i - 1] and v > sm[i + 1]):
            continue
        r = prof.radius[i]
        half = int(max(3 * _MAX_FWHM_REL * r, _MAX_FWHM_PX))
        lo, hi = max(0, i - half), min(n, i + half + 1)
        left, right = sm[lo:i], sm[i + 1 : hi]
        if not (np.isfinite(left).sum() >= 2 and np.isfinite(right).sum() >= 2):
            continue
        il = lo + int(np.nanargmin(left))
        ir = i + 1 + int(np.nanargmin(right))
        # background: the line through the lowest points on either side (a sharp ring on a smooth decay)
        bl, br = sm[il], sm[ir]
        near = ps[i - 1 : i + 2]
        top = i - 1 + int(np.nanargmax(near)) if np.isfinite(near).any() else i
        base = bl + (br - bl) * (top - il) / max(ir - il, 1)
        height = float(max(ps[top], v) - base) if np.isfinite(ps[top]) else float(v - base)
        sig = noise[top]
        if not (height > 0 and np.isfinite(sig) and sig > 0):
            continue
        significance = height / sig
        contrast = height / base if base > 0 else math.inf
        if significance < _MIN_SIGNIFICANCE or contrast < _MIN_CONTRAST:
            continue
        # FWHM above the background line, on the smoothed profile, interpolated
        halfh = base + 0.5 * height
        j = i
        while j > il and np.isfinite(sm[j - 1]) and sm[j - 1] > halfh:
            j -= 1
        k = i
        while k < ir and np.isfinite(sm[k + 1]) and sm[k + 1] > halfh:
            k += 1
        if j <= il or k >= ir:  # it never falls to half its height: no isolated peak
            continue
        xl = j - 1 + (halfh - sm[j - 1]) / (sm[j] - sm[j - 1])
        xr = k + (sm[k] - halfh) / (sm[k] - sm[k + 1])
        fwhm = float(xr - xl)
        # position: centroid of the part above half height
        seg = np.arange(j, k + 1)
        w = np.clip(np.nan_to_num(sm[seg] - halfh), 0, None)
        center = float((prof.radius[seg] * w).sum() / w.sum()) if w.sum() > 0 else float(prof.radius[i])
        if fwhm > max(_MAX_FWHM_PX, _MAX_FWHM_REL * center):
            continue
        if out and abs(out[-1].radius - center) < 1.0:  # one peak seen twice (a flat top)
            if out[-1].height >= height:
                continue
            out.pop()
        coverage, sectors = _coverage(prof, j, k, il, ir, height)
        # the edge of a shadow: dark on the inside, the background outside far above it
        edge = bool(bl - low <= 0.1 * (base + height - low) and br - low > 3 * max(bl - low, 0.0) + 3 * sig)
        out.append(RingPeak(center, fwhm, height, float(contrast), float(significance), coverage, sectors,
                            edge=edge))
    return out


def _coverage(prof: _Profile, j: int, k: int, il: int, ir: int, height: float) -> tuple[float, int]:
    """Share of the sectors with data across the peak (bins j..k, its background at bins il and ir) in
    which the peak's mean stands at least a third of ``height`` over the sector's own background."""
    m = prof.sector_mean
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        core = np.nanmean(m[:, j : k + 1], axis=1)
        left = np.nanmean(m[:, max(il - 1, 0) : il + 2], axis=1)
        right = np.nanmean(m[:, ir - 1 : ir + 2], axis=1)
    has = np.isfinite(core) & np.isfinite(left) & np.isfinite(right)
    if not has.any():
        return 0.0, 0
    shows = core[has] - 0.5 * (left[has] + right[has]) >= height / 3
    return float(shows.mean()), int(has.sum())


def _sharpness(peaks: list[RingPeak]) -> float:
    """How sharp the rings are about a centre: their summed significance (taller, narrower peaks)."""
    return sum(p.significance for p in peaks if p.ring and not p.edge)


def _refine_center(prof: _Profile, peaks: list[RingPeak], center: tuple[float, float]) -> tuple[float, float] | None:
    """The beam centre that makes the strongest rings round: in each sector a ring's radius is
    R + dx cos(phi) + dy sin(phi) when the centre is off by (dx, dy); least squares over up to
    ``_REFINE_RINGS`` rings (their own R, a common dx, dy). None when the rings do not pin it (too few
    sectors, or arcs too short to tell a shift from a larger radius) or the shift is implausible."""
    rings = sorted((p for p in peaks if p.ring and not p.edge and p.radius >= 8),
                   key=lambda p: -p.significance)[:_REFINE_RINGS]
    if not rings:
        return None
    ns, nb = prof.sector_mean.shape
    phi = (np.arange(ns) + 0.5) * (2 * math.pi / ns) - math.pi
    rows, rhs, wts = [], [], []
    for k, ring in enumerate(rings):
        half = max(2, int(round(ring.fwhm)))
        c = int(ring.radius)
        lo, hi = c - 3 * half, c + 3 * half + 1
        if lo < 0 or hi > nb:
            continue
        seg = prof.sector_mean[:, lo:hi]
        base = np.minimum(seg[:, :2].mean(axis=1), seg[:, -2:].mean(axis=1))
        # in each sector: the centroid over a FWHM about the sector's own maximum (a window about the mean
        # radius would pull every sector's estimate towards it)
        top = np.clip(np.argmax(np.where(np.isfinite(seg), seg, -np.inf), axis=1), half, seg.shape[1] - 1 - half)
        cols = top[:, None] + np.arange(-half, half + 1)[None, :]
        w = np.clip(np.take_along_axis(seg, cols, axis=1) - base[:, None], 0, None)
        rad = prof.radius[lo + cols]
        tot = w.sum(axis=1)
        good = np.isfinite(tot) & (tot > 0) & np.isfinite(base)
        if good.sum() < 4:
            continue
        pos = (w[good] * rad[good]).sum(axis=1) / tot[good]
        for s_, r_ in zip(np.flatnonzero(good), pos):
            row = np.zeros(len(rings) + 2)
            row[k], row[-2], row[-1] = 1.0, math.cos(phi[s_]), math.sin(phi[s_])
            rows.append(row)
            rhs.append(r_)
            wts.append(math.sqrt(max(ring.height, 0)))
    if len(rows) < len(rings) + 6:
        return None
    a = np.array(rows) * np.array(wts)[:, None]
    b = np.array(rhs) * np.array(wts)
    used = a.any(axis=0)
    a = a[:, used]
    sv = np.linalg.svd(a, compute_uv=False)
    if sv[-1] < 0.05 * sv[0]:  # short arcs: a shift and a radius cannot be told apart
        return None
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    res = np.abs(a @ sol - b)
    keep = res <= 3 * 1.4826 * max(float(np.median(res)), 1e-9)  # sectors a shadow or a spot threw off
    if keep.sum() >= len(rings) + 6 and not keep.all():
        sol, *_ = np.linalg.lstsq(a[keep], b[keep], rcond=None)
    dx, dy = float(sol[-2]), float(sol[-1])
    smallest = min(r.radius for r in rings)
    if not (math.isfinite(dx) and math.isfinite(dy)) or math.hypot(dx, dy) > min(_REFINE_MAX, 0.2 * smallest):
        return None
    return center[0] + dx, center[1] + dy


# ----------------------------------------------------------------------------------------------- matching


def _chance(ps: list[float], k: int) -> float:
    """P(at least k successes) of independent trials with success probabilities ``ps`` (Poisson-binomial)."""
    dist = np.zeros(len(ps) + 1)
    dist[0] = 1.0
    for p in ps:
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= 1 - p
    return float(dist[k:].sum())


def _radius_error(fwhm: float) -> float:
    """A ring radius's error (pixels): half a pixel for the beam centre and the fit, a tenth of the width."""
    return 0.5 + 0.1 * fwhm


def _tolerance(radius: float, fwhm: float) -> float:
    """Relative q tolerance of a ring: twice its radius error over its radius, at least ``MIN_TOL``."""
    return max(MIN_TOL, 2 * _radius_error(fwhm) / max(radius, 1.0))


@dataclass(frozen=True)
class _QAxis:
    """q of a radius on a flat detector normal to the beam: distance in pixels, 4 pi / wavelength (1/A)."""

    distance_px: float
    k4: float

    def q(self, r: float) -> float:
        return self.k4 * math.sin(0.5 * math.atan(r / self.distance_px))

    def r(self, q: float) -> float | None:
        if not 0 <= q < self.k4 * math.sin(math.pi / 4):  # beyond 2 theta = 90 degrees
            return None
        return self.distance_px * math.tan(2 * math.asin(q / self.k4))


def _match(name: str, rings: list[RingPeak], peaks: list[RingPeak], r_lo: float, r_hi: float, axis: _QAxis,
           scale0: float = 1.0, slack: float = SCALE_SLACK) -> Identification | None:
    """Calibrant ``name``'s lines against the ``rings`` (sharp isotropic peaks with q), one common scale
    factor within ``scale0`` +- ``slack``; ``peaks`` (every sharp peak in play) set the chance of a match."""
    q_lo, q_hi = axis.q(r_lo), axis.q(r_hi)
    lines = calibrant_lines(name, round(q_hi * (scale0 + slack), 6))
    if len(lines) < 2 or len(rings) < 2:
        return None
    qs = np.array([p.q for p in rings])
    tols = np.array([_tolerance(p.radius, p.fwhm) for p in rings])
    # candidate scales: each ring on each line, within the slack; the one that pairs most rings wins
    scales = {scale0}
    for q, _ in lines:
        for qo in qs:
            if abs(qo / q - scale0) <= slack:
                scales.add(float(qo / q))
    best = None
    for sc in sorted(scales):
        pairs = _pairs(lines, qs, tols, sc)
        key = (len(pairs), -sum(abs(qs[j] / (sc * lines[i][0]) - 1) / tols[j] for i, j in pairs))
        if best is None or key > best[0]:
            best = (key, sc, pairs)
    _, sc, pairs = best
    if len(pairs) >= 2:  # the scale refitted on the rings paired, then paired again
        w = np.array([1 / tols[j] ** 2 for _, j in pairs])
        ratio = np.array([qs[j] / lines[i][0] for i, j in pairs])
        fit = float((w * ratio).sum() / w.sum())
        if abs(fit - scale0) <= slack:
            again = _pairs(lines, qs, tols, fit)
            if len(again) >= len(pairs):
                sc, pairs = fit, again
    # the lines the frame could show: the first MAX_LINES whose radius (at this scale) lies in its range
    fwhm = float(np.median([p.fwhm for p in rings]))
    radius = {i: axis.r(sc * q) for i, (q, _) in enumerate(lines)}
    shown = [i for i, r in radius.items() if r is not None and r_lo - 2 <= r <= r_hi - 3][:MAX_LINES]
    if not shown:
        return None
    pairs = [(i, j) for i, j in pairs if i in shown]
    matched = tuple((lines[i][1], lines[i][0], rings[j]) for i, j in sorted(pairs))
    # chance: the peaks in play, spread evenly in log q over the frame's range, fall into the window of
    # each line with probability density x window; at least len(matched) of the lines shown get one
    n_peaks = sum(1 for p in peaks if q_lo <= p.q <= q_hi)
    density = max(n_peaks, 1) / max(math.log(q_hi / q_lo), 1e-3) if q_hi > q_lo > 0 else math.inf
    windows = [_tolerance(radius[i], fwhm) for i in shown]
    chance = _chance([1 - math.exp(-density * 2 * t) for t in windows], len(matched))
    # look-elsewhere: the scale factors tried (independent ones: slack over a window) and the calibrants
    trials = (1 + 2 * slack / float(np.median(windows))) * len(CALIBRANTS)
    confidence = max(0.0, 1 - min(1.0, chance * trials))
    found = {i for i, _ in pairs}
    # rings up to the last line found that none of the lines explains: a finer series or another lattice
    # whose rings the calibrant's lines only happen to hit (every fifth order of a long lamellar period
    # falls on AgBH's orders, every other one of twice AgBH's spacing). A calibrant's lines carry most of
    # the ring contrast up there, and few rings as strong as its own lie among them; a second phase (a
    # sample holder, AgBH's own wide-angle reflections beside LaB6) may add a weaker one or two
    own = sorted((p for _, _, p in matched), key=lambda p: p.q)
    own_ids = {id(p) for p in own}
    other = strong = 0
    c_own = sum(min(p.contrast, _CONTRAST_CAP) for p in own)
    c_other = 0.0
    if own:
        for p in rings:
            if id(p) in own_ids or p.edge or not q_lo <= p.q <= own[-1].q * (1 + MIN_TOL):
                continue
            c = min(p.contrast, _CONTRAST_CAP)
            other += 1
            c_other += c
            near = [m for m in (max((m for m in own if m.q < p.q), key=lambda m: m.q, default=None),
                                min((m for m in own if m.q > p.q), key=lambda m: m.q, default=None)) if m]
            strong += c >= _OTHER_SHARE * float(np.mean([min(m.contrast, _CONTRAST_CAP) for m in near]))
    # the first lines in range are among the strongest: at most one of the first four may be missing
    first = shown[:4]
    sure = (len(matched) >= 2 and len(matched) >= 0.5 * len(shown) and len(set(first) - found) <= 1
            and c_own >= c_other and strong <= max(1, len(matched) // 3) and confidence >= SURE)
    return Identification(name, round(confidence, 6), bool(sure), round(sc, 6), matched, len(shown), chance, other)


def _pairs(lines, qs: np.ndarray, tols: np.ndarray, s: float) -> list[tuple[int, int]]:
    """One-to-one (line, ring) pairs within each ring's tolerance at scale s, nearest first."""
    cand = []
    for i, (q, _) in enumerate(lines):
        dev = np.abs(qs / (s * q) - 1)
        for j in np.flatnonzero(dev <= tols):
            cand.append((dev[j] / tols[j], i, int(j)))
    cand.sort()
    used_l, used_r, out = set(), set(), []
    for _, i, j in cand:
        if i in used_l or j in used_r:
            continue
        used_l.add(i)
        used_r.add(j)
        out.append((i, j))
    return out


def _lamellar(rings: list[RingPeak]) -> Lamellar | None:
    """At least three rings at orders 1 : 2 : 3 ... of one spacing, each within its radius error: the
    innermost rings taken as order 1 or 2 (order 1 may hide behind a beamstop), orders added outwards
    with the spacing refitted on those found (least squares through 0), a gap of at most one order."""
    if len(rings) < 3:
        return None
    best = None
    for first in rings[:4]:
        for n in (1, 2):
            d = first.radius / n
            if d < 3:
                continue
            run = {n: first}
            for p in rings:
                if p.radius <= first.radius:
                    continue
                m = round(p.radius / d)
                if m in run or m - max(run) > 2:
                    continue
                if abs(p.radius - m * d) > 2 * _radius_error(p.fwhm):
                    continue
                run[m] = p
                ms = np.array(list(run), dtype=float)
                d = float((ms * np.array([q.radius for q in run.values()])).sum() / (ms * ms).sum())
            if len(run) >= 3 and (best is None or len(run) > len(best[1])):
                best = (d, sorted(run))
    if best is None:
        return None
    return Lamellar(round(best[0], 3), tuple(best[1]))


# ----------------------------------------------------------------------------------------------- entry points


def analyse(data: np.ndarray, mask: np.ndarray | None = None, geometry=None,
            center: tuple[float, float] | None = None, find_center: bool | None = None,
            refine: bool = True) -> RingAnalysis:
    """Sharp rings of a frame and the calibrants they identify.

    ``geometry``: a ``tui_tagger.core.geometry.Geometry`` (``geometry_of(path)``); without distance,
    wavelength and pixel size no calibrant is named (see the module's notes). ``center`` (x, y) in
    ``radial``'s convention overrides the geometry's beam centre. ``find_center``: look for the centre in
    the image (``radial.find_beam_center``, which keeps a given one unless the image clearly prefers
    another; tens of milliseconds); None (default): only when none is given. ``refine`` then moves it by
    up to a few pixels to make the strongest sharp rings round (a header's centre is often a pixel or two
    off, which blurs small rings; one much further off blurs them out of sight: no name, never a wrong one)."""
    from tui_tagger.core.radial import find_beam_center

    data = np.asarray(data, dtype=np.float32)
    out = RingAnalysis()
    if data.ndim != 2 or data.size < 64:
        out.note = "not a 2-D frame"
        return out
    valid = np.isfinite(data) if mask is None else (np.isfinite(data) & np.asarray(mask, dtype=bool))
    if valid.sum() < 64:
        out.note = "too few valid pixels"
        return out
    hint = center if center is not None else geometry_center(geometry)
    if find_center or (find_center is None and hint is None):
        try:
            found = find_beam_center(data, valid, hint)
        except Exception:  # a degenerate frame: the hint or nothing
            found = hint
        center = found if found is not None else hint
    else:
        center = hint
    if center is None:
        out.note = "no beam centre"
        return out
    out.center = (float(center[0]), float(center[1]))
    prof = _profile(data, valid, out.center, geometry)
    peaks = _find_peaks(prof)
    qg = _q_geometry(geometry)
    tilted = qg is not None and qg[3]  # radii from the PONI's own geometry: no centre to refine
    for _ in range(_REFINE_PASSES if refine and not tilted else 0):
        better = _refine_center(prof, peaks, out.center)
        if better is None or math.dist(better, out.center) < 0.2:
            break
        prof2 = _profile(data, valid, better, geometry)
        peaks2 = _find_peaks(prof2)
        if _sharpness(peaks2) <= _sharpness(peaks):  # a centre that does not sharpen the rings is no better
            break
        out.center, prof, peaks = better, prof2, peaks2
    axis = None
    if qg is not None:
        dist, wl, (p1, p2), _ = qg
        axis = _QAxis(dist / math.sqrt(p1 * p2), 4 * math.pi / (wl * 1e10))
        peaks = [replace(p, q=axis.q(p.radius)) for p in peaks]
        out.with_q = True
    rings = [p for p in peaks if p.ring]
    out.peaks = peaks
    out.lamellar = _lamellar(rings)
    if axis is None:
        out.note = "no distance, wavelength or pixel size: ring ratios name no calibrant"
        return out
    if len(rings) < 2:
        out.note = "fewer than two sharp rings"
        return out
    r_lo, r_hi = _range(prof)
    found: list[Identification] = []
    explained: set[int] = set()
    remaining = list(CALIBRANTS)
    scale0, slack = 1.0, SCALE_SLACK
    while remaining:
        # the surest first; its rings are then no evidence for another calibrant, and its scale factor
        # (the geometry's error, the same for every ring of the frame) is the other's within SCALE_AGREE
        pool = [p for p in rings if id(p) not in explained]
        in_play = [p for p in peaks if id(p) not in explained]
        tried = [m for m in (_match(n, pool, in_play, r_lo, r_hi, axis, scale0, slack) for n in remaining)
                 if m is not None]
        if not tried:
            break
        best = max(tried, key=lambda m: (m.sure, len(m.matched), m.confidence))
        found.append(best)
        remaining.remove(best.calibrant)
        if not best.sure:
            found += [m for m in tried if m is not best]
            break
        explained |= {id(p) for _, _, p in best.matched}
        scale0, slack = best.scale, SCALE_AGREE
    out.identifications = sorted(found, key=lambda m: (not m.sure, -m.confidence))
    if not out.sure:
        out.note = "no calibrant's lines fit the rings surely"
    return out


def _range(prof: _Profile) -> tuple[float, float]:
    """The radii (pixels) the frame shows rings at: from where the scattering starts (past a beamstop's
    shadow: where the profile reaches a third of its floor's highest level nearby, rings left out) to the last
    radius that at least two sectors cover."""
    covered = np.flatnonzero(np.isfinite(prof.level) & (prof.sectors >= 2))
    if covered.size == 0:
        return 1.0, 1.0
    first, last = int(covered[0]), int(covered[-1])
    floor = _running_min(prof.level, 10)
    span = max(8, (last - first) // 4)
    head = floor[first : first + span]
    start = first
    if np.isfinite(head).any():
        low = np.nanmin(floor[covered])
        level = prof.level[first : first + span]
        over = np.flatnonzero(np.isfinite(level) & (level - low >= (np.nanmax(head) - low) / 3))
        if over.size:
            start = first + int(over[0])
    return float(max(prof.radius[start], 1.0)), float(prof.radius[last])


def has_q(geometry) -> bool:
    """Whether ``geometry`` gives q (distance, wavelength and pixel size): without it nothing is named."""
    return _q_geometry(geometry) is not None


def identify(data: np.ndarray, mask: np.ndarray | None = None, geometry=None,
             center: tuple[float, float] | None = None) -> list[Identification]:
    """The calibrants the frame's rings surely are (most often one; a mixture gives more), else []; at
    once [] when the geometry gives no q."""
    if not has_q(geometry):
        return []
    return analyse(data, mask, geometry, center).sure


def identify_calibrant(data: np.ndarray, mask: np.ndarray | None = None, geometry=None,
                       center: tuple[float, float] | None = None) -> Identification | None:
    """The surest calibrant of the frame, or None."""
    sure = identify(data, mask, geometry, center)
    return sure[0] if sure else None
