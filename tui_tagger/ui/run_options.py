"""The options of a predict or train run as the TUI's dialogs show them, without Textual.

The options, their defaults and the file they are saved to are those of the shell commands
(``model.runconfig.PREDICT_DEFAULTS`` / ``TRAIN_DEFAULTS``, read back by ``--config``), so a run set up in
the TUI is re-run from the shell with ``tui-tagger predict --config FILE`` / ``tui-tagger train --config FILE``
and a scientist never writes one by hand.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_tagger.core.errors import TaggerError

PREDICT_FILE = "predict-config.toml"  # = commands/predict.py CONFIG_NAME, runconfig.default_path("predict", ...).name
TRAIN_FILE = "train-config.toml"


@dataclass(frozen=True)
class Option:
    key: str  # the command's option (argparse dest), also the TOML key
    label: str
    kind: type  # str, int, float or bool
    default: Any  # None = "the command's own default" (shown as an empty field)
    hint: str = ""
    optional: bool = True  # an empty field is allowed (None)


def _default_model() -> str:
    """The default model as the dialogs show it: ``shipped`` for the one in the package (its path inside a
    venv says nothing to a user, and a saved run must not hold it), else its path."""
    try:
        from tui_tagger.model.locate import SHIPPED, default_model_path, is_shipped  # no torch

        path = default_model_path()
        return SHIPPED if is_shipped(path) else str(path)
    except (TaggerError, ImportError):
        return ""


def _shown(model: str | None) -> str:
    """A model as the dialogs show it: ``shipped`` for the one in the package, else its path; the default
    model where none is given."""
    if not model:
        return _default_model()
    from tui_tagger.model.locate import SHIPPED, is_shipped  # no torch

    return SHIPPED if is_shipped(model) else model


def predict_options(model: str | None = None) -> list[Option]:
    """``model``: the TUI's own (``tui-tagger open --model M``), else the default model."""
    from tui_tagger.model.runconfig import PREDICT_DEFAULTS as D  # no torch

    return [
        Option("model", "Model file", str, _shown(model), "empty: the default model; shipped: the one in the package"),
        Option("device", "Device", str, D["device"], "auto, cpu, cuda or cuda:N", optional=False),
        Option("batch", "Batch size", int, D["batch"], optional=False),
        Option("workers", "Decoding processes", int, D["workers"], "empty: cores - 1"),
        Option("threshold", "Threshold", float, D["threshold"], "empty: the model's per-tag thresholds"),
        Option("write", "Write p to tag files (shell runs)", bool, D["write"]),
        Option("accept_above", "Accept tags above p (shell runs)", float, D["accept_above"], "empty: never"),
    ]


def train_options(model: str | None = None) -> list[Option]:
    """``model`` (the TUI's ``--model``, else the default model) is the one fine-tuned from."""
    from tui_tagger.model.runconfig import TRAIN_DEFAULTS as D  # no torch
    from tui_tagger.config import config_dir

    return [
        Option("out", "Write the model to", str, str(config_dir() / "model.pt"),
               "model.pt in the config folder becomes your default model", optional=False),
        Option("init", "Fine-tune from", str, _shown(model), "empty: train from scratch; shipped: the model in the package"),
        Option("epochs", "Epochs (at most)", int, D["epochs"], optional=False),
        Option("device", "Device", str, D["device"], "auto, cpu, cuda or cuda:N", optional=False),
        Option("val_split", "Validation fraction", float, D["val_split"], "whole samples, never single frames",
               optional=False),
        Option("batch", "Batch size", int, D["batch"], optional=False),
        Option("lr", "Learning rate", float, D["lr"], optional=False),
        Option("patience", "Early-stopping patience", int, D["patience"], optional=False),
        Option("seed", "Random seed", int, D["seed"], optional=False),
    ]


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def parse(options: list[Option], texts: dict[str, Any]) -> dict[str, Any]:
    """Field texts (bools as bools) -> typed values. Raises TaggerError naming the first bad field."""
    out: dict[str, Any] = {}
    for o in options:
        raw = texts.get(o.key, o.default)
        if o.kind is bool:
            out[o.key] = bool(raw)
            continue
        text = "" if raw is None else str(raw).strip()
        if not text:
            if not o.optional:
                raise TaggerError(f"{o.label}: a value is needed")
            out[o.key] = None
            continue
        try:
            out[o.key] = o.kind(text)
        except ValueError:
            raise TaggerError(f"{o.label}: {text!r} is not {'a whole number' if o.kind is int else 'a number'}") from None
    for key in ("batch", "epochs"):
        if key in out and out[key] is not None and out[key] < (2 if key == "batch" else 1):
            raise TaggerError(f"{key}: too small ({out[key]})")
    if out.get("val_split") is not None and not 0.0 <= out["val_split"] < 1.0:
        raise TaggerError(f"Validation fraction must be in [0, 1), not {out['val_split']}")
    return out


def predict_table(values: dict[str, Any], paths: list[str], tags_dir: Path | None) -> dict[str, Any]:
    """The ``[predict]`` table that ``tui-tagger predict --config`` reads."""
    table = {"paths": [str(Path(p).resolve()) for p in paths], **values,
             "tags_dir": str(tags_dir.resolve()) if tags_dir else None}
    if table.get("model"):
        from tui_tagger.model.locate import SHIPPED, is_shipped  # no torch

        # the shipped model is what an empty field means: its path inside this venv moves with a reinstall
        shipped = table["model"] == SHIPPED or is_shipped(table["model"])
        table["model"] = None if shipped else str(Path(table["model"]).expanduser().resolve())
    if table.get("accept_above") is not None:
        table["write"] = True  # as on the command line: accepting implies writing
    return table


def train_table(values: dict[str, Any], root: Path, tags_dir: Path | None) -> dict[str, Any]:
    """The ``[train]`` table that ``tui-tagger train --config`` reads."""
    table = {"dirs": [str(root.resolve())], **values, "tags_dir": str(tags_dir.resolve()) if tags_dir else None}
    from tui_tagger.model.locate import saved_model_name  # no torch

    for key in ("out", "init"):
        if table.get(key):
            table[key] = saved_model_name(table[key]) if key == "init" else str(Path(table[key]).expanduser().resolve())
    return table


def save(kind: str, table: dict[str, Any], path: Path) -> Path:
    """Write ``{kind: table}`` atomically; a TaggerError (one line) when the folder is not writable."""
    from tui_tagger.model import runconfig  # no torch

    header = f"tui-tagger {kind}: made in the TUI; rerun with `tui-tagger {kind} --config THIS_FILE`"
    try:
        runconfig.write(path, {kind: table}, header)
    except OSError as err:
        raise TaggerError(f"{path}: cannot save the configuration: {err.strerror or err}") from None
    except UnicodeEncodeError:  # a folder named in another system's encoding: a TOML file holds UTF-8 only
        raise TaggerError(f"{path}: cannot save the configuration: the folder's path is not valid UTF-8 "
                          "(rename the folder to run it from a configuration)") from None
    return path


def config_path(kind: str, root: Path) -> Path:
    """In the config folder (``runconfig.default_path``, where ``tui-tagger predict`` puts its own), one
    per folder: never beside the images, which opening and predicting leave as they were."""
    from tui_tagger.model import runconfig  # no torch

    return runconfig.default_path(kind, root)


def shell_command(kind: str, path: Path) -> str:
    return f"tui-tagger {kind} --config {shlex.quote(str(path))}"
