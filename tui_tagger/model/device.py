"""Choosing the device: "auto" takes CUDA when there is one, else the CPU."""

from __future__ import annotations

import torch

from tui_tagger.core.errors import TaggerError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | None = "auto") -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``; asking for a GPU that is not there is a one-line error."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise TaggerError(f"device {name!r} asked for, but CUDA is not available ({build}); use --device cpu")
        index = int(name.split(":", 1)[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise TaggerError(f"device {name!r} asked for, but only {torch.cuda.device_count()} GPU(s) are visible")
        return torch.device("cuda", index)
    raise TaggerError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)")
