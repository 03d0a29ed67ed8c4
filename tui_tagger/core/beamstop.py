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

A disc at least 1/0.6 times as wide as its arm (or with no arm) is a round stop; a shadow as wide at 3R as at
the beam is a bar. Anything else (no shadow at the beam, a shadow that spreads like a sample horizon, a disc too
small to measure, too few valid pixels) gives no verdict: the network's answer stands.

Pixels the frame cannot show (masked: flagged values, module gaps) and pixels far brighter than any scattering
ring (the direct beam leaking through or past the stop, a hot pixel) are unknown: neither shadow nor lit. A
disc may hold some (a gap crossing the stop), but at least DISC_SEEN of it must be seen shadow; an arm's width
counts the unknown beside it (a gap along a bar never makes it look thin). A round disc is also evenly dark
and has no dark corners just outside it (a triangle or square artefact is not a disc).

A stop far from the detector casts a soft edge (a penumbra: the beam's size and divergence): the disc's edge
may rise over up to PENUMBRA_PX (and one disc radius) if the level then holds; a thin arm under a penumbra is
grey, never "in shadow", so there widths are also taken at HALF_LEVEL of the lit level around (a blur does
not move an edge's half level). An arm circle that leaves the frame counts the widest crossing seen (a bar
may leave the frame there).

Where no beam centre is stated, or the stated one shows no verdict (headers are sometimes stale),
``find_shadows`` looks for the stop in the pixels: on a copy reduced to some 256 px (four samples per block,
1-2 ms for a 1024 px frame), the regions far darker than all their surroundings (a grey closing), ringed by
lit scattering, the one ringed by the brightest first; ``judge`` measures at each (at most SEARCH_TRIES). The
measure finds the disc itself, so a blob that is not a round stop (a bar's tip, a horizon, a gap) gives a bar
or no verdict, and a bar wider than a round stop's arm may be, seen beside a round blob, rules out "round".

``open_beam``: where a beam centre is stated and the direct beam itself is seen there, unshaded, no stop is in
the beam at all. ``beam_seen``: the direct beam seen there on a frame with no scattering around it that a stop
could shade: no opaque bar covers the beam (a semi-transparent disc may).
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
# A soft edge (a penumbra: the beam's size and divergence over the stop's distance, some 0.5-1.5 mm) may
# rise over up to this many disc radii and pixels beyond the fully dark disc; a dim region before a first
# ring brightens over a share of the ring's radius, tens of pixels.
PENUMBRA = 1.0
PENUMBRA_PX = 8.0
# Beyond a penumbra, the level half and one disc radius further out at least this share of its own.
PENUMBRA_HOLD = 0.25
# Under a penumbra a thin arm's shadow is grey (never under SHADOW_FRACTION), the disc's umbra shrinks by the
# blur: widths are also taken where pixels are under this share of the lit level around them (a blur does
# not move the half level of an edge wider than it); the disc's half-level radius is at most disc + soft.
HALF_LEVEL = 0.5
# An arm or a bar keeps its width; a shadow wider at 4.5 than at 2.5 disc radii by this factor spreads.
SPREAD = 1.3
# Around the disc, the reference at least this many noise widths (robust spread) above the dark level.
ARM_CONTRAST = 3.0
# Where the arm is measured, in disc radii from the beam.
ARM_RADII = (2.5, 4.5)
# Just outside a round disc (these radii, in disc radii) at most two dark runs (an arm, a wire) of at least
# CORNER_MIN_PX (a lone dark pixel is noise).
CORNER_RADII = (1.3, 1.6)
CORNER_MIN_PX = 1.5
# There, an arm is as wide as further out (this factor, plus CORNER_MIN_PX, for a fillet where it joins
# the disc); a dark run much wider is a corner or a wedge narrowing away from the disc.
CORNER_ARM = 1.5
# The reference must stand this far above the frame's dark level for a shadow to mean anything.
MIN_CONTRAST = 5.0
# The disc: at least this share of it seen (valid, not beam-bright) and in shadow, at most DISC_BRIGHT
# beam-bright (a leak through or past the stop is small; a flare around a bar's tip is not inside a disc).
DISC_SEEN = 0.5
DISC_BRIGHT = 0.1
# The disc's pixels at this percentile at most 1/SHADOW_FRACTION times its median above the dark level (a
# stop's shadow is even; a soft edge is the outer few pixels, under a quarter of the disc).
DISC_UNIFORM = 75
# Beam-bright: more than this many times the brightest ring median above the dark level (the direct beam
# leaking through or past the stop, a hot pixel): unknown, like a masked pixel.
BEAM_BRIGHT = 3.0
# The search (find_shadows): the reduced copy's longer side; the widest shadow it fills (share of that
# side, the grey closing's half-width: a stop's disc is 0.5-9 % of a frame's side); the share of a circle just outside a dark
# region that must be lit (1/SHADOW_FRACTION times MIN_CONTRAST noise widths above the dark level); how
# many of the widest enclosed dark points are measured.
SEARCH_SIDE = 256
SEARCH_HOLE = 0.06
ENCLOSED = 0.5
SEARCH_TRIES = 2
# The open beam (open_beam): its peak at least this many times the frame's 99.9th percentile (above the
# dark level), the rings lit out to this many spot radii.
OPEN_PEAK = 100.0
OPEN_REACH = 6
# The spot: out to where the ring medians fall under this share of the peak; the stated centre inside it.
OPEN_SPOT = 0.01
# Around the spot, each ring's this quantile must be lit (a shadow over 2 % of a ring is seen: a 4 px bar
# 30 px out); only rings whose median stands MIN_CONTRAST**2 noise widths up count (noise alone keeps
# their low quantile lit).
OPEN_LOW = 0.02


@dataclass(frozen=True)
class Shadow:
    """What the shadow at the beam looks like; ``kind`` is "round", "bar" or None (no verdict)."""

    kind: str | None
    disc_px: float = 0.0  # radius of the fully shadowed disc around the beam
    arm_px: float = 0.0  # width of the widest arm crossing at 2.5-4.5 disc radii (0: no arm)
    crossings: int = 0
    why: str = ""
    at: tuple[float, float] | None = None  # (x, y) measured at: the stated centre or a blob the search found


def _ring_stats(radius: np.ndarray, values: np.ndarray, nbins: int, q: float = 0.5) -> np.ndarray:
    """The ``q`` quantile (default the median) of ``values`` per integer radius bin (NaN where empty): one
    sort of one key (the bin plus the value scaled into [0, 1)), no loop over the bins."""
    radius = np.minimum(radius, nbins - 1)
    lo_v, hi_v = float(values.min()), float(values.max())
    scale = (hi_v - lo_v) / 0.999 if hi_v > lo_v else 1.0
    key = np.sort(radius + (values - lo_v) / scale)
    counts = np.bincount(radius, minlength=nbins)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(nbins, np.nan)
    has = counts > 0
    pos = q * (counts - 1)  # the q-th of each bin (the middle one or two for the median)
    lo, hi = (start + np.floor(pos).astype(int))[has], (start + np.ceil(pos).astype(int))[has]
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
    crosses at a right angle). Invalid samples (a module gap) next to or between dark ones count as dark:
    an arm's width is never less than it may be (a gap along an arm must not make a bar look thin)."""
    step = 2 * math.pi * r / len(dark)
    bridged = dark | (inside & ~ok)
    if bridged.all() or not dark.any():
        return [float(bridged.sum()) * step] if dark.any() else []
    start = int(np.argmin(bridged))  # begin on a sample outside every run, so that no run wraps around
    dark, bridged = np.roll(dark, -start), np.roll(bridged, -start)
    edges = np.diff(np.concatenate([[0], bridged.astype(np.int8), [0]]))
    return [float((b - a) * step)
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
    _, ok, shadow, value = shade.at(yy + 0.5, xx + 0.5)
    near = np.hypot(xx + 0.5 - cx, yy + 0.5 - cy) <= slack
    if not (shadow & near).any():
        return Shadow(None, why="no shadow at the beam")
    # unknown: masked, or far brighter than any ring (the direct beam leaking past the stop, a hot pixel)
    bright = ok & (value - dark > BEAM_BRIGHT * (ref[0] - dark))
    seen = ok & ~bright
    inner = ndimage.distance_transform_edt(shadow | ~seen)
    # the widest disc centred on a seen shadow pixel near the beam that is mostly seen shadow; a wider one
    # that is mostly unknown (a gap beside the arm) is passed over
    pick = np.where(near & shadow, inner, 0)
    for _ in range(5):
        k = int(np.argmax(pick))
        iy, ix = divmod(k, pick.shape[1])
        disc = float(pick[iy, ix])
        dx, dy = float(xx[iy, ix]) + 0.5, float(yy[iy, ix]) + 0.5
        if disc < MIN_DISC_PX:
            return Shadow(None, disc_px=disc, why="no shadow disc at the beam")
        around = np.hypot(xx + 0.5 - dx, yy + 0.5 - dy)
        inside = around <= disc
        if seen[inside].mean() >= DISC_SEEN and bright[inside].mean() <= DISC_BRIGHT and \
                shadow[inside & seen].mean() >= DISC_COVER:
            break
        pick[around <= max(disc, 2.0)] = 0
    else:
        return Shadow(None, disc_px=disc, why="the disc at the beam is partly masked, not a seen shadow")
    # a stop's shadow is as dark as the detector gets; a dim region inside a first ring is not
    edge = ref[min(int(math.hypot(dx - cx, dy - cy) + disc) + 2, len(ref) - 1)]
    mid, upper = np.percentile(value[inside & seen], (50, DISC_UNIFORM))
    if mid - dark > DISC_DEPTH * (edge - dark):
        return Shadow(None, disc_px=disc, why="the dark patch at the beam is dim scattering, not a shadow")
    # and even: a quarter of the disc far brighter than its middle is scattering (a flare's tail around the
    # beam, darker only than the flare) taken into it, not the stop
    if upper - dark > max((mid - dark) / SHADOW_FRACTION, MIN_CONTRAST * max(1.0, abs(mid) ** 0.5)):
        return Shadow(None, disc_px=disc, why="the dark patch at the beam is not evenly dark")
    # and its edge is sharp: just outside it the scattering it hides is bright, not still rising (a dim
    # region before a first ring brightens slowly). A stop far from the detector casts a soft edge: over a
    # penumbra of ``soft`` pixels (at most PENUMBRA disc radii and PENUMBRA_PX) the shadow lightens; beyond
    # it the level neither rises on (a broad ring's flank) nor falls away within a disc radius (the dim
    # inside of a sharp ring: the penumbra's "edge" was the ring)
    for soft in np.arange(0.0, min(PENUMBRA * disc, PENUMBRA_PX) + 1e-9, 2.0):
        out = [2, 4, 7] + ([2 + disc / 2, 2 + disc] if soft else [])
        rim = [_lit_median(shade, dx, dy, disc + soft + k) for k in out]
        if rim[0] is None or rim[0] - dark < EDGE_MIN * (edge - dark) or \
                rim[0] - dark < EDGE_RISE * (max(v for v in rim if v is not None) - dark):
            continue
        if not soft or all(v is not None and v - dark >= PENUMBRA_HOLD * (rim[0] - dark) for v in rim[3:]):
            break
    else:
        return Shadow(None, disc_px=disc, why="no sharp edge around the dark patch at the beam")
    # a round stop's edge is a circle: just outside the disc only its arm or wire is in shadow; a triangle,
    # a square or a readout artefact's corners put three or more dark runs there. Beyond a soft edge's
    # penumbra (where its dark speckle is no corner), and a run or a fillet counts the penumbra's blur
    fuzz = CORNER_MIN_PX + soft / 2
    near = [[c for c in _crossings(*shade.circle(dx, dy, k * disc + soft)[:3], k * disc + soft) if c >= fuzz]
            for k in CORNER_RADII]
    corners, near_arm = max(len(c) for c in near), max((max(c) for c in near if c), default=0.0)
    lo, hi = ARM_RADII
    per_radius, counts, half_widths, cut = [], [], [], False
    for r in np.linspace(lo * disc, hi * disc, 5):
        inside_c, ok_c, dark_c, value_c = shade.circle(dx, dy, r)
        cut |= not inside_c.all()
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
        if soft:  # widths at half the lit level there: a blur moves no edge's half-level (see HALF_LEVEL)
            lit = ok_c & ~dark_c
            level = float(np.median(value_c[lit])) if lit.any() else dark
            half = _crossings(inside_c, ok_c, ok_c & (value_c - dark < HALF_LEVEL * (level - dark)), r)
            half_widths.append(max(half) if half else 0.0)
    # the widest crossing where a circle leaves the frame: an arm or a bar may leave it there (a bar seen at
    # two radii and off the frame at three is still a bar)
    pick = max if cut else np.median
    arm = float(pick(per_radius))
    arm_half = float(pick(half_widths)) if half_widths else arm
    crossings = int(np.median(counts))
    diameter = 2.0 * disc
    if crossings > 2 or max(per_radius) > 3 * diameter:
        return Shadow(None, disc, arm, crossings, "a shadow that spreads (a horizon, a cell wall)")
    if per_radius[-1] > SPREAD * max(per_radius[0], 1.0):
        return Shadow(None, disc, arm, crossings, "a shadow that widens away from the beam")
    if arm <= ROUND_MAX_ARM * diameter:
        if corners > 2:
            return Shadow(None, disc, arm, crossings, "dark corners just outside the disc: not a round edge")
        if arm_half > ROUND_MAX_ARM * 2 * (disc + soft):
            return Shadow(None, disc, arm, crossings, "a soft shadow whose arm is as wide as its disc at half level")
        if near_arm > CORNER_ARM * max(per_radius + half_widths) + fuzz:
            return Shadow(None, disc, arm, crossings, "a shadow that narrows away from the disc: a corner, not an arm")
        return Shadow("round", disc, arm, crossings, "a disc wider than its arm")
    if arm >= BAR_MIN_ARM * diameter:
        return Shadow("bar", disc, arm, crossings, "as wide away from the beam as at it")
    return Shadow(None, disc, arm, crossings, "between a disc and a bar")


def _reduced(data: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(mean, seen) of the frame reduced to at most SEARCH_SIDE px a side, and the block size f: per f x f
    block the mean of four strided samples (a block mean would read every pixel: several times slower),
    seen where at least half of them are valid (``valid`` None: every finite pixel)."""
    h, w = data.shape
    f = max(1, math.ceil(max(h, w) / SEARCH_SIDE))
    rows, cols = h // f, w // f
    a, b = f // 4, f - 1 - f // 4
    total = np.zeros((rows, cols), np.float32)
    count = np.zeros((rows, cols), np.int8)
    offsets = {(a, a), (b, b), (a, b), (b, a)}
    for oy, ox in offsets:
        sample = data[oy : rows * f : f, ox : cols * f : f]
        ok = np.isfinite(sample) if sample.dtype.kind == "f" else np.ones(sample.shape, bool)
        if valid is not None:
            ok &= valid[oy : rows * f : f, ox : cols * f : f]
        total += np.where(ok, sample, 0)
        count += ok
    seen = 2 * count >= len(offsets)
    return total / np.maximum(count, 1), seen, f


def find_shadows(data: np.ndarray, valid: np.ndarray | None = None, limit: int = SEARCH_TRIES) -> list[tuple[float, float]]:
    """Where a beamstop's shadow may be, from the pixels alone: on the reduced copy, the regions far darker
    (SHADOW_FRACTION above the darkest level) than the scattering all around them (a grey closing over
    SEARCH_HOLE of the side fills exactly those: a steep small-angle decay or a horizon's shadow is not
    dark all round), their widest points (x, y) whose circle just outside is mostly lit, one per region,
    the one ringed by the brightest scattering first (the beam is there), at most ``limit``. Only
    candidates: ``measure`` decides what they are."""
    from scipy import ndimage

    data = np.asarray(data)
    if valid is not None:
        valid = np.asarray(valid, bool)
        valid = None if valid.all() else valid  # most frames: no strided reads of an all-true mask
    mean, seen, f = _reduced(data, valid)
    if seen.sum() < 64:
        return []
    values = mean[seen]
    lo = float(np.partition(values, 3)[3]) if values.size > 4 else float(values.min())  # the darkest, not one outlier
    level = np.where(seen, mean - lo, 0.0)  # masked blocks add no brightness
    noise = MIN_CONTRAST * np.sqrt(np.maximum(np.abs(mean), 1.0))
    top = float(level.max())  # no surroundings are brighter: a frame with nothing far darker stops here
    if not (seen & (level <= SHADOW_FRACTION * top) & (top - level >= noise)).any():
        return []
    # the closing (holes filled) on 2 x 2 block maxima, a quarter of the work: it only says how bright the
    # surroundings are
    even = np.pad(level, ((0, level.shape[0] % 2), (0, level.shape[1] % 2)))
    coarse = np.maximum(np.maximum(even[0::2, 0::2], even[1::2, 0::2]), np.maximum(even[0::2, 1::2], even[1::2, 1::2]))
    size = 2 * max(1, int(SEARCH_HOLE * max(coarse.shape))) + 1
    around = ndimage.minimum_filter(ndimage.maximum_filter(coarse, size), size)
    around = np.repeat(np.repeat(around, 2, 0), 2, 1)[: level.shape[0], : level.shape[1]]
    dark = seen & (level <= SHADOW_FRACTION * around) & (around - level >= noise)
    if not dark.any():
        return []
    # distance of each dark block to the nearest other one (taxicab: never less than the true distance, so the
    # circle just outside lies outside; the frame's border is not dark)
    depth = ndimage.distance_transform_cdt(np.pad(dark, 1), metric="taxicab")[1:-1, 1:-1]
    peak = dark & (depth == ndimage.maximum_filter(depth, 3))
    region, _ = ndimage.label(dark, np.ones((3, 3), bool))  # a disc and its arm: one region, one candidate
    ys, xs = np.nonzero(peak)
    if not len(ys):
        return []
    d = depth[ys, xs].astype(np.float64)
    # a circle just outside each: lit where far brighter than the blob (and than the noise)
    t = np.linspace(0, 2 * math.pi, 16, endpoint=False)
    ry = np.rint(ys[:, None] + (d[:, None] + 1.5) * np.sin(t)).astype(int)
    rx = np.rint(xs[:, None] + (d[:, None] + 1.5) * np.cos(t)).astype(int)
    on = (ry >= 0) & (rx >= 0) & (ry < mean.shape[0]) & (rx < mean.shape[1])
    ry, rx = np.clip(ry, 0, mean.shape[0] - 1), np.clip(rx, 0, mean.shape[1] - 1)
    known = on & seen[ry, rx]
    own = level[ys, xs][:, None]
    lit = known & (level[ry, rx] - own >= np.maximum(noise[ys, xs][:, None], own / SHADOW_FRACTION))
    enclosed = np.flatnonzero((known.sum(1) >= 4) & (lit.sum(1) >= ENCLOSED * len(t)))
    # the beam is where the scattering is brightest: the shadow ringed by the brightest first
    bright = np.median(np.where(known, level[ry, rx], 0.0), axis=1)
    enclosed = enclosed[np.argsort(-bright[enclosed], kind="stable")]
    found, taken = [], set()
    for y, x in zip(ys[enclosed], xs[enclosed]):
        if region[y, x] in taken:
            continue
        taken.add(region[y, x])
        found.append(((x + 0.5) * f, (y + 0.5) * f))
        if len(found) >= limit:
            break
    return found


def judge(data: np.ndarray, valid: np.ndarray | None, center: tuple[float, float] | None = None) -> Shadow:
    """The frame's beamstop: measured at the stated ``center`` (x, y) when given; where that gives no
    verdict, or none is stated, at the shadows ``find_shadows`` sees. A round verdict found there stands
    unless a bar is also seen that is wider than a round stop's arm may be (ROUND_MAX_ARM of the disc's
    diameter): a stretch of a round stop's own arm, cut off from its disc by a gap, measures as a narrow
    bar; a real bar beside a dark round blob is not sure to be anything."""
    import dataclasses

    first = None
    if center is not None:
        first = dataclasses.replace(measure(data, valid, center), at=(float(center[0]), float(center[1])))
        if first.kind is not None:
            return first
    verdicts = [dataclasses.replace(measure(data, valid, c), at=c) for c in find_shadows(data, valid)]
    rounds = [v for v in verdicts if v.kind == "round"]
    bars = [v for v in verdicts if v.kind == "bar"]
    if rounds:
        widest = max(2 * v.disc_px for v in rounds)
        veto = [b for b in bars if b.arm_px > ROUND_MAX_ARM * widest]
        if not veto:
            return rounds[0]
        return dataclasses.replace(veto[0], kind=None, why="a round shadow and a bar: " + veto[0].why)
    if bars:
        return bars[0]
    return first or (verdicts[0] if verdicts else Shadow(None, why="no shadow found in the pixels"))


def _beam_spot(data: np.ndarray, valid: np.ndarray | None, center: tuple[float, float] | None):
    """(data, valid, dark level, peak x, peak y, peak) where the direct beam itself is seen at the stated
    ``center`` (x, y): the brightest spot within a few pixels of it is at least OPEN_PEAK times brighter than
    the frame's 99.9th percentile above the dark level (a beam, not scattering: there is no Bragg spot at
    q = 0), and the centre lies in that spot (not in a stop's shadow beside a flare that leaks past its
    edge); else None. Never from a centre found in the pixels: a saturated Bragg spot is also a bright
    compact peak."""
    if center is None:
        return None
    data = np.asarray(data)
    h, w = data.shape[-2:]
    cx, cy = float(center[0]), float(center[1])
    if not (0 <= cx < w and 0 <= cy < h):
        return None
    finite = np.isfinite(data)
    valid = finite if valid is None else (np.asarray(valid, bool) & finite)
    step = max(1, int(math.sqrt(h * w / 40_000)))
    sample = data[::step, ::step][valid[::step, ::step]]
    if sample.size < 1024:
        return None
    dark, high = (float(v) for v in np.percentile(sample, (1, 99.9)))
    half = int(max(8.0, 0.03 * min(h, w)))
    y0, y1, x0, x1 = max(0, int(cy) - half), min(h, int(cy) + half + 1), max(0, int(cx) - half), min(w, int(cx) + half + 1)
    win, ok = data[y0:y1, x0:x1].astype(np.float64), valid[y0:y1, x0:x1]
    if not ok.any():
        return None
    k = int(np.argmax(np.where(ok, win, -np.inf)))
    py, px = divmod(k, win.shape[1])
    peak = float(win[py, px])
    px, py = px + x0, py + y0
    if math.hypot(px + 0.5 - cx, py + 0.5 - cy) > half or peak - dark < OPEN_PEAK * max(high - dark, 1.0):
        return None
    at = data[int(cy), int(cx)] if valid[int(cy), int(cx)] else -np.inf
    if not at - dark >= OPEN_SPOT * (peak - dark):
        return None
    return data, valid, dark, px, py, peak


def _spot_rings(data: np.ndarray, valid: np.ndarray, dark: float, px: int, py: int, peak: float):
    """Around the beam's peak (full resolution, out to some 60 px or a tenth of the frame): each pixel's
    integer radius, which are valid, the ring medians, and the spot's radius: out to where the medians fall
    under OPEN_SPOT of the peak."""
    h, w = data.shape[-2:]
    m = int(max(60, 0.1 * min(h, w)))
    yy, xx = np.mgrid[max(0, py - m) : min(h, py + m + 1), max(0, px - m) : min(w, px + m + 1)]
    r = np.hypot(xx - px, yy - py).astype(int)
    near_ok = valid[yy, xx] & (r <= m)
    values = data[yy, xx][near_ok].astype(np.float64)
    med = _ring_stats(r[near_ok], values, m + 1)
    above = np.flatnonzero(np.nan_to_num(med, nan=-np.inf) - dark >= OPEN_SPOT * (peak - dark))
    spot = int(above.max()) + 1 if above.size else 1
    return r[near_ok], values, med, spot


def beam_seen(data: np.ndarray, valid: np.ndarray | None, center: tuple[float, float] | None) -> bool:
    """Whether the direct beam itself is seen at the stated ``center`` (``_beam_spot``) on a frame with no
    scattering around it that a stop could shade: beyond twice the spot's radius no ring's median (over the
    whole frame, any radius) stands MIN_CONTRAST noise widths above the dark level (a frame with no sample,
    a weak one). A linear stop is an opaque bar whose tip covers the beam: where the beam is seen, no bar is
    on it. (A round stop may be semi-transparent, letting an attenuated beam through; and where there is
    scattering, ``open_beam`` and ``judge`` say what shades it.)"""
    spot = _beam_spot(data, valid, center)
    if spot is None:
        return False
    data, valid, dark, px, py, peak = spot
    radius = _spot_rings(data, valid, dark, px, py, peak)[3]
    ref, _ = _reference(data, valid, px + 0.5, py + 0.5)
    beyond = ref[min(2 * radius + 2, len(ref) - 1)]
    return bool(beyond - dark < MIN_CONTRAST * max(1.0, abs(dark) ** 0.5))


def open_beam(data: np.ndarray, valid: np.ndarray | None, center: tuple[float, float] | None) -> bool:
    """Whether the direct beam reaches the detector unblocked at the stated ``center`` (x, y): the beam
    itself is seen there (``_beam_spot``), and just outside the spot the rings are lit: out to OPEN_REACH
    spot radii, or as far as their medians stand MIN_CONTRAST**2 noise widths above the dark level (at
    least 2 spot radii of them), the darkest OPEN_LOW of each ring is not darker than SHADOW_FRACTION of the
    median of a ring beyond it (a semi-transparent stop that lets an attenuated beam through, a bar's tip or
    a disc, still shades a part of every ring around it). No stop blocks that beam."""
    spot = _beam_spot(data, valid, center)
    if spot is None:
        return False
    data, valid, dark, px, py, peak = spot
    # ring medians around the peak; the spot: out to where they fall under OPEN_SPOT of the peak
    radius, values, med, spot = _spot_rings(data, valid, dark, px, py, peak)
    reach = min(OPEN_REACH * spot, len(med) - 1)
    rings = med[spot + 2 : reach + 1] - dark
    # each ring's darkest 2 %: a bar's tip or a disc over the beam shades a part of every ring
    low = _ring_stats(radius, values, len(med), OPEN_LOW)[spot + 2 : reach + 1] - dark
    # the rings where scattering is seen well (MIN_CONTRAST**2 noise widths up), from the spot outwards
    seen = np.isfinite(rings) & np.isfinite(low) & (rings >= MIN_CONTRAST**2 * max(1.0, abs(dark) ** 0.5))
    n = int(np.argmin(seen)) if not seen.all() else len(seen)
    if n < max(3, 2 * spot):
        return False
    rings, low = rings[:n], low[:n]
    beyond = np.maximum.accumulate(rings[::-1])[::-1]  # the brightest ring at or beyond each
    return bool((low >= SHADOW_FRACTION * beyond).all())
