"""`tui-tagger synth OUT --count N`: labelled synthetic x-ray scattering frames with their tag files."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tui_tagger.core.errors import TaggerError

MIN_SIZE, MAX_SIZE = 64, 4096
MAX_COUNT = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="folder to write into (created if missing)")
    parser.add_argument("--count", "-n", type=int, default=100, metavar="N", help="number of frames (default 100)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="data set seed; frame i depends only on (seed, i) (default 0)")
    parser.add_argument("--size", type=int, default=256, metavar="PX", help="frame width and height (default 256)")
    parser.add_argument("--edf-every", type=int, default=5, metavar="K",
                        help="write every K-th frame as EDF instead of TIFF; 0 for TIFF only (default 5)")
    parser.add_argument("--families", metavar="F1,F2,...",
                        help="draw only these kinds of frame (classic, detector, crystal, calibrant, solution, "
                             "empty, dark; default: all, in their shares)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= MAX_COUNT:
        raise TaggerError(f"synth: --count must be between 1 and {MAX_COUNT} (got {args.count})")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise TaggerError(f"synth: --size must be between {MIN_SIZE} and {MAX_SIZE} pixels (got {args.size})")
    if args.seed < 0:
        raise TaggerError(f"synth: --seed must be 0 or more (got {args.seed})")
    if args.edf_every < 0:
        raise TaggerError(f"synth: --edf-every must be 0 or more (got {args.edf_every})")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise TaggerError(f"{out}: exists and is not a folder")

    from tui_tagger.core.synth import write_dataset
    from tui_tagger.core.synth.families import FAMILIES

    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else None
    unknown = sorted(set(families or ()) - set(FAMILIES))
    if families is not None and (unknown or not families):
        raise TaggerError(f"synth: unknown --families {', '.join(unknown) or '(none given)'}; "
                          f"known: {', '.join(FAMILIES)}")

    start = time.monotonic()
    show = not args.quiet and sys.stderr.isatty()

    def progress(i: int, path: Path) -> None:
        if show and (i + 1) % 50 == 0:
            print(f"\r{i + 1}/{args.count} frames", end="", file=sys.stderr, flush=True)

    paths = write_dataset(out, args.count, seed=args.seed, size=args.size, edf_every=args.edf_every,
                          progress=progress, families=families)
    if show:
        print("\r", end="", file=sys.stderr)
    n_edf = sum(p.suffix == ".edf" for p in paths)
    took = time.monotonic() - start
    print(f"wrote {len(paths)} frames ({len(paths) - n_edf} TIFF, {n_edf} EDF) and their tag files "
          f"to {out} in {took:.1f} s")
    return 0
