"""Scattering features in q-space. Each renders an intensity map (arbitrary units, before exposure,
beamstop and horizon) and names the tag it makes true when it is visible.

Visibility is judged by the scene (scene.py) from the rendered map against everything else, so a
feature never decides alone whether it is seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import Geometry, Grids

N_BINS = 3600  # angular table resolution for spotted rings (0.1 deg)


def axial_offset(chi: float, axis: float) -> float:
    """Angle (deg, 0..90) between an azimuth and an axis, direction-free (chi and chi+180 alike)."""
    return abs((chi - axis + 90.0) % 180.0 - 90.0)


def cos2_to_axis(g: Grids, axis: float) -> np.ndarray:
    """cos(2 (chi - axis)): 1 along the axis (either direction), -1 across it."""
    a = np.radians(2 * axis)
    return g.cos2 * np.float32(np.cos(a)) + g.sin2 * np.float32(np.sin(a))


def orientation_tag(axis: float) -> str:
    """Which of the field's orientation columns an axis falls in: z (vertical), xy (horizontal), other."""
    off_z = axial_offset(axis, 90.0)
    if off_z <= 10:
        return "z"
    if off_z >= 80:
        return "xy"
    return "other"


@dataclass
class Ring:
    """A ring at q0, Gaussian in q. texture: isotropic | oriented | textured | spotted.
    A halo is a broad ring (its own tag row). ``series`` groups the orders of a lamellar stack."""

    q0: float
    width_px: float
    amp: float
    texture: str = "isotropic"
    axis: float = 90.0  # orientation axis (deg) for oriented / textured rings
    spread: float = 10.0  # angular sigma (deg) of oriented rings
    depth: float = 0.7  # modulation depth of textured rings
    n_spots: int = 0
    spot_seed: int = 0
    halo: bool = False
    series: str | None = None

    @property
    def tag(self) -> str:
        if self.halo:
            col = "Isotropic" if self.texture == "isotropic" else f"Oriented {orientation_tag(self.axis)}"
            return f"Halo: {col}"
        if self.texture == "oriented":
            return f"Ring: Oriented {orientation_tag(self.axis)}"
        return {"isotropic": "Ring: Isotropic", "textured": "Ring: Textured", "spotted": "Ring: Spotted"}[
            self.texture
        ]

    def render(self, geo: Geometry, g: Grids) -> np.ndarray:
        r0 = float(geo.r_of_q(self.q0))
        sigma = max(self.width_px, 0.5) * geo.dq_dr(r0)
        # whole-image float32 arithmetic is cheaper than selecting the ring's band first
        radial = np.exp(np.float32(-0.5 / sigma**2) * (g.q - np.float32(self.q0)) ** 2)
        return np.float32(self.amp) * radial * self._angular(g, r0)

    def _angular(self, g: Grids, r0: float) -> np.ndarray:
        if self.texture == "isotropic":
            return np.float32(1.0)
        c = cos2_to_axis(g, self.axis)
        if self.texture == "oriented":
            # von Mises in 2(chi - axis): a Gaussian of sigma ``spread`` near the axis, exact period 180
            kappa = 1.0 / (4 * np.radians(self.spread) ** 2)
            return np.exp(np.float32(kappa) * (c - 1))
        if self.texture == "textured":
            return 1 - np.float32(self.depth / 2) * (1 - c)  # 1 - depth * sin^2(chi - axis)
        table = _spot_table(self.n_spots, self.spot_seed, self.width_px, r0)
        return table[np.minimum(((g.chi + 180.0) * (N_BINS / 360.0)).astype(np.int32), N_BINS - 1)]


def _spot_table(n: int, seed: int, spot_px: float, r0: float) -> np.ndarray:
    """Azimuthal intensity of a ring made of n random grains, each spot_px wide on the detector."""
    rng = np.random.default_rng(seed)
    table = np.zeros(N_BINS, np.float32)
    np.add.at(table, rng.integers(0, N_BINS, n), rng.exponential(1.0, n).astype(np.float32))
    sigma_bins = max(np.degrees(spot_px / max(r0, 1.0)) * N_BINS / 360.0, 0.5)
    half = int(4 * sigma_bins) + 1
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_bins) ** 2).astype(np.float32)
    wrapped = np.concatenate([table[-half:], table, table[:half]])
    smooth = np.convolve(wrapped, kernel, mode="valid")
    return smooth / max(float(smooth.max()), 1e-12)


def _pixel_gauss(i0: int, i1: int, centre: float, sigma: float) -> np.ndarray:
    """A unit-height Gaussian's mean over each pixel i0..i1-1 (pixel i spans i-0.5..i+0.5). A spot of a
    pixel or less (a protein crystal's on a whole detector drawn at 256-512 px) keeps its photons wherever
    its centre falls; sampled at pixel centres it would flicker between bright and gone. For wide spots it
    is the sampled curve."""
    scale = sigma * math.sqrt(2.0)
    edges = [math.erf((e - centre) / scale) for e in np.arange(i0, i1 + 1) - 0.5]
    return np.diff(edges) * (sigma * math.sqrt(math.pi / 2.0))


