"""The TUI's follow path (``open DIR --follow``) against a played detector, headless: the frames' p come from the
model's own process (``model/process.ProcessStream``, as the TUI runs it), and each frame's time is taken when its
p reaches the lists (the app's ``on_follow_predicted`` done). ``bench_watch.py`` measures ``watch``, the same
streaming without the TUI; its detector (another process writing real-size 1024x1024 uint16 frames) plays here.

- burst: ``--count`` frames written flat out; frames/s from the first frame listed (the follower took it: as
  ``watch``'s "seen", which bench_watch's sustained rate counts from) to the last p shown, and from the first p
  shown (the first batch left out)
- rate: ``--rate`` frames/s for ``--seconds``; latency, frame complete on disk -> its p shown, p50 / p95 / max
- the app's peak RSS (the model process is another), and whether it imported torch (it should not)
- ``watch`` on the same bursts and rate in the same run (bench_watch's measures), unless ``--no-watch``

    python benchmarks/bench_follow.py [--count 200] [--rate 5] [--seconds 20] [--format tif] [--model M]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_watch import detector, iso_time, pct, run_phase  # noqa: E402 - bench_watch's detector and watch

TAG = "TSAXS"


def _vm(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def follow(folder: Path, fmt: str, count: int, rate: float, log: Path) -> dict:
    """Open ``folder`` following it, play the detector into it, and time each frame's p reaching the lists:
    {"shown": {path: time}, "complete": {path: time}, "errors": n, "started_s": s}."""
    from tui_tagger.ui.app import TaggerApp

    shown: dict[str, float] = {}
    listed: list[float] = []
    errors = [0]
    owner = next(c for c in TaggerApp.__mro__ if "on_follow_predicted" in c.__dict__)
    handler, arrived = owner.__dict__["on_follow_predicted"], owner.__dict__["on_frames_arrived"]

    def timed(self, msg):  # (patched where it is defined: Textual calls each class's own handler)
        handler(self, msg)
        now = time.time()
        for path, probs, error in msg.results:
            shown[os.path.realpath(path)] = now
            errors[0] += error is not None

    def timed_rows(self, msg):
        arrived(self, msg)
        listed.extend([time.time()] * len(msg.rows))

    owner.on_follow_predicted, owner.on_frames_arrived = timed, timed_rows
    try:
        app = TaggerApp(folder, tag=TAG, graphics="none", thumbnails=False, follow=True)
        t0 = time.perf_counter()
        async with app.run_test(size=(160, 48)) as pilot:
            while not (app.follow_state is not None and app.follow_state.mode) and time.perf_counter() - t0 < 120:
                await pilot.pause(0.05)
            started = time.perf_counter() - t0
            player = detector(str(folder), fmt, count, rate, str(log), 1024)
            end = time.perf_counter() + 180 + count / max(rate, 2.0)
            while len(shown) < count and time.perf_counter() < end:
                await pilot.pause(0.05)
            player.wait(60)
            torch = "torch" in sys.modules
            app.stop_following()
            await pilot.pause(0.2)
    finally:
        owner.on_follow_predicted, owner.on_frames_arrived = handler, arrived
    complete = {}
    with open(log) as fh:
        for line in fh:
            key, t = json.loads(line)
            complete[os.path.realpath(key)] = t
    return {"shown": shown, "complete": complete, "listed": listed, "errors": errors[0], "started_s": started,
            "torch": torch}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="the model (default: the default model, as the TUI's)")
    ap.add_argument("--count", type=int, default=200, help="frames of the burst")
    ap.add_argument("--rate", type=float, default=5.0, help="frames/s of the latency run")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    ap.add_argument("--format", default="tif", choices=("tif", "cbf", "h5"))
    ap.add_argument("--no-watch", action="store_true", help="the TUI alone, not watch beside it")
    ap.add_argument("--model-nice", type=int, default=None,
                    help="the model process's nice increment (default: the TUI's, ui.predict.MODEL_NICE)")
    args = ap.parse_args()
    if args.model_nice is not None:
        from tui_tagger.ui import predict

        predict.MODEL_NICE = args.model_nice
    args.workers = None  # (bench_watch's watch: its default decoding workers, as the TUI's)
    tmp = Path(tempfile.mkdtemp(prefix="bench-follow-"))
    os.environ.update(TUI_TAGGER_CACHE_DIR=str(tmp / "cache"), TUI_TAGGER_CONFIG_DIR=str(tmp / "cfg"),
                      TUI_TAGGER_FSYNC="0")
    if args.model:
        os.environ["TUI_TAGGER_MODEL"] = args.model
    from tui_tagger.ui.predict import MODEL_NICE

    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at the start (a shared machine); this "
          f"process at nice {os.nice(0)}, the model process {MODEL_NICE} above it (at most 19)")
    for phase, count, rate in (("burst", args.count, 0.0), ("rate", int(args.rate * args.seconds), args.rate)):
        folder = tmp / f"{phase}-{args.format}"
        folder.mkdir()
        r = asyncio.run(follow(folder, args.format, count, rate, tmp / f"{phase}.log"))
        shown, complete = r["shown"], r["complete"]
        lat = [shown[k] - complete[k] for k in shown if k in complete]
        head = (f"{phase}: {len(shown)}/{count} frames' p shown ({r['errors']} errors; following began "
                f"{r['started_s']:.1f} s after the open, the model process loaded)")
        if phase == "burst" and len(shown) > 1:
            t_shown = sorted(shown.values())
            written = sorted(complete.values())
            wrote = (len(written) - 1) / max(1e-9, written[-1] - written[0])
            later = [t for t in t_shown if t > t_shown[0]]
            print(f"{head}\n  {args.format} 1024x1024 written flat out ({wrote:.0f} frames/s): "
                  f"{len(shown) / (t_shown[-1] - min(r['listed'])):.1f} frames/s from the first frame listed to the "
                  f"last p shown ({len(shown) / (t_shown[-1] - written[0]):.1f} from the first complete), "
                  f"{len(later) / max(1e-9, later[-1] - t_shown[0]) if later else float('nan'):.1f} frames/s from "
                  f"the first p shown; latency p50 {pct(lat, 50):.1f} s, max {pct(lat, 100):.1f} s")
        else:
            print(f"{head}\n  {args.format} 1024x1024 at {rate:g} frames/s for {args.seconds:g} s: frame complete "
                  f"-> its p shown p50 {1e3 * pct(lat, 50):.0f} ms, p95 {1e3 * pct(lat, 95):.0f} ms, "
                  f"max {1e3 * pct(lat, 100):.0f} ms")
        print(f"  the app's peak RSS {_vm('VmHWM'):.0f} MB, torch in the app's process: {r['torch']}; "
              f"load {os.getloadavg()[0]:.2f}")
        if args.no_watch:
            continue
        _, recs, complete, _ = run_phase(args, args.format, count, rate, 1024, tmp, f"watch-{phase}")
        lat = [r["t_out"] - complete[r["path"]] for r in recs if r["path"] in complete]
        if phase == "burst" and len(recs) > 1:
            first, last = min(iso_time(r["seen"]) for r in recs), max(iso_time(r["done"]) for r in recs)
            print(f"  watch, the same: {len(recs)}/{count} predicted, {len(recs) / (last - first):.1f} frames/s from "
                  f"the first seen to the last out; latency p50 {pct(lat, 50):.1f} s, max {pct(lat, 100):.1f} s; "
                  f"load {os.getloadavg()[0]:.2f}")
        else:
            print(f"  watch, the same: {len(recs)}/{count} predicted; complete -> prediction out p50 "
                  f"{1e3 * pct(lat, 50):.0f} ms, p95 {1e3 * pct(lat, 95):.0f} ms, max {1e3 * pct(lat, 100):.0f} ms; "
                  f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
