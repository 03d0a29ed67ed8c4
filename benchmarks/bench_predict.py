"""Prediction throughput: images/s for decode only, decode + preprocess, and predict end to end on
1024x1024 uint16 TIFF frames (an untrained model of the default size unless --model is given).

    python benchmarks/bench_predict.py [--count 64] [--device cpu] [--workers N] [--batch 32] [--model M]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cli", action="store_true",
                    help="also time the commands as a user runs them: `info --json` (the read-only bound) and "
                         "`predict --json` over the same frames, wall clock including start-up")
    ap.add_argument("--before", metavar="TREE", action="append", default=[],
                    help="with --cli: also time the commands of another checkout (e.g. `git archive REV | tar -x -C "
                         "TREE`), alternating with this one, so that before and after are measured in one run")
    args = ap.parse_args()

    import tifffile
    import torch

    from tui_tagger.core.formats import read_image
    from tui_tagger.model.checkpoint import ModelInfo
    from tui_tagger.model.data import default_workers, load_and_preprocess
    from tui_tagger.model.device import resolve_device
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.nets import create_model
    from tui_tagger.model.transforms import preprocess_config

    workers = default_workers() if args.workers is None else args.workers
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(args.count):
            p = Path(tmp) / f"frame_{i:05d}.tif"
            tifffile.imwrite(p, rng.poisson(100, (args.size, args.size)).astype(np.uint16))
            paths.append(str(p))
        if args.model:
            predictor = LocalPredictor.load(args.model, args.device)
        else:
            info = ModelInfo("alexnet-tagger", {}, [f"t{i}" for i in range(98)], preprocess_config())
            predictor = LocalPredictor(create_model(info.arch, 98), info, resolve_device(args.device))
        cfg = predictor.preprocess

        def rate(label: str, fn) -> None:
            fn(paths[:2])  # warm up (imports, first allocation)
            t = time.perf_counter()
            fn(paths)
            dt = time.perf_counter() - t
            print(f"{label:44} {args.count / dt:8.1f} images/s")

        print(f"{args.count} frames {args.size}x{args.size} uint16 TIFF; device {predictor.device}, "
              f"workers {workers}, batch {args.batch}, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")
        rate("decode only (1 process)", lambda ps: [read_image(p) for p in ps])
        rate("decode + preprocess (1 process)", lambda ps: [load_and_preprocess(p, cfg) for p in ps])
        x = np.stack([load_and_preprocess(p, cfg) for p in paths[: args.batch]])
        t = time.perf_counter()
        for _ in range(3):
            predictor.predict_arrays(x)
        print(f"{'model only (preprocessed batches)':44} {3 * len(x) / (time.perf_counter() - t):8.1f} images/s")
        rate(f"predict end to end ({workers} workers)", lambda ps: list(predictor.predict_paths(ps, args.batch, workers)))
        if workers:
            rate("predict end to end (0 workers)", lambda ps: list(predictor.predict_paths(ps, args.batch, 0)))
        if args.cli:
            cli_times(args, paths, tmp)


def cli_times(args, paths: list[str], tmp: str) -> None:
    """`info --json` and `predict --json` over the frames, wall clock, each tree alternately, best of 2."""
    import subprocess
    import sys

    here = str(Path(__file__).resolve().parents[1])
    trees = [("this tree", here)] + [(f"tree {t}", str(Path(t).resolve())) for t in args.before]
    model = ["--model", args.model] if args.model else []
    env = dict(os.environ, TUI_TAGGER_CACHE_DIR=os.path.join(tmp, "cache"), TUI_TAGGER_CONFIG_DIR=os.path.join(tmp, "cfg"))
    best: dict[tuple[str, str], float] = {}
    for _ in range(2):
        for label, tree in trees:
            for name, cmd in (("info --json", ["info", "--json", *paths]), ("predict --json", ["predict", "--json", *model, *paths])):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "tui_tagger", *cmd], env=dict(env, PYTHONPATH=tree),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                dt = time.perf_counter() - t
                best[label, name] = min(best.get((label, name), dt), dt)
    for label, _ in trees:
        info, predict = best[label, "info --json"], best[label, "predict --json"]
        print(f"{label}: info --json {len(paths) / info:6.1f} frames/s ({info:.2f} s), predict --json "
              f"{len(paths) / predict:6.1f} frames/s ({predict:.2f} s): {predict / info:.2f} x the read-only time")


if __name__ == "__main__":
    main()
