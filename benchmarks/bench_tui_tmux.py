"""Key-to-screen latency of `tui-tagger open` as a user sees it: the app runs in a tmux pane (160x48), keys go
in through tmux (a control-mode client: no process per key), and the pane's output (tmux pipe-pane) is
watched for the moment the inspect pane's title shows the newly selected image. A key's latency is from
its send to the first such repaint after it (keys sent while the app is busy wait for the same repaint).

Per folder, per tree (``--tree LABEL=PATH``, e.g. the code before a change; interleaved, ``--rounds`` each),
the index is warmed once (the thumbnails are not: their cache is emptied before each run, so they load while
the keys are measured). Down is sent every ``--down-ms`` (a held key repeats at ~25-30/s), PageDown every
``--page-ms``. Prints p50 / p90 / max per key, and the CPU time the app's UI thread used while the keys
went in (thumbnails arriving included), per key. ``--predict``: ``p`` is pressed first (the model over the
folder, once all its rows are in; running while the keys are measured: said where it was still running when
they ended in every run, else that it ended before).

    python benchmarks/bench_tui.py --tmux --tree before=/tmp/h20b-before --tree after=. \\
        --tiny 100000 --real /tmp/real-1024 [--predict]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

W, H = 160, 48
TMUX = ["tmux", "-L", "bench_tui_tmux"]  # a server of its own (--socket): never the user's sessions
TITLE_ROW = 2  # 1-based screen row of the inspect pane's title
TITLE_MIN_COL = W * 2 // 3 - 4  # the title starts right of the lists (2fr : 1fr)
MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")
LOADING = re.compile(r"loading [\d,]+ images…")  # the status line while a big folder's rows load
ESC = re.compile(rb"\x1b(\[[0-9;:?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[P_^][^\x1b]*\x1b\\|.)")


class Pane:
    """One app in a tmux session: keys in through a control client, output read from a pipe-pane file."""

    def __init__(self, name: str, tree: Path, folder: Path, cache: Path, config: Path, out: Path) -> None:
        self.name, self.out = name, out
        out.write_bytes(b"")
        env = (f"cd {tree} && PYTHONPATH={tree} TUI_TAGGER_CACHE_DIR={cache} TUI_TAGGER_CONFIG_DIR={config} "
               f"exec {sys.executable} -m tui_tagger open {folder}")
        subprocess.run([*TMUX, "new-session", "-d", "-s", name, "-x", str(W), "-y", str(H), env], check=True)
        subprocess.run([*TMUX, "pipe-pane", "-t", name, "-o", f"cat >> {out}"], check=True)
        self.ctl = subprocess.Popen([*TMUX, "-C", "attach-session", "-t", name, "-f", "ignore-size,no-output"],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.fh = open(out, "rb")
        self.title = b""
        self.buf = b""

    def send(self, key: str) -> float:
        t = time.perf_counter()
        self.ctl.stdin.write(f"send-keys -t {self.name} {key}\n".encode())
        self.ctl.stdin.flush()
        return t

    def ui_cpu(self) -> float:
        """CPU seconds the app's main thread (Textual's, the UI's) has used so far (/proc, Linux; 0.0
        elsewhere). Under load it falls per key as keys share repaints."""
        try:
            pid = int(subprocess.run([*TMUX, "display", "-p", "-t", self.name, "#{pane_pid}"],
                                     capture_output=True, text=True).stdout)
            fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, ValueError, IndexError):
            return 0.0

    def screen(self) -> str:
        return subprocess.run([*TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def poll_titles(self) -> list[tuple[float, bytes]]:
        """(time read, title) for each new inspect title in the output since the last call."""
        data = self.fh.read()
        now = time.perf_counter()
        if not data:
            return []
        self.buf += data
        events = []
        moves = list(MOVE.finditer(self.buf))
        for i, m in enumerate(moves):
            if int(m[1]) != TITLE_ROW or int(m[2]) < TITLE_MIN_COL:
                continue
            end = moves[i + 1].start() if i + 1 < len(moves) else None
            if end is None:
                break  # maybe cut in the middle: wait for more
            text = ESC.sub(b"", self.buf[m.end():end]).strip()
            word = text.split(b" ", 1)[0] if text else b""
            if word and b"." in word and word != self.title:
                self.title = word
                events.append((now, word))
        # keep from the last (possibly incomplete) move on
        self.buf = self.buf[moves[-1].start():] if moves else self.buf[-64:]
        return events

    def close(self) -> None:
        try:
            self.ctl.stdin.close()
        except OSError:
            pass
        self.ctl.terminate()
        self.ctl.wait(timeout=5)
        subprocess.run([*TMUX, "kill-session", "-t", self.name], capture_output=True)
        self.fh.close()


def wait_for(cond, limit: float, step: float = 0.25) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def measure(pane: Pane, keys: list[str], every_s: float) -> list[float]:
    """Send ``keys``, one every ``every_s``; each key's latency (s) to the first new title after it."""
    count = len(keys)
    pending: list[float] = []
    lat: list[float] = []
    nxt = time.perf_counter()
    sent = 0
    deadline = None
    while sent < count or pending:
        now = time.perf_counter()
        if sent < count and now >= nxt:
            pending.append(pane.send(keys[sent]))
            sent += 1
            nxt += every_s
            if sent == count:
                deadline = time.perf_counter() + 3.0
        for t, _title in pane.poll_titles():
            lat += [t - s for s in pending if s < t]
            pending = [s for s in pending if s >= t]
        if deadline is not None and time.perf_counter() > deadline:
            lat += [3.0] * len(pending)  # never shown (at the list's end a key changes nothing)
            break
        time.sleep(0.0003)
    return lat


