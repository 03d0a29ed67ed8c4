"""The instrument around the sample: beamstop, detector layout, sample shadow, exposure.

Detectors: ``plain``; ``pilatus`` (the older square frames with module gaps in Pilatus 1M proportions);
``round`` (a CCD or image plate whose round active area leaves the corners dead); ``modules`` (a real
hybrid-pixel detector of ``DETECTORS``, Pilatus or Eiger, its module grid and gaps scaled to the frame,
non-square in general: a Pilatus 300K-W is a strip 195 x 1475). Counting detectors count photons; a
CCD or image plate reads ``gain`` ADU per photon over an ``offset`` (per readout quadrant too) with
Gaussian ``read_noise``. Defects: flagged bad pixels (masked; int32 -2, uint32 2**32-1), unflagged
hot and dead pixels (real pixels reading wrong values).

Beamstops: ``linear`` (a bar from the beam to the frame's edge); ``circular`` (a disc, its holder not
seen); ``arm`` (a disc held by a thinner bar to the edge); ``wire`` (a disc on a thin wire across the
frame). A disc on an arm or a wire is a circular beamstop, not a linear one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Geometry

BEAMSTOP_TRANSMISSION = 1e-5  # a tungsten stop: counts behind it are dark counts
DTYPE_MAX = {"uint32": np.iinfo(np.uint32).max, "int32": np.iinfo(np.int32).max}
CIRCULAR_STOPS = ("circular", "arm", "wire")  # all tagged "Circular beamstop"

# Hybrid-pixel modules: (width, height, column gap between modules side by side, row gap between
# modules one above the other), in pixels. Pilatus: 487 x 195 with 7 / 17 px gaps (a 1M is
# 981 x 1043); Eiger: 1030 x 514 with 10 / 37 px gaps (a 4M is 2070 x 2167).
MODULES: dict[str, tuple[int, int, int, int]] = {"pilatus": (487, 195, 7, 17), "eiger": (1030, 514, 10, 37)}
# name: (module kind, modules across, modules down)
DETECTORS: dict[str, tuple[str, int, int]] = {
    "Pilatus 100K": ("pilatus", 1, 1), "Pilatus 300K": ("pilatus", 1, 3), "Pilatus 300K-W": ("pilatus", 3, 1),
    "Pilatus 1M": ("pilatus", 2, 5), "Pilatus 2M": ("pilatus", 3, 8), "Pilatus 6M": ("pilatus", 5, 12),
    "Eiger 500K": ("eiger", 1, 1), "Eiger 1M": ("eiger", 1, 2), "Eiger 4M": ("eiger", 2, 4),
    "Eiger 9M": ("eiger", 3, 6), "Eiger 16M": ("eiger", 4, 8),
}


def detector_pixels(layout: str) -> tuple[int, int]:
    """(rows, columns) of a whole detector of ``DETECTORS`` in its own pixels (not turned)."""
    kind, nx, ny = DETECTORS[layout]
    mw, mh, gx, gy = MODULES[kind]
    return ny * mh + (ny - 1) * gy, nx * mw + (nx - 1) * gx


@dataclass
class Instrument:
    beamstop: str = "none"  # none | linear | circular | arm | wire
    bs_size: float = 8.0  # circular, arm, wire: the disc's radius; linear: bar width (px)
    bs_angle: float = 90.0  # direction of the bar (or arm) from the beam to the edge (deg, chi convention)
    bs_dx: float = 0.0  # disc centre relative to the beam (px, right and up): stops are never quite centred
    bs_dy: float = 0.0
    arm_width: float = 0.0  # arm / wire width (px)
    detector: str = "plain"  # plain | pilatus (module gaps) | round (CCD with a round input window) | modules
    gap_offset: tuple[int, int] = (0, 0)
    layout: str = ""  # modules: a name of DETECTORS
    rotated: bool = False  # modules: the detector mounted turned by 90 degrees
    window: float = 0.0  # round: radius of the active area over half the frame's short side (0: 1)
    dtype: str = "uint32"
    # what gap pixels read: "" -1 for int32, 0 for uint32; "flag": -1 / 2**32-1; "zero": 0 (not flagged)
    fill: str = ""
    gain: float = 1.0  # ADU per photon (CCDs, image plates)
    offset: float = 0.0  # ADU added to every pixel after counting (CCD pedestal)
    quadrants: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # readout offsets (ADU): TL, TR, BL, BR
    read_noise: float = 0.0  # Gaussian readout noise (sigma, in photons)
    n_bad: int = 0  # flagged bad pixels: masked, int32 -2 / uint32 2**32-1
    bad_block: int = 0  # side (px) of a dead chip flagged as a block (0: none)
    n_hot: int = 0  # unflagged hot pixels: valid pixels reading far too high
    n_dead: int = 0  # unflagged dead pixels: valid pixels reading 0
    defect_seed: int = 0
    beam: float = 1.0  # direct beam strength (1: the full beam, seen only behind a stop; 0: no beam at all)
    pixel_mm: float = 0.0  # a frame pixel's size (mm) where a real detector was drawn (0: not stated)
    beam_sigma: float = 1.5  # direct beam (px)
    shadow: float = 0.02  # GI: transmission of the sample below the horizon
    horizon_blur: float = 0.6  # GI: width of the horizon edge (px)
    exposure: str = "normal"  # weak | normal | strong
    level: float = 100.0  # median counts of the sample's scattering
    background: float = 0.02  # flat background as a fraction of that median
    high_background: bool = False  # then ``background`` is a fraction of the 90th percentile instead
    dark: float = 0.0  # detector offset (counts)
    # direct-beam light leaking past the stop's edge (a slightly misaligned or small stop): a bright blob at
    # the beam, hidden where the stop is; peak counts relative to ``level`` (0 = none) and its width (px)
    flare: float = 0.0
    flare_sigma: float = 1.0

    @property
    def dtype_max(self) -> int:
        return int(DTYPE_MAX[self.dtype])


def beamstop_disc(geo: Geometry, inst: Instrument) -> np.ndarray:
    """True where a round stop's disc (not its arm or wire) hides the detector."""
    g = geo.grids()
    if inst.bs_dx == 0 and inst.bs_dy == 0:
        return g.r <= inst.bs_size
    return (g.dx - np.float32(inst.bs_dx)) ** 2 + (g.dy - np.float32(inst.bs_dy)) ** 2 <= np.float32(inst.bs_size**2)


