"""Accuracy and speed of the beam-centre finder on labelled synthetic frames and the real MarCCD examples.

    python benchmarks/bench_beam_center.py [--seeds 1 2 3] [--count 80] [--big 20] [--impl FILE.py]

Generates ``count`` frames at 256 px per seed and ``big`` at 1024 px (seed 1 only), runs
``find_beam_center(data, mask)`` on each and prints, per experiment type and beam on/off the image, the
error against the true centre (median and 90th percentile in pixels, share within 2 and 5 px, share of
None; a None counts as a miss) and the time per frame. ``--impl`` loads ``find_beam_center`` from another
file (e.g. an older radial.py) to compare.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from tui_tagger.core.synth import generate_frame

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real-examples"


def _finder(impl: str | None):
    if not impl:
        from tui_tagger.core.radial import find_beam_center
        return find_beam_center
    spec = importlib.util.spec_from_file_location("radial_impl", impl)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.find_beam_center


def _summary(errors: list[float], times: list[float]) -> str:
    e = np.array(errors, dtype=np.float64)
    found = np.isfinite(e)
    med = np.median(np.where(found, e, np.inf))
    p90 = np.percentile(np.where(found, e, 1e9), 90)
    fmt = lambda v: f"{v:7.2f}" if v < 1e8 else "   miss"
    return (f"{len(e):5d} {fmt(med)} {fmt(p90)} {np.mean(e <= 2):7.0%} {np.mean(e <= 5):7.0%} "
            f"{np.mean(~found):6.0%} {1000 * np.mean(times):8.1f}")


def _run(find, seeds: list[int], count: int, big: int) -> None:
    groups: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    jobs = [(s, i, 256) for s in seeds for i in range(count)] + [(seeds[0], 1000 + i, 1024) for i in range(big)]
    find(np.random.default_rng(0).random((64, 64)).astype(np.float32), None)  # warm imports
    for seed, index, size in jobs:
        counts, mask, tags, meta = generate_frame(seed, index, size)
        geo = meta["geometry"]
        data = counts.astype(np.float32)
        t = time.perf_counter()
        c = find(data, mask)
        dt = time.perf_counter() - t
        err = math.inf if c is None else math.dist(c, (geo["cx"], geo["cy"]))
        where = "off" if "Beam off image" in tags else "on"
        for key in (f"{meta['experiment']:6s} beam {where:3s}", f"all {size} px", "all"):
            groups[key][0].append(err)
            groups[key][1].append(dt)
    print(f"{'group':18s} {'n':>5s} {'median':>7s} {'p90':>7s} {'<=2px':>7s} {'<=5px':>7s} {'None':>6s} {'ms/frame':>8s}")
    for key in sorted(groups, key=lambda k: (k.startswith("all"), k)):
        print(f"{key:18s} {_summary(*groups[key])}")


def _real(find) -> None:
    from tui_tagger.core.formats import read_image, sniff

    for path in sorted(REAL.glob("*")):
        if path.suffix == ".tag" or sniff(path) is None:
            continue
        frame = read_image(path)
        t = time.perf_counter()
        c = find(frame.data, frame.mask)
        dt = time.perf_counter() - t
        header = frame.meta.get("beam_center_px")
        shown = "None" if c is None else f"({c[0]:.1f}, {c[1]:.1f})"
        print(f"{path.name[:40]:40s} found {shown:16s} header {header}  {1000 * dt:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--count", type=int, default=90, help="frames at 256 px per seed")
    parser.add_argument("--big", type=int, default=20, help="frames at 1024 px")
    parser.add_argument("--impl", help="a radial.py to load find_beam_center from instead")
    args = parser.parse_args()
    find = _finder(args.impl)
    _run(find, args.seeds, args.count, args.big)
    if REAL.is_dir():
        _real(find)


if __name__ == "__main__":
    main()
