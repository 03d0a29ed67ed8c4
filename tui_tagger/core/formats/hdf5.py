"""HDF5 / NeXus frames with h5py (hdf5plugin registers bitshuffle-LZ4, LZ4, Blosc... filters): single images,
stacks (``file.h5::/entry/data/data#12``) and Eiger master files whose /entry/data/data_000001... are external
links to data files, read as one stack. The NeXus detector's pixel_mask joins the validity mask."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from tui_tagger.core.errors import ImageReadError
from tui_tagger.core.regular import NotRegularFile, check_regular

from .base import FrameRef, check_index, check_size, checked_path, fail, json_value, make_frame

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_EIGER_PART = re.compile(r"^data_\d+$")


def sniff_hdf5(head: bytes, name: str) -> bool:
    # the superblock may follow a user block of 512, 1024, 2048... bytes
    return any(head[off : off + 8] == HDF5_MAGIC for off in (0, 512, 1024, 2048))


def _h5py():
    import h5py
    import hdf5plugin  # noqa: F401  (registers the compression filters detector data use)

    return h5py


class _Stack:
    """One or more datasets (Eiger data_000001, data_000002...) seen as one sequence of 2-D frames."""

    def __init__(self, name: str, parts: list):
        self.name = name
        self.parts = parts
        shapes = [p.shape for p in parts]
        self.frame_shape = tuple(shapes[0][-2:]) if shapes[0] else ()
        self.counts = [math.prod(s[:-2]) if len(s) > 2 else 1 for s in shapes]
        self.count = sum(self.counts)
        self.dtype = parts[0].dtype

    def frame(self, index: int) -> np.ndarray:
        for part, n in zip(self.parts, self.counts):
            if index < n:
                if part.ndim <= 2:
                    return part[()]
                return part[np.unravel_index(index, part.shape[:-2])]
            index -= n
        raise IndexError(index)


def _open_error(f, path: str, ref: FrameRef, err: Exception | None) -> ImageReadError:
    """Why an object could not be opened: usually an external link to a data file that is not there."""
    h5py = _h5py()
    try:
        link = f.get(path, getlink=True)
    except Exception:
        link = None
    if isinstance(link, h5py.ExternalLink):
        return fail(ref, f"{path} is a link to {link.filename}:{link.path}, which cannot be opened "
                         "(data file missing or moved?)")
    return fail(ref, f"cannot open {path}" + (f": {' '.join(str(err).split())}" if err else ""))


# ---------------------------------------------------------------------------------------------------
# Bytes of other files. An HDF5 file can make h5py read another file as if it were its own: a dataset with
# external raw storage (its values are bytes of any file, /etc/passwd as well as a data file), a virtual
# dataset mapping other files' datasets, an external link to another HDF5 file. The first two are refused
# outright. External links are followed only the way Eiger master files use them: a bare file name
# (series_data_000001.h5) naming a regular file beside the linking file, itself checked the same way.
# Links are checked before anything is looked up: HDF5 follows them inside every lookup, and would open a
# FIFO and wait on it.

_LINK_DEPTH = 4  # master -> data file -> ...: deeper chains are not what detectors write
_CHECKED: dict[tuple, str | None] = {}  # (real path, size, mtime_ns) -> the problem, None when fine


def _short(name) -> str:
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _external_links(f) -> list[tuple[str, str]]:
    """(link path in the file, target file name) of every external link reached through hard links."""
    h5l = _h5py().h5l
    found: list[tuple[str, str]] = []

    def visit(name, info):
        if info.type == h5l.TYPE_EXTERNAL:
            found.append((name.decode("utf-8", "replace"), os.fsdecode(f.id.links.get_val(name)[0])))
        return None

    f.id.links.visit(visit, info=True)  # lists links without following any
    return found


def _link_problem(path: Path, depth: int, seen: set) -> str | None:
    """Why the external links of the HDF5 file ``path`` (and of the files they name) must not be followed,
    or None. Results are kept per (file, size, mtime): a frame read does not reopen every data file."""
    try:
        st = check_regular(path)
    except NotRegularFile as err:
        return f"{path.name}: {err.strerror}"
    except OSError:
        return None  # missing or unreadable: h5py says so when (if ever) the link is used
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return _CHECKED[key]
    if key[0] in seen:
        return None  # a loop back to a file being checked: its own links are checked there
    seen.add(key[0])
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            problem = _links_problem(f, path, depth, seen)
    except OSError:
        problem = None  # not HDF5 at all: h5py refuses to follow the link into it
    if len(_CHECKED) > 4096:
        _CHECKED.clear()
    _CHECKED[key] = problem
    return problem


def _links_problem(f, path: Path, depth: int, seen: set) -> str | None:
    folder = Path(path).parent
    for where, target in _external_links(f):
        bare = target and "/" not in target and "\\" not in target and target not in (".", "..")
        if not bare:
            return (f"/{where} is an external link to {_short(target)}, outside this file's folder: refused "
                    f"(links are followed only to data files beside the file)")
        beside = folder / target
        if not os.path.lexists(beside):
            # HDF5 would go on to look for it under HDF5_EXT_PREFIX and in the working folder
            prefixes = [p for p in os.environ.get("HDF5_EXT_PREFIX", "").split(os.pathsep) if p]
            if any(os.path.lexists(Path(p) / target) for p in [*prefixes, "."]):
                return (f"/{where} is an external link to {_short(target)}, which is not beside this file: "
                        f"refused (links are followed only to data files beside the file)")
            continue  # dangling: reported when used
        if depth >= _LINK_DEPTH:
            return f"/{where}: external links nested more than {_LINK_DEPTH} files deep: refused"
        problem = _link_problem(beside, depth + 1, seen)
        if problem is not None:
            return f"/{where} is an external link to {_short(target)}: {problem}"
    return None


def _own_data(ds, ref: FrameRef) -> None:
    """Refuse a dataset whose values are another file's bytes (external storage, virtual dataset)."""
    try:
        external = ds.external
    except Exception:
        external = None
    if external:
        first = _short(external[0][0])
        raise fail(ref, f"dataset {ds.name} keeps its values in another file ({first}; HDF5 external "
                        "storage): refused")
    if getattr(ds, "is_virtual", False):
        try:
            sources = sorted({_short(m.file_name) for m in ds.virtual_sources()} - {"."})
        except Exception:
            sources = ["?"]
        if sources:
            raise fail(ref, f"dataset {ds.name} is a virtual dataset reading other files ({sources[0]}"
                            f"{', ...' if len(sources) > 1 else ''}): refused")


