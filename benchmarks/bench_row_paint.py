"""What a list row's thumbnail costs to paint: half blocks vs kitty graphics placeholders, per zoom level.

Opens a folder (default: the real reference frames) headless twice, --graphics halfcell and kitty, waits for
the thumbnails at each list zoom, and prints per row (medians; a band of ``row_h`` lines, the strip cache emptied so
every line is built again, as after a scroll): the time to build its lines, and the bytes Textual writes for
them; for kitty also the one-off cost of a new thumbnail (zlib + base64 escapes, written once per image) and
its bytes. The terminal's cell is taken as 10 x 20 px (thumbnails at most 8 x 16 px per cell).

    python benchmarks/bench_row_paint.py [DIR] [--repeat N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from headless_tui import folder_args, isolate



async def measure(folder: Path, graphics: str, repeat: int) -> dict:
    from tui_tagger.ui.app import TaggerApp
    from tui_tagger.ui.widgets import kitty_placeholders as kp
    from tui_tagger.ui.zoom import LIST_LEVELS

    app = TaggerApp(folder, graphics=graphics)
    sent: list[str] = []
    if app.placeholders is not None:
        app.placeholders.write = sent.append
    out = {}
    async with app.run_test(size=(160, 48)) as pilot:
        lst = app.pos
        for level in range(len(LIST_LEVELS)):
            app.zoom.list_level, app.zoom.grid = level, False
            app.apply_zoom()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await pilot.pause(0.05)
                if app.thumbs.pending == 0 and lst.rows and app.thumbs.get(lst.rows[0].path) is not None:
                    break
            rows = [i for i in lst.visible_range() if app.thumbs.get(lst.rows[i].path) is not None]
            lines = [(i, y) for i in rows for y in range(lst.row_h)]
            per_row, nbytes = [], 0
            for _ in range(repeat):
                lst._strips.clear()
                t = time.perf_counter()
                for i, y in lines:
                    lst.render_line(lst.line_of(i) - int(lst.scroll_y) + y)
                per_row.append((time.perf_counter() - t) / len(rows))
            for i, y in lines:
                strip = lst.render_line(lst.line_of(i) - int(lst.scroll_y) + y)
                nbytes += len(strip.render(app.console).encode())
            entry = {"row_us": statistics.median(per_row) * 1e6, "row_bytes": nbytes / len(rows),
                     "cells": LIST_LEVELS[level], "px": app.thumbs.size}
            if app.placeholders is not None:  # a new thumbnail's escapes: PNG, base64, chunks
                times, sizes = [], []
                for i in rows:
                    arr = app.thumbs.get(lst.rows[i].path)
                    for _ in range(repeat):
                        t = time.perf_counter()
                        data = kp.transmit(1, arr, *LIST_LEVELS[level])
                        times.append(time.perf_counter() - t)
                    sizes.append(len(data))
                entry["send_us"] = statistics.median(times) * 1e6
                entry["send_bytes"] = statistics.mean(sizes)
            out[level] = entry
        app.session.discard_journal()
    return out


def main() -> None:
    args = folder_args(__doc__)
    isolate("bench-row-paint-")
    half = asyncio.run(measure(args.folder, "halfcell", args.repeat))
    kitty = asyncio.run(measure(args.folder, "kitty", args.repeat))
    print(f"load {os.getloadavg()[0]:.2f}; per row, its lines built anew (strip cache empty); {args.folder}")
    print(f"{'cells':>7} {'half px':>8} {'half us':>8} {'half B':>7} | {'kitty px':>9} {'kitty us':>9} "
          f"{'kitty B':>8} | {'send us':>8} {'send B':>8}  (once per image)")
    for level, h in half.items():
        k = kitty[level]
        print(f"{'%dx%d' % h['cells']:>7} {'%dx%d' % h['px']:>8} {h['row_us']:8.0f} {h['row_bytes']:7.0f} | "
              f"{'%dx%d' % k['px']:>9} {k['row_us']:9.0f} {k['row_bytes']:8.0f} | {k['send_us']:8.0f} "
              f"{k['send_bytes']:8.0f}")


if __name__ == "__main__":
    main()
