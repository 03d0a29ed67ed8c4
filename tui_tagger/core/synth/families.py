"""Frame families beyond the classic scenes: domain randomisation towards real detectors and real
experiments, every label still true by construction (scene.py judges what is seen).

``FAMILIES`` gives each family's share of a data set; the classic scenes (draw.classic_scene) stay the
majority. Which family frame ``index`` of data set ``seed`` belongs to is drawn from a stream of its own
(``pick_family``), so the classic frames are the very frames they were before these families existed.

- ``detector``: the classic scenes on real detectors: Pilatus / Eiger module grids with their gaps,
  any aspect ratio down to one-module strips (195 x 1475 is 34 x 256 at size 256), detectors turned by
  90 degrees, CCDs (gain, pedestal, per-quadrant readout offsets, readout noise, sometimes a round
  window), image plates (round active area, no gaps), plain frames of any aspect; flagged bad pixels
  and dead chips (masked: int32 -2, uint32 2**32-1), unflagged hot and dead pixels; beamstops of every
  kind: a bar at any angle ("Linear beamstop"), a disc on an arm or on a wire ("Circular beamstop",
  never "Linear beamstop"), stops partly off the frame, no stop (an attenuated direct beam on the frame,
  or the beam off it: "Beam off image" only when the beam centre is off the frame).
- ``dark``: a dark frame, no beam: detector noise, pedestal and offsets only. It states no scattering
  feature, no beamstop (nothing casts a shadow without a beam), neither "Weak scattering" nor "Strong
  scattering" (there is no sample scattering to be weak or strong), not "High background"; its
  experiment is the setup's (TSAXS / TWAXS by the geometry, as for every frame), "Beam off image" only
  when the beam centre (where the beam would be) is off the frame.
- ``empty``: an empty cell or air: weak diffuse low-q scattering only (and, at wide angles, sometimes the
  window's amorphous halo): "Weak scattering", "Diffuse low-q: Isotropic" (and "Halo: Isotropic") when seen.
- ``solution``: solution SAXS: an isotropic Guinier curve with a power-law tail over a solvent
  background, the beam on the frame behind a stop: TSAXS, "Diffuse low-q: Isotropic" when seen, weak /
  normal / strong exposure.
- ``crystal``: single-crystal or protein diffraction: a reciprocal lattice in a random orientation cut by
  the Ewald sphere over a small rotation, projected onto the detector (many sharp spots on no ring),
  for proteins a solvent halo at q ~ 1.9-2.1 1/A: "Peaks: Many/field" (or "Peaks: Isolated" when only a
  few spots are seen), "Halo: Isotropic" when seen; never "Many rings" or "Ring: Spotted".
- ``calibrant``: AgBH, LaB6, CeO2 or Si powder at their true d-spacings on a real detector (pixel size,
  distance, wavelength): "Powder", "Standard", "Ring: Isotropic", AgBH / LaB6 by name (the tag vocabulary
  the model states has no CeO2 or Si), "Many rings" from 6 rings seen, AgBH's orders as "Higher orders".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tui_tagger.core.crystal import CEO2_A, SI_A, cubic_reflections

from .draw import AGBH_D, LAB6_A, _Drawer, _exposure, _geometry, _log_uniform, agbh_q, classic_scene
from .features import Diffuse, Peaks, Ring
from .geometry import Geometry
from .instrument import (
    DETECTORS,
    Instrument,
    beamstop_disc,
    beamstop_map,
    beamstop_reach,
    detector_mask,
    detector_pixels,
)
from .scene import Scene

HC = 12.3984198  # keV A: wavelength = HC / energy
MAX_SPOTS = 6000  # Bragg spots drawn at most on a crystal frame (a protein frame shows thousands)

# The shares of a data set (they sum to 1): the classic scenes stay the majority.
FAMILIES: dict[str, float] = {
    "classic": 0.58,
    "detector": 0.14,
    "solution": 0.06,
    "crystal": 0.07,
    "calibrant": 0.07,
    "dark": 0.03,
    "empty": 0.05,
}
NEW_FAMILIES = tuple(f for f in FAMILIES if f != "classic")

# beamstop kinds of the real-instrument families and their shares
STOPS: dict[str, float] = {"linear": 0.3, "circular": 0.12, "arm": 0.3, "wire": 0.12, "none": 0.16}


def _weights(families) -> dict[str, float]:
    if families is None:
        return dict(FAMILIES)
    if isinstance(families, str):
        families = [families]
    if isinstance(families, dict):
        weights = {str(k): float(v) for k, v in families.items()}
    else:
        weights = {str(k): FAMILIES.get(str(k), 0.0) for k in families}
    unknown = sorted(set(weights) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown frame families {unknown}; known: {sorted(FAMILIES)}")
    if not weights or sum(weights.values()) <= 0 or min(weights.values()) < 0:
        raise ValueError(f"frame families need positive weights, not {weights}")
    return weights


def pick_family(seed: int, index: int, families=None) -> str:
    """The family of frame ``index`` of data set ``seed``, from a stream apart from the frame's own."""
    weights = _weights(families)
    rng = np.random.default_rng(np.random.SeedSequence([seed % 2**63, index], spawn_key=(1,)))
    u = rng.random() * sum(weights.values())
    acc = 0.0
    for name, w in weights.items():
        acc += w
        if u < acc:
            return name
    return name


