"""Thumbnail speed: downsample-first (block RMS over the display floor, then scale and colour) vs
scale-first, and cache rates.

Run: python benchmarks/bench_thumbnail.py [--repeat N] [--size W]
Prints milliseconds per thumbnail for synthetic 1024^2 and 2048^2 frames (Poisson rings, a masked
beamstop and module gap), and get/put per second of the on-disk cache in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tui_tagger.core import display
from tui_tagger.core.display import DisplaySettings
from tui_tagger.core.thumbcache import ThumbnailCache


def frame(side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side]
    r = np.hypot(x - side * 0.45, y - side * 0.55)
    img = 3000 / (1 + (r / (side / 50)) ** 2) + 20 + 400 * np.exp(-0.5 * ((r - side / 4) / 4) ** 2)
    data = rng.poisson(img).astype(np.float32)
    mask = np.ones(data.shape, bool)
    mask[r < side / 40] = False
    mask[:, side // 2 : side // 2 + 10] = False
    return data, mask


def scale_first(data: np.ndarray, mask: np.ndarray, size: tuple[int, int], s: DisplaySettings) -> np.ndarray:
    """The slow way: scale and colour the full frame, then pick pixels (loses single-pixel peaks)."""
    rgb = display.colorize(display.normalize(data, mask, s), s.colormap)
    rows, cols = display.fit_size(data.shape, size)
    iy = (np.arange(rows) * data.shape[0]) // rows
    ix = (np.arange(cols) * data.shape[1]) // cols
    return rgb[iy][:, ix]


def ms_per_call(fn, repeat: int) -> float:
    fn()  # warm up (imports, caches)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--size", type=int, default=160, help="thumbnail box side in pixels (default 160)")
    args = ap.parse_args()
    size = (args.size, args.size)
    s = DisplaySettings()

    print(f"thumbnail {size[0]}x{size[1]}, {s.scaling} scaling, colour map {s.colormap}; median of {args.repeat}")
    for side in (1024, 2048):
        data, mask = frame(side)
        down = ms_per_call(lambda: display.render_array(data, mask, s, size), args.repeat)
        full = ms_per_call(lambda: scale_first(data, mask, size, s), args.repeat)
        print(f"  {side}x{side}: downsample-first {down:6.1f} ms   scale-first {full:6.1f} ms   ({full / down:.1f}x)")

    with tempfile.TemporaryDirectory() as tmp:
        cache = ThumbnailCache(Path(tmp) / "thumbs", max_bytes=1 << 30)
        n = 500
        paths = []
        for i in range(n):
            p = Path(tmp) / f"img{i:04d}.tif"
            p.write_bytes(b"x")
            paths.append(p)
        thumb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        t = time.perf_counter()
        for p in paths:
            cache.put(p, size, s, thumb)
        put_rate = n / (time.perf_counter() - t)
        t = time.perf_counter()
        for p in paths:
            assert cache.get(p, size, s) is not None
        get_rate = n / (time.perf_counter() - t)
        print(f"cache ({thumb.nbytes / 1024:.0f} KiB entries): put {put_rate:7.0f}/s   get {get_rate:7.0f}/s")


if __name__ == "__main__":
    main()
