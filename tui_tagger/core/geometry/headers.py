"""Geometry from detector file headers, read with the field's libraries (fabio's header dicts, tifffile's
tags, h5py) without decoding pixels. One function per header convention; each keeps only plausible values
(detector software writes 0 or a nominal default where it was not told) and names the keyword it used.

Axis conventions, checked on real frames where one was at hand (``/work/shared/reference/real-dev``):

- MarCCD: ``beam_x`` is along columns, ``beam_y`` along rows (pixels x 1000); pixel size in nm,
  distance in um, wavelength in fm. The spec ``dataset_comments`` (``lambda=``, ``energy=``) win over
  ``source_wavelength``, which marccd often leaves at its default 1.03318 A.
- Pilatus/Eiger mini-header (CBF, TIFF ImageDescription): ``Beam_xy (x, y)`` = (col, row).
- SAXSLAB/Xenocs TIFF (XML in the Artist tag): ``beamcenter_actual`` is "row col" (checked on the
  direct beam of unblocked GISAXS frames); ``sample_angle1`` is the incidence angle.
- EDF (ESRF SAXS keywords): ``Center_1``/``PSize_1`` along Dim_1 = columns, ``*_2`` along rows; metres.
- APS 12-ID NeXus metadata (``/entry/Metadata``): ``*_ccd_center_x_pixel`` is along rows,
  ``*_y_pixel`` along columns (checked by fitting the rings of both real frames).
- NeXus NXdetector: ``beam_center_x``/``x_pixel_size`` along columns (Eiger).
- Bruker: ``CENTER`` is (x, y) with y counted from the bottom row; pixel size from ``DETTYPE``'s pixels
  per cm at 512x512; ``DISTANC`` (cm) plus the grid distance (checked on a ring frame).
- ADSC SMV: ``BEAM_CENTER_X`` (mm) is along rows and ``BEAM_CENTER_Y`` along columns (the Mosflm frame,
  as DIALS/dxtbx read it).
- Oxford Diffraction: beam centre in unbinned pixels (checked against the beamstop of a binned frame).
- mar345, Rigaku R-AXIS: x along columns (not checked on an asymmetric frame).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from tui_tagger.core.regular import check_regular, open_regular

from .base import Geometry, plausible, wavelength_m

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _Found:
    """Collects (value, source) per Geometry field, keeping only plausible values; first found wins."""

    def __init__(self, label: str):
        self.label = label
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}
        self.shape = None
        self.detector = None

    def put(self, name: str, value, keyword: str, replace: bool = False) -> bool:
        if isinstance(value, list):
            value = tuple(value)
        if not plausible(name, value) or (name in self.values and not replace):
            return False
        self.values[name] = value
        self.sources[name] = f"{self.label} ({keyword})"
        return True

    def geometry(self) -> Geometry:
        return Geometry(**self.values, shape=self.shape, detector=self.detector, sources=self.sources)


def _numbers(value) -> list[float]:
    if value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        return [float(x) for x in _NUMBER.findall(str(value))]
    except ValueError:
        return []


def _first(value) -> float | None:
    nums = _numbers(value)
    return nums[0] if nums else None


def _nonzero(value) -> float | None:
    v = _first(value)
    return v if v else None


# ------------------------------------------------------------------------------------ header conventions


def pilatus(text: str, found: _Found) -> None:
    """The ``# Key value unit`` mini-header of Pilatus/Eiger CBF and TIFF files (SLS/Dectris convention)."""
    for raw in str(text).splitlines():
        line = raw.strip().lstrip("#").strip()
        if " " not in line:
            continue
        key, rest = line.split(" ", 1)
        key = key.rstrip(":").lower()
        if key == "detector":
            found.detector = found.detector or rest.split(",")[0].strip()[:80] or None
            continue
        nums = _numbers(rest)
        if not nums:
            continue
        if key == "pixel_size" and len(nums) >= 2:
            found.put("pixel_size_m", (nums[1], nums[0]), "Pixel_size")  # "x m x y m"
        elif key == "wavelength":
            found.put("wavelength_m", nums[0] * 1e-10, "Wavelength")
        elif key == "detector_distance":
            found.put("distance_m", nums[0], "Detector_distance")
        elif key == "beam_xy" and len(nums) >= 2:
            found.put("beam_center_px", (nums[1], nums[0]), "Beam_xy")
        elif key == "detector_2theta" and nums[0]:
            found.put("detector_2theta_deg", nums[0], "Detector_2theta")


