"""Issue 20's figures in one run, each next to its goal: keys through tmux on tiny and real-size frames while
thumbnails load and `p` runs (bench_tui_tmux.py), the million-frame folder opened warm (bench_tui.py --data),
and its index: cold scan, warm `search` (bench_index.py --only this). Each benchmark runs as its own process,
one after the other, its whole output kept in the log; this script prints the table at the end.

    python benchmarks/bench_tui_goals.py --real DIR --million DIR [--tiny 100000] [--work DIR] [--rounds 2]

``--million DIR``: built there with bench_index.py's builder when missing (1000 run folders of 1000 tiny TIFF
frames with tag files; about 5 minutes). ``--real DIR``: real-size frames (e.g. `tui-tagger synth DIR --count
400 --size 1024`). The machine should be otherwise idle: every figure is wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUM = r"([\d.]+)"


def run(cmd: list[str], log, env: dict | None = None) -> str:
    """Run one benchmark, its output to the terminal and the log as it comes; returns all of it."""
    print(f"$ {' '.join(cmd)}", flush=True)
    log.write(f"$ {' '.join(cmd)}\n")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    out = []
    for line in proc.stdout:
        sys.stdout.write(line)
        log.write(line)
        out.append(line)
    proc.wait()
    log.flush()
    if proc.returncode:
        print(f"(exit status {proc.returncode})", flush=True)
    return "".join(out)


def keys(text: str) -> list[tuple[str, str, float, float, float, str]]:
    """(folder, key, p50, p90, max, conditions) from bench_tui_tmux's output."""
    rows, folder = [], ""
    for line in text.splitlines():
        m = re.match(r"^(\S.*):$", line)
        if m and not line.startswith(("tmux", "load")):
            folder = m.group(1)
        m = re.match(rf"^\s+\S+\s+(Down|PageDown)\s+p50\s+{NUM} ms\s+p90\s+{NUM} ms\s+max\s+{NUM} ms.*\((.*)\)$", line)
        if m:
            rows.append((folder, m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4)), m.group(5)))
    return rows


def find(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, required=True)
    ap.add_argument("--million", type=Path, required=True)
    ap.add_argument("--tiny", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_tui_goals"))
    ap.add_argument("--no-index", action="store_true", help="leave out bench_index (its cold scan: minutes)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    if not args.million.exists():
        sys.path.insert(0, str(HERE))
        from bench_index import build

        t = time.perf_counter()
        build(args.million, 1_000_000)
        print(f"built 1,000,000 frames in {time.perf_counter() - t:.0f} s", flush=True)
    load0 = os.getloadavg()[0]
    with open(args.work / "log.txt", "w") as log:
        tmux = run([py, str(HERE / "bench_tui_tmux.py"), "--work", str(args.work / "tmux"), "--tiny", str(args.tiny),
                    "--real", str(args.real), "--predict", "--rounds", str(args.rounds)], log)
        cache = args.work / "cache-1m"  # the index stays: the TUI figures are of a warm open, as a user's second
        tui = run([py, str(HERE / "bench_tui.py"), "--data", str(args.million)], log,
                  {"TUI_TAGGER_CACHE_DIR": str(cache)})
        if "index filled (cold scan)" in tui:  # the first run filled the index: measure the warm open now
            tui = run([py, str(HERE / "bench_tui.py"), "--data", str(args.million)], log,
                      {"TUI_TAGGER_CACHE_DIR": str(cache)})
        index = "" if args.no_index else run([py, str(HERE / "bench_index.py"), "--data", str(args.million),
                                              "--only", "this"], log)
    load1 = os.getloadavg()[0]

    table: list[tuple[str, str, str, bool | None]] = []
    for folder, key, p50, p90, mx, cond in keys(tmux):
        table.append((f"{key} through tmux, {folder} ({cond})", "p90 <= 16 ms, max <= 50 ms",
                      f"p50 {p50:.1f} / p90 {p90:.1f} / max {mx:.1f} ms", p90 <= 16 and mx <= 50))
    first = find(rf"first screen: {NUM} s", tui)
    table.append(("1M warm: first screen", "< 1 s", f"{first} s", first is not None and first < 1))
    rss = [float(x) for x in re.findall(r"RSS peak (\d+) MB", tui) + re.findall(r"peak RSS over .*: (\d+) MB", tui)]
    table.append(("1M warm: peak RSS, open to tag change", "< 1 GB", f"{max(rss, default=0):.0f} MB",
                  bool(rss) and max(rss) < 1024))
    m = re.search(r"Down while loading: p50 (\d+) ms, p90 (\d+) ms, max (\d+) ms", tui)
    if m:
        table.append(("1M: Down while the rows load and the change check runs", "(keys not slowed)",
                      f"p50 {m.group(1)} / p90 {m.group(2)} / max {m.group(3)} ms", None))
    checked = find(rf"all loaded and checked: {NUM} s", tui)
    table.append(("1M: change check done (in the background)", "(no goal)", f"{checked} s", None))
    if index:
        blob = json.loads(index.split("JSON ", 1)[1].splitlines()[0])["this"] if "JSON " in index else {}
        cold, warm = blob.get("cold", {}), blob.get("warm", {})
        files = find(r"cold search.*?(\d+) files/s", index)
        table.append(("1M cold scan (search, empty index; files = images + tag files)", ">= 10,000 files/s",
                      f"{files:,.0f} files/s ({cold.get('s', 0):.0f} s)" if files else "?", bool(files) and files >= 10_000))
        table.append(("1M warm search", "< 1 s", f"{warm.get('s', 0):.2f} s (CPU {warm.get('cpu_s', 0):.2f} s)",
                      bool(warm) and warm["s"] < 1))
    print(f"\nIssue 20's goals, one run (load {load0:.1f} before, {load1:.1f} after; {os.cpu_count()} CPUs)")
    width = max(len(r[0]) for r in table)
    for what, goal, got, ok in table:
        mark = "" if ok is None else ("met" if ok else "NOT met")
        print(f"  {what:<{width}}  {got:<34} {goal:<28} {mark}")
    print(f"(every benchmark's whole output: {args.work / 'log.txt'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
