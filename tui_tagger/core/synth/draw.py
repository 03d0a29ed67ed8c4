"""Random scenes: an experiment, its geometry and instrument, and the features a sample of that kind shows.

Feature strengths are drawn relative to the diffuse scattering already at their q, so most drawn
features are visible and some are not (too weak, behind the stop, off the detector): the scene
judges which.

``draw_scene`` first draws the frame's family (families.py): the classic scenes here (square frames,
any transmission or grazing-incidence sample, AgBH / LaB6), or one of the families that bring real
detectors and real experiments in (the classic scenes on real detectors, dark frames, empty cells,
solution SAXS, crystals, calibrants on a real geometry).
"""

from __future__ import annotations

import math

import numpy as np

from tui_tagger.core.crystal import AGBH_D, LAB6_A, cubic_reflections

from .features import Diffuse, Peaks, Ring, Rods, Yoneda
from .geometry import Geometry
from .instrument import Instrument, beamstop_map, beamstop_reach
from .scene import Scene

FLOOR = 1e-3  # weakest scattering level features are drawn against (arbitrary units)


def lab6_q(qmax: float) -> list[tuple[float, float]]:
    """(q, relative intensity) of LaB6 powder lines up to qmax: primitive cubic, every hkl allowed."""
    lines = sorted({n2 for *_, n2, _ in cubic_reflections(LAB6_A, qmax)})
    return [(2 * math.pi * math.sqrt(s) / LAB6_A, 1.0 / s**0.6) for s in lines]


def agbh_q(qmax: float) -> list[tuple[float, float]]:
    n_max = int(qmax * AGBH_D / (2 * math.pi))
    return [(2 * math.pi * n / AGBH_D, 1.0 / n**1.1) for n in range(1, n_max + 1)]


