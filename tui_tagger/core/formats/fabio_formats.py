"""EDF, CBF and the other detector formats fabio reads (Bruker, ADSC/d*TREK, Mar345, Rigaku, Esperanto, fit2d,
numpy, ...). fabio also unpacks .gz/.bz2 copies itself. Shapes come from the header before any pixel is decoded."""

from __future__ import annotations

import re
from pathlib import Path

from tui_tagger.core.errors import ImageReadError

from .base import (
    FrameRef,
    ImageFormat,
    always_one,
    check_index,
    checked_path,
    check_size,
    decoder_problem,
    describe_head,
    fail,
    json_value,
    make_frame,
    numbered_refs,
    open_error,
    open_source,
    parse_pilatus_header,
)


def sniff_edf(head: bytes, name: str) -> bool:
    """'{' then 'key = value ;' lines; Dim_1 is in every EDF header (JSON files also start with '{')."""
    start = head.lstrip(b"\r\n")
    return start[:1] == b"{" and b"Dim_1" in head[:8192] and not start.startswith(b"{\nHEADER_BYTES")


def sniff_cbf(head: bytes, name: str) -> bool:
    return head.startswith((b"###CBF", b"###_CBF")) or b"_array_data.data" in head


# Formats with a trustworthy magic string, then those fabio can only recognise by name (their magic
# numbers, such as '<' or 'No', would claim XML and text files).
OTHER_MAGIC = {
    "bruker100": (b"FORMAT :100",),
    "bruker": (b"FORMAT :",),
    "dtrek": (b"{\nHEADER_BYTES", b"{\r\nHEADER_BYTES"),
    "raxis": (b"R-AXIS",),
    "esperanto": (b"ESPERANTO FORMAT",),
    "fit2d": (b"\\$FFF_START",),
    "numpy": (b"\x93NUMPY",),
    "fit2dmask": (b"M\x00\x00\x00A\x00\x00\x00S\x00\x00\x00K\x00\x00\x00",),
}
# of the formats above, those whose files can hold several frames: fabio counts them
MAY_BE_STACKS = {"numpy"}
OTHER_EXTENSIONS = {
    "mar345": ("mar2300", "mar1200", "mar1600", "mar2000", "mar3450", "mar3000", "mar2400", "mar1800", "mar345"),
    "bruker100": ("sfrm",),
    "img": ("img",),  # ADSC, d*TREK, Oxford, HiPiC and Rigaku all use .img; fabio tells them apart
    "kcd": ("kcd", "kccd"),
    "dm3": ("dm3",),
    "spe": ("spe",),
    "mrc": ("mrc",),
    "pnm": ("pnm", "pgm", "pbm"),
    "fit2d": ("f2d",),
    "fit2dmask": ("msk",),
    "numpy": ("npy",),
    "ge": ("ge", "ge1", "ge2", "ge3", "ge4", "ge5"),
    "esperanto": ("esperanto", "esper"),
    "mpa": ("mpa",),
}


def _shape_from_header(ref: FrameRef):
    """Declared (rows, cols) without decoding, for formats whose fabio class parses the header alone."""
    import fabio

    try:
        img = fabio.openheader(checked_path(ref))
    except ImageReadError:
        raise
    except Exception:
        return None  # the full read reports the problem
    shape = getattr(img, "shape", None)
    return tuple(shape) if shape else None


def _header_meta(header: dict) -> dict[str, object]:
    """Well-known header values in plain units (EDF from ESRF beamlines, Pilatus mini-header in CBF)."""
    low = {str(k).lower(): v for k, v in header.items()}
    out: dict[str, object] = {}

    def num(*keys):
        for key in keys:
            try:
                return float(str(low[key]).split()[0])
            except (KeyError, ValueError, IndexError):
                continue
        return None

    exposure = num("exposuretime", "exposure_time", "count_time", "acq_expo_time", "exposure")
    if exposure is not None:
        out["exposure_time_s"] = exposure
    cx, cy = num("center_1"), num("center_2")
    if cx is not None and cy is not None:
        out["beam_center_px"] = [cx, cy]
    for key, target, scale in (("sampledistance", "distance_mm", 1e3), ("wavelength", "wavelength_A", 1e10),
                               ("psize_1", "pixel_size_mm", 1e3)):
        value = num(key)
        if value is not None:
            # EDF SAXS keywords are in metres; a mar345 header's "Wavelength" is already in A (1.08, not 1.08e-10)
            out[target] = value * scale if target != "wavelength_A" or value < 1e-6 else value
    contents = low.get("_array_data.header_contents")
    if isinstance(contents, str):
        out.update(parse_pilatus_header(contents))
    out["header"] = {str(k): json_value(v) for k, v in list(header.items())[:200]}
    return out


# A CBF's pixels follow "--CIF-BINARY-FORMAT-SECTION--", its MIME header, then these four bytes. fabio
# reads on until it finds them: past the end of a file that lacks them, forever (fabio 2024-2026).
CBF_SECTION = b"--CIF-BINARY-FORMAT-SECTION--"
CBF_START = b"\x0c\x1a\x04\xd5"


