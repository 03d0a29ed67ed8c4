"""The live head in the TUI (headless): the app's RSS at the first screen and after CORRECTIONS corrections have
trained the live head (its features computed or read from the cache, its fit, the p applied), the time from
the first correction to "learned", and whether torch was imported into the app's process (it should not be: the
CNN runs in a model process, the model's head is read from its file, ``model.peek``).

Nothing in the folder changes (the moves are journalled, never saved). The feature cache is
TUI_TAGGER_CACHE_DIR's (a second run reads the features from it; a fresh folder there computes them); journals
and config are fresh.

    TUI_TAGGER_CACHE_DIR=/tmp/c python benchmarks/bench_live_head.py /tmp/k-real --tag TSAXS
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path


def _status(field: str) -> float:
    """VmRSS / VmHWM of this process, MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def run(root: Path, tag: str, corrections: int, features: str) -> None:
    from tui_tagger.ui.app import TaggerApp

    app = TaggerApp(root, tag=tag, graphics="none", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(1200):
            await pilot.pause(0.05)
            if not app.scanning:
                break
        await pilot.pause(0.5)
        print(f"first screen ({len(app.session.rows)} rows, tag {tag}, features {features}): "
              f"RSS {_status('VmRSS'):.0f} MB, torch imported: {'torch' in sys.modules}")
        app.neg.focus()
        start = time.perf_counter()
        for _ in range(corrections):
            await pilot.press("m")  # the row under the cursor to Positive; the next one comes under it
            await pilot.pause(0.1)
        for _ in range(12000):
            await pilot.pause(0.05)
            if app.head_status and app.head_status.startswith(("learned", "learning: needs")) \
                    and not app._head_loading:
                break
        learned = time.perf_counter() - start
        await pilot.pause(1.0)  # the fit's p applied slice by slice
        print(f"after {corrections} corrections: {app.head_status!r} in {learned:.1f} s; RSS {_status('VmRSS'):.0f} MB,"
              f" peak {_status('VmHWM'):.0f} MB, torch imported: {'torch' in sys.modules}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--tag", default="TSAXS")
    ap.add_argument("--corrections", type=int, default=3)
    args = ap.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"{args.folder}: not a folder")
    fresh = Path(tempfile.mkdtemp(prefix="bench_live_head_"))
    features = os.environ.get("TUI_TAGGER_CACHE_DIR")
    if features:  # the feature cache of that folder, journals and the rest fresh
        os.makedirs(Path(features) / "features", exist_ok=True)
        (fresh / "features").symlink_to(Path(features, "features").resolve())
    os.environ.update(TUI_TAGGER_CACHE_DIR=str(fresh / "cache") if not features else str(fresh),
                      TUI_TAGGER_CONFIG_DIR=str(fresh / "cfg"))
    from tui_tagger.learn.features import default_source

    asyncio.run(run(args.folder, args.tag, args.corrections, default_source()))


if __name__ == "__main__":
    main()
