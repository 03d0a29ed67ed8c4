"""Scattering geometry of a synthetic frame: beam centre, distance, wavelength, and the q/chi grids.

Pixels are (row y, column x). ``chi`` is the azimuth in degrees, 0 = to the right, 90 = up (towards
+qz), so "oriented z" features sit around chi = +-90 and "oriented xy" around 0 / 180.

A frame is ``size`` columns wide and ``height`` rows high (0: square, ``size`` rows): real detectors
come in any aspect ratio, down to strips one module high.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# q of the farthest image point separating small-angle from wide-angle frames (A^-1). Draws keep
# clear of the boundary, so the experiment tag is never a judgement call.
SAXS_QMAX = 0.8
WAXS_QMIN = 1.2


@dataclass(frozen=True)
class Grids:
    dx: np.ndarray  # x - cx (px)
    dy: np.ndarray  # cy - y (px, up is positive)
    r: np.ndarray  # distance from the beam (px)
    q: np.ndarray  # |q| (A^-1)
    chi: np.ndarray  # azimuth (deg, -180..180)
    cos2: np.ndarray  # cos(2 chi), sin(2 chi): direction-free orientation without slow modulo arithmetic
    sin2: np.ndarray


@dataclass(frozen=True)
class Geometry:
    size: int  # columns (the frame's width)
    cx: float  # beam centre, column (may lie off the image)
    cy: float  # beam centre, row
    distance_px: float  # sample-detector distance in pixel units
    wavelength: float = 1.0  # A
    grazing: bool = False
    alpha_i: float = 0.0  # incidence angle (deg), grazing only
    alpha_c: float = 0.0  # critical angle of the film (deg), grazing only
    height: int = 0  # rows; 0 = ``size`` (a square frame)

    @property
    def rows(self) -> int:
        return self.height or self.size

    @property
    def cols(self) -> int:
        return self.size

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.size)

    @property
    def k(self) -> float:
        return 2 * math.pi / self.wavelength

    def q_of_r(self, r):
        """|q| at a distance r (px) from the beam on a flat detector normal to the beam."""
        two_theta = np.arctan(np.asarray(r, dtype=np.float64) / self.distance_px)
        return 2 * self.k * np.sin(two_theta / 2)

    def r_of_q(self, q):
        s = np.clip(np.asarray(q, dtype=np.float64) / (2 * self.k), 0, 0.7071)
        return self.distance_px * np.tan(2 * np.arcsin(s))

    def dq_dr(self, r: float) -> float:
        """q per pixel at radius r (for converting pixel widths into q widths)."""
        return float(self.q_of_r(r + 0.5) - self.q_of_r(max(r - 0.5, 0.0)))

    @property
    def r_far(self) -> float:
        """Distance from the beam to the farthest image corner."""
        xs = (0 - self.cx, self.size - 1 - self.cx)
        ys = (0 - self.cy, self.rows - 1 - self.cy)
        return max(math.hypot(x, y) for x in xs for y in ys)

    @property
    def qmax(self) -> float:
        return float(self.q_of_r(self.r_far))

    @property
    def experiment(self) -> str:
        wide = self.qmax >= WAXS_QMIN
        if self.grazing:
            return "GIWAXS" if wide else "GISAXS"
        return "TWAXS" if wide else "TSAXS"

    @property
    def beam_on_image(self) -> bool:
        return 0 <= self.cx <= self.size - 1 and 0 <= self.cy <= self.rows - 1

    def _row_at_exit_angle(self, alpha_f_deg: float) -> float:
        # The direct beam leaves at -alpha_i relative to the sample surface.
        return self.cy - self.distance_px * math.tan(math.radians(self.alpha_i + alpha_f_deg))

    @property
    def horizon_row(self) -> float:
        return self._row_at_exit_angle(0.0)

    @property
    def specular_row(self) -> float:
        return self._row_at_exit_angle(self.alpha_i)

    @property
    def yoneda_row(self) -> float:
        return self._row_at_exit_angle(self.alpha_c)

    def grids(self) -> Grids:
        return _grids(self.rows, self.size, self.cx, self.cy, self.distance_px, self.wavelength)


@lru_cache(maxsize=16)
def _grids(rows: int, cols: int, cx: float, cy: float, distance_px: float, wavelength: float) -> Grids:
    x = np.arange(cols, dtype=np.float32) - np.float32(cx)
    y = np.float32(cy) - np.arange(rows, dtype=np.float32)
    dx = np.broadcast_to(x[None, :], (rows, cols))
    dy = np.broadcast_to(y[:, None], (rows, cols))
    r = np.hypot(dx, dy)
    two_theta = np.arctan(r / np.float32(distance_px))
    q = (4 * np.pi / wavelength) * np.sin(two_theta / 2)
    phi = np.arctan2(dy, dx)
    grids = Grids(dx, dy, r, q.astype(np.float32), np.degrees(phi).astype(np.float32),
                  np.cos(2 * phi).astype(np.float32), np.sin(2 * phi).astype(np.float32))
    for a in (grids.r, grids.q, grids.chi, grids.cos2, grids.sin2):
        a.flags.writeable = False
    return grids
