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


def shipped_model_paths() -> list[Path]:
    """Where the shipped default model may be: ``models/`` at the top of a clone or editable install,
    then ``tui_tagger/models/`` inside an installed package (package data)."""
    package = Path(__file__).resolve().parents[1]
    return [package.parent / "models" / SHIPPED_NAME, package / "models" / SHIPPED_NAME]
