"""Themes: ``*.tcss`` files of Textual theme variables (``$primary: #1e88e5;``), built in
(``tui_tagger/themes/``, package data) and the user's (``config_dir()/themes/``, which win)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from textual.theme import Theme

from tui_tagger.config import config_dir

_VAR = re.compile(r"^\s*\$([A-Za-z0-9_-]+)\s*:\s*([^;]+);", re.M)
_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
           "surface", "panel", "boost")


def parse_theme(name: str, text: str) -> Theme:
    values = {k: v.strip() for k, v in _VAR.findall(text)}
    if "primary" not in values:
        raise ValueError(f"theme {name!r} sets no $primary")
    dark = values.pop("dark", "true").lower() not in ("false", "0", "no")
    kw = {k: values.pop(k) for k in _FIELDS if k in values}
    return Theme(name=name, dark=dark, variables=values, **kw)


def theme_files() -> list[tuple[str, str]]:
    """(name, text) of every theme file, built-in first, then the user's."""
    out = []
    builtin = resources.files("tui_tagger").joinpath("themes")
    if builtin.is_dir():
        for f in sorted(builtin.iterdir(), key=lambda f: f.name):
            if f.name.endswith(".tcss"):
                out.append((f.name[:-5], f.read_text("utf-8")))
    user = Path(config_dir()) / "themes"
    if user.is_dir():
        for f in sorted(user.glob("*.tcss")):
            try:
                out.append((f.stem, f.read_text("utf-8")))
            except OSError:
                continue
    return out


def load_themes() -> tuple[list[Theme], list[str]]:
    """The themes, and one-line problems with files that could not be used (shown as notices)."""
    themes, problems = {}, []
    for name, text in theme_files():
        try:
            themes[name] = parse_theme(name, text)
        except Exception as err:  # a broken user theme must not stop the app
            problems.append(f"theme {name}: {err}")
    return list(themes.values()), problems
