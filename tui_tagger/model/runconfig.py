"""Run configurations as TOML: each train/predict run writes what it ran with; ``--config FILE`` runs
it again. A tiny writer (tables of str/int/float/bool/list values, one level of [sections]); reading
uses ``tomllib`` (Python 3.11+; on 3.10 the ``tomli`` package is needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tui_tagger.core.atomic import atomic_write_bytes
from tui_tagger.core.errors import FileProblem


# The options a --config file may set, with their defaults (None: the command's own choice). The commands
# (commands/predict.py, commands/train.py) and the TUI's P/T dialogs (ui/run_options.py) read them here.
PREDICT_DEFAULTS: dict[str, Any] = {
    "paths": [], "model": None, "device": "auto", "batch": 32, "workers": None, "threshold": None,
    "write": False, "accept_above": None, "json": False, "tags_dir": None, "no_heads": False,
    "no_physics": False,
}
TRAIN_DEFAULTS: dict[str, Any] = {
    "dirs": [], "out": None, "init": None, "epochs": 30, "device": "auto", "val_split": 0.2, "batch": 32,
    "lr": 1e-3, "seed": 0, "workers": None, "size": 256, "min_support": 2, "patience": 6, "tags_dir": None,
    "max_pos_weight": 3.0, "exclude_tag": [], "pool": None, "widths": None, "hidden": None, "attention": None,
    "focal": 0.0, "precision": "auto", "invalid": None,
}

def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k: str) -> str:
    return k if k and all(c.isalnum() or c in "-_" for c in k) else json.dumps(k, ensure_ascii=False)


def dumps(config: dict[str, dict[str, Any]]) -> str:
    """``{section: {key: value}}`` -> TOML. ``None`` values are left out (TOML has no null)."""
    lines = []
    for section, table in config.items():
        lines.append(f"[{_key(section)}]")
        for k, v in table.items():
            if v is not None:
                lines.append(f"{_key(k)} = {_value(v)}")
        lines.append("")
    return "\n".join(lines)


def write(path: str | Path, config: dict[str, dict[str, Any]], header: str = "") -> None:
    """Write ``config`` atomically, making the folder when it is missing (the config folder on first use)."""
    text = "".join(f"# {line}\n" for line in header.splitlines()) + dumps(config)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"), fsync=False)


def default_path(kind: str, folder: str | Path) -> Path:
    """Where a ``kind`` run (predict, train) on ``folder`` keeps its configuration when no file is named
    (``--config-out``): ``runs/NAME-HASH/KIND-config.toml`` in the config folder, one per data folder --
    never the data folder itself, which a read-only run must leave as it found it."""
    import hashlib

    from tui_tagger.config import config_dir

    folder = Path(folder).expanduser().resolve()
    digest = hashlib.sha1(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return config_dir() / "runs" / f"{folder.name or 'root'}-{digest}" / f"{kind}-config.toml"


def read(path: str | Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise FileProblem(path, "reading TOML on Python 3.10 needs the tomli package (pip install tomli)") from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise FileProblem(path, "config file not found") from None
    except OSError as err:
        raise FileProblem(path, err.strerror or str(err)) from None
    except tomllib.TOMLDecodeError as err:
        raise FileProblem(path, f"not valid TOML: {err}") from None


# the kind of value of the options whose default is None (the rest: their default's kind)
_KINDS: dict[str, Any] = {
    "model": str, "out": str, "init": str, "tags_dir": str, "workers": int, "pool": int, "hidden": int,
    "attention": int, "threshold": float, "accept_above": float, "invalid": float,
}
_KIND_WORDS = {str: "a string in quotes", int: "a whole number", float: "a number", bool: "true or false",
               list: 'a list of strings, e.g. ["/data/run1"]'}


def _kind_ok(value: Any, kind: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    if kind is list:
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    return isinstance(value, kind)


def check(table: Any, defaults: dict[str, Any], path: str | Path | None) -> None:
    """A hand-edited configuration's values of the wrong kind (``batch = "big"``, ``paths = "/data"``): one
    FileProblem naming the file and the option, before the run trips over it."""
    where = path if path is not None else "--config"
    if not isinstance(table, dict):
        raise FileProblem(where, f"expected a [section] of options, found {json.dumps(table, default=str)}")
    for key, value in table.items():
        if key not in defaults:
            continue  # a key of another version or of the run's record: left alone, as before
        default = defaults[key]
        kind = _KINDS.get(key) if default is None else type(default)
        if kind in _KIND_WORDS and not _kind_ok(value, kind):
            raise FileProblem(where, f"{key} should be {_KIND_WORDS[kind]}, not {json.dumps(value, default=str)}")


def apply(args: Any, table: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Fill options left unset on the command line (None) from ``table``, then from ``defaults``:
    the command line wins over the config file, which wins over the built-in defaults. A value of the wrong
    kind in ``table`` is a FileProblem naming the file (``args.config``)."""
    check(table, defaults, getattr(args, "config", None))
    for key, default in defaults.items():
        if getattr(args, key, None) in (None, []):
            setattr(args, key, table.get(key, default))