def _is_own(ds) -> bool:
    """Whether a small metadata dataset holds its own values (else it is ignored, not read)."""
    try:
        _own_data(ds, FrameRef("", Path()))
    except ImageReadError:
        return False
    return True


def _open(ref: FrameRef):
    """The HDF5 file behind ref, open, once it is a regular file whose external links may be followed."""
    h5py = _h5py()
    name = checked_path(ref)
    try:
        f = h5py.File(name, "r")
    except OSError as err:
        f = _open_swmr(h5py, name) if "already open for write" in str(err) else None
        if f is None:
            raise fail(ref, f"corrupt or truncated HDF5 file ({' '.join(str(err).split())[:200]})") from None
    try:
        problem = _links_problem(f, Path(name), 0, {os.path.realpath(name)})
    except BaseException:
        f.close()
        raise
    if problem is not None:
        f.close()
        raise fail(ref, problem)
    return f


def _open_swmr(h5py, name: str):
    """A file its writer still holds open in SWMR mode (a detector appending frames): read as a SWMR reader,
    which sees every frame flushed so far. None when that fails too (a plain writer holds it: not ready)."""
    try:
        return h5py.File(name, "r", swmr=True)
    except (OSError, ValueError):
        return None


def _get(f, path: str, ref: FrameRef):
    """f[path], None when there is no such name; a dangling link (h5py gives None too) is an error."""
    try:
        obj = f.get(path)
    except (KeyError, OSError, RuntimeError) as err:
        raise _open_error(f, path, ref, err) from None
    if obj is None and path in f.get(path.rsplit("/", 1)[0] or "/", {}):
        raise _open_error(f, path, ref, None)
    return obj


def _is_image_dataset(obj) -> bool:
    return (
        hasattr(obj, "shape") and hasattr(obj, "dtype") and obj.dtype.kind in "uifb"
        and len(obj.shape) >= 2 and min(obj.shape[-2:]) >= 2
    )


def _eiger_parts(f, group, ref: FrameRef) -> list | None:
    """Datasets data_000001, data_000002... of an Eiger master's data group, in order, or None."""
    names = sorted(k for k in group.keys() if _EIGER_PART.match(k))
    if not names:
        return None
    return [_get(f, f"{group.name}/{k}", ref) for k in names]


def _nx_class(obj) -> str:
    value = obj.attrs.get("NX_class", b"")
    return value.decode() if isinstance(value, bytes) else str(value)


