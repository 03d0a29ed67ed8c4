"""TUI figures: time to first paint (cold and warm index), key-press-to-repaint latency while thumbnails
load, a move (`m`) between lists, and peak RSS. `--tmux`: the app as a user runs it, in tmux, keys sent
through tmux and the time until the screen shows their effect (bench_tui_tmux.py).

Default: a REAL folder of BENCH_N (100000) tiny TIFF frames with tag files, built once in a temp dir (the
same builder as bench_index.py; BENCH_DIR to choose where), opened twice: cold (empty index: the scan
streams in) and warm (first screen from the index, then the changes-only verify).
`--fake`: a synthetic session with no files (the UI alone, a fake 10 ms thumbnail per row).
`--data DIR`: an existing folder (e.g. the 1M folder of bench_index.py's builder), opened warm as a user
does (the index of the cache TUI_TAGGER_CACHE_DIR names, filled once if empty; journals and thumbnails in a
fresh cache): the first screen, the whole folder loaded, the change check done, Down held (~30/s,
key-press-to-repaint), a move (then Down held 1.5 s: the live head picks its images in a worker), a tag change
(its time on the UI thread, until the new lists land, and Down held meanwhile), and the peak RSS (VmHWM)
after each; nothing in the folder changes (the move is journalled, then discarded).
`--keys DIR`: the UI thread's CPU per key (Down, PageUp, PageDown) on DIR, warm, while thumbnails load.
`--jobs` (with --data): then r, t and / (bench_tui_jobs.py); `--learn` (with --data): then the live head
(started by the move) until it has learned, its features computed in the model's process, the peak RSS after. `-v`: print slow keys; `BENCH_PROFILE=1`: a cProfile of the move key path.

    python benchmarks/bench_tui.py            # BENCH_N=20000 python benchmarks/bench_tui.py
    python benchmarks/bench_tui.py --fake 100000
    TUI_TAGGER_CACHE_DIR=/tmp/c python benchmarks/bench_tui.py --data /tmp/d1m
    TUI_TAGGER_CACHE_DIR=/tmp/c python benchmarks/bench_tui.py --keys /tmp/real-1024
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import resource
import shutil
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

    def scan(self, changes_only=False):
        yield from self._entries

    def update_tags(self, path, tagfile):
        return None


def slow_thumbnail(ref, size, settings, *_place):
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


class FirstPaint:
    """When the lists first get rows (the first screen), timed from ``t0``."""

    def __init__(self) -> None:
        from tui_tagger.ui.widgets.image_list import ImageList

        self.at: float | None = None
        set_rows = ImageList.set_rows

        def timed_set_rows(lst, rows, key=None):
            set_rows(lst, rows, key)
            if rows and self.at is None:
                self.at = time.perf_counter()

        ImageList.set_rows = timed_set_rows


async def open_app(root: Path, label: str, paint: FirstPaint):
    """Open the app on ``root``; print the time to the first screen and to the end of the scan."""
    paint.at = None
    t0 = time.perf_counter()
    app = TaggerApp(root, tag="Ring: Isotropic", graphics="halfcell")
    ctx = app.run_test(size=(160, 48))
    pilot = await ctx.__aenter__()
    while paint.at is None and time.perf_counter() - t0 < 600:
        await asyncio.sleep(0.001)
    first = paint.at - t0
    while app.scanning:
        await asyncio.sleep(0.005)
    done = time.perf_counter() - t0
    print(f"{label}: first paint {first:.2f} s; scan done {done:.2f} s ({len(app.session.rows)} rows)")
    return app, pilot, ctx


async def key_figures(app, pilot) -> None:
    """Key-press-to-repaint latency while thumbnails load, then moves, then a full rebuild."""
    await pilot.pause(0.3)
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
    app.pos.focus()
    await pilot.pause(0.2)
    prof = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    moves = []
    for _ in range(30):
        t = time.perf_counter()
        if prof:
            prof.enable()
        await pilot.press("m")
        moves.append(await clock.next_after(t))
        if prof:
            prof.disable()
    print(f"move (m) to repaint: p50 {pct(moves, 50):.1f} ms, p99 {pct(moves, 99):.1f} ms "
          f"({len(app.pos.rows) + len(app.neg.rows)} rows)")
    if prof:
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats("tui_tagger", 25)
    t = time.perf_counter()
    app.rebuild_lists()
    print(f"full rebuild of both lists (tag change, filter, sort): {(time.perf_counter() - t) * 1000:.0f} ms")


def peak_rss() -> str:
    return f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"


def vm_hwm() -> float:
    """Peak RSS of this process (MB): bench_index's measure."""
    from bench_index import _rss_mb

    return _rss_mb()


