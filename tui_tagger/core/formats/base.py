"""What every reader shares: the Frame record, the format registry entry, frame-ref parsing, the size guard
and turning a decoded array into float32 data plus a validity mask."""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import logging
import math
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tui_tagger.core.errors import ImageReadError
from tui_tagger.core.regular import NotRegularFile, check_regular, open_regular, read_regular

HEAD_BYTES = 4096  # enough for every magic number and the EDF/CBF/MarCCD headers we sniff
DEFAULT_MAX_PIXELS = 2**28

# tifffile and fabio log problems (a short strip, an odd tag) as warnings; with no handler Python prints
# them on stderr, in the middle of `tui-tagger info` tables. Applications that configure logging still see them.
for _name in ("tifffile", "fabio", "h5py", "PIL"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


@dataclass
class Frame:
    """One detector frame: float32 pixels, a mask (True = valid pixel) and JSON-able metadata."""

    data: np.ndarray
    mask: np.ndarray
    format: str
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FrameRef:
    """A parsed image ref: ``file.h5::/entry/data/data#12`` -> path, dataset, index (both optional)."""

    text: str  # what the user gave; errors name it
    path: Path
    dataset: str | None = None
    index: int | None = None


@dataclass(frozen=True)
class ImageFormat:
    """A registry entry. ``sniff(head, name)`` says from the first bytes (and, for formats without a usable
    magic number, the lower-cased file name) whether the file is this format; ``read(ref, head, max_pixels)``
    decodes one frame; ``refs(path)`` lists one ref per frame of multi-frame containers."""

    name: str
    sniff: Callable[[bytes, str], bool]
    read: Callable[[FrameRef, bytes, int], Frame]
    extensions: tuple[str, ...] = ()
    refs: Callable[[Path], list[str]] | None = None
    magic: bool = True  # False: the bytes cannot prove the format, so a name match is enough
    # one_frame(head, path, file_size): True when the first bytes (at most a few more) prove the file holds a
    # single frame, so that listing a folder never runs a decoder just to count; False: ask refs().
    # Called only for uncompressed files (file_size is then the size of what the head starts).
    one_frame: Callable[[bytes, Path, int], bool] | None = None


def always_one(head: bytes, path: Path, size: int) -> bool:
    """one_frame for formats that hold a single frame by construction (CBF, PNG, JPEG...)."""
    return True


_INDEX = re.compile(r"#(-?\d+)$")


def numbered_refs(count: Callable[[Path], int]) -> Callable[[Path], list[str]]:
    """refs() for formats whose frames are numbered within the file (multi-page TIFF, multi-frame EDF)."""

    def refs(path: Path) -> list[str]:
        n = count(path)
        return [str(path)] if n <= 1 else [f"{path}#{i}" for i in range(n)]

    return refs


def parse_ref(ref: str | os.PathLike) -> FrameRef:
    """Split ``file.h5::/dataset#12``. A path that exists as written wins, so names holding '#' or '::' work."""
    text = os.fspath(ref)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    rest, dataset, index = text, None, None
    if not os.path.lexists(rest):
        m = _INDEX.search(rest)
        if m and rest[: m.start()]:
            rest, index = rest[: m.start()], int(m.group(1))
        if "::" in rest and not os.path.lexists(rest):
            rest, dataset = rest.split("::", 1)
            dataset = "/" + dataset.strip("/") if dataset.strip("/") else None
    return FrameRef(text, Path(rest), dataset, index)


def fail(ref: FrameRef | str | os.PathLike, problem: str) -> ImageReadError:
    return ImageReadError(ref.text if isinstance(ref, FrameRef) else ref, problem)


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    """The first n bytes of a regular file, decompressed when it is gzip/bzip2 (fabio reads .edf.gz, .cbf.gz).
    Never opens FIFOs or devices, which could block forever."""
    return read_head_info(path, n)[0]


def read_head_info(path: Path, n: int = HEAD_BYTES) -> tuple[bytes, int, bool]:
    """(head as read_head gives it, file size, whether the file is gzip/bzip2-compressed)."""
    # read_regular: opening a FIFO never waits for a writer; fstat then refuses it (one path lookup, not two);
    # plain os reads, no file object (a folder scan sniffs every file: this is most of its time)
    head, st = read_regular(path, n - 1)
    size = st.st_size
    opener = compressed_opener(head)
    if opener is None:
        return head, size, False
    with open_regular(path) as fh:
        try:
            with opener(fh) as z:
                head = z.read(n)
        except (OSError, EOFError, ValueError, zlib.error):  # zlib.error: a damaged deflate block
            return head, size, False  # corrupt stream: keep the raw bytes; the reader reports it
    return head, size, True


def compressed_opener(head: bytes):
    """A function opening a gzip/bzip2 stream (a path or a binary file object) when head starts one."""
    if head[:2] == b"\x1f\x8b":
        return lambda p: gzip.open(p, "rb")
    if head[:3] == b"BZh":
        return lambda p: bz2.open(p, "rb")
    return None


@contextlib.contextmanager
def open_source(ref: FrameRef, max_pixels: int):
    """The file behind ref opened for reading (a regular file only: never a FIFO or device), or for a
    .gz/.bz2 copy its decompressed bytes (bounded, so a bomb cannot fill memory). Closed on exit."""
    with open_regular(ref.path) as fh:
        opener = compressed_opener(fh.read(4))
        fh.seek(0)
        if opener is None:
            yield fh
            return
        limit = max_pixels * 16 + 2**20
        with opener(fh) as z:
            data = z.read(limit + 1)
    if len(data) > limit:
        raise fail(ref, f"decompresses to more than {limit:,} bytes")
    yield io.BytesIO(data)


def checked_path(ref: FrameRef) -> str:
    """ref's path for a library that opens files by name (fabio, h5py), once it is known to be a regular
    file: such a library would wait forever on a FIFO."""
    try:
        check_regular(ref.path)
    except OSError as err:
        raise open_error(ref, err) from None
    return str(ref.path)


def open_error(ref: FrameRef, err: OSError) -> ImageReadError:
    """The one-line ImageReadError for an OSError met opening the file behind ref."""
    if isinstance(err, NotRegularFile):
        return fail(ref, err.strerror)
    if isinstance(err, FileNotFoundError):
        return fail(ref, "no such file")
    if isinstance(err, IsADirectoryError):
        return fail(ref, "is a directory, not an image file")
    if isinstance(err, PermissionError):
        return fail(ref, "permission denied")
    return fail(ref, f"cannot read: {err.strerror or err}")


def open_checked(ref: FrameRef) -> bytes:
    """The head of the file behind ref, or an ImageReadError saying why there is none."""
    try:
        head = read_head(ref.path)
    except OSError as err:
        raise open_error(ref, err) from None
    if not head:
        raise fail(ref, "empty file (0 bytes)")
    return head


def describe_head(head: bytes) -> str:
    """A few words on what a file that is not an image is, for error messages. Never any of its bytes: the
    file may be anything a link points at (/etc/passwd named x.tif)."""
    try:  # incremental: a multi-byte character cut at the end of the sample is still text
        text = codecs.getincrementaldecoder("utf-8")().decode(head[:512], final=False)
    except UnicodeDecodeError:
        text = None
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "it holds text, not image data"
    return "unknown magic bytes"


def decoder_problem(err: Exception, fmt: str) -> str:
    """A decoder's complaint about a corrupt file in words for a user. A library's internal errors
    (an assert, a missing header key, None where a block was expected) say nothing to a beamline user:
    they become "truncated or corrupt"."""
    if isinstance(err, AssertionError):
        return f"truncated or corrupt {fmt} file (the pixel data does not match the size its header declares)"
    if isinstance(err, KeyError):
        key = " ".join(str(err.args[0] if err.args else "").split())[:40]
        return f"corrupt {fmt} file (its header lacks {key!r})" if key else f"corrupt {fmt} file (incomplete header)"
    if isinstance(err, (AttributeError, TypeError, IndexError, ZeroDivisionError, UnboundLocalError)):
        return f"truncated or corrupt {fmt} file (its structure is not what the format requires)"
    text = " ".join(str(err).split())
    if isinstance(err, ValueError) and text.startswith(("invalid literal for", "could not convert")):
        return f"corrupt {fmt} file (a header value that should be a number is not one)"
    return f"corrupt or unreadable {fmt} file ({text[:200] or type(err).__name__})"


def check_size(ref: FrameRef, shape, max_pixels: int) -> None:
    """Refuse absurd declared shapes before decoding (a corrupt header must not allocate gigabytes)."""
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise fail(ref, f"declares a negative image size {format_shape(dims)}")
    pixels = math.prod(dims)
    if pixels > max_pixels:
        raise fail(ref, f"declares {format_shape(dims)} pixels ({pixels:,}), more than the limit of {max_pixels:,}")


def format_shape(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def check_index(ref: FrameRef, count: int) -> int:
    """The frame index asked for (default 0; negative counts from the end), checked against count."""
    index = 0 if ref.index is None else ref.index
    if not -count <= index < count:
        have = "1 frame (index 0)" if count == 1 else f"{count} frames (0-{count - 1})"
        raise fail(ref, f"frame {index} out of range: the file has {have}")
    return index % count


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_grey(raw: np.ndarray) -> np.ndarray:
    """(H, W, 3|4) or planar (3|4, H, W) colour -> luminance; other arrays unchanged."""
    if raw.ndim == 3 and raw.shape[-1] in (3, 4):
        return raw[..., :3].astype(np.float32) @ _LUMA
    if raw.ndim == 3 and raw.shape[0] in (3, 4):
        return np.tensordot(_LUMA, raw[:3].astype(np.float32), axes=1)
    return raw


def make_frame(
    ref: FrameRef,
    raw: np.ndarray,
    fmt: str,
    meta: dict[str, object] | None = None,
    *,
    flag_max: bool | None = None,
    saturation: float | None = None,
    invalid: np.ndarray | None = None,
) -> Frame:
    """Decoded pixels -> Frame. The mask drops NaN/inf, negative values of signed integer data (Pilatus/Eiger
    gaps -1, bad pixels -2), the largest value of unsigned data where it is a flag (flag_max; by default for
    32/64-bit data only: 16-bit 65535 is a saturated but real pixel) and the pixels set in ``invalid``."""
    raw = np.asarray(raw)
    meta = dict(meta or {})
    meta.setdefault("dtype", str(raw.dtype))
    meta.setdefault("shape", [int(d) for d in raw.shape])
    if raw.dtype.kind not in "uifb":
        raise fail(ref, f"holds {raw.dtype} values, not numeric pixels")
    colour = raw.ndim == 3 and (raw.shape[-1] in (3, 4) or raw.shape[0] in (3, 4))
    if not colour and raw.ndim > 2 and math.prod(raw.shape[:-2]) == 1:
        raw = raw.reshape(raw.shape[-2:])  # (1, H, W) single-frame stacks
    if raw.ndim != 2 and not colour:
        raise fail(ref, f"holds a {raw.ndim}-D array of shape {format_shape(raw.shape)}, not a 2-D image")
    if raw.size == 0:
        raise fail(ref, f"has no pixels (shape {format_shape(raw.shape)})")
    if not colour and min(raw.shape) == 1:  # a single row or column is a profile, not an image
        rows, cols = raw.shape
        if rows == cols == 1:
            raise fail(ref, "holds a single pixel (shape 1x1), not an image")
        line = f"a single row of {cols} pixels" if rows == 1 else f"a single column of {rows} pixels"
        raise fail(ref, f"holds {line} (1-D data, shape {format_shape(raw.shape)}), not a 2-D image")
    if colour:
        meta["colour"] = True
        data = to_grey(raw)
        mask = np.ones(data.shape, dtype=bool)
    else:
        data = raw.astype(np.float32, copy=False)
        if raw.dtype.kind == "f":
            mask = np.isfinite(raw)
            if raw.dtype != np.float32:  # values beyond float32 become inf
                mask &= np.isfinite(data)
        elif raw.dtype.kind == "i":
            mask = raw >= 0
        else:
            mask = np.ones(raw.shape, dtype=bool)
            if raw.dtype.kind == "u":
                top = np.iinfo(raw.dtype).max
                if flag_max is None:
                    flag_max = raw.dtype.itemsize >= 4
                if flag_max:
                    mask &= raw != top
                else:
                    sat = top if saturation is None else saturation
                    meta["saturated_fraction"] = float(np.count_nonzero(raw >= sat)) / raw.size
        if saturation is not None and "saturated_fraction" not in meta:
            meta["saturated_fraction"] = float(np.count_nonzero(raw >= saturation)) / raw.size
    if invalid is not None and invalid.shape == mask.shape:
        mask &= ~invalid
    if not data.flags.writeable:  # memory-mapped or library-owned buffers: callers may edit frame.data
        data = data.copy()
    meta["masked_fraction"] = (mask.size - int(np.count_nonzero(mask))) / mask.size
    return Frame(np.ascontiguousarray(data, dtype=np.float32), mask, fmt, meta)


def json_value(value):
    """Header values -> JSON-able (numpy scalars and bytes show up in every format's headers)."""
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.size <= 16 else None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return value.strip()[:500]
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)[:500]


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_pilatus_header(text: str) -> dict[str, object]:
    """The '# Key value unit' mini-header of Pilatus/Eiger CBF and TIFF files -> a few well-known values."""
    out: dict[str, object] = {}
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        low = line.lower()
        nums = [float(x) for x in _NUMBER.findall(line.split(" ", 1)[1])] if " " in line else []
        if not nums:
            continue
        if low.startswith("exposure_time"):
            out["exposure_time_s"] = nums[0]
        elif low.startswith("beam_xy") and len(nums) >= 2:
            out["beam_center_px"] = [nums[0], nums[1]]
        elif low.startswith("wavelength"):
            out["wavelength_A"] = nums[0]
        elif low.startswith("detector_distance"):
            out["distance_mm"] = nums[0] * 1000.0  # Pilatus writes metres
        elif low.startswith("pixel_size"):
            out["pixel_size_mm"] = nums[0] * 1000.0
    return out
