"""What a model file says, read without torch: the preprocessing config (``predict`` starts decoding with it
while torch is imported) and the last layer's weights (the TUI's live head starts its fits from the model's own
logit, ``learn.heads.model_prior``: loading the model for them imported torch into the app's process, ~216 MB of
RSS, only to read 44 x 768 numbers). The checkpoint's pickle is read with every tensor left unbuilt (a
``StoredTensor``: where its bytes are); nothing in the pickle is ever called, and any global but torch's tensor
rebuild, its storage types and OrderedDict refuses the file."""

from __future__ import annotations

import math
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui_tagger.core.errors import FileProblem
from tui_tagger.core.regular import open_regular
from tui_tagger.model.transforms import preprocess_config

_PICKLE_LIMIT = 4 * 2**20  # a model's pickle (tensors are stored beside it) is a few KiB


# torch's storage types: the numpy type of their bytes (bfloat16 has none: such a tensor is not read here)
_DTYPES = {"HalfStorage": "f2", "FloatStorage": "f4", "DoubleStorage": "f8", "LongStorage": "i8", "IntStorage": "i4",
           "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}


@dataclass(frozen=True)
class StoredTensor:
    """A tensor of the file, not built: its storage (type name, key, element count) and its view of it."""

    storage: tuple | None  # (storage type name, key, numel); None where the pickle did not say
    offset: int = 0
    shape: tuple = ()
    stride: tuple = ()


def _tensor(storage=None, offset=0, size=(), stride=(), *args, **kwargs) -> StoredTensor:
    """torch._utils._rebuild_tensor_v2's stand-in (never called for anything but plain arguments)."""
    try:
        return StoredTensor(storage if isinstance(storage, tuple) else None, int(offset),
                            tuple(int(n) for n in size), tuple(int(n) for n in stride))
    except (TypeError, ValueError):
        return StoredTensor(None)


def _nothing(*args, **kwargs) -> None:
    return None


class _Refused(pickle.UnpicklingError):
    """The pickle names a global beyond tensors and plain data: the file is not loaded."""


class _Plain(pickle.Unpickler):
    """Plain data only: a tensor becomes a ``StoredTensor``, an OrderedDict a dict; any other global refuses
    the file."""

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _tensor
        if module == "torch" and name.endswith("Storage"):
            return name  # a storage type: its name
        if module == "torch._utils" and name.startswith("_rebuild"):
            return _nothing
        raise _Refused(f"{module}.{name}"[:80])

    def persistent_load(self, pid):
        # ("storage", storage type, key, location, numel) in torch's zip format
        if isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], str):
            return (pid[1], str(pid[2]), pid[4])
        return None


def _read_blob(z: zipfile.ZipFile) -> tuple[dict, str] | None:
    """(the checkpoint's dict, the prefix of its members) or None when it is no tui-tagger model's."""
    info = next((i for i in z.infolist() if i.filename.endswith("/data.pkl")), None)
    if info is None or info.file_size > _PICKLE_LIMIT:
        return None
    blob = _Plain(z.open(info)).load()
    if not isinstance(blob, dict) or blob.get("magic") != "tui-tagger-model":
        return None
    return blob, info.filename[: -len("data.pkl")]


def model_preprocess(path: str | Path) -> dict[str, Any] | None:
    """The preprocessing config of the model in ``path`` (as ``ModelInfo.preprocess``), or None."""
    try:
        with open_regular(Path(path)) as fh, zipfile.ZipFile(fh) as z:  # a FIFO is refused, never waited on
            found = _read_blob(z)
        return None if found is None else preprocess_config(found[0]["preprocess"])
    except Exception:  # not a zip, a FIFO, a damaged or foreign pickle: the real load says what is wrong
        return None


def _values(z: zipfile.ZipFile, prefix: str, t: StoredTensor) -> np.ndarray:
    """A StoredTensor's values as float64; ValueError for any inconsistency (a damaged file)."""
    if t.storage is None or t.storage[0] not in _DTYPES or len(t.shape) != len(t.stride):
        raise ValueError("a tensor of unknown storage")
    order = z.getinfo(prefix + "byteorder") if prefix + "byteorder" in z.namelist() else None
    order = b"little" if order is None else z.read(order) if order.file_size < 16 else b""
    dtype = np.dtype({b"little": "<", b"big": ">"}[order] + _DTYPES[t.storage[0]])
    numel = int(t.storage[2])
    member = z.getinfo(prefix + "data/" + t.storage[1])
    if member.file_size != numel * dtype.itemsize:
        raise ValueError("a tensor's data of the wrong size")
    if min((t.offset, *t.shape, *t.stride), default=0) < 0 or \
            (math.prod(t.shape) and t.offset + sum((n - 1) * s for n, s in zip(t.shape, t.stride)) >= numel):
        raise ValueError("a tensor outside its data")
    flat = np.frombuffer(z.read(member), dtype=dtype)
    view = np.lib.stride_tricks.as_strided(flat[t.offset:], t.shape, tuple(s * dtype.itemsize for s in t.stride))
    return view.astype(np.float64)


def last_layer(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(tags, W, b): the model's logits = features @ W.T + b on its penultimate features, or None when its
    last layer is no linear map with one row per tag. The last layer is the state dict's last weight and its
    bias (a net registers its layers in order, its ``head`` last: tests/model/test_peek.py checks every
    architecture). A file that is not a model, damaged or unsafe: FileProblem, one line."""
    try:
        with open_regular(Path(path)) as fh, zipfile.ZipFile(fh) as z:
            found = _read_blob(z)
            if found is None:
                raise FileProblem(path, "not a tui-tagger model file")
            (blob, prefix), tags = found, found[0].get("tags")
            state = blob.get("state_dict")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or not isinstance(state, dict):
                raise FileProblem(path, "inconsistent model file (no tags or weights)")
            name = next((k for k in reversed(state) if isinstance(k, str) and k.endswith("weight")), "")
            weight, bias = state.get(name), state.get(name[: -len("weight")] + "bias")
            if not isinstance(weight, StoredTensor) or len(weight.shape) != 2 or weight.shape[0] != len(tags):
                return None
            W = _values(z, prefix, weight)
            b = _values(z, prefix, bias) if isinstance(bias, StoredTensor) and bias.shape == (len(tags),) else \
                np.zeros(len(tags))
            return list(tags), W, b
    except FileProblem:
        raise
    except _Refused as err:
        raise FileProblem(path, f"refused: contains code or objects a model file must not contain ({err}); "
                                "not safe to load") from None
    except OSError as err:
        raise FileProblem(path, f"cannot read: {err.strerror or err}") from None
    except Exception as err:  # noqa: BLE001 - not a zip, a truncated pickle or member: one line
        raise FileProblem(path, f"damaged or truncated model file ({type(err).__name__})") from None
