"""Where models are: the default model and the shipped one. No torch here, so the TUI can show a model's
path (the predict / train dialogs) without the second it costs to import torch."""

from __future__ import annotations

import os
from pathlib import Path

from tui_tagger.core.errors import TaggerError


def default_model_path() -> Path:
    """``$TUI_TAGGER_MODEL``, else the user's model (config dir), else the model shipped in the package."""
    from tui_tagger.config import config_dir

    candidates = []
    if os.environ.get("TUI_TAGGER_MODEL"):
        candidates.append(Path(os.environ["TUI_TAGGER_MODEL"]))
    candidates.append(config_dir() / "model.pt")
    candidates.extend(shipped_model_paths())
    for c in candidates:
        if c.exists():
            return c
    raise TaggerError(
        "no model found (looked for $TUI_TAGGER_MODEL, " + ", ".join(str(c) for c in candidates[-3:]) + "); pass --model FILE"
    )


SHIPPED_NAME = "tagger.pt"
SHIPPED = "shipped"  # a saved run's word for the model shipped in the package, wherever it is installed


def is_shipped(path: str | Path) -> bool:
    """Whether ``path`` is the shipped model of this install (a saved run names it ``SHIPPED``, not its path
    inside this venv, which a reinstall elsewhere moves)."""
    try:
        here = Path(path).expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    return any(here == p.resolve() for p in shipped_model_paths() if p.exists())


def saved_model_name(path: str | Path) -> str:
    """How a saved run names a model: ``SHIPPED`` for the shipped one, else its absolute path."""
    return SHIPPED if str(path) == SHIPPED or is_shipped(path) else str(Path(path).expanduser().resolve())


def resolve_model(name: str | Path) -> Path:
    """A model named on the command line or in a saved run: ``SHIPPED`` is the shipped model of this install."""
    if str(name) == SHIPPED:
        for p in shipped_model_paths():
            if p.exists():
                return p
        raise TaggerError("the shipped model is missing from this install (" +
                          ", ".join(str(p) for p in shipped_model_paths()) + "); pass a model file")
    return Path(name)


def shipped_model_paths() -> list[Path]:
    """Where the shipped default model may be: ``models/`` at the top of a clone or editable install,
    then ``tui_tagger/models/`` inside an installed package (package data)."""
    package = Path(__file__).resolve().parents[1]
    return [package.parent / "models" / SHIPPED_NAME, package / "models" / SHIPPED_NAME]
