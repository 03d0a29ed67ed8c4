"""What Sixel and iTerm2 thumbnails cost (ui/widgets/inline_images.py), per list zoom and grid zoom.

Opens a folder (default: the real reference frames) headless with --graphics sixel, then iterm2, waits at each
zoom until the thumbnails on screen are decoded and encoded, and prints (medians): the time to encode one
thumbnail (in this process, as a decoding worker does) and its bytes; the UI thread's time to work out which
images a full frame paints (``after_frame``); and the bytes a full screen of them writes (each scroll of the
list writes that many again, since Textual rewrites the list's text under them). The terminal's cell is taken
as 10 x 20 px. Then the image bytes each key writes: Down moving the cursor over rows on screen, PageDown.

    python benchmarks/bench_inline_images.py [DIR] [--repeat N]     # BENCH_KEYS_ONLY=1: the bytes per key alone
"""

from __future__ import annotations

import asyncio
import os
import re
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


# an image escape and the cursor move before it (where it is drawn)
ESCAPES = re.compile(r"\x1b\[(\d+);(\d+)H(\x1bP[0-9;]*q.*?\x1b\\|\x1b\]1337;File=.*?\x07|\x1bPtmux;.*?\x1b\\)",
                     re.S)


async def per_key(folder: Path, protocol: str, keys: int = 8) -> dict:
    """Thumbnail image bytes written per key at the first pixel zoom of the list (the inspect pane's image
    apart): Down over the rows on screen (the cursor moves, nothing scrolls) and PageDown (a scroll where the
    list is longer than the screen), each key until the list rests, as a user's single presses. Counted in
    what reaches the terminal (any tree)."""
    from tui_tagger.ui.app import TaggerApp

    app = TaggerApp(folder, graphics=protocol)
    written: list[str] = []
    display = app._display

    def record(screen, update) -> None:
        display(screen, update)
        if update is not None and hasattr(update, "render_segments"):
            written.append(update.render_segments(app.console))

    app._display = record
    out: dict = {}
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("plus")
        images = app.placeholders

        async def settled(limit: float) -> None:  # every thumbnail on screen encoded and painted
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                await pilot.pause(0.1)
                rects = images.rects(app.pos) + images.rects(app.neg)
                if rects and app.thumbs.pending == 0 and not images.resting and all(
                        images._escapes.get((id(a), r.width, r.height)) for a, r, _ in rects):
                    break
            await pilot.pause(0.3)

        await settled(180)
        app.pos.focus()
        lists = [app.pos.region, app.neg.region]  # the thumbnails' images (not the inspect pane's)
        on_screen = app.pos.scrollable_content_region.height // app.pos.row_h
        for key, n in (("down", min(keys, on_screen - 1)), ("pagedown", max(2, keys // 4))):
            sizes = []
            for _ in range(n):
                written.clear()
                await pilot.press(key)
                await settled(30)  # its images, once encoded, in the frames that follow
                sizes.append(sum(len(m[2]) for m in ESCAPES.findall("".join(written))
                                 if any(r.contains(int(m[1]) - 1, int(m[0]) - 1) for r in lists)))
            out[key] = statistics.median(sizes) / 1024
            out[key + "s"] = [round(n / 1024) for n in sizes]
        app.session.discard_journal()
    return out


def main() -> None:
    args = folder_args(__doc__)
    isolate("bench-inline-")
    print(f"load {os.getloadavg()[0]:.2f}; 160x48, cell 10x20 px; {args.folder}")
    for protocol in ("sixel", "iterm2"):
        rows = [] if os.environ.get("BENCH_KEYS_ONLY") else asyncio.run(measure(args.folder, protocol, args.repeat))
        print(f"{protocol}: {'view':>11} {'images':>6} {'encode ms':>9} {'image KB':>8} | {'frame us':>8} "
              f"{'screen KB':>9}")
        for r in rows:
            print(f"{'':7}{r['view']:>11} {r['images']:6d} {r['encode_ms']:9.1f} {r['image_kb']:8.1f} | "
                  f"{r['frame_us']:8.0f} {r['frame_kb']:9.0f}")
        keys = asyncio.run(per_key(args.folder, protocol))
        print(f"{protocol}: image KB per key at the list's first pixel zoom (median): Down (cursor on screen) "
              f"{keys['down']:.1f}, PageDown {keys['pagedown']:.1f} (each: {keys['downs']}, {keys['pagedowns']})")


if __name__ == "__main__":
    main()
