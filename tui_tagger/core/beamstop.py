"""The beamstop's shadow at the beam, measured at the frame's full resolution (numpy only).

A round stop is a disc on a thin arm or wire; a linear stop is a bar that ends at the beam. At the network's
input size (256 px) a 10 px disc on a 4 px arm is a line of 1-2 px: the two cannot be told apart there, and
real frames showed it (round stops on an arm read as "Linear beamstop"). At full resolution the shapes
differ plainly, so this measures them:

- around the beam centre, a pixel is in shadow when it is far darker than the brightest ring of scattering
  at its radius or beyond (a stop hides everything inside its disc, so the rings just outside are the
  reference there);
- the disc: the radius R up to which (nearly) every valid pixel is in shadow;
- the arm: at radii of 2.5-4.5 R, the shadowed arc per crossing (an arm crosses a circle once, a wire across
  the frame twice), which is the arm's width.

A disc at least twice as wide as its arm (or with no arm) is a round stop; a shadow as wide at 3R as at the
beam is a bar. Anything else (no shadow at the beam, a shadow that spreads like a sample horizon, a disc too
small to measure, too few valid pixels) gives no verdict: the network's answer stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A pixel is in shadow below this fraction of the reference intensity at its radius.
SHADOW_FRACTION = 0.1
# The disc: radii where at least this share of the valid pixels is in shadow.
DISC_COVER = 0.9
# Smallest disc radius (px) whose width can be compared with an arm's: below it, pixels are too coarse.
MIN_DISC_PX = 3.0
# Round: each arm crossing at most this share of the disc's diameter (the generator's arms reach 0.45,
# a bar's rounded tip is some 1.3 bar widths: both well clear of it).
ROUND_MAX_ARM = 0.6
# Bar: each crossing at least this share of the width of the shadow at the beam.
BAR_MIN_ARM = 0.75
# The disc's median at most this share of the reference just outside it above the dark level.
DISC_DEPTH = 0.05
# Just outside the disc, the lit pixels' median at least this share of the reference above the dark level.
EDGE_MIN = 0.25
# Just outside the disc, at least this share of the brightest lit median a few pixels further out.
EDGE_RISE = 0.5
# An arm or a bar keeps its width; a shadow wider at 4.5 than at 2.5 disc radii by this factor spreads.
SPREAD = 1.3
# Around the disc, the reference at least this many noise widths (robust spread) above the dark level.
ARM_CONTRAST = 3.0
# Where the arm is measured, in disc radii from the beam.
ARM_RADII = (2.5, 4.5)
# The reference must stand this far above the frame's dark level for a shadow to mean anything.
MIN_CONTRAST = 5.0


@dataclass(frozen=True)
class Shadow:
    """What the shadow at the beam looks like; ``kind`` is "round", "bar" or None (no verdict)."""

    kind: str | None
    disc_px: float = 0.0  # radius of the fully shadowed disc around the beam
    arm_px: float = 0.0  # width of the widest arm crossing at 2.5-4.5 disc radii (0: no arm)
    crossings: int = 0
    why: str = ""


def _ring_stats(radius: np.ndarray, values: np.ndarray, nbins: int) -> np.ndarray:
    """Median of ``values`` per integer radius bin (NaN where empty): one sort of one key (the bin plus the
    value scaled into [0, 1)), no loop over the bins."""
    radius = np.minimum(radius, nbins - 1)
    lo_v, hi_v = float(values.min()), float(values.max())
    scale = (hi_v - lo_v) / 0.999 if hi_v > lo_v else 1.0
    key = np.sort(radius + (values - lo_v) / scale)
    counts = np.bincount(radius, minlength=nbins)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(nbins, np.nan)
    has = counts > 0
    lo, hi = (start + (counts - 1) // 2)[has], (start + counts // 2)[has]  # the middle one or two of each bin
    frac = lambda k: (key[k] - np.floor(key[k])) * scale + lo_v  # noqa: E731
    out[has] = 0.5 * (frac(lo) + frac(hi))
    return out


class _Shade:
    """Which pixels are in shadow: valid, and darker than SHADOW_FRACTION of the reference at their radius
    from the beam (above the frame's dark level). Evaluated only where asked: circles and a small window."""

    def __init__(self, data: np.ndarray, valid: np.ndarray, cx: float, cy: float, ref: np.ndarray, dark: float):
        self.data, self.valid, self.cx, self.cy, self.ref, self.dark = data, valid, cx, cy, ref, dark

    def at(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(inside the frame, valid, in shadow, value) at float pixel coordinates."""
        h, w = self.data.shape
        inside = (xs >= 0) & (ys >= 0) & (xs < w) & (ys < h)
        xi, yi = np.clip(xs.astype(int), 0, w - 1), np.clip(ys.astype(int), 0, h - 1)
        ok = inside & self.valid[yi, xi]
        r = np.minimum(np.hypot(xi + 0.5 - self.cx, yi + 0.5 - self.cy).astype(int), len(self.ref) - 1)
        value = np.where(ok, self.data[yi, xi], 0).astype(np.float64)
        return inside, ok, ok & (value - self.dark < SHADOW_FRACTION * (self.ref[r] - self.dark)), value

    def circle(self, cx: float, cy: float, r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = max(64, int(4 * math.pi * r))  # two samples per pixel of arc
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        return self.at(cy + r * np.sin(t), cx + r * np.cos(t))


def _crossings(inside: np.ndarray, ok: np.ndarray, dark: np.ndarray, r: float) -> list[float]:
    """Shadowed arc length in px of each crossing of a circle of radius ``r`` (an arm's width where it
    crosses at a right angle). Invalid samples (a module gap) between dark ones belong to the crossing."""
    step = 2 * math.pi * r / len(dark)
    bridged = dark | (inside & ~ok)
    if bridged.all() or not dark.any():
        return [float(dark.sum()) * step] if dark.any() else []
    start = int(np.argmin(bridged))  # begin on a sample outside every run, so that no run wraps around
    dark, bridged = np.roll(dark, -start), np.roll(bridged, -start)
    edges = np.diff(np.concatenate([[0], bridged.astype(np.int8), [0]]))
    return [float(dark[a:b].sum() * step)
            for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)) if dark[a:b].any()]


def _lit_median(shade: "_Shade", cx: float, cy: float, r: float) -> float | None:
    """Median of the lit (valid, not shadowed) pixels on a circle, None when there are too few."""
    _, ok, dark, value = shade.circle(cx, cy, r)
    lit = ok & ~dark
    return float(np.median(value[lit])) if lit.sum() >= 8 else None


def _reference(data: np.ndarray, valid: np.ndarray, cx: float, cy: float) -> tuple[np.ndarray, float]:
    """(reference intensity per integer radius from the beam, the frame's dark level), from a strided
    sample of the valid pixels (medians need no more). The reference at r is the brightest ring median at r
    or beyond: inside a stop's disc every ring is dark, the rings just outside it are what it hides."""
    h, w = data.shape
    step = max(1, int(math.sqrt(h * w / 40_000)))
    sub, ok = data[::step, ::step], valid[::step, ::step]
    yy, xx = np.mgrid[0:h:step, 0:w:step]
    ring = np.hypot(xx + 0.5 - cx, yy + 0.5 - cy).astype(int)
    nbins = int(math.hypot(max(cx, w - cx), max(cy, h - cy))) + 2
    med = _ring_stats(ring[ok], sub[ok].astype(np.float64), nbins)
    # rings too thin to sample at this stride take their neighbours' value
    med = np.where(np.isnan(med), -np.inf, med)
    ref = np.maximum.accumulate(med[::-1])[::-1]
    return ref, float(np.percentile(sub[ok], 1))


def measure(data: np.ndarray, valid: np.ndarray | None, center: tuple[float, float] | None) -> Shadow:
    """The shadow at ``center`` ((x, y) in pixels, the direct beam) of a frame."""
    from scipy import ndimage

    if center is None:
        return Shadow(None, why="no beam centre")
    data = np.asarray(data)
    h, w = data.shape[-2:]
    cx, cy = float(center[0]), float(center[1])
    if not (0 <= cx < w and 0 <= cy < h):
        return Shadow(None, why="beam off the frame")
    finite = np.isfinite(data)
    valid = finite if valid is None else (np.asarray(valid, bool) & finite)
    if valid.sum() < 1024:
        return Shadow(None, why="too few valid pixels")
    ref, dark = _reference(data, valid, cx, cy)
    if not np.isfinite(ref[0]) or ref[0] - dark < MIN_CONTRAST * max(1.0, abs(dark) ** 0.5):
        return Shadow(None, why="too little scattering to see a shadow")
    shade = _Shade(data, valid, cx, cy, ref, dark)
    # a header's beam centre may sit off the disc's centre by some pixels
    slack = max(6.0, 0.02 * min(h, w))
    # how far the shadow reaches around the beam: circles until one is mostly lit
    reach, limit = 0.0, 0.45 * min(h, w)
    r = 1.0
    while r < limit:
        inside, ok, dark_at, _ = shade.circle(cx, cy, r)
        if ok.mean() >= 0.5 and dark_at.sum() < DISC_COVER * ok.sum():
            break
        reach = r
        r = r + 1.0 if r < 16 else r * 1.06
    if reach >= limit:
        return Shadow(None, why="shadow too large to measure")
    # the disc: the largest circle of shadow near the beam (invalid pixels may lie under it: a module gap
    # crossing the stop), found in a small window
    half = int(reach + 2 * slack + 4)
    y0, y1, x0, x1 = max(0, int(cy) - half), min(h, int(cy) + half + 1), max(0, int(cx) - half), min(w, int(cx) + half + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    _, ok, shadow, _ = shade.at(yy + 0.5, xx + 0.5)
    near = np.hypot(xx + 0.5 - cx, yy + 0.5 - cy) <= slack
    if not (shadow & near).any():
        return Shadow(None, why="no shadow at the beam")
    inner = ndimage.distance_transform_edt(shadow | ~ok)
    pick = np.where(near, inner, 0)
    k = int(np.argmax(pick))
    iy, ix = divmod(k, pick.shape[1])
    disc = float(pick[iy, ix])
    dx, dy = float(xx[iy, ix]) + 0.5, float(yy[iy, ix]) + 0.5
    if disc < MIN_DISC_PX:
        return Shadow(None, disc_px=disc, why="no shadow disc at the beam")
    inside = np.hypot(xx + 0.5 - dx, yy + 0.5 - dy) <= disc
    if ok[inside].mean() < 0.75 or shadow[inside & ok].mean() < DISC_COVER:
        return Shadow(None, disc_px=disc, why="the disc at the beam is partly masked, not a seen shadow")
    # a stop's shadow is as dark as the detector gets; a dim region inside a first ring is not
    edge = ref[min(int(math.hypot(dx - cx, dy - cy) + disc) + 2, len(ref) - 1)]
    if np.median(data[yy[inside & ok], xx[inside & ok]]) - dark > DISC_DEPTH * (edge - dark):
        return Shadow(None, disc_px=disc, why="the dark patch at the beam is dim scattering, not a shadow")
    # and its edge is sharp: just outside it the scattering it hides is bright, not still rising (a dim
    # region before a first ring brightens slowly)
    rim = [_lit_median(shade, dx, dy, disc + k) for k in (2, 4, 7)]
    if rim[0] is None or rim[0] - dark < EDGE_MIN * (edge - dark) or \
            rim[0] - dark < EDGE_RISE * (max(v for v in rim if v is not None) - dark):
        return Shadow(None, disc_px=disc, why="no sharp edge around the dark patch at the beam")
    lo, hi = ARM_RADII
    per_radius, counts = [], []
    for r in np.linspace(lo * disc, hi * disc, 5):
        inside_c, ok_c, dark_c, value_c = shade.circle(dx, dy, r)
        if ok_c.mean() < 0.5:
            return Shadow(None, disc_px=disc, why="too few valid pixels around the disc")
        # an arm is seen only against scattering well above the noise (a weak frame hides it)
        # pixel-to-pixel noise (samples two apart are neighbouring pixels; structure is smooth at that scale)
        pair = ok_c & np.roll(ok_c, -2) & ~dark_c & ~np.roll(dark_c, -2)
        step = np.abs(value_c - np.roll(value_c, -2))[pair]
        spread = 1.4826 * float(np.median(step)) / math.sqrt(2) if step.size else 0.0
        if ref[min(int(r + math.hypot(dx - cx, dy - cy)), len(ref) - 1)] - dark < ARM_CONTRAST * max(spread, 1e-12):
            return Shadow(None, disc_px=disc, why="too little scattering around the disc to see an arm")
        widths = _crossings(inside_c, ok_c, dark_c, r)
        per_radius.append(max(widths) if widths else 0.0)
        counts.append(len(widths))
    arm = float(np.median(per_radius))
    crossings = int(np.median(counts))
    diameter = 2.0 * disc
    if crossings > 2 or max(per_radius) > 3 * diameter:
        return Shadow(None, disc, arm, crossings, "a shadow that spreads (a horizon, a cell wall)")
    if per_radius[-1] > SPREAD * max(per_radius[0], 1.0):
        return Shadow(None, disc, arm, crossings, "a shadow that widens away from the beam")
    if arm <= ROUND_MAX_ARM * diameter:
        return Shadow("round", disc, arm, crossings, "a disc wider than its arm")
    if arm >= BAR_MIN_ARM * diameter:
        return Shadow("bar", disc, arm, crossings, "as wide away from the beam as at it")
    return Shadow(None, disc, arm, crossings, "between a disc and a bar")