def draw_family(family: str, rng, size: int) -> Scene:
    return {
        "detector": _detector_family, "dark": _dark, "empty": _empty, "solution": _solution,
        "crystal": _crystal, "calibrant": _calibrant,
    }[family](rng, size)


# --- detectors ------------------------------------------------------------------------------------

@dataclass
class Detector:
    """A real detector scaled so that its long side is the frame size."""

    kind: str  # pilatus | eiger | ccd | plate | plain
    rows: int
    cols: int
    pixel_mm: float  # a frame pixel (mm): the detector's pixel times its long side over the frame's
    layout: str = ""
    rotated: bool = False
    window: float = 0.0  # round active area (CCD taper, image plate)

    @property
    def strip(self) -> bool:
        return min(self.rows, self.cols) < 0.5 * max(self.rows, self.cols)

    def p_off(self, wide: bool) -> float:
        """Chance of the beam off the frame: strips are often set beside the beam (wide angles)."""
        if self.strip:
            return 0.5 if wide else 0.25
        return 0.12 if wide else 0.05

    def instrument(self, rng, geo: Geometry, stops: dict[str, float] | None = None) -> Instrument:
        return real_instrument(rng, geo, self, stops)


DETECTOR_KINDS: dict[str, float] = {"pilatus": 0.34, "eiger": 0.26, "ccd": 0.18, "plate": 0.08, "plain": 0.14}
REAL_PIXEL_MM = {"pilatus": 0.172, "eiger": 0.075}


def draw_detector(rng, size: int, kinds: dict[str, float] | None = None) -> Detector:
    kinds = kinds or DETECTOR_KINDS
    names = list(kinds)
    p = np.array([kinds[k] for k in names], float)
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    layout, rotated, window = "", False, 0.0
    if kind in ("pilatus", "eiger"):
        layouts = [n for n, (k, _, _) in DETECTORS.items() if k == kind]
        layout = layouts[int(rng.integers(len(layouts)))]
        h, w = detector_pixels(layout)
        rotated = bool(rng.random() < 0.15)
        if rotated:
            h, w = w, h
        pixel = REAL_PIXEL_MM[kind]
    elif kind == "ccd":  # MarCCD / Rayonix / Photonic Science: square or a little rectangular
        w = int(rng.choice([1024, 2048, 3072, 4096]))
        h = w if rng.random() < 0.7 else int(w * rng.uniform(0.65, 0.95))
        if rng.random() < 0.5:
            h, w = w, h
        pixel = float(rng.uniform(0.05, 0.1)) * 2048 / max(h, w)
        window = float(rng.uniform(0.96, 1.0)) if h == w and rng.random() < 0.3 else 0.0
    elif kind == "plate":  # Mar345-like: a round plate read into a square
        h = w = int(rng.choice([1200, 1800, 2300, 3450]))
        pixel = 345.0 / w
        window = float(rng.uniform(0.9, 1.0))
    else:  # any other area detector, any aspect ratio
        w = int(rng.uniform(800, 3000))
        h = max(int(w * _log_uniform(rng, 0.12, 1.0)), 100)
        if rng.random() < 0.5:
            h, w = w, h
        pixel = float(rng.uniform(0.05, 0.2))
    long_px = max(h, w)
    if w >= h:
        cols, rows = size, max(int(round(size * h / w)), 16)
    else:
        rows, cols = size, max(int(round(size * w / h)), 16)
    return Detector(kind, rows, cols, pixel * long_px / size, layout, rotated, window)


