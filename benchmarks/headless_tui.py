"""What the TUI paint benchmarks share: their arguments (a folder of frames, --repeat) and a headless TUI of
their own (fresh cache and config folders, a fixed cell size where no terminal can be asked)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real-dev" / "images"


def folder_args(doc: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"{args.folder}: not a folder")
    return args


def isolate(prefix: str) -> None:
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.environ.update(TUI_TAGGER_CACHE_DIR=os.path.join(tmp, "cache"), TUI_TAGGER_CONFIG_DIR=os.path.join(tmp, "cfg"))
    from tui_tagger.ui.widgets import image_adapter

    image_adapter.cell_pixel_size = lambda: (10, 20)  # headless: no terminal to ask