def marccd(fields: dict, found: _Found) -> None:
    """The MarCCD frame header (fabio's layout of the C struct, as tui_tagger.core.formats.tiff reads it)."""

    def num(key):
        v = fields.get(key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) and v else None

    comments = fields.get("dataset_comments", b"")
    if isinstance(comments, bytes):
        comments = comments.split(b"\0", 1)[0].decode("latin-1")
    spec = dict(re.findall(r"(\w+)=([-+0-9.eE]+)", comments or ""))
    if _nonzero(spec.get("lambda")):
        found.put("wavelength_m", _first(spec["lambda"]) * 1e-10, "dataset_comments lambda=")
    if "energy" in spec and _nonzero(spec["energy"]):
        found.put("wavelength_m", wavelength_m(_first(spec["energy"])), "dataset_comments energy=")
    if num("source_wavelength"):
        found.put("wavelength_m", num("source_wavelength") * 1e-15, "source_wavelength")
    if num("pixelsize_x") and num("pixelsize_y"):
        found.put("pixel_size_m", (num("pixelsize_y") * 1e-9, num("pixelsize_x") * 1e-9), "pixelsize_x/y")
    for key in ("xtal_to_detector", "start_xtal_to_detector"):
        if num(key):
            found.put("distance_m", num(key) * 1e-6, key)
    if num("beam_x") or num("beam_y"):
        found.put("beam_center_px", ((fields.get("beam_y") or 0) / 1000.0, (fields.get("beam_x") or 0) / 1000.0),
                  "beam_x/beam_y")
    if num("start_twotheta"):
        found.put("detector_2theta_deg", num("start_twotheta") / 1000.0, "start_twotheta")
    if num("nslow") and num("nfast"):
        found.shape = (int(fields["nslow"]), int(fields["nfast"]))


def saxslab(xml: str, found: _Found) -> None:
    """SAXSLAB / Xenocs laboratory instruments: ``<param name="...">`` values in the TIFF Artist tag."""
    params = {m.group(1).lower(): m.group(2).strip()
              for m in re.finditer(r'<param\s+name="([^"]*)"\s*>([^<]*)</param>', xml)}
    if _nonzero(params.get("wavelength")):
        found.put("wavelength_m", _first(params["wavelength"]) * 1e-10, "wavelength")
    if _nonzero(params.get("detector_dist")):
        found.put("distance_m", _first(params["detector_dist"]) * 1e-3, "detector_dist")
    size = _numbers(params.get("pixelsize"))
    if len(size) >= 2:
        found.put("pixel_size_m", (size[0] * 1e-3, size[1] * 1e-3), "pixelsize")
    for key in ("beamcenter_actual", "beamcenter_nominal"):
        centre = _numbers(params.get(key))
        if len(centre) >= 2:
            found.put("beam_center_px", (centre[0], centre[1]), key)
    if params.get("sample_angle1", "") != "" and _first(params["sample_angle1"]) is not None:
        found.put("incidence_deg", _first(params["sample_angle1"]), "sample_angle1")
    if params.get("detectortype"):
        found.detector = params["detectortype"][:80]


def _lower(header: dict) -> dict[str, object]:
    return {str(k).strip().lower(): v for k, v in header.items()}


