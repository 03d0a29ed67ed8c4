"""tui-tagger watch against a played detector: sustained frames/s next to predict's end-to-end rate in the same run,
latency (frame complete on disk -> its prediction out) p50/p95 at a given rate, and the watch's memory over time.

The detector is another process writing real-size 1024x1024 uint16 frames into a folder: TIFF files, CBF files,
and one growing Eiger-style HDF5 file (SWMR, /entry/data/data, bitshuffle-LZ4 chunks of one frame), at --rate
frames/s (0: as fast as it can). It logs when each frame was complete (file closed / dataset flushed).

    python benchmarks/bench_watch.py [--model models/tagger.pt] [--count 200] [--rate 10] [--seconds 20]
                                     [--formats tif,cbf,h5] [--workers N] [--long N]

--long N: a long flood: N small (64x64) TIFF frames written flat out; frames out, sustained rate, RSS over time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ the detector
def frames_bytes(fmt: str, size: int, distinct: int = 8) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(distinct):
        img = rng.poisson(100, (size, size)).astype(np.uint16)
        if fmt == "tif":
            import tifffile

            buf = io.BytesIO()
            tifffile.imwrite(buf, img)
            out.append(buf.getvalue())
        elif fmt == "cbf":
            import fabio.cbfimage

            with tempfile.TemporaryDirectory() as tmp:
                p = Path(tmp) / "x.cbf"
                fabio.cbfimage.CbfImage(data=img.astype(np.int32)).write(str(p))
                out.append(p.read_bytes())
        else:
            out.append(img.tobytes())
    return out


def play(folder: str, fmt: str, count: int, rate: float, log: str, size: int) -> None:
    """Write ``count`` frames at ``rate`` per second (0: flat out); log [key, time complete] per frame."""
    data = frames_bytes(fmt, size)
    period = 1.0 / rate if rate > 0 else 0.0
    start, cpu = time.perf_counter(), time.process_time()  # the frames are made: the writing starts
    with open(log, "w") as logf:
        if fmt == "h5":
            import h5py
            import hdf5plugin

            path = os.path.join(folder, "series_000001.h5")
            f = h5py.File(path, "w", libver="latest")
            ds = f.create_dataset("entry/data/data", shape=(0, size, size), maxshape=(None, size, size),
                                  chunks=(1, size, size), dtype="uint16", **hdf5plugin.Bitshuffle(cname="lz4"))
            f.swmr_mode = True
        for i in range(count):
            if period:
                delay = start + i * period - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            if fmt == "h5":
                ds.resize(i + 1, axis=0)
                ds[i] = np.frombuffer(data[i % len(data)], np.uint16).reshape(size, size)
                ds.flush()
                key = f"{path}::/entry/data/data#{i}"
            else:
                key = os.path.join(folder, f"frame_{i:06d}.{fmt}")
                with open(key, "wb") as fh:
                    fh.write(data[i % len(data)])
            logf.write(json.dumps([key, time.time()]) + "\n")
            logf.flush()
        if fmt == "h5":
            f.close()
    with open(log + ".cpu", "w") as fh:  # the writer's CPU while writing (making the frames came before)
        json.dump({"making": cpu, "writing": time.process_time() - cpu}, fh)


# ------------------------------------------------------------------------------------------ the watch
def with_children(pid: int) -> list[int]:
    """``pid`` and its children (the decoding workers)."""
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return pids


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the decoding workers), MB."""
    total = 0
    for p in with_children(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children (the decoding workers) so far."""
    total = 0
    for p in with_children(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


class Watch:
    def __init__(self, folder: str, args, cache: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT), TUI_TAGGER_CACHE_DIR=cache, TUI_TAGGER_FSYNC="0")
        cmd = [sys.executable, "-m", "tui_tagger", "watch", folder, "--json", "--backlog", "none"]
        cmd += ["--model", args.model] if args.model else []
        cmd += ["--workers", str(args.workers)] if args.workers is not None else []
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.records: list[dict] = []
        self.err: list[str] = []
        self.rss: list[tuple[float, int, float]] = []  # (time, frames out, MB)
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._errs, daemon=True).start()
        while not any("watching" in e for e in self.err):
            if self.proc.poll() is not None:
                raise SystemExit("watch did not start:\n" + "\n".join(self.err))
            time.sleep(0.05)
        self.mode = next(e for e in self.err if "watching" in e)

    def _out(self):
        for line in self.proc.stdout:
            rec = json.loads(line)
            rec["t_out"] = time.time()
            self.records.append(rec)

    def _errs(self):
        for line in self.proc.stderr:
            self.err.append(line.rstrip())

    def sample(self) -> None:
        self.rss.append((time.time(), len(self.records), rss_mb(self.proc.pid)))

    def wait(self, n: int, timeout: float) -> None:
        end = time.time() + timeout
        last = 0.0
        while len(self.records) < n and time.time() < end:
            if time.time() - last > 2:
                self.sample()
                last = time.time()
            time.sleep(0.02)
        self.sample()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def iso_time(s: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(s).timestamp()


def detector(folder: str, fmt: str, count: int, rate: float, log: str, size: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--play", folder, "--format", fmt, "--count", str(count),
                             "--rate", str(rate), "--log", log, "--size", str(size)])


def run_phase(args, fmt: str, count: int, rate: float, size: int, tmp: Path, tag: str):
    """(watch, its records without errors, {frame: time complete}, CPU seconds {"writer", "watch"}): the writer's
    own CPU (from its rusage) says how much of the machine the played detector took from the watch."""
    folder = tmp / f"{tag}-{fmt}"
    folder.mkdir()
    watch = Watch(str(folder), args, str(tmp / f"cache-{tag}-{fmt}"))
    log = str(tmp / f"{tag}-{fmt}.log")
    before = cpu_seconds(watch.proc.pid)
    det = detector(str(folder), fmt, count, rate, log, size)
    _, status, usage = os.wait4(det.pid, 0)
    det.returncode = os.waitstatus_to_exitcode(status)
    watch.wait(count, timeout=120 + count / 5)
    cpu = {"writer": usage.ru_utime + usage.ru_stime, "watch": cpu_seconds(watch.proc.pid) - before}
    try:
        with open(log + ".cpu") as fh:
            cpu["writing"] = json.load(fh)["writing"]
    except (OSError, ValueError, KeyError):
        cpu["writing"] = float("nan")
    watch.stop()
    complete = {}
    with open(log) as fh:
        for line in fh:
            key, t = json.loads(line)
            complete[key] = t
    recs = [r for r in watch.records if r["error"] is None]
    return watch, recs, complete, cpu


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


class Predict:
    """predict end to end (decode + preprocess in workers, the model, the results) in this process: the rate
    the watch is compared with, on the same frames."""

    def __init__(self, args):
        from tui_tagger.model.data import default_workers
        from tui_tagger.model.infer import LocalPredictor
        from tui_tagger.model.locate import default_model_path

        self.predictor = LocalPredictor.load(args.model or default_model_path(), "cpu")
        self.workers = default_workers() if args.workers is None else args.workers

    def rate(self, folder: Path) -> tuple[float, float]:
        """(frames/s, CPU seconds a frame, decoding workers included)."""
        import resource

        from tui_tagger.model.data import image_refs

        def cpu() -> float:
            own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

        refs = image_refs([folder])
        list(self.predictor.predict_paths(refs[:4], 32, self.workers))  # warm up
        t, c = time.perf_counter(), cpu()
        n = sum(1 for _ in self.predictor.predict_paths(refs, 32, self.workers))
        return n / (time.perf_counter() - t), (cpu() - c) / max(1, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--count", type=int, default=200, help="frames per format for the throughput run")
    ap.add_argument("--rate", type=float, default=10.0, help="frames/s for the latency run")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the latency run per format")
    ap.add_argument("--formats", default="tif,cbf,h5")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--long", type=int, default=0, help="frames of the long memory run (64x64 TIFFs); 0: none")
    ap.add_argument("--play", help=argparse.SUPPRESS)
    ap.add_argument("--format", help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=1024, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.play:
        play(args.play, args.format, args.count, args.rate, args.log, args.size)
        return

    formats = [f for f in args.formats.split(",") if f]
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at the start (a shared machine: compare "
          "figures of one run)")
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmpname:
        tmp = Path(tmpname)
        predict = Predict(args)
        memory = []
        for fmt in formats:
            watch, recs, complete, cpu = run_phase(args, fmt, args.count, 0, 1024, tmp, "burst")
            if fmt == formats[0]:
                print(watch.mode)
            first = min(iso_time(r["seen"]) for r in recs) if recs else float("nan")
            last = max(iso_time(r["done"]) for r in recs) if recs else float("nan")
            rate = len(recs) / (last - first) if len(recs) > 1 else float("nan")
            base, base_cpu = predict.rate(tmp / f"burst-{fmt}")
            dones = sorted(iso_time(r["done"]) for r in recs)
            later = [t for t in dones if t > dones[0]] if dones else []  # after the first batch (the warm-up)
            steady = len(later) / (later[-1] - dones[0]) if later else float("nan")
            print(f"{fmt:4} 1024x1024 uint16, {args.count} frames written flat out: watch {len(recs)} predicted, "
                  f"sustained {rate:6.1f} frames/s; predict on the same frames {base:6.1f} frames/s; "
                  f"watch/predict {rate / base:.2f} (from the first batch out, as predict is timed after a warm-up: "
                  f"{steady:.1f} frames/s, {steady / base:.2f})")
            window = (last - first) * (os.cpu_count() or 1)
            written = sorted(complete.values())
            wrote = (len(written) - 1) / (written[-1] - written[0]) if len(written) > 1 else float("nan")
            print(f"     CPU a frame: watch {1e3 * cpu['watch'] / max(1, len(recs)):.1f} ms (its decoding workers "
                  f"included), predict {1e3 * base_cpu:.1f} ms; the detector wrote {wrote:.0f} frames/s, its writer "
                  f"{cpu['writer']:.2f} s of CPU in all, {cpu['writing']:.2f} s while writing "
                  f"({100 * cpu['writing'] / window:.0f}% of the cores over the watch's burst), load "
                  f"{os.getloadavg()[0]:.1f}")
            memory += [(f"burst {fmt}", *s) for s in watch.rss]
        n = int(args.rate * args.seconds)
        for fmt in formats:
            watch, recs, complete, cpu = run_phase(args, fmt, n, args.rate, 1024, tmp, "rate")
            lat = [r["t_out"] - complete[r["path"]] for r in recs if r["path"] in complete]
            inner = [iso_time(r["done"]) - iso_time(r["seen"]) for r in recs]
            print(f"watch {fmt:4} at {args.rate:g} frames/s for {args.seconds:g} s: {len(recs)}/{n} predicted; "
                  f"complete on disk -> prediction out p50 {1e3 * pct(lat, 50):6.0f} ms, p95 {1e3 * pct(lat, 95):6.0f} "
                  f"ms (seen -> done p95 {1e3 * pct(inner, 95):.0f} ms)")
            memory += [(f"{args.rate:g}/s {fmt}", *s) for s in watch.rss]
        print("memory of the watch (with its decoding workers):")
        for label, t, frames, mb in memory[:: max(1, len(memory) // 24)]:
            print(f"  {label:10} {frames:6d} frames out  RSS {mb:7.1f} MB")
        if args.long:
            watch, recs, _ = run_phase_long(args, tmp)
            good = [r for r in recs if r["error"] is None]
            first = min(iso_time(r["seen"]) for r in good) if good else float("nan")
            last = max(iso_time(r["done"]) for r in good) if good else float("nan")
            rate = len(good) / (last - first) if len(good) > 1 else float("nan")
            keys = {r["path"] for r in recs}
            print(f"long run: {args.long} frames of 64x64 written flat out; {len(recs)} out ({len(keys)} distinct, "
                  f"{len(recs) - len(good)} errors), sustained {rate:.1f} frames/s; load average "
                  f"{os.getloadavg()[0]:.2f} at the end; RSS over time:")
            t0 = watch.rss[0][0] if watch.rss else 0.0
            for t, frames, mb in watch.rss[:: max(1, len(watch.rss) // 20)] + watch.rss[-1:]:
                print(f"  {t - t0:7.0f} s  {frames:8d} frames out  {mb:7.1f} MB")


def run_phase_long(args, tmp: Path):
    folder = tmp / "long"
    folder.mkdir()
    watch = Watch(str(folder), args, str(tmp / "cache-long"))
    log = str(tmp / "long.log")
    det = detector(str(folder), "tif", args.long, 0, log, 64)
    end = time.time() + 60 + args.long / 20
    progress, moved = 0, time.time()
    # stops when all are out, at the deadline, or when nothing came out for 5 min after the detector finished
    # (the safety rescan of a flooded folder comes at least every 30 s)
    while len(watch.records) < args.long and time.time() < end:
        watch.wait(args.long, timeout=min(10.0, end - time.time()))
        if len(watch.records) != progress:
            progress, moved = len(watch.records), time.time()
        elif det.poll() is not None and time.time() - moved > 300:
            break
    det.wait()
    watch.stop()
    return watch, watch.records, None


if __name__ == "__main__":
    main()