async def existing_folder(root: Path) -> None:
    """Warm open of ``root`` as a user meets it: first screen, all loaded, check done, Down held, a tag change."""
    from tui_tagger.config import cache_dir

    # the index of the cache in force, all else (journals, thumbnails) fresh: no restore question of an
    # earlier run, thumbnails loading throughout
    index = cache_dir() / "index"
    index.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix="bench_tui_cache_", dir=os.environ.get("BENCH_DIR")))
    (fresh / "index").symlink_to(index.resolve())
    os.environ["TUI_TAGGER_CACHE_DIR"] = str(fresh)
    try:
        await _existing_folder(root)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


async def held_down(app, pilot, clock, done=None, every: float = 0.033, keys: int = 0) -> list[float]:
    """Down every ``every`` s (a held key) until ``done()`` (or ``keys`` of them); each key's press-to-repaint latency. The keys
    go in as the terminal driver sends them (a message to the app): ``pilot.press`` waits until the whole
    process idles, up to 2 s a key while a worker computes."""
    from textual import events

    lat: list[float] = []
    while not (done() if done else len(lat) >= keys):
        t = time.perf_counter()
        app.post_message(events.Key("down", None))
        lat.append(await clock.next_after(t))
        await asyncio.sleep(max(0.0, every - (time.perf_counter() - t)))
    return lat


def spread(lat: list[float]) -> str:
    if not lat:
        return "no keys"
    return f"p50 {pct(lat, 50):.0f} ms, p90 {pct(lat, 90):.0f} ms, max {pct(lat, 100):.0f} ms ({len(lat)} keys)"


