"""The ``Geometry`` record, unit helpers and the q computations (numpy only).

Conventions (the same as pyFAI's, so a PONI file and a header mean the same thing):

- pixel coordinates are ``(row, col)`` in the frame's array, continuous, with 0 at the outer edge of the
  first pixel: the centre of pixel ``[i, j]`` is ``(i + 0.5, j + 0.5)``. Headers that count from the pixel
  centre differ by half a pixel, which no SAXS/WAXS decision notices.
- ``pixel_size_m`` is ``(along rows, along columns)`` = pyFAI's ``(pixel1, pixel2)``.
- ``distance_m`` is the sample-to-detector distance. From a header it is measured along the beam; from a
  PONI file it is the PONI ``Distance`` (to the point of normal incidence; the same thing for an untilted
  detector).
- A geometry with ``rotations_rad`` (from a PONI file) is pyFAI's: ``poni_m`` and rot1-3 place the
  detector; without them the detector is flat, normal to the beam, with the beam at ``beam_center_px``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

HC_KEV_A = 12.398419843320026  # h c in keV x Angstrom (CODATA 2018): lambda[A] = HC_KEV_A / E[keV]

# Plausible ranges: a header value outside them is a default or garbage, not a measurement.
_WAVELENGTH_M = (1e-12, 1e-8)  # 0.01 - 100 Angstrom
_DISTANCE_M = (1e-4, 100.0)  # the longest SAXS cameras are some 40 m
_PIXEL_M = (1e-7, 1e-2)
_CENTER_PX = 1e6

FIELDS = ("distance_m", "wavelength_m", "pixel_size_m", "beam_center_px", "incidence_deg", "detector_2theta_deg",
          "poni_m", "rotations_rad", "orientation")


def energy_keV(wavelength_m: float) -> float:
    return HC_KEV_A / (wavelength_m * 1e10)


def wavelength_m(energy_kev: float) -> float:
    return HC_KEV_A / energy_kev * 1e-10


def _finite(*values) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def plausible(name: str, value) -> bool:
    """Whether a header value can be a real measurement of ``name`` (SI units as in the field names)."""
    if value is None:
        return False
    if name == "distance_m":
        return _finite(value) and _DISTANCE_M[0] <= value <= _DISTANCE_M[1]
    if name == "wavelength_m":
        return _finite(value) and _WAVELENGTH_M[0] <= value <= _WAVELENGTH_M[1]
    if name == "pixel_size_m":
        return len(value) == 2 and _finite(*value) and all(_PIXEL_M[0] <= v <= _PIXEL_M[1] for v in value)
    if name == "beam_center_px":
        return len(value) == 2 and _finite(*value) and all(abs(v) <= _CENTER_PX for v in value)
    if name in ("incidence_deg", "detector_2theta_deg"):
        return _finite(value) and -180 <= value <= 360
    if name == "poni_m":
        return len(value) == 2 and _finite(*value)
    if name == "rotations_rad":
        return len(value) == 3 and _finite(*value)
    if name == "orientation":
        return value in (0, 1, 2, 3, 4)
    return True


@dataclass(frozen=True)
class Geometry:
    """What is known of a frame's scattering geometry; ``None`` = not known. ``sources`` says, per field
    name, where each value came from (a header keyword or a PONI file)."""

    distance_m: float | None = None
    wavelength_m: float | None = None
    pixel_size_m: tuple[float, float] | None = None  # (along rows, along columns)
    beam_center_px: tuple[float, float] | None = None  # (row, col), see the module's conventions
    incidence_deg: float | None = None  # grazing-incidence angle of the sample
    detector_2theta_deg: float | None = None  # a swung detector arm (MX goniometers); q is not computed then
    poni_m: tuple[float, float] | None = None  # pyFAI PONI (poni1, poni2) on the detector, metres
    rotations_rad: tuple[float, float, float] | None = None  # pyFAI rot1, rot2, rot3
    orientation: int | None = None  # pyFAI detector orientation (PONI 2.1); None or 3: rows down, columns right
    shape: tuple[int, int] | None = None  # (rows, cols) of the frame, when known
    detector_shape: tuple[int, int] | None = None  # the PONI detector's max_shape: what orientations flip over
    detector: str | None = None  # the detector's name, as a header or PONI file gives it
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def energy_keV(self) -> float | None:
        return None if self.wavelength_m is None else energy_keV(self.wavelength_m)

    def found(self) -> list[str]:
        return [f for f in FIELDS if getattr(self, f) is not None]

    def __bool__(self) -> bool:
        return bool(self.found())

    def with_shape(self, shape) -> Geometry:
        if shape is None:
            return self
        rows, cols = (int(d) for d in tuple(shape)[-2:])
        return replace(self, shape=(rows, cols))

    def as_record(self) -> dict[str, object]:
        """The JSON form `tui-tagger info` prints: only the fields found, in units named by the keys, plus
        ``q_range_invA`` when the geometry allows it and ``sources`` (key -> where the value came from)."""
        out: dict[str, object] = {}
        src: dict[str, str] = {}

        def put(key, value, source_field):
            out[key] = value
            if source_field in self.sources:
                src[key] = self.sources[source_field]

        if self.distance_m is not None:
            put("distance_m", _sig(self.distance_m), "distance_m")
        if self.wavelength_m is not None:
            put("wavelength_A", _sig(self.wavelength_m * 1e10), "wavelength_m")
            put("energy_keV", _sig(energy_keV(self.wavelength_m)), "wavelength_m")
        if self.pixel_size_m is not None:
            put("pixel_size_um", [_sig(v * 1e6) for v in self.pixel_size_m], "pixel_size_m")
        if self.beam_center_px is not None:
            put("beam_center_px", [_sig(v) for v in self.beam_center_px], "beam_center_px")
        if self.incidence_deg is not None:
            put("incidence_deg", _sig(self.incidence_deg), "incidence_deg")
        if self.detector_2theta_deg is not None:
            put("detector_2theta_deg", _sig(self.detector_2theta_deg), "detector_2theta_deg")
        if self.poni_m is not None:
            put("poni_m", [_sig(v) for v in self.poni_m], "poni_m")
        if self.rotations_rad is not None:
            put("rotations_rad", [_sig(v) for v in self.rotations_rad], "rotations_rad")
        if self.orientation not in (None, 0, 3):
            put("orientation", self.orientation, "orientation")
        qr = q_range(self)
        if qr is not None:
            out["q_range_invA"] = [_sig(qr[0]), _sig(qr[1])]
            src["q_range_invA"] = "computed"
        if self.detector:
            out["detector"] = self.detector
        if out:
            out["sources"] = src
        return out

    def summary(self) -> str:
        """One line for people: ``distance 1.05 m, wavelength 1.5418 A (8.0416 keV), ... [sources]``."""
        return describe_record(self.as_record())


def describe_record(geo: dict[str, object]) -> str:
    """A geometry record (``Geometry.as_record``, the ``geometry`` object of ``info --json``) as one line."""

    def f(v) -> str:
        return f"{float(v) + 0.0:.5g}"  # + 0.0: -0.0 prints as 0

    parts = []
    if "distance_m" in geo:
        parts.append(f"distance {f(geo['distance_m'])} m")
    if "wavelength_A" in geo:
        parts.append(f"wavelength {f(geo['wavelength_A'])} A ({f(geo['energy_keV'])} keV)")
    if "pixel_size_um" in geo:
        parts.append("pixel {} x {} um".format(*(f(v) for v in geo["pixel_size_um"])))
    if "beam_center_px" in geo:
        parts.append("beam centre row {} col {} px".format(*(f(v) for v in geo["beam_center_px"])))
    if "rotations_rad" in geo and any(geo["rotations_rad"]):
        parts.append("rot1-3 " + "/".join(f(math.degrees(v)) for v in geo["rotations_rad"]) + " deg")
    if "incidence_deg" in geo:
        parts.append(f"incidence {f(geo['incidence_deg'])} deg")
    if "detector_2theta_deg" in geo:
        parts.append(f"detector 2theta {f(geo['detector_2theta_deg'])} deg (q not computed)")
    if "q_range_invA" in geo:
        parts.append("q {}-{} 1/A".format(*(f(v) for v in geo["q_range_invA"])))
    origins = sorted({str(s).split(" (")[0] for s in dict(geo.get("sources") or {}).values() if s != "computed"})
    text = ", ".join(parts)
    return f"{text} [{'; '.join(origins)}]" if origins and text else text


def _sig(value: float, digits: int = 7) -> float:
    value = float(value)
    return 0.0 if value == 0 else float(f"{value:.{digits}g}")  # (no -0.0)


# ---------------------------------------------------------------------------------------------- q computations


@dataclass(frozen=True)
class _Lab:
    """What the q computations need: pyFAI's parameters, in the frame's array coordinates."""

    dist: float
    poni1: float
    poni2: float
    rotation: np.ndarray  # 3x3
    pixel1: float
    pixel2: float
    wavelength: float | None
    orientation: int
    shape: tuple[int, int] | None


def _rotation_matrix(rot1: float, rot2: float, rot3: float) -> np.ndarray:
    """pyFAI's detector rotation (``Geometry.rotation_matrix``): rot3 . rot2 . rot1."""
    c1, c2, c3 = math.cos(rot1), math.cos(rot2), math.cos(rot3)
    s1, s2, s3 = math.sin(rot1), math.sin(rot2), math.sin(rot3)
    r1 = np.array([[1.0, 0.0, 0.0], [0.0, c1, s1], [0.0, -s1, c1]])
    r2 = np.array([[c2, 0.0, -s2], [0.0, 1.0, 0.0], [s2, 0.0, c2]])
    r3 = np.array([[c3, -s3, 0.0], [s3, c3, 0.0], [0.0, 0.0, 1.0]])
    return r3 @ r2 @ r1