def run_once(label: str, tree: Path, folder: Path, cache: Path, config: Path, args, work: Path) -> dict:
    shutil.rmtree(cache / "thumbs", ignore_errors=True)  # thumbnails load while the keys are measured
    pane = Pane(f"H20Bbench{os.getpid()}", tree, folder, cache, config, work / f"out-{label}.bin")
    try:
        if not wait_for(lambda: pane.poll_titles() or pane.title, 120, 0.05):
            raise RuntimeError(f"{label}: no inspect title in 120 s:\n{pane.screen()}")
        time.sleep(args.settle)
        if args.predict:  # p: the model over the folder, in the background while the keys are measured
            # not before the folder's rows are all in: p then predicts the rows listed so far (a big folder's
            # first screen: 400 of 100k tiny frames, done in seconds, before the keys)
            if not wait_for(lambda: not LOADING.search(pane.screen()), 120, 0.1):
                raise RuntimeError(f"{label}: the folder still loading after 120 s:\n{pane.screen()}")
            pane.send("p")
            if not wait_for(lambda: "predicting" in pane.screen(), 120, 0.1):
                raise RuntimeError(f"{label}: p started no prediction in 120 s:\n{pane.screen()}")
        cpu = pane.ui_cpu()
        out = {"Down": measure(pane, ["Down"] * args.downs, args.down_ms / 1000)}
        out["cpu Down"], cpu = [(pane.ui_cpu() - cpu) / args.downs], pane.ui_cpu()
        loading = "thumbnails…" in pane.screen()
        # up (the Downs left the cursor --downs rows from the top), then back down: a list's end would leave
        # keys with nothing to show (each then waits for the next key's title; PageDown first ran into the end of
        # a 192-row list)
        half = args.pages // 2
        out["PageDown"] = measure(pane, ["PageUp"] * half + ["PageDown"] * half, args.page_ms / 1000)
        out["cpu PageDown"] = [(pane.ui_cpu() - cpu) / max(2 * half, 1)]
        out["loading"] = loading or "thumbnails…" in pane.screen()
        # still running when the keys ended (it started before them, and nothing here stops it). A toast (e.g.
        # "1 other session is open on this folder") covers the status line's right end, where "predicting"
        # is on a long line: look again until it is gone
        out["predicting"] = args.predict and wait_for(lambda: "predicting" in pane.screen(), 15, 0.5)
        return out
    finally:
        pane.close()