def edf(header: dict, found: _Found) -> None:
    h = _lower(header)
    c1, c2 = _first(h.get("center_1")), _first(h.get("center_2"))
    if c1 is not None and c2 is not None:
        found.put("beam_center_px", (c2, c1), "Center_1/Center_2")
    p1, p2 = _first(h.get("psize_1")), _first(h.get("psize_2"))
    if p1 and p2:
        found.put("pixel_size_m", (p2, p1), "PSize_1/PSize_2")
    if _nonzero(h.get("sampledistance")):
        found.put("distance_m", _first(h["sampledistance"]), "SampleDistance")
    if _nonzero(h.get("wavelength")):
        found.put("wavelength_m", _first(h["wavelength"]), "WaveLength")
    for key in ("detectormodel", "detector"):
        value = h.get(key)
        if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
            found.detector = value.strip()[:80]
            break


def mar345(header: dict, found: _Found) -> None:
    h = _lower(header)
    cx, cy = _first(h.get("center_x")), _first(h.get("center_y"))
    if cx is not None and cy is not None:
        found.put("beam_center_px", (cy, cx), "CENTER_X/CENTER_Y")
    px, py = _nonzero(h.get("pixel_length")), _nonzero(h.get("pixel_height"))
    if px and py:
        found.put("pixel_size_m", (py * 1e-6, px * 1e-6), "PIXEL_LENGTH/PIXEL_HEIGHT")
    if _nonzero(h.get("distance")):
        found.put("distance_m", _first(h["distance"]) * 1e-3, "DISTANCE")
    if _nonzero(h.get("wavelength")):
        found.put("wavelength_m", _first(h["wavelength"]) * 1e-10, "WAVELENGTH")
    if _nonzero(h.get("twotheta")):
        found.put("detector_2theta_deg", _first(h["twotheta"]), "TWOTHETA")


def bruker(header: dict, found: _Found) -> None:
    h = {str(k).strip().upper(): v for k, v in header.items()}
    nrows, ncols = _first(h.get("NROWS")), _first(h.get("NCOLS"))
    dettype = str(h.get("DETTYPE", ""))
    m = re.search(r"PIXPERCM:\s*([0-9.]+)", dettype)
    parts = dettype.split()
    pixpercm = float(m.group(1)) if m else (_first(parts[1]) if len(parts) > 1 else None)
    m = re.search(r"CMTOGRID:\s*([0-9.]+)", dettype)
    cmtogrid = float(m.group(1)) if m else (_first(parts[2]) if len(parts) > 2 else 0.0)
    if pixpercm and ncols and nrows:
        # pixels per cm of a 512x512 frame
        found.put("pixel_size_m", (0.01 / (pixpercm * nrows / 512), 0.01 / (pixpercm * ncols / 512)),
                  "DETTYPE pixels per cm")
    if _nonzero(h.get("DISTANC")):
        found.put("distance_m", (_first(h["DISTANC"]) + (cmtogrid or 0.0)) * 1e-2, "DISTANC + CMTOGRID")
    if _nonzero(h.get("WAVELEN")):
        found.put("wavelength_m", _first(h["WAVELEN"]) * 1e-10, "WAVELEN")
    centre = _numbers(h.get("CENTER"))[-2:]
    if len(centre) == 2 and nrows:
        found.put("beam_center_px", (nrows - centre[1], centre[0]), "CENTER")
    angles = _numbers(h.get("ANGLES"))
    if angles and angles[0]:
        found.put("detector_2theta_deg", angles[0], "ANGLES 2theta")
    if nrows and ncols:
        found.shape = (int(nrows), int(ncols))