def _flips(orientation: int | None) -> tuple[bool, bool]:
    """(rows flipped, columns flipped) between the array and pyFAI's detector frame (orientation 1-4)."""
    o = orientation or 3
    return o in (1, 2), o in (1, 4)


def to_detector(geom: Geometry, row, col, shape=None):
    """Array pixel coordinates -> pyFAI's detector coordinates in pixels (the same unless the PONI file
    declares an orientation other than 3)."""
    flip_r, flip_c = _flips(geom.orientation)
    shape = geom.detector_shape or shape or geom.shape
    if (flip_r or flip_c) and shape is None:
        return None
    row = shape[0] - np.asarray(row, float) if flip_r else np.asarray(row, float)
    col = shape[1] - np.asarray(col, float) if flip_c else np.asarray(col, float)
    return row, col


def _lab(geom: Geometry, shape=None) -> _Lab | None:
    if geom.pixel_size_m is None or geom.distance_m is None:
        return None
    if geom.detector_2theta_deg:  # a swung arm: its axis and sign are not known well enough
        return None
    shape = tuple(shape)[-2:] if shape is not None else geom.shape
    p1, p2 = geom.pixel_size_m
    if geom.rotations_rad is not None and geom.poni_m is not None:
        rot = _rotation_matrix(*geom.rotations_rad)
        poni1, poni2 = geom.poni_m
        orientation = geom.orientation or 3
    elif geom.beam_center_px is not None:
        rot = np.eye(3)
        orientation = 3
        poni1, poni2 = geom.beam_center_px[0] * p1, geom.beam_center_px[1] * p2
    else:
        return None
    flip_shape = geom.detector_shape or shape
    if orientation != 3 and flip_shape is None:
        return None
    return _Lab(geom.distance_m, poni1, poni2, rot, p1, p2, geom.wavelength_m, orientation, flip_shape)


