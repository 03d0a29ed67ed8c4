"""The instrument around the sample: beamstop, detector layout, sample shadow, exposure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Geometry

BEAMSTOP_TRANSMISSION = 1e-5  # a tungsten stop: counts behind it are dark counts
DTYPE_MAX = {"uint32": np.iinfo(np.uint32).max, "int32": np.iinfo(np.int32).max}


@dataclass
class Instrument:
    beamstop: str = "none"  # none | linear | circular
    bs_size: float = 8.0  # circular: radius; linear: bar width (px)
    bs_angle: float = 90.0  # direction of the bar from the beam to the edge (deg, chi convention)
    detector: str = "plain"  # plain | pilatus (module gaps) | round (CCD with a round input window)
    gap_offset: tuple[int, int] = (0, 0)
    dtype: str = "uint32"
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


def beamstop_map(geo: Geometry, inst: Instrument) -> np.ndarray:
    """True where the beamstop hides the detector."""
    g = geo.grids()
    if inst.beamstop == "circular":
        return g.r <= inst.bs_size
    if inst.beamstop == "linear":
        ux, uy = np.cos(np.radians(inst.bs_angle)), np.sin(np.radians(inst.bs_angle))
        along = g.dx * ux + g.dy * uy
        across = np.abs(g.dy * ux - g.dx * uy)
        tip = 0.65 * inst.bs_size  # the blocking tip is a little wider than the rod
        return ((along >= 0) & (across <= inst.bs_size / 2)) | (g.r <= tip)
    return np.zeros(g.r.shape, bool)


def beamstop_reach(inst: Instrument) -> float:
    """Radius around the beam that the stop always covers (the direct beam must fit inside)."""
    if inst.beamstop == "circular":
        return inst.bs_size
    if inst.beamstop == "linear":
        return min(0.65 * inst.bs_size, inst.bs_size / 2)
    return 0.0


def detector_mask(size: int, inst: Instrument) -> np.ndarray:
    """True = a real pixel. Pilatus-like modules leave gap rows/columns; a round CCD window leaves corners."""
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
    rows = np.arange(geo.size, dtype=np.float32)
    if not geo.grazing:
        return np.ones(geo.size, np.float32)
    # a logistic edge: sharp (~1 px) unless the sample is rough or curved
    z = np.clip((rows - geo.horizon_row) / max(inst.horizon_blur, 0.05), -60, 60)
    step = 1.0 / (1.0 + np.exp(-z))
    return (1.0 - (1.0 - inst.shadow) * step).astype(np.float32)


def direct_beam(geo: Geometry, inst: Instrument) -> np.ndarray:
    g = geo.grids()
    return np.exp(-0.5 * (g.r / inst.beam_sigma) ** 2).astype(np.float32)