async def _existing_folder(root: Path) -> None:
    from textual import events

    from tui_tagger.core.catalog import Catalog

    cat = Catalog(root)
    if not cat.db.count_files("format IS NOT NULL"):
        t = time.perf_counter()
        cat.update()
        print(f"index filled (cold scan) in {time.perf_counter() - t:.1f} s")
    cat.close()
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores)")
    paint = FirstPaint()
    t0 = time.perf_counter()
    app = TaggerApp(root, graphics="halfcell")
    ctx = app.run_test(size=(160, 48))
    pilot = await ctx.__aenter__()
    while paint.at is None and time.perf_counter() - t0 < 600:
        await asyncio.sleep(0.001)
    print(f"first screen: {paint.at - t0:.2f} s ({len(app.pos.rows)} + {len(app.neg.rows)} rows listed, "
          f"RSS peak {vm_hwm():.0f} MB)")
    lat, clock, loaded = [], RepaintClock(app.screen), None
    app.pos.focus()
    while app.scanning and time.perf_counter() - t0 < 900:  # Down held (~30/s) while the rest loads
        if loaded is None and getattr(app, "verifying", False):  # every row listed, the check runs
            loaded = time.perf_counter() - t0
            print(f"every row listed: {loaded:.2f} s ({len(app.session.rows):,} rows; RSS peak {vm_hwm():.0f} MB)")
        t = time.perf_counter()
        app.post_message(events.Key("down", None))  # as the terminal sends it (see held_down)
        lat.append(await clock.next_after(t))
        await asyncio.sleep(max(0.0, 0.033 - (time.perf_counter() - t)))
    print(f"all loaded and checked: {time.perf_counter() - t0:.2f} s ({len(app.session.rows):,} rows; "
          f"RSS peak {vm_hwm():.0f} MB)")
    if lat:
        print(f"Down while loading: p50 {pct(lat, 50):.0f} ms, p90 {pct(lat, 90):.0f} ms, "
              f"max {pct(lat, 100):.0f} ms ({len(lat)} keys)")
    lat = await held_down(app, pilot, clock, keys=100)
    print(f"Down after: p50 {pct(lat, 50):.0f} ms, p90 {pct(lat, 90):.0f} ms, max {pct(lat, 100):.0f} ms")
    prof = cProfile.Profile() if os.environ.get("BENCH_PROFILE") == "m" else None
    if prof:
        prof.enable()
    t = time.perf_counter()
    app.post_message(events.Key("m", "m"))
    move = await clock.next_after(t)
    if prof:
        prof.disable()
        print(f"(m: the press returned after {(time.perf_counter() - t) * 1000:.0f} ms)")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    lat = await held_down(app, pilot, clock, lambda: time.perf_counter() - t > 1.5)
    print(f"move (m): {move * 1000:.0f} ms (the first: the live head picks its images); Down for 1.5 s after it: "
          f"{spread(lat)}")
    tag = next(n for n in ("GISAXS", "TSAXS", "Powder") if n != app.session.tag)
    prof = cProfile.Profile() if os.environ.get("BENCH_PROFILE") == "tag" else None
    landing = []  # the UI thread's time taking the worker's lists in (ListsMixin.on_lists_split)
    # patched where it is defined: Textual calls a handler of each class of the app's MRO that defines one
    owner = next((c for c in type(app).__mro__ if "on_lists_split" in c.__dict__), None)
    land = owner.__dict__["on_lists_split"] if owner is not None else None
    if land is not None:
        def timed_land(self, msg):
            t = time.perf_counter()
            if prof:
                prof.enable()
            land(self, msg)
            if prof:
                prof.disable()
            landing.append(time.perf_counter() - t)

        owner.on_lists_split = timed_land
    t = time.perf_counter()
    if prof:
        prof.enable()
    app.set_view(tag=tag)
    change = time.perf_counter() - t
    if prof:
        prof.disable()
    pending = getattr(app, "lists_pending", lambda: None)  # a tree from before the lists' worker: none
    lat = await held_down(app, pilot, clock, lambda: pending() is None and app.session.tag == tag)
    landed = time.perf_counter() - t
    if prof:
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    if landing:
        change += sum(landing)
    print(f"tag change to {tag}: {change * 1000:.0f} ms on the UI thread, the new lists in {landed * 1000:.0f} ms "
          f"(+{len(app.pos.rows):,} -{len(app.neg.rows):,}); Down held meanwhile: {spread(lat)}")
    if "--learn" in sys.argv:  # the live head, started by the move, until it has learned: its RSS counts too
        t = time.perf_counter()
        lat = await held_down(app, pilot, clock, lambda: (app.head_status or "").startswith("learned")
                              or not app._head_enabled or time.perf_counter() - t > 900, every=0.25)
        print(f"the live head: {app.head_status!r} {time.perf_counter() - t:.1f} s after the tag change (Down every "
              f"0.25 s meanwhile: {spread(lat)}); RSS peak {vm_hwm():.0f} MB, torch in the app: {'torch' in sys.modules}")
    if "--jobs" in sys.argv:  # r, t and / (bench_tui_jobs.py)
        from bench_tui_jobs import long_jobs

        await long_jobs(app, pilot, clock)
    app.session.discard_journal()
    await ctx.__aexit__(None, None, None)
    print(f"peak RSS over open + Down + m + tag change: {vm_hwm():.0f} MB")


