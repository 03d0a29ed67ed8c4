"""Scattering geometry of a detector frame: sample-detector distance, wavelength (energy), pixel size, beam
centre, incidence angle and, from a pyFAI PONI calibration, the detector's tilts; and q from them.

``geometry_of(path, poni=None)`` reads what the file's header states (MarCCD, Pilatus CBF/TIFF, SAXSLAB
TIFF, EDF, NeXus/Eiger and APS HDF5, mar345, Bruker, ADSC, Oxford Diffraction, KappaCCD, R-AXIS; see
``headers``) and lays a PONI file's values over it: the one given, else the single ``*.poni`` file in the
image's folder. ``q_at``, ``q_map`` and ``q_range`` turn a Geometry into momentum transfer (1/Angstrom).

No torch, no Textual; numpy, and the format libraries the readers already use. pyFAI is optional (the
``physics`` extra): see ``poni``.
"""

from __future__ import annotations

import os
from dataclasses import replace

from .base import (
    HC_KEV_A,
    Geometry,
    direct_beam_px,
    energy_keV,
    q_at,
    q_map,
    q_range,
    two_theta,
    wavelength_m,
)
from .poni import Poni, PoniError, find_poni, parse_poni, read_poni

__all__ = [
    "HC_KEV_A", "Geometry", "Poni", "PoniError", "apply_poni", "direct_beam_px", "energy_keV", "find_poni",
    "geometry_of", "header_geometry", "parse_poni", "q_at", "q_map", "q_range", "read_poni", "two_theta",
    "wavelength_m",
]


def header_geometry(path: str | os.PathLike, *, shape=None) -> Geometry:
    """What the header of the image at ``path`` says (``file.h5::/dataset#3`` refs are fine: the file's
    header is read). An empty Geometry when the format has no geometry or the file cannot be read: the
    image readers report unreadable files, this never raises for them."""
    from tui_tagger.core.formats import parse_ref, sniff
    from tui_tagger.core.formats.base import DEFAULT_MAX_PIXELS

    from . import headers

    file = parse_ref(path).path
    fmt = sniff(file)  # reads the first bytes of regular files only
    try:
        if fmt == "marccd":
            geom = headers.from_marccd(file)
        elif fmt == "tiff":
            geom = headers.from_tiff(file, DEFAULT_MAX_PIXELS)
        elif fmt == "hdf5":
            geom = headers.from_hdf5(file)
        elif fmt in headers.FABIO_FORMATS:
            geom = headers.from_fabio(file)
        else:
            geom = Geometry()
    except Exception:  # a corrupt header: no geometry (read_image says what is wrong with the file)
        geom = Geometry()
    return geom.with_shape(shape)


def apply_poni(geom: Geometry, poni: Poni, *, shape=None) -> Geometry:
    """``geom`` with the PONI file's values on top: distance, PONI point, rotations, detector orientation,
    and pixel size and wavelength when the file has them; the beam centre is where the PONI geometry puts
    the direct beam. The header's incidence angle stays (a PONI file has none)."""
    geom = geom.with_shape(shape)
    label = f"PONI {poni.path}"
    values: dict[str, object] = {
        "distance_m": poni.distance_m,
        "poni_m": (poni.poni1_m, poni.poni2_m),
        "rotations_rad": poni.rotations_rad,
        "orientation": poni.orientation if poni.orientation is not None else 3,
        # a detector swing in the header is what the PONI rotations now describe
        "detector_2theta_deg": None,
    }
    if poni.wavelength_m is not None:
        values["wavelength_m"] = poni.wavelength_m
    if poni.pixel_size_m is not None:
        values["pixel_size_m"] = poni.pixel_size_m
    sources = {k: v for k, v in geom.sources.items() if k not in values}
    sources.update({k: label for k, v in values.items() if v is not None})
    out = replace(geom, **values, sources=sources, detector_shape=poni.max_shape)
    if out.shape is None and poni.max_shape is not None:
        out = replace(out, shape=poni.max_shape)
    if poni.detector and poni.detector.lower() != "detector" and not out.detector:  # pyFAI's generic name
        out = replace(out, detector=poni.detector)
    beam = direct_beam_px(out)
    sources = dict(out.sources)
    if beam is not None:
        sources["beam_center_px"] = label
    else:
        sources.pop("beam_center_px", None)
    return replace(out, beam_center_px=beam, sources=sources)


def geometry_of(path: str | os.PathLike, poni: str | os.PathLike | Poni | None = None, *, shape=None,
                auto_poni: bool = True, poni_cache: dict | None = None) -> Geometry:
    """The geometry of the image at ``path``: its header's values, overridden by a PONI file's.

    ``poni``: a PONI file (path or parsed ``Poni``). When None and ``auto_poni``, the one ``*.poni`` file in
    the image's folder is used if there is exactly one (``find_poni``). ``shape`` (rows, cols) of the frame
    helps when the header does not state it (q range, PONI orientations). A malformed PONI file raises
    ``PoniError`` (one line naming the file); a header without geometry gives an empty Geometry."""
    geom = header_geometry(path, shape=shape)
    if poni is None and auto_poni:
        from tui_tagger.core.formats import parse_ref

        poni = find_poni(parse_ref(path).path, poni_cache)
    if poni is None:
        return geom
    if not isinstance(poni, Poni):
        poni = read_poni(poni)
    return apply_poni(geom, poni)
