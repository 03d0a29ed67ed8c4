"""Detector image readers. ``read_image(ref)`` sniffs the format from the file's first bytes (then its name: real
MarCCD frames have no extension), decodes one frame with the field's library and returns a ``Frame`` (float32
data, validity mask, metadata). Every problem is an ``ImageReadError`` naming the file."""

from __future__ import annotations

import os
from pathlib import Path

from tui_tagger.core.errors import ImageReadError
from tui_tagger.core.regular import NotRegularFile

from . import fabio_formats, hdf5, pillow, tiff
from .base import (
    DEFAULT_MAX_PIXELS,
    Frame,
    FrameRef,
    ImageFormat,
    compressed_opener,
    decoder_problem,
    describe_head,
    fail,
    open_checked,
    open_error,
    parse_ref,
    read_head,
    read_head_info,
)

__all__ = ["FORMATS", "Frame", "FrameRef", "ImageFormat", "frame_refs", "parse_ref", "probe", "probe_problem", "read_image", "sniff"]

# Order matters: MarCCD is a TIFF with a Mar header, so it is tried before plain TIFF.
FORMATS: list[ImageFormat] = [
    ImageFormat("marccd", tiff.sniff_marccd, tiff.read_marccd, ("mccd",), tiff.refs_tiff, one_frame=tiff.one_page),
    ImageFormat("tiff", tiff.sniff_tiff, tiff.read_tiff, ("tif", "tiff"), tiff.refs_tiff, one_frame=tiff.one_page),
    ImageFormat("hdf5", hdf5.sniff_hdf5, hdf5.read_hdf5, ("h5", "hdf5", "hdf", "nxs", "nx5", "cxi"), hdf5.refs_hdf5),
    *fabio_formats.formats(),
    *pillow.formats(),
]

_COMPRESSED = (".gz", ".bz2")


def _detect(head: bytes, name: str) -> tuple[ImageFormat | None, bool]:
    """(format, chosen by name only). The bytes win over the name: a PNG named .tif is read as a PNG."""
    name = name.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    for fmt in FORMATS:
        if fmt.magic and fmt.sniff(head, name):
            return fmt, False
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    for fmt in FORMATS:
        if ext and ext in fmt.extensions:
            return fmt, True
    return None, False


def _not_that_format(fmt: ImageFormat, head: bytes) -> str:
    """Why a file named like a format with a magic number is not read as one."""
    if compressed_opener(head) is not None:  # read_head kept the raw bytes: the stream's start is broken
        kind = "gzip" if head[:2] == b"\x1f\x8b" else "bzip2"
        return f"corrupt or truncated {kind} file: its start does not decompress"
    return f"named like a {fmt.name.upper()} file but is not one ({describe_head(head)})"


def sniff(path: str | os.PathLike) -> str | None:
    """The format name of a file from its first bytes (then its name), or None. Never raises."""
    try:
        path = parse_ref(path).path
        fmt, _ = _detect(read_head(path), path.name)
    except PermissionError:  # named like an image but unreadable: kept, so that its read says why
        fmt, _ = _detect(b"", path.name)
    except Exception:
        return None
    return fmt.name if fmt else None


def read_image(ref: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Frame:
    """One frame of ``ref`` (``file``, ``file#3``, ``file.h5::/entry/data/data#12``) as a Frame."""
    r = parse_ref(ref)
    head = open_checked(r)
    fmt, by_name = _detect(head, r.path.name)
    if fmt is None:
        raise fail(r, f"not an image format tui-tagger reads ({describe_head(head)})")
    if by_name and fmt.magic:
        raise fail(r, _not_that_format(fmt, head))
    if r.dataset and fmt.name != "hdf5":
        raise fail(r, f"'::{r.dataset}' names an HDF5 dataset, but this is a {fmt.name} file")
    try:
        return fmt.read(r, head, max_pixels)
    except ImageReadError:
        raise
    except MemoryError:
        raise fail(r, "not enough memory to decode this image") from None
    except RecursionError:
        raise fail(r, f"corrupt {fmt.name} file (endless structure)") from None
    except Exception as err:  # a decoder's own complaint about a corrupt file
        raise fail(r, decoder_problem(err, fmt.name)) from None


def frame_refs(path: str | os.PathLike) -> list[str]:
    """One ref per frame for multi-frame containers, ``[str(path)]`` otherwise (and for unreadable files,
    whose error read_image reports)."""
    return probe(path)[1] or [str(path)]


def probe(path: str | os.PathLike) -> tuple[str | None, list[str]]:
    """(format name, frame refs) from one read of the file's first bytes: what listing a folder needs.
    Single-frame files are never handed to a decoder (a TIFF's first IFD link or an EDF's declared size
    proves it); only containers and possible stacks are opened to count frames. Never raises:
    ``(None, [])`` for files that are not images we read, ``[str(path)]`` when the count fails."""
    fmt, refs, _ = probe_problem(path)
    return fmt, refs


def probe_problem(path: str | os.PathLike) -> tuple[str | None, list[str], str | None]:
    """``probe`` plus what the first bytes alone prove wrong (the one-line message ``read_image`` would
    give): an empty file, one named like a format with a magic number whose bytes are not that format, or a
    FIFO, device or socket named like an image (listed with "not a regular file (a FIFO)", never read: a
    read could wait forever).
    None when nothing is known to be wrong (a truncated or corrupt body shows only when it is decoded)."""
    p = os.fspath(path)  # a folder scan probes every file: no Path object each (a tenth of a cold scan)
    name = os.path.basename(p)
    try:
        head, size, compressed = read_head_info(p)
        fmt, by_name = _detect(head, name)
    except (NotRegularFile, PermissionError) as err:  # a FIFO, device or unreadable file named like an
        fmt, _ = _detect(b"", name)                     # image: listed as bad, never silently left out
        return (fmt.name, [str(path)], str(open_error(str(path), err))) if fmt else (None, [], None)
    except Exception:
        return None, [], None
    if fmt is None:
        return None, [], None
    single = [str(path)]
    if size == 0:
        return fmt.name, single, str(fail(str(path), "empty file (0 bytes)"))
    if by_name and fmt.magic:
        return fmt.name, single, str(fail(str(path), _not_that_format(fmt, head)))
    if fmt.refs is None or by_name:
        return fmt.name, single, None
    try:
        if not compressed and fmt.one_frame is not None and fmt.one_frame(head, p, size):
            return fmt.name, single, None
        return fmt.name, fmt.refs(Path(p)), None
    except Exception:  # a corrupt file: read_image says what is wrong with it
        return fmt.name, single, None