def adsc(header: dict, found: _Found) -> None:
    h = {str(k).strip().upper(): v for k, v in header.items()}
    pixel = _nonzero(h.get("PIXEL_SIZE"))
    if pixel:
        found.put("pixel_size_m", (pixel * 1e-3, pixel * 1e-3), "PIXEL_SIZE")
        bx, by = _first(h.get("BEAM_CENTER_X")), _first(h.get("BEAM_CENTER_Y"))
        if bx is not None and by is not None:
            found.put("beam_center_px", (bx / pixel, by / pixel), "BEAM_CENTER_X/Y (mm)")
    if _nonzero(h.get("DISTANCE")):
        found.put("distance_m", _first(h["DISTANCE"]) * 1e-3, "DISTANCE")
    if _nonzero(h.get("WAVELENGTH")):
        found.put("wavelength_m", _first(h["WAVELENGTH"]) * 1e-10, "WAVELENGTH")
    if _nonzero(h.get("TWOTHETA")):
        found.put("detector_2theta_deg", _first(h["TWOTHETA"]), "TWOTHETA")
    rows, cols = _first(h.get("SIZE2")), _first(h.get("SIZE1"))
    if rows and cols:
        found.shape = (int(rows), int(cols))


def oxford(header: dict, found: _Found) -> None:
    """Oxford Diffraction / Agilent CrysAlis frames (fabio's OxdImage)."""
    h = header
    px, py = _nonzero(h.get("Real pixel size x (mm)")), _nonzero(h.get("Real pixel size y (mm)"))
    if px and py:
        found.put("pixel_size_m", (py * 1e-3, px * 1e-3), "Real pixel size")
    if _nonzero(h.get("Distance in mm")):
        found.put("distance_m", _first(h["Distance in mm"]) * 1e-3, "Distance in mm")
    if _nonzero(h.get("Wavelength alpha")):
        found.put("wavelength_m", _first(h["Wavelength alpha"]) * 1e-10, "Wavelength alpha")
    bx, by = _first(h.get("Beam center x")), _first(h.get("Beam center y"))
    binx, biny = _nonzero(h.get("Binning in x")) or 1, _nonzero(h.get("Binning in y")) or 1
    if bx is not None and by is not None:
        found.put("beam_center_px", (by / biny, bx / binx), "Beam center x/y (unbinned)")
    theta = _first(h.get("Theta start in deg"))
    if theta and abs(theta) > 1e-6:
        found.put("detector_2theta_deg", theta, "Theta start")
    if isinstance(h.get("Detector type"), str):
        found.detector = h["Detector type"].split("(")[0].strip()[:80] or None


def kcd(header: dict, found: _Found) -> None:
    """Nonius KappaCCD. Binned frames state the chip's unbinned pixel size: it is left out for them."""
    h = header
    binned = str(h.get("Mode", "")).strip().lower() == "binned"
    px, py = _nonzero(h.get("pixel X-size (um)")), _nonzero(h.get("pixel Y-size (um)"))
    if px and py and not binned:
        found.put("pixel_size_m", (py * 1e-6, px * 1e-6), "pixel X/Y-size")
    if _nonzero(h.get("Dx start")):
        found.put("distance_m", _first(h["Dx start"]) * 1e-3, "Dx start")
    if _nonzero(h.get("Alpha1")):
        found.put("wavelength_m", _first(h["Alpha1"]) * 1e-10, "Alpha1")
    theta = _first(h.get("Theta start"))
    if theta:
        found.put("detector_2theta_deg", theta, "Theta start")


def raxis(header: dict, found: _Found) -> None:
    h = header
    if _nonzero(h.get("Crystal-to-detector Distance")):
        found.put("distance_m", _first(h["Crystal-to-detector Distance"]) * 1e-3, "Crystal-to-detector Distance")
    if _nonzero(h.get("Wavelength")):
        found.put("wavelength_m", _first(h["Wavelength"]) * 1e-10, "Wavelength")
    px, py = _nonzero(h.get("X Pixel Length")), _nonzero(h.get("Y Pixel Length"))
    if px and py:
        found.put("pixel_size_m", (py * 1e-3, px * 1e-3), "X/Y Pixel Length")
    bx, by = _first(h.get("Direct beam X position")), _first(h.get("Direct beam Y position"))
    if bx is not None and by is not None and (bx or by):
        found.put("beam_center_px", (by, bx), "Direct beam X/Y position")