def beamstop_map(geo: Geometry, inst: Instrument) -> np.ndarray:
    """True where the beamstop hides the detector."""
    g = geo.grids()
    if inst.beamstop == "circular":
        return beamstop_disc(geo, inst)
    if inst.beamstop in ("arm", "wire"):
        ux, uy = np.float32(np.cos(np.radians(inst.bs_angle))), np.float32(np.sin(np.radians(inst.bs_angle)))
        px, py = g.dx - np.float32(inst.bs_dx), g.dy - np.float32(inst.bs_dy)
        bar = np.abs(py * ux - px * uy) <= np.float32(inst.arm_width / 2)
        if inst.beamstop == "arm":
            bar &= px * ux + py * uy >= 0
        return bar | beamstop_disc(geo, inst)
    if inst.beamstop == "linear":
        ux, uy = np.cos(np.radians(inst.bs_angle)), np.sin(np.radians(inst.bs_angle))
        along = g.dx * ux + g.dy * uy
        across = np.abs(g.dy * ux - g.dx * uy)
        tip = 0.65 * inst.bs_size  # the blocking tip is a little wider than the rod
        return ((along >= 0) & (across <= inst.bs_size / 2)) | (g.r <= tip)
    return np.zeros(g.r.shape, bool)


def beamstop_reach(inst: Instrument) -> float:
    """Radius around the beam that the stop always covers (the direct beam must fit inside)."""
    if inst.beamstop in CIRCULAR_STOPS:
        return max(inst.bs_size - float(np.hypot(inst.bs_dx, inst.bs_dy)), 0.0)
    if inst.beamstop == "linear":
        return min(0.65 * inst.bs_size, inst.bs_size / 2)
    return 0.0


def module_grid(shape: tuple[int, int], layout: str, rotated: bool = False) -> np.ndarray:
    """True = a real pixel of a ``DETECTORS`` detector scaled to a frame of ``shape`` (gaps False)."""
    kind, nx, ny = DETECTORS[layout]
    mw, mh, gx, gy = MODULES[kind]
    H, W = detector_pixels(layout)
    rows, cols = (shape[1], shape[0]) if rotated else shape
    valid = np.ones((rows, cols), bool)
    for n, m, gap, full, px, axis in ((nx, mw, gx, W, cols, 1), (ny, mh, gy, H, rows, 0)):
        f = px / full
        for i in range(1, n):
            a = int(round((i * (m + gap) - gap) * f))
            b = max(int(round(i * (m + gap) * f)), a + 1)
            if axis == 1:
                valid[:, a:b] = False
            else:
                valid[a:b, :] = False
    return valid.T.copy() if rotated else valid


