"""``tui-tagger demo``: a synthetic, labelled demo folder (made on first use) opened in the TUI."""

from __future__ import annotations

import argparse
import shutil
import sys

from tui_tagger.commands.open_cmd import add_view_arguments, launch
from tui_tagger.config import cache_dir
from tui_tagger.core.errors import TaggerError

FRAMES = 300
SIZE = 256
DONE = ".complete"  # written last: a folder without it was interrupted and is made again


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=FRAMES, help=f"frames in a new demo folder (default {FRAMES})")
    parser.add_argument("--fresh", action="store_true", help="make the demo folder again")
    add_view_arguments(parser)


def demo_folder(frames: int = FRAMES, fresh: bool = False):
    folder = cache_dir() / "demo"
    if fresh or not (folder / DONE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        print(f"tui-tagger: making {frames} synthetic frames in {folder} (first use) ...", file=sys.stderr)
        try:
            from tui_tagger.core.synth import write_dataset
        except ImportError as err:
            raise TaggerError(f"the synthetic generator is not available: {err}") from None
        write_dataset(folder, frames, seed=0, size=SIZE)
        (folder / DONE).write_text("ok\n")
    return folder


def run(args: argparse.Namespace) -> int:
    return launch(demo_folder(args.frames, args.fresh), args)