def _log_uniform(rng, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _axis(rng, weights=(0.45, 0.35, 0.20)) -> float:
    """An orientation axis: vertical (z), horizontal (xy) or clearly neither."""
    kind = rng.choice(3, p=weights)
    if kind == 0:
        return float(90 + rng.uniform(-3, 3))
    if kind == 1:
        return float(rng.uniform(-3, 3))
    return float(90 + rng.choice([-1, 1]) * rng.uniform(25, 65))


def _geometry(rng, size: int, grazing: bool, wide: bool, calibrant: str | None, rows: int = 0,
              p_off: float | None = None, qrange: tuple[float, float] | None = None) -> Geometry:
    """``size`` columns, ``rows`` rows (0: square). ``p_off``: chance of the beam off one edge;
    ``qrange``: the range of q at the farthest corner, where the calibrant or ``wide`` do not say."""
    wavelength = float(rng.uniform(0.7, 1.6))
    nx, ny = size - 1, (rows or size) - 1
    if grazing:
        cx = rng.uniform(0.3, 0.7) * nx
        off = rng.random() < (0.35 if wide else 0.08)
        cy = rng.uniform(1.03, 1.3) * ny if off else rng.uniform(0.6, 0.92) * ny
    elif rng.random() < ((0.12 if wide else 0.05) if p_off is None else p_off):  # beam off one edge
        fa, fb = rng.uniform(0.2, 0.8), rng.uniform(-0.3, -0.03)
        cx, cy = [(fb * nx, fa * ny), (nx - fb * nx, fa * ny), (fa * nx, fb * ny), (fa * nx, ny - fb * ny)][rng.integers(4)]
    else:
        # beamlines often put the beam well off the detector's middle (more q on one side; a round CCD
        # window with the beam near its lower edge): a low beam alone must not read as grazing incidence
        cx, cy = rng.uniform(0.15, 0.85) * nx, rng.uniform(0.15, 0.88) * ny
    k = 2 * math.pi / wavelength
    q_limit = 0.95 * 2 * k * math.sin(math.radians(40))  # keep 2-theta under 80 deg
    if calibrant == "LaB6":
        qmax = rng.uniform(1.9, 4.5)
    elif calibrant == "AgBH":
        qmax = rng.uniform(1.4, 3.0) if wide else rng.uniform(0.25, 0.75)
    elif qrange is not None:
        qmax = rng.uniform(*qrange)
    else:
        qmax = rng.uniform(1.4, 4.5) if wide else _log_uniform(rng, 0.06, 0.7)
    qmax = min(qmax, q_limit)
    height = rows if rows and rows != size else 0
    probe = Geometry(size, float(cx), float(cy), 1.0, wavelength, height=height)
    distance = probe.r_far / math.tan(2 * math.asin(qmax / (2 * k)))
    ai, ac = (rng.uniform(0.08, 0.25), rng.uniform(0.08, 0.2)) if grazing else (0.0, 0.0)
    return Geometry(size, float(cx), float(cy), float(distance), wavelength, grazing, float(ai), float(ac), height)


def _exposure(rng, inst: Instrument, weak: float = 0.12, strong: float = 0.12) -> None:
    u = rng.random()
    inst.exposure = "weak" if u < weak else "strong" if u < weak + strong else "normal"
    inst.level = {
        "weak": rng.uniform(0.3, 2.0),
        "normal": _log_uniform(rng, 10, 500),
        "strong": _log_uniform(rng, 3e3, 5e4),
    }[inst.exposure]
    inst.high_background = bool(rng.random() < 0.12)
    inst.background = rng.uniform(0.5, 2.0) if inst.high_background else _log_uniform(rng, 0.003, 0.05)


def _instrument(rng, geo: Geometry) -> Instrument:
    n = geo.size
    inst = Instrument()
    margin = 0.1 * n
    if -margin <= geo.cx <= n - 1 + margin and -margin <= geo.cy <= n - 1 + margin:
        if rng.random() < 0.75:
            inst.beamstop, inst.bs_size = "linear", max(_log_uniform(rng, 0.012, 0.06) * n, 3.0)  # thin rods too
            if geo.grazing:
                inst.bs_angle = float(rng.choice([-90, -90, -90, 0, 180, 90]) + rng.uniform(-3, 3))
            elif rng.random() < 0.7:
                inst.bs_angle = float(rng.choice([-90, 90, 0, 180]) + rng.uniform(-3, 3))
            else:
                inst.bs_angle = float(rng.uniform(-180, 180))
        else:
            inst.beamstop, inst.bs_size = "circular", max(rng.uniform(0.03, 0.09) * n, 3.0)
    reach = beamstop_reach(inst)
    inst.beam_sigma = float(max(min(1.5, reach / 5), 0.3))
    inst.detector = str(rng.choice(["plain", "pilatus", "round"], p=[0.45, 0.35, 0.2]))
    inst.gap_offset = (int(rng.integers(0, n)), int(rng.integers(0, n)))
    inst.dtype = "int32" if inst.detector == "pilatus" or rng.random() < 0.3 else "uint32"
    _exposure(rng, inst)
    inst.shadow = _log_uniform(rng, 0.002, 0.03)
    inst.horizon_blur = float(rng.uniform(0.3, 0.9))
    return inst


class _Drawer:
    def __init__(self, rng, geo: Geometry, inst: Instrument):
        self.rng, self.geo, self.inst = rng, geo, inst
        self.g = geo.grids()
        self.features: list = []
        self.diffuse = np.zeros(self.g.q.shape, np.float32)
        self.r_min = beamstop_reach(inst) * 1.2 + 3
        self.wide = geo.experiment.endswith("WAXS")
        self.rows, self.cols = geo.shape
        self.long = max(geo.shape)
        self.s = self.long / 256  # widths are drawn for 256 px frames and scale with the frame

    def add(self, f) -> None:
        self.features.append(f)

    def level_at_r(self, r0: float) -> float:
        band = np.abs(self.g.r - r0) < 1.0
        return (float(self.diffuse[band].mean()) if band.any() else 0.0) + FLOOR

    def level_at(self, x: float, y: float) -> float:
        xi, yi = int(np.clip(round(x), 0, self.cols - 1)), int(np.clip(round(y), 0, self.rows - 1))
        return float(self.diffuse[yi, xi]) + FLOOR

    def contrast(self) -> float:
        return _log_uniform(self.rng, 0.6, 30)

    def random_r(self) -> float:
        return float(self.rng.uniform(self.r_min, max(self.r_min + 1, 0.95 * self.geo.r_far)))

    # --- diffuse scattering -------------------------------------------------------------------
    def diffuse_low_q(self) -> None:
        rng, geo = self.rng, self.geo
        guinier = rng.random() < 0.3
        knee_px = rng.uniform(0.08, 0.3) * self.long if guinier else rng.uniform(0.01, 0.1) * self.long
        f = Diffuse(1.0, float(geo.q_of_r(knee_px)), float(rng.uniform(2.5, 4.0)), guinier)
        if rng.random() < 0.4:
            f.ratio, f.axis = float(rng.uniform(2.0, 5.0)), _axis(rng)
        self._add_diffuse(f)

    def diffuse_high_q(self) -> None:
        qc = float(self.geo.q_of_r(self.rng.uniform(0.4, 0.8) * self.geo.r_far))
        amp = (self.level_at_r(float(self.geo.r_of_q(qc)))) * _log_uniform(self.rng, 2, 20)
        self._add_diffuse(Diffuse(amp, qc, high_q=True))

    def _add_diffuse(self, f: Diffuse) -> None:
        self.diffuse += f.render(self.geo, self.g)
        self.add(f)

    # --- rings ------------------------------------------------------------------------------------
    def ring(self, r0: float | None = None, texture: str | None = None, series: str | None = None,
             amp: float | None = None, width_px: float | None = None, axis: float | None = None) -> Ring:
        rng = self.rng
        r0 = self.random_r() if r0 is None else r0
        if texture is None:
            p = [0.25, 0.45, 0.15, 0.15] if self.geo.grazing else [0.45, 0.25, 0.2, 0.1]
            texture = str(rng.choice(["isotropic", "oriented", "textured", "spotted"], p=p))
        f = Ring(float(self.geo.q_of_r(r0)), width_px or _log_uniform(rng, 0.8, 3.5) * self.s,
                 amp if amp is not None else self.contrast() * self.level_at_r(r0), texture, series=series)
        if texture == "oriented":
            f.axis = axis if axis is not None else _axis(rng, (0.6, 0.25, 0.15) if self.geo.grazing else (0.45, 0.35, 0.2))
            f.spread = float(rng.uniform(5, 15))
        elif texture == "textured":
            f.axis, f.depth = float(rng.uniform(-180, 180)), float(rng.uniform(0.7, 0.92))
        elif texture == "spotted":
            f.n_spots, f.spot_seed = int(rng.integers(40, 300)), int(rng.integers(2**31))
            f.width_px = float(rng.uniform(0.7, 1.5) * self.s)
            f.amp *= 3  # grains are bright; the ring between them is dark
        self.add(f)
        return f

    def halo(self) -> None:
        rng = self.rng
        r0 = self.random_r()
        f = Ring(float(self.geo.q_of_r(r0)), float(max(rng.uniform(0.08, 0.2) * r0, 4.0 * self.s)),
                 _log_uniform(rng, 0.8, 10) * self.level_at_r(r0), halo=True)
        if rng.random() < 0.4:
            f.texture, f.axis, f.spread = "oriented", _axis(rng, (0.55, 0.45, 0.0)), float(rng.uniform(15, 30))
        self.add(f)

    def lamellar(self) -> None:
        """A lamellar stack: orders n*q1, weaker with n, all sharing the first order's texture."""
        rng = self.rng
        n_fit = int(rng.integers(2, 21))
        q1 = float(self.geo.q_of_r(self.r_min + 2)) + rng.random() * (self.geo.qmax / n_fit)
        first = self.ring(float(self.geo.r_of_q(q1)), series="lamellar")
        decay = rng.uniform(0.3, 1.5)
        for order in range(2, int(self.geo.qmax / q1) + 1):
            r = float(self.geo.r_of_q(order * q1))
            f = self.ring(r, first.texture, "lamellar", first.amp * order**-decay, first.width_px, first.axis)
            f.spread, f.depth, f.n_spots, f.spot_seed = first.spread, first.depth, first.n_spots, first.spot_seed + order

    def calibrant(self, name: str) -> None:
        lines = agbh_q(self.geo.qmax) if name == "AgBH" else lab6_q(self.geo.qmax)
        strength = self.contrast() * 3
        width = _log_uniform(self.rng, 0.7, 2.0)
        for q, rel in lines:
            r = float(self.geo.r_of_q(q))
            self.ring(r, "isotropic", name, strength * rel * self.level_at_r(r), width)

    # --- peaks and rods ---------------------------------------------------------------------------
    def peaks(self, n: int, role: str) -> Peaks:
        rng = self.rng
        xs = [float(x) for x in rng.uniform(2, self.cols - 3, n)]
        ys = [float(y) for y in rng.uniform(2, self.rows - 3, n)]
        amps = [self.level_at(x, y) * _log_uniform(rng, 3, 100) for x, y in zip(xs, ys)]
        f = Peaks(xs, ys, amps, float(rng.uniform(0.7, 2.0) * self.s), role)
        self.add(f)
        return f

    def peaks_along_ring(self) -> None:
        rng = self.rng
        r0, n = self.random_r(), int(rng.integers(3, 9))
        if rng.random() < 0.5:
            chis = rng.uniform(0, 2 * np.pi) + np.arange(n) * 2 * np.pi / n  # symmetric pattern
        else:
            chis = rng.uniform(0, 2 * np.pi, n)
        xs = [float(self.geo.cx + r0 * np.cos(c)) for c in chis]
        ys = [float(self.geo.cy - r0 * np.sin(c)) for c in chis]
        amp = self.level_at_r(r0) * _log_uniform(rng, 5, 100)
        self.add(Peaks(xs, ys, [amp * rng.uniform(0.5, 1.0) for _ in xs], float(rng.uniform(1.0, 2.5) * self.s), "along_ring"))

    def hot_peak(self) -> None:
        """A Bragg spot far brighter than the detector's range: a saturated disc, clear of the stop."""
        rng, geo = self.rng, self.geo
        stop = beamstop_map(geo, self.inst)
        sigma = float(rng.uniform(1.5, 3.0) * self.s)
        m = int(4 * sigma) + 2
        for _ in range(20):
            x, y = (int(v) for v in rng.uniform(0.1, 0.9, 2) * (np.array([self.cols, self.rows]) - 1))
            if not stop[max(y - m, 0) : y + m + 1, max(x - m, 0) : x + m + 1].any() and (
                not geo.grazing or y < geo.horizon_row - m
            ):
                self.add(Peaks([float(x)], [float(y)], [_log_uniform(rng, 5, 50)], sigma, "hot"))
                return

    def specular_rod(self) -> None:
        geo, rng = self.geo, self.rng
        h = geo.horizon_row
        amp = self.level_at(geo.cx, h - 10) * _log_uniform(rng, 3, 50)
        self.add(Rods([geo.cx], float(rng.uniform(0.7, 1.5) * self.s), amp, h, -1, float(rng.uniform(1.0, 2.5)), "Specular rod"))

    def specular_peaks(self) -> None:
        geo, rng = self.geo, self.rng
        step = rng.uniform(0.05, 0.15) * self.rows
        ys = [float(geo.horizon_row - k * step) for k in range(1, int(rng.integers(2, 7)) + 1)]
        amps = [self.level_at(geo.cx, y) * _log_uniform(rng, 5, 80) for y in ys]
        self.add(Peaks([geo.cx] * len(ys), ys, amps, float(rng.uniform(0.8, 1.8) * self.s), "specular"))

    def bragg_rods(self) -> None:
        geo, rng = self.geo, self.rng
        step = rng.uniform(0.06, 0.25) * self.cols
        xs = [geo.cx + s * k * step for k in range(1, int(rng.integers(1, 5)) + 1) for s in (-1, 1)]
        h = geo.horizon_row
        amp = self.level_at(geo.cx + step, h - 0.1 * self.rows) * _log_uniform(rng, 2, 30)
        self.add(Rods([float(x) for x in xs], float(rng.uniform(0.8, 2.0) * self.s), amp, h, -1,
                      float(rng.uniform(0.3, 1.2)), "Bragg rods"))

    def vertical_streaks(self) -> None:
        geo, rng = self.geo, self.rng
        xs = []
        while len(xs) < int(rng.integers(1, 4)):
            x = float(rng.uniform(3, self.cols - 4))
            if abs(x - geo.cx) > 8 * self.s:  # a streak through the beam would be the specular rod
                xs.append(x)
        bottom = geo.horizon_row if geo.grazing else float(rng.uniform(0.5, 1.0) * self.rows)
        top = bottom - rng.uniform(0.4, 1.0) * self.rows
        amp = self.level_at(xs[0], bottom - 0.2 * self.rows) * _log_uniform(rng, 3, 30)
        self.add(Rods(xs, float(rng.uniform(0.6, 1.2) * self.s), amp, bottom, float(top), float(rng.uniform(0, 0.7))))

    def yoneda(self) -> None:
        geo, rng = self.geo, self.rng
        amp = self.level_at(geo.cx + 0.1 * self.cols, geo.yoneda_row) * _log_uniform(rng, 1, 10)
        self.add(Yoneda(geo.yoneda_row, float(rng.uniform(1.0, 3.0) * self.s), amp, float(rng.uniform(0.1, 0.5) * self.cols)))


def draw_scene(seed: int, index: int, size: int, families=None) -> Scene:
    """The scene of frame ``index`` of data set ``seed``: depends on (seed, index, size, families) only.

    Which kind of frame (``families.FAMILIES``: the classic scenes, or real detectors, dark frames,
    solution SAXS, crystals, calibrants ...) is drawn from a stream of its own, so a classic frame is
    the very frame it was before the other families existed. ``families``: None (all, at their
    default shares), names (those, in proportion to their default shares) or {name: weight}.
    """
    from .families import draw_family, pick_family

    family = pick_family(seed, index, families)
    ss = np.random.SeedSequence([seed % 2**63, index])
    rng = np.random.default_rng(ss)
    if family == "classic":
        return classic_scene(rng, size)
    return draw_family(family, rng, size)


def classic_scene(rng, size: int, detector=None) -> Scene:
    """The classic scene: a transmission or grazing-incidence sample of any kind, or AgBH / LaB6. With
    ``detector`` (families.Detector) on that real detector and its instrument, else on a square frame."""
    u = rng.random()
    calibrant = "AgBH" if u < 0.07 else "LaB6" if u < 0.12 else None
    if detector is None:
        grazing = calibrant is None and rng.random() < 0.5
    else:  # a strip detector (either way up) is not used for grazing incidence here
        grazing = calibrant is None and rng.random() < (0.0 if detector.strip else 0.5)
    wide = calibrant == "LaB6" or rng.random() < (0.4 if calibrant else 0.45)
    if detector is None:
        geo = _geometry(rng, size, grazing, wide, calibrant)
        inst = _instrument(rng, geo)
    else:
        geo = _geometry(rng, detector.cols, grazing, wide, calibrant, detector.rows, detector.p_off(wide))
        inst = detector.instrument(rng, geo)
    d = _Drawer(rng, geo, inst)
    p = rng.random
    if p() < (0.35 if d.wide else 0.75):
        d.diffuse_low_q()
    if p() < (0.35 if d.wide else 0.12):
        d.diffuse_high_q()
    if calibrant:
        d.calibrant(calibrant)
    else:
        n_rings = int(rng.integers(6, 11)) if d.wide and p() < 0.15 else int(rng.choice([0, 0, 1, 1, 2, 3]))
        for _ in range(n_rings):
            d.ring()
        if p() < (0.12 if d.wide else 0.3):
            d.lamellar()
        if p() < (0.4 if d.wide else 0.2):
            d.halo()
        if p() < 0.2:
            d.peaks_along_ring()
        field = d.wide and p() < 0.15
        if field:
            d.peaks(int(rng.integers(25, 81)), "field")
        elif p() < 0.25:
            d.peaks(int(rng.integers(1, 8)), "isolated")
        if grazing:
            if p() < 0.65:
                d.specular_rod()
            if not d.wide and p() < 0.25:
                d.specular_peaks()
            if p() < (0.1 if d.wide else 0.3):
                d.bragg_rods()
            if geo.horizon_row - geo.yoneda_row >= 3 and p() < 0.5:
                d.yoneda()
        if p() < 0.15:
            d.vertical_streaks()
        if not field and inst.exposure != "weak" and p() < 0.12:
            d.hot_peak()
    noise_seed = int(rng.integers(2**63))
    # drawn last, so that adding it left every earlier draw (and so every other frame property) as it was
    if inst.beamstop != "none" and inst.beam > 0 and geo.beam_on_image and rng.random() < 0.3:
        inst.flare = _log_uniform(rng, 30, 3e4)
        inst.flare_sigma = float(beamstop_reach(inst) * rng.uniform(0.45, 0.9))
    return Scene(geo, inst, d.features, calibrant, noise_seed, "classic" if detector is None else "detector")