async def key_cpu(root: Path) -> None:
    """The UI thread's CPU time per key (what a key costs the app, less sensitive to the machine's load than its
    latency): ``root`` opened warm (the index of the cache in force, filled once), the thumbnails' cache
    emptied, then Down every 40 ms x 140, PageUp / PageDown every 80 ms x 8 each (as bench_tui_tmux.py sends
    them), thumbnails loading meanwhile. Keys go in as the terminal driver sends them."""
    from textual import events

    from tui_tagger.config import cache_dir
    from tui_tagger.core.catalog import Catalog

    cat = Catalog(root)
    if not cat.db.count_files("format IS NOT NULL"):
        cat.update()
    cat.close()
    shutil.rmtree(cache_dir() / "thumbs", ignore_errors=True)

    async def send(app, key: str, n: int, every: float) -> float:
        t0 = time.thread_time()  # this (the UI) thread's CPU
        for _ in range(n):
            t = time.perf_counter()
            app.post_message(events.Key(key, None))
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - t)))
        return (time.thread_time() - t0) / n * 1000

    app = TaggerApp(root, graphics="halfcell")
    async with app.run_test(size=(160, 48)):
        while app.scanning or getattr(app, "loading", 0):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        lst = app.active_list()
        down = await send(app, "down", 140, 0.04)
        up = await send(app, "pageup", 8, 0.08)
        page = await send(app, "pagedown", 8, 0.08)
        print(f"UI-thread CPU per key: Down {down:.1f} ms, PageUp {up:.1f} ms, PageDown {page:.1f} ms "
              f"({len(lst.rows):,} rows listed; load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
        app.session.discard_journal()


async def real_folder(n: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_index import build

    base = Path(tempfile.mkdtemp(prefix="bench_tui_", dir=os.environ.get("BENCH_DIR")))
    os.environ["TUI_TAGGER_CACHE_DIR"] = str(base / "cache")
    os.environ.setdefault("TUI_TAGGER_FSYNC", "1")  # as users have it: the journal's fsync is in the figures
    try:
        t = time.perf_counter()
        build(base / "data", n)
        print(f"built {n} images + tag files in {time.perf_counter() - t:.1f} s")
        paint = FirstPaint()
        app, pilot, ctx = await open_app(base / "data", "cold index", paint)
        await ctx.__aexit__(None, None, None)
        print(peak_rss() + " (after the cold open)")
        app, pilot, ctx = await open_app(base / "data", "warm index", paint)
        await key_figures(app, pilot)
        app.session.discard_journal()
        await ctx.__aexit__(None, None, None)
        print(peak_rss())
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def fake_session(n: int) -> None:
    from tui_tagger.core.catalog import Change
    from tui_tagger.core.catalog_rows import Counts

    entries = fake_entries(n)
    backend.catalog = lambda root, tags_dir: FakeCatalog(entries)  # the UI alone: no disk
    backend.index_counts = lambda catalog, per_tag=True: Counts(0, {})  # as a cold index: the entries stream in
    backend.scan_changes = lambda catalog: (Change("changed", e.path, e) for e in catalog.scan())
    backend.thumbnail = slow_thumbnail
    backend.read_frame = fake_frame
    try:
        from tui_tagger.ui import decoding

        decoding.use_threads()  # the fakes live in this process: the worker processes would not see them
    except ImportError:  # a tree from before ui/decoding.py
        pass
    paint = FirstPaint()
    app, pilot, ctx = await open_app(Path(tempfile.mkdtemp()), f"{n} fake rows", paint)
    await key_figures(app, pilot)
    app.session.discard_journal()
    await ctx.__aexit__(None, None, None)
    print(peak_rss())


if __name__ == "__main__":
    if "--tmux" in sys.argv:
        sys.path.insert(0, str(Path(__file__).parent))
        import bench_tui_tmux

        sys.exit(bench_tui_tmux.main([a for a in sys.argv[1:] if a != "--tmux"]))
    if "--keys" in sys.argv:
        asyncio.run(key_cpu(Path(sys.argv[sys.argv.index("--keys") + 1])))
    elif "--data" in sys.argv:
        asyncio.run(existing_folder(Path(sys.argv[sys.argv.index("--data") + 1])))
    elif "--fake" in sys.argv:
        asyncio.run(fake_session(next((int(a) for a in sys.argv[1:] if a.isdigit()), 100_000)))
    else:
        asyncio.run(real_folder(int(os.environ.get("BENCH_N", "100000"))))