def flagged_pixels(shape: tuple[int, int], inst: Instrument) -> np.ndarray:
    """True where the detector flags a bad pixel (and a dead chip): masked, never counted."""
    bad = np.zeros(shape, bool)
    if inst.n_bad <= 0 and inst.bad_block <= 0:
        return bad
    rng = np.random.default_rng(inst.defect_seed)
    bad.flat[rng.integers(0, bad.size, max(inst.n_bad, 0))] = True
    if inst.bad_block > 0:
        k = inst.bad_block
        y, x = int(rng.integers(0, max(shape[0] - k, 1))), int(rng.integers(0, max(shape[1] - k, 1)))
        bad[y : y + k, x : x + k] = True
    return bad


def unflagged_defects(shape: tuple[int, int], inst: Instrument) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat indices of hot pixels, their readings relative to the median count, flat indices of dead
    pixels): real pixels the detector does not flag. Drawn from their own stream, apart from the flagged."""
    rng = np.random.default_rng([inst.defect_seed, 1])
    n = shape[0] * shape[1]
    hot = rng.integers(0, n, max(inst.n_hot, 0))
    heat = np.exp(rng.uniform(np.log(30.0), np.log(3e3), hot.size))
    return hot, heat, rng.integers(0, n, max(inst.n_dead, 0))


def readout_offsets(shape: tuple[int, int], inst: Instrument) -> np.ndarray | float:
    """ADU added after counting: the pedestal plus each readout quadrant's own offset (CCDs)."""
    if not any(inst.quadrants):
        return float(inst.offset)
    out = np.full(shape, np.float32(inst.offset), np.float32)
    h, w = shape[0] // 2, shape[1] // 2
    tl, tr, bl, br = (np.float32(v) for v in inst.quadrants)
    out[:h, :w] += tl
    out[:h, w:] += tr
    out[h:, :w] += bl
    out[h:, w:] += br
    return out


def detector_mask(size: int | tuple[int, int], inst: Instrument) -> np.ndarray:
    """True = a real pixel. Pilatus-like modules leave gap rows/columns; a round CCD window leaves corners;
    flagged bad pixels are not real pixels either. ``size``: a square's side or (rows, columns)."""
    shape = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if inst.detector == "modules":
        valid = module_grid(shape, inst.layout, inst.rotated)
    elif inst.detector == "round" and (inst.window or shape[0] != shape[1]):
        yy, xx = np.ogrid[: shape[0], : shape[1]]
        rad = (inst.window or 1.0) * min(shape) / 2
        valid = (xx - (shape[1] - 1) / 2) ** 2 + (yy - (shape[0] - 1) / 2) ** 2 <= rad**2
    else:
        valid = _square_mask(shape[0], inst) if shape[0] == shape[1] else np.ones(shape, bool)
    if inst.n_bad > 0 or inst.bad_block > 0:
        valid &= ~flagged_pixels(shape, inst)
    return valid


def _square_mask(size: int, inst: Instrument) -> np.ndarray:
    valid = np.ones((size, size), bool)
    if inst.detector == "pilatus":
        # Pilatus 1M proportions: modules 487 x 195 px with 7 px row gaps and 17 px column gaps
        mod_w, mod_h = max(int(0.496 * size), 8), max(int(0.187 * size), 6)
        gap_w, gap_h = max(round(17 * size / 1000), 1), max(round(7 * size / 1000), 1)
        ox, oy = inst.gap_offset
        for x in range(ox % (mod_w + gap_w) + mod_w, size, mod_w + gap_w):
            valid[:, x : x + gap_w] = False
        for y in range(oy % (mod_h + gap_h) + mod_h, size, mod_h + gap_h):
            valid[y : y + gap_h, :] = False
    elif inst.detector == "round":
        c = (size - 1) / 2
        yy, xx = np.ogrid[:size, :size]
        valid = (xx - c) ** 2 + (yy - c) ** 2 <= (size / 2) ** 2
    return valid


def horizon_transmission(geo: Geometry, inst: Instrument) -> np.ndarray:
    """Per-row factor for the sample's scattering: 1 above the horizon, the shadow below (GI only)."""
    rows = np.arange(geo.rows, dtype=np.float32)
    if not geo.grazing:
        return np.ones(geo.rows, np.float32)
    # a logistic edge: sharp (~1 px) unless the sample is rough or curved
    z = np.clip((rows - geo.horizon_row) / max(inst.horizon_blur, 0.05), -60, 60)
    step = 1.0 / (1.0 + np.exp(-z))
    return (1.0 - (1.0 - inst.shadow) * step).astype(np.float32)


def direct_beam(geo: Geometry, inst: Instrument) -> np.ndarray:
    g = geo.grids()
    return np.exp(-0.5 * (g.r / inst.beam_sigma) ** 2).astype(np.float32)