def _two_theta(lab: _Lab, row, col) -> np.ndarray:
    flip_r, flip_c = _flips(lab.orientation)
    row = np.asarray(row, dtype=float)
    col = np.asarray(col, dtype=float)
    if flip_r:
        row = lab.shape[0] - row
    if flip_c:
        col = lab.shape[1] - col
    x1 = row * lab.pixel1 - lab.poni1
    x2 = col * lab.pixel2 - lab.poni2
    r = lab.rotation
    t1 = r[0, 0] * x1 + r[0, 1] * x2 + r[0, 2] * lab.dist
    t2 = r[1, 0] * x1 + r[1, 1] * x2 + r[1, 2] * lab.dist
    t3 = r[2, 0] * x1 + r[2, 1] * x2 + r[2, 2] * lab.dist
    return np.arctan2(np.hypot(t1, t2), t3)


def two_theta(geom: Geometry, row, col, shape=None) -> np.ndarray | None:
    """Scattering angle 2theta (radians) at array pixel coordinates ``(row, col)`` (scalars or arrays;
    the centre of pixel ``[i, j]`` is ``(i + 0.5, j + 0.5)``). None when the geometry is not enough."""
    lab = _lab(geom, shape)
    return None if lab is None else _two_theta(lab, row, col)


def q_at(geom: Geometry, row, col, shape=None) -> np.ndarray | None:
    """Momentum transfer q = 4 pi sin(theta) / lambda in 1/Angstrom at array pixel coordinates."""
    lab = _lab(geom, shape)
    if lab is None or lab.wavelength is None:
        return None
    return 4 * np.pi * np.sin(_two_theta(lab, row, col) / 2) / (lab.wavelength * 1e10)