# tui_tagger.core.formats names of the formats fabio reads whose headers may hold geometry ("img" and "dtrek"
# cover ADSC SMV and Oxford Diffraction; fabio tells them apart)
FABIO_FORMATS = ("edf", "cbf", "mar345", "bruker", "bruker100", "img", "dtrek", "kcd", "raxis")

_FABIO = {
    "EdfImage": ("EDF header", edf),
    "Mar345Image": ("mar345 header", mar345),
    "BrukerImage": ("Bruker header", bruker),
    "Bruker100Image": ("Bruker header", bruker),
    "AdscImage": ("ADSC header", adsc),
    "OxdImage": ("Oxford Diffraction header", oxford),
    "KcdImage": ("KappaCCD header", kcd),
    "RaxisImage": ("R-AXIS header", raxis),
}


def from_fabio(path: Path) -> Geometry:
    import fabio

    check_regular(path)  # fabio opens by name: never hand it a FIFO
    img = fabio.openheader(str(path))
    name = type(img).__name__
    header = dict(img.header or {})
    label, parse = _FABIO.get(name, (None, None))
    if name in ("AdscImage", "DtrekImage") and "BEAM_CENTER_X" in header:  # fabio opens ADSC SMV as d*TREK
        label, parse = "ADSC header", adsc
    if name == "CbfImage" or "_array_data.header_contents" in header:
        found = _Found("CBF Pilatus header")
        contents = header.get("_array_data.header_contents")
        if isinstance(contents, str):
            pilatus(contents, found)
    elif parse is None:
        return Geometry()
    else:
        found = _Found(label)
        parse(header, found)
    try:
        shape = img.shape
    except Exception:
        shape = None
    if shape and found.shape is None:
        found.shape = (int(shape[-2]), int(shape[-1]))
    return found.geometry()


def _tiff_source(fh, max_bytes: int):
    """The open TIFF file, or the decompressed bytes of a .gz/.bz2 copy (bounded)."""
    import bz2
    import gzip
    import io

    magic = fh.read(4)
    fh.seek(0)
    opener = gzip.open if magic[:2] == b"\x1f\x8b" else bz2.open if magic[:3] == b"BZh" else None
    if opener is None:
        return fh
    with opener(fh, "rb") as z:
        data = z.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError("decompresses to too many bytes")
    return io.BytesIO(data)


def from_tiff(path: Path, max_pixels: int) -> Geometry:
    import tifffile

    with open_regular(path) as fh, tifffile.TiffFile(_tiff_source(fh, max_pixels * 16 + 2**20)) as tif:
        if not tif.pages:
            return Geometry()
        page = tif.pages[0]
        texts = []
        for tag in page.tags.values():
            if isinstance(tag.value, (str, bytes)):
                value = tag.value.decode("utf-8", "replace") if isinstance(tag.value, bytes) else tag.value
                texts.append((tag.name, value))
        shape = tuple(page.shape)
    found = _Found("SAXSLAB header")
    for _, text in texts:
        if "<SAXSLABparameters" in text or "<param name=" in text:
            saxslab(text, found)
    for name, text in texts:  # tifffile may write a second ImageDescription; a Pilatus writes one
        if name == "ImageDescription" and ("Pixel_size" in text or "Beam_xy" in text or "Wavelength" in text):
            found.label = "TIFF Pilatus header"
            pilatus(text, found)
    model = next((t for n, t in texts if n == "Model"), None)
    if found.detector is None and model and model.strip() != "Unknown":
        found.detector = model.strip()[:80]
    if len(shape) >= 2:
        found.shape = (int(shape[-2]), int(shape[-1]))
    return found.geometry()


def from_marccd(path: Path) -> Geometry:
    from tui_tagger.core.formats import base as fbase
    from tui_tagger.core.formats import tiff as ftiff

    fields = ftiff._mar_fields(fbase.read_head(path))
    found = _Found("MarCCD header")
    if fields:
        marccd(fields, found)
    return found.geometry()


