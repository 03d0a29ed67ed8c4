"""Helpers shared by the subcommands: JSON output and per-file error reporting."""

from __future__ import annotations

import sys
from typing import Any

from tui_tagger.core.text import json_text, printable


def print_json(value: Any) -> None:
    sys.stdout.write(json_text(value) + "\n")


def warn(message: str) -> None:
    """A one-line problem on stderr, prefixed like every tui-tagger error."""
    print(f"tui-tagger: {printable(message)}", file=sys.stderr)
