"""Self-describing model files: architecture + config, preprocessing, tag list, per-tag thresholds,
training summary and a format version, with fp16 weights (half the size; inference casts back).

Files are loaded with ``weights_only=True`` (no pickled code runs) on the CPU, then moved to the device.
"""

from __future__ import annotations

import io
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
    if not zipfile.is_zipfile(path):
        problem = "empty file" if path.stat().st_size == 0 else "not a tui-tagger model file (truncated or another format)"
        raise ModelFileError(path, problem)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for damaged files
        raise ModelFileError(path, f"damaged or truncated model file ({type(err).__name__}: {err})") from None
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