# ---------------------------------------------------------------------------------------------------- HDF5

_LENGTH_M = {"m": 1.0, "meter": 1.0, "metre": 1.0, "meters": 1.0, "metres": 1.0, "mm": 1e-3, "millimeter": 1e-3,
             "millimetre": 1e-3, "cm": 1e-2, "um": 1e-6, "micron": 1e-6, "microns": 1e-6, "µm": 1e-6,
             "micrometer": 1e-6, "nm": 1e-9, "angstrom": 1e-10, "a": 1e-10, "å": 1e-10}
_ENERGY_KEV = {"kev": 1.0, "ev": 1e-3, "mev": 1e3}


def _h5_scalar(group, key):
    """(value, units) of a small numeric dataset (one value) under group, never through an external link."""
    import h5py

    try:
        link = group.get(key, getlink=True)
        if link is None or isinstance(link, h5py.ExternalLink):
            return None, None
        obj = group.get(key)
        if not isinstance(obj, h5py.Dataset) or obj.size != 1 or obj.dtype.kind not in "uif":
            return None, None
        value = float(obj[()].reshape(-1)[0]) if hasattr(obj[()], "reshape") else float(obj[()])
        units = obj.attrs.get("units")
        if isinstance(units, bytes):
            units = units.decode("utf-8", "replace")
        return (value if math.isfinite(value) else None), (str(units).strip() if units is not None else None)
    except Exception:
        return None, None


def _length_m(value, units, default: str) -> float | None:
    if value is None:
        return None
    scale = _LENGTH_M.get((units or default).strip().lower())
    return None if scale is None else value * scale


def _groups_of_class(parent, nx_class: str, depth: int = 2) -> list:
    import h5py

    out = []
    try:
        keys = list(parent.keys())
    except Exception:
        return out
    for key in keys[:200]:
        try:
            link = parent.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                continue
            obj = parent.get(key)
        except Exception:
            continue
        if not isinstance(obj, h5py.Group):
            continue
        cls = obj.attrs.get("NX_class", b"")
        cls = cls.decode("utf-8", "replace") if isinstance(cls, bytes) else str(cls)
        if cls == nx_class:
            out.append(obj)
        elif depth > 1:
            out += _groups_of_class(obj, nx_class, depth - 1)
    return out


def _pixels(value, units, pixel_m) -> float | None:
    """A NeXus beam-centre coordinate in pixels: Eiger writes pixels, NeXus itself asks for a length."""
    if value is None:
        return None
    unit = (units or "pixel").strip().lower()
    if unit in ("pixel", "pixels", "px"):
        return value
    scale = _LENGTH_M.get(unit)
    return value * scale / pixel_m if scale and pixel_m else None


