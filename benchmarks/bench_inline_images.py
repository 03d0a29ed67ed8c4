"""What Sixel and iTerm2 thumbnails cost (ui/widgets/inline_images.py), per list zoom and grid zoom.

Opens a folder (default: the real reference frames) headless with --graphics sixel, then iterm2, waits at each
zoom until the thumbnails on screen are decoded and encoded, and prints (medians): the time to encode one
thumbnail (in this process, as a decoding worker does) and its bytes; the UI thread's time to work out which
images a full frame paints (``after_frame``); and the bytes a full screen of them writes (each scroll of the
list writes that many again, since Textual rewrites the list's text under them). The terminal's cell is taken
as 10 x 20 px.

    python benchmarks/bench_inline_images.py [DIR] [--repeat N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from headless_tui import folder_args, isolate



class FullFrame:
    """A stand-in for Textual's full-screen update (what ``after_frame`` reads of it)."""

    def __init__(self, region) -> None:
        self.region = region


async def measure(folder: Path, protocol: str, repeat: int) -> list[dict]:
    from tui_tagger.ui.app import TaggerApp
    from tui_tagger.ui.widgets import inline_codec
    from tui_tagger.ui.zoom import GRID_LEVELS, LIST_LEVELS

    app = TaggerApp(folder, graphics=protocol)
    images = app.placeholders
    out = []
    async with app.run_test(size=(160, 48)) as pilot:
        lst = app.pos
        for grid, levels in ((False, LIST_LEVELS), (True, GRID_LEVELS)):
            for level in range(len(levels)):
                app.zoom.grid = grid
                if grid:
                    app.zoom.grid_level = level
                else:
                    app.zoom.list_level = level
                app.apply_zoom()
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    await pilot.pause(0.05)
                    rects = images.rects(lst)
                    if (app.thumbs.pending == 0 and lst.rows and not images.resting
                            and all(app.thumbs.get(lst.rows[i].path) is not None for i in lst.visible_range())
                            and all(images._escapes.get((id(a), r.width, r.height)) for a, r, _ in rects)):
                        break
                frame = FullFrame(app.screen.region)
                entry = {"view": ("grid " if grid else "list ") + "%dx%d" % levels[level],
                         "images": len(images.rects(app.pos)) + len(images.rects(app.neg))}
                times = []
                for _ in range(repeat):
                    images._last_burst = 0.0  # each a scroll on its own, not one of a held key's
                    t = time.perf_counter()
                    painted = images.after_frame(app.screen, frame)
                    times.append(time.perf_counter() - t)
                entry["frame_us"] = statistics.median(times) * 1e6
                entry["frame_kb"] = len(painted) / 1024
                enc, size = [], []
                for arr, rect, _ in images.rects(lst)[:6]:
                    for _ in range(max(1, repeat // 4)):
                        t = time.perf_counter()
                        data = inline_codec.encode(protocol, arr, rect.width, rect.height, images.cell)
                        enc.append(time.perf_counter() - t)
                    size.append(len(data))
                entry["encode_ms"] = statistics.median(enc) * 1e3 if enc else 0.0
                entry["image_kb"] = statistics.median(size) / 1024 if size else 0.0
                out.append(entry)
        app.session.discard_journal()
    return out


def main() -> None:
    args = folder_args(__doc__)
    isolate("bench-inline-")
    print(f"load {os.getloadavg()[0]:.2f}; 160x48, cell 10x20 px; {args.folder}")
    for protocol in ("sixel", "iterm2"):
        rows = asyncio.run(measure(args.folder, protocol, args.repeat))
        print(f"{protocol}: {'view':>11} {'images':>6} {'encode ms':>9} {'image KB':>8} | {'frame us':>8} "
              f"{'screen KB':>9}")
        for r in rows:
            print(f"{'':7}{r['view']:>11} {r['images']:6d} {r['encode_ms']:9.1f} {r['image_kb']:8.1f} | "
                  f"{r['frame_us']:8.0f} {r['frame_kb']:9.0f}")


if __name__ == "__main__":
    main()
