"""Helpers shared by the subcommands: JSON output and per-file error reporting."""

from __future__ import annotations

import json
import sys
from typing import Any

from tui_tagger.core.text import printable


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=None)
    sys.stdout.write("\n")


def warn(message: str) -> None:
    """A one-line problem on stderr, prefixed like every tui-tagger error."""
    print(f"tui-tagger: {printable(message)}", file=sys.stderr)