def q_map(geom: Geometry, shape=None) -> np.ndarray | None:
    """q (1/Angstrom, float32) at the centre of every pixel of a frame of ``shape`` (default: geom.shape)."""
    shape = tuple(shape)[-2:] if shape is not None else geom.shape
    if shape is None:
        return None
    rows = np.arange(shape[0], dtype=float)[:, None] + 0.5
    cols = np.arange(shape[1], dtype=float)[None, :] + 0.5
    q = q_at(geom, rows, cols, shape)
    return None if q is None else q.astype(np.float32)


def direct_beam_px(geom: Geometry, shape=None) -> tuple[float, float] | None:
    """Where the direct beam meets the detector plane, in array pixel coordinates (row, col); for a PONI
    geometry this is the beam centre that the rotations imply. None when not computable (or when the
    detector faces away from the beam)."""
    if geom.rotations_rad is None or geom.poni_m is None:
        return geom.beam_center_px
    if geom.pixel_size_m is None or geom.distance_m is None:
        return None
    r = _rotation_matrix(*geom.rotations_rad)
    a = np.array([[r[0, 0], r[0, 1]], [r[1, 0], r[1, 1]]])
    b = -geom.distance_m * np.array([r[0, 2], r[1, 2]])
    try:
        x1, x2 = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return None
    if r[2, 0] * x1 + r[2, 1] * x2 + r[2, 2] * geom.distance_m <= 0:
        return None
    row = (geom.poni_m[0] + x1) / geom.pixel_size_m[0]
    col = (geom.poni_m[1] + x2) / geom.pixel_size_m[1]
    back = to_detector(geom, row, col, shape)  # the flips are their own inverse
    if back is None:
        return None
    return float(back[0]), float(back[1])


def q_range(geom: Geometry, shape=None) -> tuple[float, float] | None:
    """(smallest, largest) q in 1/Angstrom over the frame's area (its outer pixel edges), or None when the
    geometry (wavelength, distance, pixel size, beam centre or PONI, and the frame's shape) is not enough.

    2theta is quasi-convex on a flat detector (its level sets are nested conics about the direct beam),
    so the largest value lies on a corner and the smallest is 0 when the beam falls on the frame, else on
    its border: the border is sampled at every pixel edge, no per-pixel map is made."""
    shape = tuple(shape)[-2:] if shape is not None else geom.shape
    lab = _lab(geom, shape)
    if lab is None or lab.wavelength is None or shape is None:
        return None
    rows, cols = shape
    r = np.arange(rows + 1, dtype=float)
    c = np.arange(cols + 1, dtype=float)
    border_r = np.concatenate([r, r, np.zeros(cols + 1), np.full(cols + 1, rows)])
    border_c = np.concatenate([np.zeros(rows + 1), np.full(rows + 1, cols), c, c])
    tth = _two_theta(lab, border_r, border_c)
    beam = direct_beam_px(geom, shape)
    lo = float(tth.min())
    if beam is not None and 0 <= beam[0] <= rows and 0 <= beam[1] <= cols:
        lo = 0.0
    k = 4 * math.pi / (lab.wavelength * 1e10)
    return k * math.sin(lo / 2), k * math.sin(float(tth.max()) / 2)
