"""Self-describing model files: architecture + config, preprocessing, tag list, per-tag thresholds,
training summary and a format version, with fp16 weights (half the size; inference casts back).

Files are loaded with ``weights_only=True`` (no pickled code runs) on the CPU, then moved to the device.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tui_tagger import __version__
from tui_tagger.core.atomic import atomic_write_bytes
from tui_tagger.core.errors import FileProblem
from tui_tagger.core.regular import NotRegularFile, open_regular
from tui_tagger.model.nets import create_model
from tui_tagger.model.transforms import preprocess_config

MAGIC = "tui-tagger-model"
FORMAT_VERSION = 1


class ModelFileError(FileProblem):
    """A model file that is missing, not a model, from a newer version, or damaged."""


@dataclass
class ModelInfo:
    """Everything in a checkpoint except the weights."""

    arch: str
    arch_config: dict[str, Any]
    tags: list[str]
    preprocess: dict[str, Any]
    thresholds: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    created: str = ""
    path: str = ""

    def threshold(self, tag: str, default: float = 0.5) -> float:
        return float(self.thresholds.get(tag, default))

    @property
    def mirror(self) -> bool:
        """Trained on left-right flipped frames too: inference averages each frame with its mirror."""
        return bool((self.training.get("config") or {}).get("flip", False))


def save_checkpoint(path: str | Path, model: nn.Module, info: ModelInfo, half: bool = True) -> None:
    """Write atomically (a crash never leaves a half model where a good one was)."""
    state = {
        k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    blob = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "tui_tagger_version": __version__,
        "created": info.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "name": info.name or Path(path).stem,
        "arch": info.arch,
        "arch_config": _plain(info.arch_config),
        "tags": list(info.tags),
        "preprocess": _plain(info.preprocess),
        "thresholds": {k: float(v) for k, v in info.thresholds.items()},
        "training": _plain(info.training),
        "state_dict": state,
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    atomic_write_bytes(path, buf.getvalue(), fsync=True)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, ModelInfo]:
    """(model in eval mode on ``device``, float32 weights; info). Bad files -> ModelFileError."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "model file not found")
    if path.is_dir():
        raise ModelFileError(path, "is a folder, not a model file")
    try:
        fh = open_regular(path)  # a FIFO or device is refused, never waited on
    except NotRegularFile as err:
        raise ModelFileError(path, f"{err.strerror}; a model file must be a regular file") from None
    except OSError as err:
        raise ModelFileError(path, f"cannot read: {err.strerror or err}") from None
    with fh:
        if not zipfile.is_zipfile(fh):
            problem = "empty file" if os.fstat(fh.fileno()).st_size == 0 else "not a tui-tagger model file (truncated or another format)"
            raise ModelFileError(path, problem)
        fh.seek(0)
        try:
            with warnings.catch_warnings():  # torch's notes on unusual pickles: the error below says it all
                warnings.simplefilter("ignore", UserWarning)
                blob = torch.load(fh, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for damaged files
            raise ModelFileError(path, load_problem(err, foreign_globals(fh))) from None
    if not isinstance(blob, dict) or blob.get("magic") != MAGIC:
        raise ModelFileError(path, "not a tui-tagger model file (a torch file without the model description)")
    version = blob.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = "upgrade tui-tagger" if newer else "retrain or convert it"
        raise ModelFileError(path, f"model format version {version!r}, this tui-tagger reads {FORMAT_VERSION}: {hint}")
    try:
        info = ModelInfo(
            arch=blob["arch"],
            arch_config=dict(blob["arch_config"]),
            tags=list(blob["tags"]),
            preprocess=preprocess_config(blob["preprocess"]),
            thresholds=dict(blob.get("thresholds") or {}),
            training=dict(blob.get("training") or {}),
            name=str(blob.get("name") or path.stem),
            created=str(blob.get("created") or ""),
            path=str(path),
        )
        model = create_model(info.arch, len(info.tags), _tuples(info.arch_config))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(path, f"inconsistent model file ({type(err).__name__}: {err})") from None
    model.eval()
    return model.to(device), info


# What torch's weights-only unpickler says when the pickle asks for more than tensors and plain data: a
# global (os.system, a class), an object built from one. Such a file is refused, never loaded another way.
_UNSAFE = re.compile(r"GLOBAL \S+ (?:was not an allowed global|whose module)|Unsupported global|"
                     r"Can only (?:build|create|append|extend)|must be imported to load")
_GLOBAL_NAME = re.compile(r"GLOBAL ([\w.]{1,80})")
_NOT_NAME = re.compile(r"[^\w.]")
_PICKLE_LIMIT = 64 * 2**20  # a model's pickle (tensors are stored beside it) is a few KiB
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}


def foreign_globals(fh) -> list[str]:
    """What the model file's pickle imports beyond torch (GLOBAL, STACK_GLOBAL, INST, OBJ...), read with
    pickletools, which runs nothing. torch's safe loader may stop at an opcode it does not take (protocol 4
    strings, FRAME) before it reaches the import: this finds the import all the same."""
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as z:
            info = next((i for i in z.infolist() if i.filename.endswith("data.pkl")), None)
            if info is None or info.file_size > _PICKLE_LIMIT:
                return []
            data = z.read(info)
    except Exception:
        return []
    found: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL":
                found.append(".".join(strings[-2:]) or "?")
            elif op.name in ("OBJ", "EXT1", "EXT2", "EXT4"):
                found.append("?")
            elif op.name in _STRINGS:
                strings.append(arg.decode("latin-1") if isinstance(arg, bytes) else str(arg))
    except Exception:
        pass  # a truncated pickle: what was read so far
    return [g for g in found if not (g.startswith("torch.") or g == "collections.OrderedDict")]


def load_problem(err: Exception, imports: list[str] | None = None) -> str:
    """torch.load's complaint in words that fit a model file, without torch's advice: a file whose pickle
    holds code or objects (``imports``: foreign_globals) is refused as unsafe, never "load it with
    weights_only=False"; anything else is damage. Never echoes torch's long message."""
    text = " ".join(str(err).split())
    unsafe = isinstance(err, pickle.UnpicklingError) and _UNSAFE.search(text)
    if unsafe or imports:
        name = _GLOBAL_NAME.search(text) if unsafe else None
        first = name.group(1) if name else next((g for g in imports or [] if g != "?"), "")
        first = _NOT_NAME.sub("", first)[:80]
        what = f" ({first})" if first else ""
        return (f"refused: contains code or objects a model file must not contain{what}; not safe to load "
                "(a tui-tagger model holds only weights and plain data)")
    if isinstance(err, pickle.UnpicklingError):  # torch wraps the unpickler's words in its advice
        text = text.rsplit("WeightsUnpickler error:", 1)[-1].split("Check the documentation")[0].strip()
    if "weights_only" in text or "Weights only" in text or len(text) > 200:
        text = ""  # torch's advice on loading it anyway, or its long notes: nothing a user should follow
    detail = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return f"damaged or truncated model file ({detail})"


def _plain(value: Any) -> Any:
    """Only types ``weights_only`` loading accepts: dict/list/str/int/float/bool/None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)


def _tuples(config: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