def real_instrument(rng, geo: Geometry, det: Detector, stops: dict[str, float] | None = None) -> Instrument:
    """The instrument of a real detector: its pixels, its readout, its defects, a beamstop of any kind."""
    inst = Instrument()
    L = max(geo.shape)
    if det.kind in ("pilatus", "eiger"):
        inst.detector, inst.layout, inst.rotated = "modules", det.layout, det.rotated
    elif det.window:
        inst.detector, inst.window = "round", det.window
    inst.pixel_mm = det.pixel_mm
    if det.kind in ("pilatus", "eiger", "plain"):  # photon counting
        inst.dtype = "int32" if rng.random() < 0.65 else "uint32"
        inst.fill = "flag" if inst.dtype == "int32" or rng.random() < 0.6 else "zero"
        if rng.random() < 0.5:
            inst.n_bad = max(int(geo.rows * geo.cols * _log_uniform(rng, 2e-5, 1e-3)), 1)
        if det.kind != "plain" and rng.random() < 0.1:
            inst.bad_block = max(int(rng.uniform(0.03, 0.08) * L), 2)
        inst.n_hot = int(rng.integers(1, 8)) if rng.random() < 0.25 else 0
        inst.n_dead = int(rng.integers(1, 20)) if rng.random() < 0.25 else 0
    else:  # integrating: a CCD or an image plate
        inst.dtype = "uint32" if rng.random() < 0.8 else "int32"
        inst.fill = "zero"
        plate = det.kind == "plate"
        inst.gain = _log_uniform(rng, 1.0, 20.0) if plate else _log_uniform(rng, 0.7, 8.0)
        inst.offset = float(rng.uniform(0, 20)) if plate else _log_uniform(rng, 5, 500)
        inst.read_noise = _log_uniform(rng, 0.3, 3.0)
        if not plate and rng.random() < 0.6:
            spread = _log_uniform(rng, 2.0, 0.2 * inst.offset + 3.0)
            inst.quadrants = tuple(float(max(v, -inst.offset)) for v in rng.uniform(-1, 1, 4) * spread)
        inst.n_hot = int(rng.integers(1, 30)) if rng.random() < 0.4 else 0
        inst.n_dead = int(rng.integers(1, 10)) if rng.random() < 0.15 else 0
    inst.defect_seed = int(rng.integers(2**31))
    draw_stop(rng, geo, inst, stops)
    _exposure(rng, inst)
    inst.shadow = _log_uniform(rng, 0.002, 0.03)
    inst.horizon_blur = float(rng.uniform(0.3, 0.9))
    return inst


def _stop_angle(rng) -> float:
    if rng.random() < 0.5:
        return float(rng.choice([-90, 90, 0, 180]) + rng.uniform(-3, 3))
    return float(rng.uniform(-180, 180))