def nexus(f, found: _Found) -> None:
    """NeXus NXdetector / NXbeam / NXmonochromator fields (Eiger masters, NXsas, Diamond, ...)."""
    entries = _groups_of_class(f, "NXentry", 1) or ([f["entry"]] if "entry" in f else [])
    for entry in entries[:1]:
        instruments = _groups_of_class(entry, "NXinstrument", 1)
        detectors = [d for inst in instruments for d in _groups_of_class(inst, "NXdetector", 1)]
        for det in detectors[:1]:
            px, pu = _h5_scalar(det, "x_pixel_size")
            py, qu = _h5_scalar(det, "y_pixel_size")
            from tui_tagger.core.formats.hdf5 import pixel_units

            px = _length_m(px, pixel_units(px, pu), "m") if px else None
            py = _length_m(py, pixel_units(py, qu), "m") if py else None
            if px and py:
                found.put("pixel_size_m", (py, px), "NXdetector x/y_pixel_size")
            for key in ("distance", "detector_distance"):
                value, units = _h5_scalar(det, key)
                if found.put("distance_m", _length_m(value, units, "m"), f"NXdetector {key}"):
                    break
            bx, bu = _h5_scalar(det, "beam_center_x")
            by, bv = _h5_scalar(det, "beam_center_y")
            col, row = _pixels(bx, bu, px), _pixels(by, bv, py)
            if col is not None and row is not None:
                found.put("beam_center_px", (row, col), "NXdetector beam_center_x/y")
            angle, _ = _h5_scalar(det, "polar_angle")
            if angle:
                found.put("detector_2theta_deg", angle, "NXdetector polar_angle")
        beams = [g for inst in instruments for g in _groups_of_class(inst, "NXbeam", 1)]
        beams += _groups_of_class(entry, "NXbeam", 1)
        monos = [g for inst in instruments for g in _groups_of_class(inst, "NXmonochromator", 1)]
        for group, label in [(g, "NXbeam") for g in beams] + [(g, "NXmonochromator") for g in monos]:
            for key in ("incident_wavelength", "wavelength"):
                value, units = _h5_scalar(group, key)
                if value and found.put("wavelength_m", _length_m(value, units, "angstrom"), f"{label} {key}"):
                    break
            for key in ("incident_energy", "energy"):
                value, units = _h5_scalar(group, key)
                scale = _ENERGY_KEV.get((units or "keV").strip().lower())
                if value and scale:
                    found.put("wavelength_m", wavelength_m(value * scale), f"{label} {key}")


def aps_metadata(f, found: _Found) -> None:
    """The APS 12-ID USAXS/SAXS/WAXS instrument's areaDetector attributes under /entry/Metadata: SDD (mm),
    wavelength (A), and pin_ccd_* (pinhole SAXS) or waxs_ccd_* (WAXS) centre and pixel size."""
    meta = f.get("entry/Metadata") if "entry" in f else None
    if meta is None or not hasattr(meta, "keys"):
        return
    label = found.label
    found.label = "APS 12-ID metadata"
    value, _ = _h5_scalar(meta, "SDD")
    if value:
        found.put("distance_m", value * 1e-3, "SDD")
    value, _ = _h5_scalar(meta, "wavelength")
    if value:
        found.put("wavelength_m", value * 1e-10, "wavelength")
    value, _ = _h5_scalar(meta, "monoE")
    if value:
        found.put("wavelength_m", wavelength_m(value), "monoE")
    prefixes = [p for p in ("pin_ccd", "waxs_ccd") if f"{p}_center_x_pixel" in meta]
    if len(prefixes) == 1:  # both: which camera took this frame is not written down
        p = prefixes[0]
        cx, _ = _h5_scalar(meta, f"{p}_center_x_pixel")
        cy, _ = _h5_scalar(meta, f"{p}_center_y_pixel")
        if cx is not None and cy is not None:
            found.put("beam_center_px", (cx, cy), f"{p}_center_x/y_pixel")
        sx, _ = _h5_scalar(meta, f"{p}_pixel_size_x")
        sy, _ = _h5_scalar(meta, f"{p}_pixel_size_y")
        if sx and sy:
            found.put("pixel_size_m", (sx * 1e-3, sy * 1e-3), f"{p}_pixel_size_x/y")
    found.label = label


def from_hdf5(path: Path) -> Geometry:
    import h5py

    found = _Found("NeXus")
    check_regular(path)  # h5py opens by name: never hand it a FIFO
    with h5py.File(path, "r") as f:
        aps_metadata(f, found)  # first: its values say which camera's, the NXdetector's here lack units
        nexus(f, found)
        try:
            from tui_tagger.core.formats import hdf5 as fhdf5
            from tui_tagger.core.formats.base import FrameRef

            stack = fhdf5._resolve(f, FrameRef(str(path), path))
            if len(stack.frame_shape) == 2:
                found.shape = tuple(int(d) for d in stack.frame_shape)
        except Exception:
            pass
    return found.geometry()