def _attr(obj, key):
    value = obj.attrs.get(key)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray) and value.size:
        value = value.flat[0]
        value = value.decode() if isinstance(value, bytes) else str(value)
    return value if isinstance(value, str) else None


def _nxdata_signal(f, ref: FrameRef):
    """The NeXus default plot: root@default -> entry@default -> NXdata@signal."""
    entry = f.get(_attr(f, "default") or "") if _attr(f, "default") else None
    entries = [entry] if entry is not None else [g for g in _children(f) if _nx_class_safe(g) == "NXentry"]
    for entry in entries:
        groups = []
        default = _attr(entry, "default")
        if default and default in entry:
            groups.append(entry[default])
        groups += [g for g in _children(entry) if _nx_class_safe(g) == "NXdata"]
        for group in groups:
            signal = _attr(group, "signal")
            if signal and signal in group:
                obj = _get(f, f"{group.name}/{signal}", ref)
                if _is_image_dataset(obj):
                    return obj
    return None


def _children(group) -> list:
    """The members of a group that open; dangling external links are skipped here (reported when used)."""
    out = []
    for key in list(group.keys()) if hasattr(group, "keys") else []:
        try:
            obj = group.get(key)
        except Exception:
            continue
        if obj is not None:
            out.append(obj)
    return out


def _nx_class_safe(obj) -> str:
    try:
        return _nx_class(obj) if hasattr(obj, "attrs") else ""
    except Exception:
        return ""


def _largest(f):
    """The ≥2-D numeric dataset with the largest frames (then the most frames): a last resort."""
    best, best_key = None, None

    def visit(name, obj):
        nonlocal best, best_key
        if _is_image_dataset(obj):
            key = (math.prod(obj.shape[-2:]), math.prod(obj.shape))
            if best_key is None or key > best_key:
                best, best_key = obj, key

    f.visititems(visit)
    return best


def _image_names(f) -> list[str]:
    names: list[str] = []
    f.visititems(lambda name, obj: names.append("/" + name) if _is_image_dataset(obj) else None)
    return names[:5]


def _resolve(f, ref: FrameRef) -> _Stack:
    h5py = _h5py()
    if ref.dataset:
        obj = _get(f, ref.dataset, ref)
        if obj is None:
            found = ", ".join(_image_names(f)) or "none"
            raise fail(ref, f"no dataset {ref.dataset} in the file (image datasets: {found})")
        if isinstance(obj, h5py.Group):
            parts = _eiger_parts(f, obj, ref)
            if parts:
                return _Stack(obj.name, parts)
            signal = _attr(obj, "signal")
            if signal and signal in obj:
                obj = _get(f, f"{obj.name}/{signal}", ref)
            else:
                raise fail(ref, f"{ref.dataset} is a group, not an image dataset")
        return _Stack(ref.dataset, [obj])
    data = f.get("entry/data") if "entry" in f else None
    if data is not None and isinstance(data, h5py.Group):
        parts = _eiger_parts(f, data, ref)
        if parts:
            return _Stack(data.name, parts)
    obj = _nxdata_signal(f, ref)
    if obj is None and "entry/data/data" in f:
        obj = _get(f, "entry/data/data", ref)
    if obj is None:
        obj = _largest(f)
    if obj is None:
        raise fail(ref, "HDF5 file without an image dataset (no numeric dataset of 2 or more dimensions)")
    return _Stack(obj.name, [obj])


def _detector_groups(f, stack: _Stack) -> list:
    """NXdetector groups of the entry that holds the data (Eiger: /entry/instrument/detector)."""
    entry = f.get(stack.name.strip("/").split("/")[0] or "entry")
    found = []
    if entry is None:
        return found
    for inst in _children(entry):
        if _nx_class_safe(inst) == "NXinstrument" or inst.name.endswith("/instrument"):
            found += [d for d in _children(inst) if _nx_class_safe(d) == "NXdetector" or d.name.endswith("/detector")]
    return found


def _pixel_mask(detectors: list, shape: tuple) -> np.ndarray | None:
    for det in detectors:
        for key in ("pixel_mask", "detectorSpecific/pixel_mask"):
            try:
                obj = det.get(key)
            except Exception:
                continue
            if obj is not None and hasattr(obj, "shape") and tuple(obj.shape) == shape and _is_own(obj):
                return obj[()] != 0  # NeXus: 0 = good pixel, any bit set = gap, dead, hot...
    return None


