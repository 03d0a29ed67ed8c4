"""TUI figures on a synthetic 100k-row session (no files: measures the UI, not the disk).

Prints: time to the first screen and to all rows listed, key-press-to-repaint latency p50/p99 (key sent ->
the screen's next repaint done; cursor moves, page jumps, pane switches) while thumbnails load (a fake
10 ms thumbnail per row, never cached), the time one frame takes to compose, a move (`m`) between lists,
and peak RSS. Run: python benchmarks/bench_tui.py [N]

For a real folder (disk, index cache) see benchmarks/bench_tui_folder.py.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


class FakeCatalog:
    def __init__(self, entries):
        self._entries = entries

    def scan(self):
        yield from self._entries

    def update_tags(self, path, tagfile):
        return None


def slow_thumbnail(ref, size, settings):
    time.sleep(0.01)  # a slow disk
    rng = np.random.default_rng(abs(hash(ref)) % 2**32)
    return rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)


def fake_frame(ref):
    from tui_tagger.core.formats.base import Frame

    data = np.random.default_rng(abs(hash(ref)) % 2**32).poisson(5, (512, 512)).astype(np.float32)
    return Frame(data, np.ones(data.shape, bool), "tiff", {})


class RepaintClock:
    """Timestamps of finished screen repaints, and how long each took."""

    def __init__(self, screen) -> None:
        self.done: list[float] = []
        self.costs: list[float] = []
        original = screen._compositor_refresh

        def timed():
            t = time.perf_counter()
            original()
            self.done.append(time.perf_counter())
            self.costs.append(self.done[-1] - t)

        screen._compositor_refresh = timed

    async def next_after(self, t0: float, limit: float = 2.0) -> float:
        end = time.perf_counter() + limit
        while time.perf_counter() < end:
            if self.done and self.done[-1] > t0:
                return next(t for t in self.done if t > t0) - t0
            await asyncio.sleep(0.0005)
        return limit


def pct(values, q):
    return float(np.percentile(np.array(values) * 1000, q))


async def main(n: int) -> None:
    entries = fake_entries(n)
    backend.catalog = lambda root, tags_dir: FakeCatalog(entries)  # the UI alone: no disk
    backend.thumbnail = slow_thumbnail
    backend.read_frame = fake_frame
    from tui_tagger.ui.widgets.image_list import ImageList

    shown: list[float] = []
    set_rows = ImageList.set_rows

    def timed_set_rows(self, rows, key=None):
        set_rows(self, rows, key)
        if rows and not shown:
            shown.append(time.perf_counter())

    ImageList.set_rows = timed_set_rows
    t0 = time.perf_counter()
    app = TaggerApp(Path(tempfile.mkdtemp()), tag="Ring: Isotropic", graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        while app.scanning:
            await asyncio.sleep(0.001)
        listed = time.perf_counter() - t0
        await pilot.pause(0.3)
        print(f"rows: {n}; first rows on screen {shown[0] - t0:.2f} s; all rows listed {listed:.2f} s")
        clock = RepaintClock(app.screen)
        lat = []
        for key in ["down"] * 60 + ["pagedown"] * 20 + ["tab", "down", "up"] * 10:
            t = time.perf_counter()
            await pilot.press(key)
            lat.append(await clock.next_after(t))
            if "-v" in sys.argv and lat[-1] > 0.05:
                print(f"  slow: {key} {lat[-1] * 1000:.0f} ms")
        print(f"key-press-to-repaint: p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms ({len(lat)} keys, "
              f"thumbnails loading)")
        print(f"one repaint: p50 {pct(clock.costs, 50):.1f} ms, p99 {pct(clock.costs, 99):.1f} ms "
              f"({len(clock.costs)} repaints)")
        moves = []
        app.pos.focus()
        for _ in range(10):
            t = time.perf_counter()
            await pilot.press("m")
            moves.append(await clock.next_after(t))
        print(f"move (m) to repaint: p50 {pct(moves, 50):.1f} ms, max {max(moves) * 1000:.1f} ms")
        t = time.perf_counter()
        app.rebuild_lists()
        print(f"full rebuild of both lists (tag change, filter, sort): {(time.perf_counter() - t) * 1000:.0f} ms")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main(next((int(a) for a in sys.argv[1:] if a.isdigit()), 100_000)))
