"""Catalog index figures on a real folder: what a user of `search` and of the TUI waits for, with peak RSS.

Per tree (this checkout, and with ``--before TREE`` an older checkout too, measured in the same run):
- cold ``search``: `tui-tagger search DIR QUERY` with an empty index (the scan, then the query): frames/s
  and files/s (images + tag files)
- warm ``search``: the same again (index filled); ``--quick`` and ``--verify`` too where the tree has them
- first rows: the index alone, the first 100 rows a viewer paints (``Catalog.rows``; ``cached_entries`` in
  trees without it)
- change check: what changed since the index was filled, after 1% of the tag files were rewritten and 1
  image removed (``Catalog.changes``, a stat per file; ``cached_entries`` + ``refresh`` in trees without it)
- warm ``search`` after a second change (another 1%: half the run folders' tag files saved as tui-tagger
  saves, a new file renamed into place; the other half's rewritten in place, as some tools do): the hits of
  the default search, then of ``--verify``, which sees the in-place rewrites too
Each step runs in its own process (PYTHONPATH=TREE), so peak RSS (VmHWM) is the step's; search times are
the whole process (start-up included), the API steps' the call itself; CPU is the process's user + system,
with its children's (a cold scan's read-ahead workers).

Before the first step every file is read once (the page cache as the first cold scan would leave it, for
each tree alike). The folder: BENCH_N (default 100000) tiny TIFF frames, each with a small tag file, in run folders of 1000
(1M frames: 1000 run folders), built once by ``build`` (``--data DIR``: kept there and reused; the change
step rewrites tag files in it, which is fine: any run of the builder's folder measures the same).

    python benchmarks/bench_index.py                              # 100k in a temp folder, removed after
    python benchmarks/bench_index.py --data /tmp/h20/d1m --n 1000000 --before /tmp/h20-before
    python benchmarks/bench_index.py --data /tmp/h20/d1m --n 1000000 --only this   # this checkout alone
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TAG_SETS = [
    ["TSAXS", "Ring: Isotropic", "Powder", "AgBH"],
    ["GISAXS", "Thin film", "Block-copolymer", "Peaks: Isolated", "Horizon"],
    ["GISAXS", "Thin film", "Specular rod", "Saturation"],
    ["TSAXS", "Weak scattering", "Amorphous"],
]
TAG_XML = (
    '<?xml version="1.0"?>\n<tag_list filename="{name}" type="SAXS">\n'
    '  <primary_category name="Kinds of samples">\n    <secondary_category name="type">\n{tags}'
    "    </secondary_category>\n  </primary_category>\n</tag_list>\n"
)
QUERY = "GISAXS and not Saturation"


def tag_xml(name: str, tags: list[str]) -> bytes:
    body = "".join(f'      <tag source="human">{t}</tag>\n' for t in tags)
    return TAG_XML.format(name=name, tags=body).encode()


def build(root: Path, n: int) -> list[Path]:
    """``n`` frames in run folders of 1000 (``scan_0000``...), each ``frame_NNNNNN.tif`` + ``.xml``."""
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((2, 2), np.uint16))
    image = buf.getvalue()
    tags = []
    for i in range(n):
        folder = root / f"scan_{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        name = f"frame_{i:06d}"
        (folder / f"{name}.tif").write_bytes(image)
        tag = folder / f"{name}.xml"
        tag.write_bytes(tag_xml(name, TAG_SETS[i % len(TAG_SETS)]))
        tags.append(tag)
    return tags


# ------------------------------------------------------------------------------ steps (in a subprocess)

def _rss_mb() -> float:
    """Peak RSS of this process: VmHWM (ru_maxrss would carry the parent's peak over fork + exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Count(io.TextIOBase):
    lines = 0

    def write(self, s: str) -> int:
        self.lines += s.count("\n")
        return len(s)


def step(name: str, data: str) -> dict:
    from tui_tagger.core.catalog import Catalog

    t = time.perf_counter()
    if name in ("search", "quick", "verify"):
        from tui_tagger.cli import main

        out, sys.stdout = sys.stdout, _Count()
        try:
            rc = main(["search", data, QUERY, *([f"--{name}"] if name != "search" else [])])
        except SystemExit as stop:
            rc = stop.code
        counted, sys.stdout = sys.stdout.lines, out
        return {"s": time.perf_counter() - t, "n": counted, "rc": rc}
    cat = Catalog(data)
    if name == "first":
        if hasattr(cat, "rows"):
            rows = list(cat.rows(limit=100))
        else:
            rows = cat.cached_entries()[:100]
        return {"s": time.perf_counter() - t, "n": len(rows)}
    if name == "check":
        if hasattr(cat, "changes"):
            changes = list(cat.changes())
            return {"s": time.perf_counter() - t, "n": len(changes)}
        cat.cached_entries()
        t1 = time.perf_counter()
        changed, removed = cat.refresh()
        return {"s": time.perf_counter() - t1, "n": len(changed) + len(removed),
                "with_cached_entries_s": time.perf_counter() - t}
    raise SystemExit(f"unknown step {name}")


# ------------------------------------------------------------------------------ the driver

def has_option(tree: Path, option: str) -> bool:
    return option in (tree / "tui_tagger" / "commands" / "search.py").read_text()


def run_step(tree: Path, cache: Path, name: str, data: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "TUI_TAGGER_CACHE_DIR": str(cache)}
    code = (f"import json,sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_index as b; "
            f"r = b.step({name!r}, {str(data)!r}); r['rss_mb'] = b._rss_mb(); "
            "import os; c = os.times(); r['cpu_s'] = c.user + c.system + c.children_user + c.children_system; "
            "import tui_tagger; r['code'] = tui_tagger.__file__; print('RESULT ' + json.dumps(r))")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            if name in ("search", "quick", "verify"):  # what a user waits for: the whole process, start-up included
                result["s"] = wall
            if not result["code"].startswith(str(tree)):
                raise SystemExit(f"{tree}: imported {result['code']} instead")
            return result
    raise SystemExit(f"step {name} failed in {tree}:\n{proc.stderr[-3000:]}")


def read_all(data: Path) -> None:
    """Read every file once, so that each tree's cold scan finds the same page cache (the first would pay the
    disk for both): "cold" is the index's state. (A million tiny files may not all fit in the cache.)"""
    for folder in sorted(data.iterdir()):
        if folder.is_dir():
            for e in os.scandir(folder):
                with open(e.path, "rb") as fh:
                    fh.read()


def change_tags(data: Path, every: int = 100, first: int = 0, renamed: bool = False) -> int:
    """Rewrite 1% of the tag files (every ``every``-th from ``first``; a tag added, in place as other tools
    write them, or ``renamed``: in the even-numbered run folders saved as tui-tagger saves, a new file renamed
    into place, and in place in the others) and remove one image. Returns the number of changes."""
    n = i = 0
    gone = None
    for f, folder in enumerate(sorted(p for p in data.iterdir() if p.name.startswith("scan_"))):
        for name in sorted(e.name for e in os.scandir(folder) if e.name.endswith(".xml")):  # a folder at a time
            tag = folder / name
            if gone is None and i == 1:
                gone = tag
            elif i % every == first:
                text = tag_xml(tag.stem, TAG_SETS[(n + 1) % len(TAG_SETS)] + ["Misaligned"])
                if renamed and f % 2 == 0:
                    temp = folder / f".{name}.new"
                    temp.write_bytes(text)
                    os.replace(temp, tag)
                else:
                    tag.write_bytes(text)
                st = tag.stat()
                os.utime(tag, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
                n += 1
            i += 1
    if gone is not None:
        gone.with_suffix(".tif").unlink()
        gone.unlink()
    return n + (gone is not None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="the folder (built there when missing; kept)")
    ap.add_argument("--n", type=int, default=int(os.environ.get("BENCH_N", "100000")), help="frames to build")
    ap.add_argument("--before", type=Path, help="an older checkout measured in the same run")
    ap.add_argument("--only", choices=("before", "this"), help="measure one tree only")
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="bench_index_", dir=os.environ.get("BENCH_DIR")))
    data = args.data or base / "data"
    trees = {"this": Path(__file__).resolve().parent.parent}
    if args.before:
        trees = {"before": args.before.resolve(), **trees}
    if args.only:
        trees = {args.only: trees[args.only]}
    try:
        if not data.exists():
            t = time.perf_counter()
            build(data, args.n)
            print(f"built {args.n} frames + tag files in {time.perf_counter() - t:.0f} s")
        frames = sum(1 for _ in data.glob("scan_*/*.tif"))
        read_all(data)
        print(f"{data}: {frames} frames; query {QUERY!r}; machine shared, figures of one run")
        results: dict[str, dict[str, dict]] = {k: {} for k in trees}
        for label, tree in trees.items():
            cache = base / f"cache-{label}"
            r = results[label]
            r["cold"] = run_step(tree, cache, "search", data)
            r["warm"] = run_step(tree, cache, "search", data)
            if has_option(tree, "--quick"):
                r["quick"] = run_step(tree, cache, "quick", data)
            if has_option(tree, "--verify"):
                r["verify"] = run_step(tree, cache, "verify", data)
            r["first"] = run_step(tree, cache, "first", data)
        changed = change_tags(data)
        for label, tree in trees.items():
            cache = base / f"cache-{label}"
            results[label]["check"] = run_step(tree, cache, "check", data)
        again = change_tags(data, first=50, renamed=True)
        time.sleep(2.5)  # a folder changed in the last 2 s is listed again by any quick check: not what is measured
        for label, tree in trees.items():
            cache = base / f"cache-{label}"
            r = results[label]
            r["after"] = run_step(tree, cache, "search", data)
            if has_option(tree, "--verify"):
                r["verify_after"] = run_step(tree, cache, "verify", data)

        def line(label: str, x: dict, extra: str = "") -> None:
            print(f"  {label:<36} {x['s']:8.2f} s  (CPU {x['cpu_s']:6.2f} s)  peak RSS {x['rss_mb']:5.0f} MB{extra}")

        for label, r in results.items():
            cold = r["cold"]
            print(f"\n[{label}] {trees[label]}")
            line("cold search (scan + query)", cold,
                 f"  {frames / cold['s']:.0f} frames/s, {2 * frames / cold['s']:.0f} files/s, {cold['n']} hits")
            line("warm search", r["warm"])
            for step, what in (("quick", "warm search --quick"), ("verify", "warm search --verify")):
                if step in r:
                    line(what, r[step])
            line("first 100 rows from the index", r["first"])
            extra = (f"  (+ cached_entries first: {r['check']['with_cached_entries_s']:.2f} s)"
                     if "with_cached_entries_s" in r["check"] else "")
            line(f"change check ({changed} changes)", r["check"], f"  {r['check']['n']} found{extra}")
            line(f"search after {again} more (half renamed)", r["after"], f"  {r['after']['n']} hits")
            if "verify_after" in r:
                line("  then search --verify", r["verify_after"], f"  {r['verify_after']['n']} hits")
        print("\nJSON " + json.dumps(results))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