def check_cbf(ref: FrameRef, head: bytes, max_pixels: int) -> None:
    """Refuse a CBF without a binary section, or whose binary section never reaches the pixel data
    (a truncated file, a header alone), before fabio loops on it."""
    cut = head.find(CBF_SECTION)
    if cut >= 0 and CBF_START in head[cut + len(CBF_SECTION):]:
        return  # the usual case: both within the first few KiB
    found, tail = False, b""
    try:
        with open_source(ref, max_pixels) as src:
            while True:
                chunk = src.read(1 << 16)
                if not chunk:
                    break
                buf = tail + chunk
                if not found:
                    cut = buf.find(CBF_SECTION)
                    if cut >= 0:
                        found, buf = True, buf[cut + len(CBF_SECTION):]
                if found and CBF_START in buf:
                    return
                tail = buf[-len(CBF_SECTION):]
    except OSError as err:
        raise open_error(ref, err) from None
    if not found:
        raise fail(ref, "truncated or corrupt CBF file: it has no binary data section (no pixels)")
    raise fail(ref, "truncated CBF file: the binary data section ends before its pixel data starts")


def read_fabio(ref: FrameRef, head: bytes, max_pixels: int, name: str | None = None):
    import fabio

    if name == "cbf":
        check_cbf(ref, head, max_pixels)
    shape = _shape_from_header(ref)
    if shape:
        check_size(ref, shape, max_pixels)
    try:
        img = fabio.open(checked_path(ref))
        count = max(int(getattr(img, "nframes", 1) or 1), 1)
        index = check_index(ref, count)
        frames = getattr(img, "_frames", None)  # EDF: fabio pads a short data block with zeros; we refuse it
        if frames and index < len(frames) and getattr(frames[index], "incomplete_data", False):
            raise fail(ref, f"truncated EDF file: frame {index} is shorter than its header declares"
                            f" ({getattr(frames[index], 'size', '?')} bytes)")
        if index:
            img = img.getframe(index)
        raw = img.data
        header = dict(img.header or {})
    except (MemoryError, OverflowError):
        raise fail(ref, "declares an image too large to decode") from None
    except ImageReadError:
        raise
    except Exception as err:
        raise fail(ref, decoder_problem(err, name.upper() if name else "image")) from None
    if raw is None:
        raise fail(ref, f"no image data found ({describe_head(head)})")
    if not shape:
        check_size(ref, raw.shape, max_pixels)  # header gave no shape: refuse the result all the same
    fmt = name or type(img).__name__.lower().removesuffix("image")
    meta = _header_meta(header)
    meta.update({"frames": count, "frame": index})
    return make_frame(ref, raw, fmt, meta)


_EDF_SIZE = re.compile(rb"^\s*(\w+)\s*=\s*([^;]*?)\s*;", re.MULTILINE)
_EDF_BYTES = {"unsignedbyte": 1, "signedbyte": 1, "unsigned8": 1, "signed8": 1, "unsignedshort": 2,
              "signedshort": 2, "unsigned16": 2, "signed16": 2, "unsignedinteger": 4, "signedinteger": 4,
              "unsignedlong": 4, "signedlong": 4, "unsigned32": 4, "signed32": 4, "float": 4, "floatvalue": 4,
              "real": 4, "float32": 4, "doublevalue": 8, "double": 8, "float64": 8, "unsigned64": 8, "signed64": 8}


def edf_one_frame(head: bytes, path: Path, size: int) -> bool:
    """An EDF file holds one frame when it is no larger than its first header plus the data that header
    declares (Size, else Dim_1 x Dim_2 x the DataType's width). Headers are counted only beyond that."""
    end = head.find(b"}")
    if end < 0:
        return False
    nl = head.find(b"\n", end)
    header_len = (nl + 1) if nl >= 0 else end + 1
    keys = {k.lower(): v for k, v in _EDF_SIZE.findall(head[:end])}
    try:
        if b"size" in keys:
            data = int(keys[b"size"])
        else:
            width = _EDF_BYTES[keys[b"datatype"].decode("ascii", "replace").lower()]
            data = int(keys[b"dim_1"]) * int(keys.get(b"dim_2", b"1")) * width
    except (KeyError, ValueError):
        return False
    # a second frame needs at least another header ('{...}', 512-byte blocks in practice)
    return size < header_len + data + 64


@numbered_refs
def _refs(path: Path) -> int:
    import fabio

    with fabio.open(checked_path(FrameRef(str(path), Path(path)))) as img:
        return max(int(getattr(img, "nframes", 1) or 1), 1)


def _starts(magics):
    return lambda head, name: head.startswith(magics)


def _named(exts):
    return lambda head, name: name.rsplit(".", 1)[-1] in exts if "." in name else False


def formats() -> list[ImageFormat]:
    def reader(name):
        return lambda ref, head, max_pixels: read_fabio(ref, head, max_pixels, name)

    out = [
        ImageFormat("edf", sniff_edf, reader("edf"), ("edf", "cor"), _refs, one_frame=edf_one_frame),
        ImageFormat("cbf", sniff_cbf, reader("cbf"), ("cbf",), _refs, one_frame=always_one),
    ]
    for name, magics in OTHER_MAGIC.items():
        one = None if name in MAY_BE_STACKS else always_one
        out.append(ImageFormat(name, _starts(magics), reader(name), OTHER_EXTENSIONS.get(name, ()), _refs,
                               one_frame=one))
    for name, exts in OTHER_EXTENSIONS.items():
        if name not in OTHER_MAGIC:  # weak or no magic: the name decides, fabio checks the bytes
            out.append(ImageFormat(name, _named(exts), reader(None), exts, _refs, magic=False))
    return out