_LENGTH_MM = {"m": 1e3, "meter": 1e3, "metre": 1e3, "mm": 1.0, "um": 1e-3, "micron": 1e-3, "µm": 1e-3}
PIXEL_MAX_M = 0.01  # no detector pixel is a centimetre wide


def pixel_units(value: float, units: str | None) -> str:
    """The units of an NXdetector x/y_pixel_size: its own, else NeXus's metres, unless that would make the
    pixel a centimetre or more (areaDetector files write the camera's mm with no units: 0.15 is 150 um)."""
    return units or ("mm" if value >= PIXEL_MAX_M else "m")


def _scalar(group, key):
    try:
        obj = group.get(key)
        if obj is None or not hasattr(obj, "shape") or obj.size != 1 or not _is_own(obj):
            return None, None
        return obj[()].item() if hasattr(obj[()], "item") else obj[()], _attr(obj, "units")
    except Exception:
        return None, None


def _detector_meta(f, detectors: list) -> dict[str, object]:
    out: dict[str, object] = {}
    for det in detectors[:1]:
        value, _ = _scalar(det, "count_time")
        if isinstance(value, (int, float)):
            out["exposure_time_s"] = float(value)
        bx, _ = _scalar(det, "beam_center_x")
        by, _ = _scalar(det, "beam_center_y")
        if isinstance(bx, (int, float)) and isinstance(by, (int, float)):
            out["beam_center_px"] = [float(bx), float(by)]
        for key, target in (("x_pixel_size", "pixel_size_mm"), ("detector_distance", "distance_mm")):
            value, units = _scalar(det, key)
            if isinstance(value, (int, float)):
                units = pixel_units(value, units) if key == "x_pixel_size" else units or "m"
                out[target] = float(value) * _LENGTH_MM.get(units.strip(), 1e3)
        value, _ = _scalar(det, "description")
        if value is not None:
            out["detector"] = json_value(value)
    for path in ("entry/instrument/beam/incident_wavelength", "entry/instrument/monochromator/wavelength"):
        parent, key = path.rsplit("/", 1)
        group = f.get(parent) if parent in f else None
        value, _ = _scalar(group, key) if group is not None else (None, None)
        if isinstance(value, (int, float)):
            out["wavelength_A"] = float(value)
            break
    return out


def read_hdf5(ref: FrameRef, head: bytes, max_pixels: int):
    with _open(ref) as f:
        stack = _resolve(f, ref)
        if len(stack.frame_shape) != 2:
            raise fail(ref, f"dataset {stack.name} is {len(stack.parts[0].shape)}-D, not an image")
        for part in stack.parts:
            _own_data(part, ref)
        index = check_index(ref, stack.count)
        check_size(ref, stack.frame_shape, max_pixels)
        try:
            raw = stack.frame(index)
        except OSError as err:
            text = " ".join(str(err).split())
            if "filter" in text.lower() or "plugin" in text.lower():
                raise fail(ref, f"{stack.name} uses a compression filter that is not available ({text})") from None
            raise fail(ref, f"cannot read {stack.name} frame {index}: {text}") from None
        detectors = _detector_groups(f, stack)
        invalid = _pixel_mask(detectors, tuple(raw.shape))
        meta = _detector_meta(f, detectors)
        meta.update({"dataset": stack.name, "frames": stack.count, "frame": index})
    # Eiger marks gaps and dead pixels with the largest value of its unsigned type
    flag = raw.dtype.kind == "u" and raw.dtype.itemsize >= 2
    return make_frame(ref, raw, "hdf5", meta, flag_max=flag, invalid=invalid)


def refs_hdf5(path: Path) -> list[str]:
    ref = FrameRef(str(path), Path(path))
    with _open(ref) as f:
        stack = _resolve(f, ref)
        if stack.count <= 1:
            return [str(path)]
        return [f"{path}::{stack.name}#{i}" for i in range(stack.count)]



def frame_files_hdf5(path: Path) -> list[tuple[str, int]]:
    """(the file holding them, how many) for each run of the file's frames, in the order of its refs: an Eiger
    master's data files one by one, else the file itself. What a follower needs to tell a data file's frames,
    taken on their own, from the same frames read through the master."""
    ref = FrameRef(str(path), Path(path))
    with _open(ref) as f:
        stack = _resolve(f, ref)
        return [(os.path.join(os.path.dirname(str(path)), part.file.filename), n)
                for part, n in zip(stack.parts, stack.counts)]
