"""pyFAI PONI calibration files (versions 1, 2, 2.1 and 3), read without pyFAI.

The format is pyFAI's documented text format: ``Key: value`` lines, ``#`` comments, keys case-insensitive,
the last occurrence wins. Version 1 gives the pixel sizes as ``PixelSize1``/``PixelSize2``; version 2 adds
``poni_version`` and ``Detector_config`` (JSON: ``pixel1``, ``pixel2``, ``max_shape``...); 2.1 puts the
detector ``orientation`` there; 3 adds ``Parallax``. Distances are in metres, angles in radians.

Reading it needs no pyFAI (whose import alone takes over a second). pyFAI is asked, when it is installed
(the ``physics`` extra), only for what the file does not say: the pixel size of a detector the file names
(``Detector: Pilatus1M``) without giving one.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tui_tagger.core.errors import FileProblem

MAX_BYTES = 1 << 20  # a PONI file is a few hundred bytes
SUPPORTED_VERSION = 3


class PoniError(FileProblem):
    """A PONI file that cannot be used: ``path[:line]: problem`` on one line."""


@dataclass(frozen=True)
class Poni:
    path: str
    version: float
    distance_m: float
    poni1_m: float
    poni2_m: float
    rotations_rad: tuple[float, float, float]
    wavelength_m: float | None = None
    pixel_size_m: tuple[float, float] | None = None  # (pixel1 = along rows, pixel2 = along columns)
    detector: str | None = None
    orientation: int | None = None
    max_shape: tuple[int, int] | None = None
    spline_file: str | None = None


def _read_text(path: Path) -> str:
    """The file's text; regular files only (a FIFO or device could block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise PoniError(path, "no such file") from None
    except IsADirectoryError:
        raise PoniError(path, "is a directory, not a PONI file") from None
    except PermissionError:
        raise PoniError(path, "permission denied") from None
    except OSError as err:
        raise PoniError(path, f"cannot read: {err.strerror or err}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise PoniError(path, "is a directory, not a PONI file")
        if not stat.S_ISREG(st.st_mode):
            raise PoniError(path, "not a regular file")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise PoniError(path, f"cannot read: {err.strerror or err}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_BYTES:
        raise PoniError(path, f"too large for a PONI file (more than {MAX_BYTES:,} bytes)")
    if b"\0" in data:
        raise PoniError(path, "not a PONI file (binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PoniError(path, "not a PONI file (not UTF-8 text)") from None


def _number(path, line: int, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PoniError(path, f"{key} is not a number: {text[:40]!r}", line) from None
    if not math.isfinite(value):
        raise PoniError(path, f"{key} is not a finite number: {text[:40]!r}", line)
    return value


def parse_poni(text: str, path: str | os.PathLike = "<poni>") -> Poni:
    """A PONI file's text -> Poni. Every problem is a PoniError naming the file (and the line)."""
    path = os.fspath(path)
    entries: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            raise PoniError(path, f"not a 'Key: value' line: {line[:40]!r}", number)
        key, value = (part.strip() for part in line.split(":", 1))
        entries[key.lower()] = (number, value)

    def get(key: str, required: bool = False) -> float | None:
        if key not in entries:
            if required:
                name = "Distance" if key == "dist" else key.capitalize()
                raise PoniError(path, f"no {name} (is this a PONI file?)")
            return None
        line, text_value = entries[key]
        if text_value.lower() in ("none", "null", ""):
            if required:
                raise PoniError(path, f"{key.capitalize()} has no value", line)
            return None
        return _number(path, line, key.capitalize(), text_value)

    version = 1.0
    if "poni_version" in entries:
        line, value = entries["poni_version"]
        version = _number(path, line, "poni_version", value)
        if version > SUPPORTED_VERSION:
            raise PoniError(path, f"PONI version {value} is newer than the versions read here (1-{SUPPORTED_VERSION})",
                            line)
    dist_key = "distance" if "distance" in entries else "dist"
    distance = get(dist_key, required=True)
    if distance <= 0:
        raise PoniError(path, f"Distance must be positive, not {distance:g}", entries[dist_key][0])
    poni1, poni2 = get("poni1", required=True), get("poni2", required=True)
    rotations = tuple(get(k) or 0.0 for k in ("rot1", "rot2", "rot3"))
    wavelength = get("wavelength")
    if wavelength is not None and not 1e-12 <= wavelength <= 1e-8:
        raise PoniError(path, f"Wavelength {wavelength:g} m is not an x-ray wavelength (metres expected)",
                        entries["wavelength"][0])

    detector = entries.get("detector", (0, ""))[1] or None
    pixel = (get("pixelsize1"), get("pixelsize2"))
    orientation = None
    max_shape = None
    spline = entries.get("splinefile", (0, ""))[1] or None
    if "detector_config" in entries:
        line, raw_config = entries["detector_config"]
        try:
            config = json.loads(raw_config) if raw_config else {}
        except ValueError:
            raise PoniError(path, "Detector_config is not valid JSON", line) from None
        if not isinstance(config, dict):
            raise PoniError(path, "Detector_config is not a JSON object", line)
        pixel = (_config_number(path, line, config, "pixel1") or pixel[0],
                 _config_number(path, line, config, "pixel2") or pixel[1])
        if config.get("orientation") is not None:
            orientation = config["orientation"]
            if not isinstance(orientation, int) or isinstance(orientation, bool) or not 0 <= orientation <= 4:
                raise PoniError(path, f"detector orientation {orientation!r} is not 0-4", line)
        shape = config.get("max_shape")
        if isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape):
            max_shape = (shape[0], shape[1])
        spline = config.get("splineFile") or config.get("splinefile") or spline
    for i, value in enumerate(pixel):
        if value is not None and not 1e-7 <= value <= 1e-2:
            raise PoniError(path, f"pixel size {value:g} m is not a detector pixel size (metres expected)")
    pixel_size = (pixel[0], pixel[1]) if pixel[0] and pixel[1] else None
    if spline and str(spline).lower() == "none":
        spline = None
    if detector and detector.lower() in ("none", "detector"):
        detector = None if detector.lower() == "none" else detector
    return Poni(path, version, distance, poni1, poni2, rotations, wavelength, pixel_size, detector, orientation,
                max_shape, spline)


def _config_number(path, line, config: dict, key: str) -> float | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PoniError(path, f"Detector_config {key} is not a number", line)
    return float(value)


def read_poni(path: str | os.PathLike) -> Poni:
    """Read and check a PONI file; pixel sizes of a named detector come from pyFAI when the file lacks them
    and pyFAI is installed."""
    poni = parse_poni(_read_text(Path(path)), path)
    if poni.pixel_size_m is None and poni.detector and poni.detector.lower() != "detector":
        return _with_pyfai_detector(poni)
    return poni


def _with_pyfai_detector(poni: Poni) -> Poni:
    try:
        from pyFAI.detectors import detector_factory  # optional: the `physics` extra
    except Exception:
        return poni
    try:
        det = detector_factory(poni.detector)
    except Exception:
        return poni
    pixel = (float(det.pixel1), float(det.pixel2)) if det.pixel1 and det.pixel2 else None
    shape = tuple(int(v) for v in det.max_shape) if getattr(det, "max_shape", None) else poni.max_shape
    return Poni(**{**poni.__dict__, "pixel_size_m": pixel, "max_shape": shape})


def poni_files(folder: str | os.PathLike, limit: int = 2) -> list[Path]:
    """The ``*.poni`` regular files in ``folder`` (at most ``limit``; unreadable folder: none)."""
    found: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(".poni") and entry.is_file():
                    found.append(Path(entry.path))
                    if len(found) >= limit:
                        break
    except OSError:
        return []
    return found


def find_poni(image: str | os.PathLike, cache: dict | None = None) -> Path | None:
    """The PONI file beside an image: the one ``*.poni`` regular file in its folder, or None when there is
    none or several (then only ``--poni`` says which). ``cache`` (folder -> result) saves rescanning a folder
    for each of its images."""
    folder = Path(os.fspath(image)).parent
    key = os.fspath(folder)
    if cache is not None and key in cache:
        return cache[key]
    found = poni_files(folder)
    result = found[0] if len(found) == 1 else None
    if cache is not None:
        cache[key] = result
    return result
