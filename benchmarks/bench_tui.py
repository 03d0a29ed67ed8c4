"""TUI figures on a synthetic 100k-row session (no files: measures the UI, not the disk).

Prints: time to first paint of the lists, key-press-to-repaint latency p50/p99 (cursor moves and
moves between lists, thumbnails queued but never served), peak RSS. Run: python benchmarks/bench_tui.py [N]
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tui_tagger.core.catalog import Entry
from tui_tagger.ui import backend
from tui_tagger.ui.app import TaggerApp


def fake_entries(n: int) -> list[Entry]:
    tags = ["Ring: Isotropic", "TSAXS", "Powder"]
    return [
        Entry(f"/nowhere/img{i:06d}.tif", f"img{i:06d}.tif", 1000, i, "tiff", None,
              {tags[i % 3]: "human"} if i % 2 else {}, {"Ring: Isotropic": (i * 7919 % 1000) / 1000}, None)
        for i in range(n)
    ]


async def main(n: int) -> None:
    entries = fake_entries(n)
    backend.scan = lambda root, tags_dir: iter(entries)  # the UI alone: no disk
    backend.thumbnail = lambda ref, size, settings: (time.sleep(0.01), None)[1]  # slow "disk"
    t0 = time.perf_counter()
    app = TaggerApp(Path(tempfile.mkdtemp()), tag="Ring: Isotropic", graphics="none")
    async with app.run_test(size=(160, 48)) as pilot:
        while app.scanning:
            await pilot.pause(0.01)
        await pilot.pause(0)
        print(f"rows: {n}; first paint with all rows listed: {time.perf_counter() - t0:.2f} s")
        lat = []
        for key in ["down"] * 60 + ["pagedown"] * 20 + ["tab", "down", "up"] * 10:
            t = time.perf_counter()
            await pilot.press(key)
            lat.append(time.perf_counter() - t)
        moves = []
        for _ in range(10):
            t = time.perf_counter()
            await pilot.press("m")
            moves.append(time.perf_counter() - t)
        q = statistics.quantiles(lat, n=100)
        print(f"key-press-to-repaint: p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms ({len(lat)} keys)")
        print(f"move (m, rebuilds both lists): median {statistics.median(moves) * 1000:.0f} ms")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