def warm_index(label: str, tree: Path, folder: Path, cache: Path, config: Path, work: Path) -> None:
    pane = Pane(f"H20Bwarm{os.getpid()}", tree, folder, cache, config, work / f"warm-{label}.bin")
    try:
        t = time.monotonic()
        busy = ("scanning…", "checking for changes…")
        ok = wait_for(lambda: pane.title or pane.poll_titles(), 600) and wait_for(
            lambda: not any(b in pane.screen() for b in busy), 1200, 1.0)
        print(f"  {label}: index warmed in {time.monotonic() - t:.0f} s{'' if ok else ' (timed out)'}", flush=True)
    finally:
        pane.close()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", default=[], metavar="LABEL=PATH",
                    help="a source tree to run (repeat; default: this checkout as 'after')")
    ap.add_argument("--tiny", type=int, default=0, metavar="N", help="a folder of N tiny frames (bench_index's)")
    ap.add_argument("--real", type=Path, action="append", default=[], metavar="DIR", help="a folder of real frames")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--downs", type=int, default=140)
    ap.add_argument("--pages", type=int, default=16, help="PageUp then PageDown, half each")
    ap.add_argument("--down-ms", type=float, default=40.0)
    ap.add_argument("--page-ms", type=float, default=80.0)
    ap.add_argument("--settle", type=float, default=0.5, help="seconds after the first screen before the keys")
    ap.add_argument("--predict", action="store_true", help="press p (predict the folder) before the keys")
    ap.add_argument("--work", type=Path, default=None, help="where folders and caches go (default: a temp dir)")
    ap.add_argument("--socket", default=TMUX[2], help="the tmux server's socket name (tmux -L)")
    args = ap.parse_args(argv)
    TMUX[2] = args.socket
    # a session kept all along: the server would exit with each run's last session, and the next run's
    # new-session could reach it exiting ("server exited unexpectedly")
    subprocess.run([*TMUX, "new-session", "-d", "-s", f"keep{os.getpid()}", "sleep 86400"], check=True)
    try:
        return _run(args)
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", f"keep{os.getpid()}"], capture_output=True)


def _run(args) -> int:
    trees = dict(t.split("=", 1) for t in args.tree) or {"after": str(Path(__file__).resolve().parents[1])}
    trees = {k: Path(v).resolve() for k, v in trees.items()}
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_tui_tmux_"))
    work.mkdir(parents=True, exist_ok=True)
    folders: dict[str, Path] = {}
    if args.tiny:
        tiny = work / f"tiny{args.tiny}"
        if not tiny.exists():
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_index import build

            t = time.perf_counter()
            build(tiny, args.tiny)
            print(f"built {args.tiny} tiny frames in {time.perf_counter() - t:.0f} s", flush=True)
        folders[f"{args.tiny} tiny frames"] = tiny
    for real in args.real:
        n = sum(1 for p in real.rglob("*") if p.suffix in (".tif", ".edf", ".cbf", ".h5"))
        folders[f"{n} frames of {real.name}"] = real
    print(f"tmux {W}x{H}; Down every {args.down_ms:.0f} ms x {args.downs}, PageDown every {args.page_ms:.0f} ms x "
          f"{args.pages}; thumbnail cache emptied before each run; {os.cpu_count()} CPUs (shared machine: "
          f"load {os.getloadavg()[0]:.1f})", flush=True)
    rows = []
    for fname, folder in folders.items():
        print(f"{fname}:", flush=True)
        caches = {label: work / f"cache-{label}-{folder.name}" for label in trees}
        configs = {label: work / f"config-{label}" for label in trees}
        for label, tree in trees.items():
            warm_index(label, tree, folder, caches[label], configs[label], work)
        results: dict[str, dict[str, list[float]]] = {
            label: {"Down": [], "PageDown": [], "cpu Down": [], "cpu PageDown": []} for label in trees}
        loading = {label: True for label in trees}
        predicting = {label: args.predict for label in trees}
        order = list(trees)
        for r in range(args.rounds):
            for label in (order if r % 2 == 0 else order[::-1]):  # interleaved: before, after, after, before...
                got = run_once(label, trees[label], folder, caches[label], configs[label], args, work)
                for key in results[label]:
                    results[label][key] += got[key]
                loading[label] = loading[label] and got["loading"]
                predicting[label] = predicting[label] and got["predicting"]
        for label in trees:
            for key in ("Down", "PageDown"):
                lat = results[label][key]
                cpu = float(np.mean(results[label][f"cpu {key}"])) * 1000
                line = (f"  {label:<8} {key:<8} p50 {pct(lat, 50):6.1f} ms  p90 {pct(lat, 90):6.1f} ms  "
                        f"max {pct(lat, 100):6.1f} ms  UI-thread CPU {cpu:5.1f} ms/key  ({len(lat)} keys"
                        f"{', thumbnails loading' if loading[label] else ''}"
                        f"{', predict running' if predicting[label] else ''}"
                        f"{', predict ended before the keys did (some run)' if args.predict and not predicting[label] else ''})")
                print(line, flush=True)
                rows.append((fname, label, key, lat))
    print(f"load after: {os.getloadavg()[0]:.1f}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