def draw_stop(rng, geo: Geometry, inst: Instrument, stops: dict[str, float] | None = None) -> None:
    """A beamstop of any kind (``STOPS``), none when the beam is far off the frame. A stop is either
    clearly on the frame (at least twice the pixels that make it tagged) or not on it at all."""
    stops = stops or STOPS
    L, short = max(geo.shape), min(geo.shape)
    s = L / 256
    margin = 0.1 * L
    near = -margin <= geo.cx <= geo.cols - 1 + margin and -margin <= geo.cy <= geo.rows - 1 + margin
    names = list(stops)
    p = np.array([stops[k] for k in names], float)
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    if not near:
        kind = "none"
    inst.beamstop = kind
    if kind == "linear":
        inst.bs_size = float(min(max(_log_uniform(rng, 0.012, 0.06) * L, 3.0), max(0.4 * short, 2.0)))
        inst.bs_angle = _stop_angle(rng)
    elif kind in ("circular", "arm", "wire"):
        inst.bs_size = float(min(max(rng.uniform(0.02, 0.08) * L, 2.5), max(0.3 * short, 2.5)))
        a, m = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.3) * inst.bs_size
        inst.bs_dx, inst.bs_dy = float(m * np.cos(a)), float(m * np.sin(a))
        inst.bs_angle = _stop_angle(rng)
        if kind == "arm":  # clearly thinner than the disc: a round stop on an arm, not a bar
            inst.arm_width = float(max(rng.uniform(0.15, 0.45) * 2 * inst.bs_size, 1.0))
        elif kind == "wire":
            inst.arm_width = float(min(max(rng.uniform(0.3, 1.0) * s, 1.0), 0.5 * inst.bs_size))
    attenuation = _log_uniform(rng, 1e-3, 0.1)
    if kind != "none":
        valid = detector_mask(geo.shape, inst)
        min_px = max(6, L // 20)
        for _ in range(6):
            body = beamstop_map(geo, inst) if kind == "linear" else beamstop_disc(geo, inst)
            n = int(np.count_nonzero(body & valid))
            if n == 0 or n >= 2 * min_px or kind == "linear":
                break
            inst.bs_size *= 1.3
        if n == 0 or n < 2 * min_px:  # off the frame, or too little of it on the frame to be sure of
            inst.beamstop, inst.arm_width, inst.bs_dx, inst.bs_dy = "none", 0.0, 0.0, 0.0
    if inst.beamstop == "none":
        # no stop: the direct beam, attenuated, hits the detector (or misses the frame altogether)
        inst.beam = attenuation if geo.beam_on_image else 1.0
        inst.beam_sigma = float(rng.uniform(0.5, 1.5) * max(s, 1.0))
    else:
        inst.beam_sigma = float(max(min(1.5, beamstop_reach(inst) / 5), 0.3))


# --- the families ---------------------------------------------------------------------------------

def _finish(rng, d: _Drawer, family: str, calibrant: str | None = None) -> Scene:
    noise_seed = int(rng.integers(2**63))
    return Scene(d.geo, d.inst, d.features, calibrant, noise_seed, family)


def _detector_family(rng, size: int) -> Scene:
    return classic_scene(rng, size, draw_detector(rng, size))


def _transmission(rng, det: Detector, wide: bool, p_off: float | None = None) -> Geometry:
    return _geometry(rng, det.cols, False, wide, None, det.rows, det.p_off(wide) if p_off is None else p_off)


def _dark(rng, size: int) -> Scene:
    det = draw_detector(rng, size)
    geo = _transmission(rng, det, bool(rng.random() < 0.4), p_off=0.0)  # where the beam would be: on the frame
    inst = real_instrument(rng, geo, det, {"none": 1.0})
    inst.beam, inst.exposure, inst.level, inst.high_background, inst.background = 0.0, "dark", 1.0, False, 0.0
    if det.kind in ("pilatus", "eiger", "plain"):
        inst.dark = _log_uniform(rng, 1e-4, 0.05)  # a counting detector: a stray count here and there
    else:
        inst.dark = _log_uniform(rng, 0.01, 1.0)  # dark current
    return _finish(rng, _Drawer(rng, geo, inst), "dark")


def _empty(rng, size: int) -> Scene:
    det = draw_detector(rng, size)
    wide = bool(rng.random() < 0.3)
    geo = _transmission(rng, det, wide)
    inst = real_instrument(rng, geo, det)
    inst.exposure, inst.level = "weak", float(rng.uniform(0.3, 2.0))
    inst.high_background, inst.background = False, _log_uniform(rng, 0.003, 0.05)
    d = _Drawer(rng, geo, inst)
    # air and window scattering: steep, close to the beam
    d._add_diffuse(Diffuse(1.0, float(geo.q_of_r(rng.uniform(0.01, 0.05) * d.long)), float(rng.uniform(3.0, 4.0))))
    if wide and rng.random() < 0.7:  # the window's amorphous halo (Kapton, glass, quartz)
        q0 = float(rng.uniform(1.1, 1.8))
        r0 = float(geo.r_of_q(q0))
        if r0 < 0.95 * geo.r_far:
            d.add(Ring(q0, float(max(rng.uniform(0.1, 0.2) * r0, 4.0 * d.s)),
                       _log_uniform(rng, 1, 5) * d.level_at_r(r0), halo=True))
    return _finish(rng, d, "empty")


def _solution(rng, size: int) -> Scene:
    det = draw_detector(rng, size, {"pilatus": 0.45, "eiger": 0.35, "ccd": 0.15, "plain": 0.05})
    geo = _transmission(rng, det, False, p_off=0.0)
    inst = real_instrument(rng, geo, det, {"linear": 0.35, "circular": 0.15, "arm": 0.35, "wire": 0.15})
    _exposure(rng, inst, weak=0.25, strong=0.25)
    inst.high_background, inst.background = False, _log_uniform(rng, 0.01, 0.3)  # the solvent
    d = _Drawer(rng, geo, inst)
    knee = float(geo.q_of_r(rng.uniform(0.04, 0.3) * d.long))  # 1 / Rg
    d._add_diffuse(Diffuse(1.0, knee, float(rng.uniform(3.0, 4.0)), guinier=True, tail=_log_uniform(rng, 3e-3, 0.1)))
    if rng.random() < 0.3:  # aggregates: an upturn at the lowest q
        d._add_diffuse(Diffuse(_log_uniform(rng, 0.01, 0.3), float(geo.q_of_r(rng.uniform(0.005, 0.02) * d.long)),
                               float(rng.uniform(3.0, 4.0))))
    return _finish(rng, d, "solution")


# --- single crystals ------------------------------------------------------------------------------

def _random_rotation(rng) -> np.ndarray:
    q = rng.standard_normal(4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
        [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
        [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
    ])


def reciprocal_basis(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Rows a*, b*, c* (1/A, with the 2 pi) of a cell (A, degrees)."""
    al, be, ga = (math.radians(v) for v in (alpha, beta, gamma))
    va = np.array([a, 0.0, 0.0])
    vb = np.array([b * math.cos(ga), b * math.sin(ga), 0.0])
    cx = c * math.cos(be)
    cy = c * (math.cos(al) - math.cos(be) * math.cos(ga)) / math.sin(ga)
    vc = np.array([cx, cy, math.sqrt(max(c * c - cx * cx - cy * cy, 1e-9))])
    real = np.stack([va, vb, vc])
    return 2 * math.pi * np.linalg.inv(real).T


def lattice_spots(geo: Geometry, recip: np.ndarray, osc_deg: float, qmax: float, margin: float = 2.0,
                  mosaic_deg: float = 0.0):
    """(x, y, |q|) of the reciprocal lattice points (rows of ``recip``, already oriented, lab frame: x
    right, y up, z along the beam) that cross the Ewald sphere while the crystal turns by ``osc_deg`` about
    the vertical axis, projected onto the flat detector, within ``margin`` px of the frame. ``mosaic_deg``:
    the crystal's mosaic spread, which widens the slice of reciprocal space each frame records.

    For each (h, k) the Ewald condition |k_in + G|^2 = k^2 is a quadratic in l: only the l next to its
    roots are tried, so a large protein cell costs (2 hmax + 1)^2 tries, not the cube."""
    k = 2 * math.pi / geo.wavelength
    a_s, b_s, c_s = recip
    hmax = [int(qmax / np.linalg.norm(v)) + 1 for v in recip]
    h, kk = np.meshgrid(np.arange(-hmax[0], hmax[0] + 1), np.arange(-hmax[1], hmax[1] + 1), indexing="ij")
    h, kk = h.ravel(), kk.ravel()
    g0 = h[:, None] * a_s + kk[:, None] * b_s
    # |g0 + l c*|^2 + 2 k (g0 + l c*)_z = 0
    A = float(c_s @ c_s)
    B = 2 * (g0 @ c_s) + 2 * k * c_s[2]
    C = np.einsum("ij,ij->i", g0, g0) + 2 * k * g0[:, 2]
    disc = B * B - 4 * A * C
    ok = disc >= 0
    h, kk, B, disc = h[ok], kk[ok], B[ok], np.sqrt(disc[ok])
    roots = np.concatenate([(-B - disc) / (2 * A), (-B + disc) / (2 * A)])
    w = 1 if max(hmax) > 30 else 3  # l next to the roots: a few more where the grid is small
    ls = (np.rint(roots).astype(np.int64)[:, None] + np.arange(-w, w + 1)[None, :]).ravel()
    hs, ks = np.tile(np.repeat(h, 2 * w + 1), 2), np.tile(np.repeat(kk, 2 * w + 1), 2)
    span = 2 * max(hmax) + 8
    keys = np.unique(((hs + span) * 2 * span + (ks + span)) * 2 * span + (ls + span))
    hs, ks, ls = keys // (4 * span * span) - span, keys // (2 * span) % (2 * span) - span, keys % (2 * span) - span
    g = hs[:, None] * a_s + ks[:, None] * b_s + ls[:, None] * c_s
    q = np.linalg.norm(g, axis=1)
    keep = (q > 1e-9) & (q <= qmax)
    g, q = g[keep], q[keep]
    # distance from the sphere against how far a turn of osc_deg about y moves the point (plus mosaicity)
    excite = (np.einsum("ij,ij->i", g, g) + 2 * k * g[:, 2]) / (2 * k)
    sweep = np.hypot(g[:, 0], g[:, 2]) * math.radians(osc_deg) / 2 + (2e-4 + math.radians(mosaic_deg) / 2) * q
    keep = np.abs(excite) <= sweep
    g, q = g[keep], q[keep]
    out = k + g[:, 2]
    keep = out > 1e-6 * k  # forward of the detector plane only
    g, q, out = g[keep], q[keep], out[keep]
    x = geo.cx + geo.distance_px * g[:, 0] / out
    y = geo.cy - geo.distance_px * g[:, 1] / out
    rows, cols = geo.shape
    keep = (x > -margin) & (x < cols - 1 + margin) & (y > -margin) & (y < rows - 1 + margin)
    return x[keep], y[keep], q[keep]


def _crystal(rng, size: int) -> Scene:
    det = draw_detector(rng, size, {"pilatus": 0.35, "eiger": 0.35, "ccd": 0.25, "plate": 0.05})
    geo = _transmission(rng, det, True, p_off=0.0)
    inst = real_instrument(rng, geo, det, {"circular": 0.25, "arm": 0.45, "wire": 0.1, "linear": 0.1, "none": 0.1})
    inst.high_background = False
    d = _Drawer(rng, geo, inst)
    protein = rng.random() < 0.7
    if rng.random() < 0.5:
        d._add_diffuse(Diffuse(1.0, float(geo.q_of_r(rng.uniform(0.01, 0.05) * d.long)), float(rng.uniform(2.5, 4.0))))
    if protein:  # the solvent's halo at ~3.1-3.5 A
        q0 = float(rng.uniform(1.8, 2.1))
        r0 = float(geo.r_of_q(q0))
        if r0 < 0.95 * geo.r_far and rng.random() < 0.8:
            halo = Ring(q0, float(max(rng.uniform(0.1, 0.2) * r0, 4.0 * d.s)), _log_uniform(rng, 1, 10) * d.level_at_r(r0),
                        halo=True)
            d.add(halo)
            d.diffuse += halo.render(geo, d.g)  # the spots are drawn against it
        cell = rng.uniform(30, 150, 3)
        osc, wilson, mosaic = rng.uniform(0.1, 1.0), _log_uniform(rng, 10, 60), rng.uniform(0.05, 0.5)
        # a spot is 2-5 of a real detector's 2000-4000 pixels: under a pixel of a whole detector drawn here
        sigma = float(rng.uniform(0.3, 0.9)) if rng.random() < 0.7 else float(rng.uniform(0.6, 1.3) * d.s)
    else:  # a small-molecule crystal: few reflections per degree, so frames of a wider turn
        cell = rng.uniform(8, 30, 3)
        osc, wilson, mosaic = rng.uniform(2.0, 10.0), _log_uniform(rng, 1, 5), rng.uniform(0.02, 0.3)
        sigma = float(rng.uniform(0.4, 1.3) * min(d.s, 1.5))
    angles = (90.0, 90.0, 90.0) if rng.random() < 0.5 else tuple(float(v) for v in rng.uniform(70, 115, 3))
    recip = reciprocal_basis(*cell, *angles) @ _random_rotation(rng).T
    for _ in range(3):  # a crystal that is on the frame at all shows more than a handful of reflections
        x, y, q = lattice_spots(geo, recip, float(osc), geo.qmax, mosaic_deg=float(mosaic))
        if x.size >= 30:
            break
        osc *= 2.5
    if x.size > MAX_SPOTS:  # enough to fill any frame; fewer to render
        pick = np.sort(rng.choice(x.size, MAX_SPOTS, replace=False))
        x, y, q = x[pick], y[pick], q[pick]
    strength = _log_uniform(rng, 30, 1000) / sigma**2
    intensity = (rng.exponential(1.0, x.size) + 0.05) * np.exp(-wilson * q**2 / (8 * math.pi**2))  # Wilson
    amps = [d.level_at(xi, yi) * strength * float(v) for xi, yi, v in zip(x, y, intensity)]
    if x.size:
        d.add(Peaks([float(v) for v in x], [float(v) for v in y], amps, sigma, "field"))
    return _finish(rng, d, "crystal")


# --- powder calibrants ----------------------------------------------------------------------------

def _multiplicity(h: int, k: int, l: int) -> int:  # noqa: E741
    """Members of a cubic {hkl} form: signed permutations of (h, k, l)."""
    from itertools import permutations

    return len({(a * sa, b * sb, c * sc) for a, b, c in permutations((h, k, l))
                for sa in (1, -1) for sb in (1, -1) for sc in (1, -1)})


def cubic_lines(a: float, qmax: float, structure: str) -> list[tuple[float, float]]:
    """(q, relative intensity) of the powder lines of a cubic cell up to qmax. structure: "fluorite"
    (CeO2: fcc, F = 4 (f_Ce + 2 f_O cos(pi (h+k+l)/2))), "diamond" (Si: fcc and h+k+l = 4n when all even).
    Intensity: multiplicity x |F|^2 x a small-angle Lorentz factor 1/s^2, atomic form factors Z exp(-3 s^2)."""
    lines: dict[int, float] = {}
    for h, k, l, n2, q in cubic_reflections(a, qmax):  # noqa: E741
        odd = h % 2 + k % 2 + l % 2
        if odd not in (0, 3):  # fcc: all odd or all even
            continue
        s2 = (q / (4 * math.pi)) ** 2  # (sin theta / lambda)^2
        if structure == "diamond":
            if odd == 0 and (h + k + l) % 4:
                continue
            f = 14 * math.exp(-3 * s2)
            F2 = 32 * f * f if odd == 3 else 64 * f * f
        else:
            fce, fo = 58 * math.exp(-3 * s2), 8 * math.exp(-3 * s2)
            F2 = (4 * fce) ** 2 if odd == 3 else (4 * (fce + (2 * fo if (h + k + l) % 4 == 0 else -2 * fo))) ** 2
        lines[n2] = lines.get(n2, 0.0) + _multiplicity(h, k, l) * F2 / s2
    if not lines:
        return []
    top_i = max(lines.values())
    return [(2 * math.pi * math.sqrt(n2) / a, (lines[n2] / top_i) ** 0.5) for n2 in sorted(lines)]


def ceo2_q(qmax: float) -> list[tuple[float, float]]:
    return cubic_lines(CEO2_A, qmax, "fluorite")


def si_q(qmax: float) -> list[tuple[float, float]]:
    return cubic_lines(SI_A, qmax, "diamond")


def lab6_lines(qmax: float) -> list[tuple[float, float]]:
    from .draw import lab6_q

    return lab6_q(qmax)


CALIBRANT_LINES = {"AgBH": agbh_q, "LaB6": lab6_lines, "CeO2": ceo2_q, "Si": si_q}
CALIBRANT_D = {"AgBH": AGBH_D, "LaB6": LAB6_A, "CeO2": CEO2_A, "Si": SI_A}


def _calibrant(rng, size: int) -> Scene:
    names = ["AgBH", "LaB6", "CeO2", "Si"]
    name = names[int(rng.choice(4, p=[0.35, 0.25, 0.2, 0.2]))]
    det = draw_detector(rng, size)
    wide = name != "AgBH" or bool(rng.random() < 0.3)
    named = name if name in ("AgBH", "LaB6") else None  # their q ranges as in the classic scenes
    geo = _geometry(rng, det.cols, False, wide, named, det.rows, 0.3 if det.strip else 0.05, (2.4, 4.5))
    inst = real_instrument(rng, geo, det)
    inst.high_background = False
    d = _Drawer(rng, geo, inst)
    if rng.random() < 0.5:  # air
        d._add_diffuse(Diffuse(1.0, float(geo.q_of_r(rng.uniform(0.01, 0.06) * d.long)), float(rng.uniform(2.5, 4.0))))
    strength = d.contrast() * 3
    width = _log_uniform(rng, 0.7, 2.0) * d.s
    for q, rel in CALIBRANT_LINES[name](geo.qmax):
        r = float(geo.r_of_q(q))
        d.ring(r, "isotropic", name, strength * rel * d.level_at_r(r), width)
    return _finish(rng, d, "calibrant", name)