@dataclass
class Peaks:
    """Compact Bragg spots at pixel positions. role: isolated (alone or many over the field),
    along_ring (a few at one |q|), specular (along the specular rod)."""

    xs: list[float]
    ys: list[float]
    amps: list[float]
    sigma_px: float
    role: str = "isolated"

    def render(self, geo: Geometry, g: Grids) -> np.ndarray:
        out = np.zeros(g.q.shape, np.float32)
        rows, cols = geo.shape
        half = int(4 * self.sigma_px) + 1
        for x, y, a in zip(self.xs, self.ys, self.amps):
            x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, cols)
            y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, rows)
            if x0 >= x1 or y0 >= y1:
                continue
            gx = _pixel_gauss(x0, x1, x, self.sigma_px)
            gy = _pixel_gauss(y0, y1, y, self.sigma_px)
            out[y0:y1, x0:x1] += np.float32(a) * np.outer(gy, gx).astype(np.float32)
        return out

    def subset(self, keep: list[int]) -> "Peaks":
        pick = lambda v: [v[i] for i in keep]  # noqa: E731
        return Peaks(pick(self.xs), pick(self.ys), pick(self.amps), self.sigma_px, self.role)


@dataclass
class Rods:
    """Vertical lines: Bragg rods (GI, at +-n qxy), the specular rod (GI, at the beam's column) or
    vertical streaks. Intensity decays as a power law upwards from ``y_bottom``."""

    xs: list[float]
    width_px: float
    amp: float
    y_bottom: float
    y_top: float
    decay: float = 1.0
    tag: str = "Vertical streaks"

    def render(self, geo: Geometry, g: Grids) -> np.ndarray:
        n = geo.size
        cols = np.zeros(n, np.float32)
        x = np.arange(n, dtype=np.float32)
        for x0 in self.xs:
            cols += np.exp(-0.5 * ((x - x0) / self.width_px) ** 2)
        rows = np.arange(geo.rows, dtype=np.float32)
        height = np.clip(self.y_bottom - rows, 0, None)
        profile = (1.0 + height / max(0.04 * max(geo.shape), 1.0)) ** -self.decay
        profile[(rows > self.y_bottom) | (rows < self.y_top)] = 0
        return self.amp * np.outer(profile, cols).astype(np.float32)


@dataclass
class Yoneda:
    """Enhanced diffuse scattering along the row of exit angle = critical angle (GI)."""

    row: float
    width_px: float
    amp: float
    lateral_px: float
    tag: str = "Yoneda"

    def render(self, geo: Geometry, g: Grids) -> np.ndarray:
        rows = np.exp(-0.5 * ((np.arange(geo.rows) - self.row) / self.width_px) ** 2)
        cols = 1.0 / (1.0 + ((np.arange(geo.size) - geo.cx) / self.lateral_px) ** 2)
        return (self.amp * np.outer(rows, cols)).astype(np.float32)


@dataclass
class Diffuse:
    """Low-q diffuse scattering around the beam (power law, Guinier, or Guinier with a power-law tail;
    anisotropic when ratio > 1, stretched along ``axis``), or high-q diffuse rising towards the detector edge."""

    amp: float
    qc: float  # low-q: knee of the power law / Guinier 1/Rg; high-q: onset
    power: float = 3.0
    guinier: bool = False
    ratio: float = 1.0
    axis: float = 90.0
    high_q: bool = False
    # Guinier only: a power-law tail (Porod-like, exponent ``power``) of this height relative to ``amp``
    # beyond the Guinier knee: the unified (Beaucage-like) curve of particles in solution
    tail: float = 0.0

    @property
    def tag(self) -> str:
        if self.high_q:
            return "Diffuse high-q: Isotropic"
        if self.ratio == 1.0:
            return "Diffuse low-q: Isotropic"
        return "Diffuse low-q: Anisotropic"

    @property
    def extra_tags(self) -> list[str]:
        """Anisotropic diffuse stretched along z or xy also states that orientation."""
        if self.high_q or self.ratio == 1.0:
            return []
        o = orientation_tag(self.axis)
        return [] if o == "other" else [f"Diffuse low-q: Oriented {o}"]

    def render(self, geo: Geometry, g: Grids) -> np.ndarray:
        q = g.q
        if self.high_q:
            return (self.amp * (1.0 - np.exp(-((q / self.qc) ** 4)))).astype(np.float32)
        if self.ratio != 1.0:
            c = cos2_to_axis(g, self.axis)  # cos^2 = (1 + c) / 2 along the stretch axis
            q = q * np.sqrt((1 + c) / (2 * self.ratio**2) + (1 - c) / 2)
        x = (q / self.qc) ** 2
        if self.guinier:
            if self.tail > 0:
                return (self.amp * (np.exp(-x / 3.0) + self.tail * (1.0 + x) ** (-self.power / 2))).astype(np.float32)
            return (self.amp * np.exp(-x / 3.0)).astype(np.float32)
        return (self.amp * (1.0 + x) ** (-self.power / 2)).astype(np.float32)
