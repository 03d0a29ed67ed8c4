"""Learning from corrections, measured: feature extraction, head training, suggest at scale, and
learning curves (suggestions vs random) on the core's synthetic data.

    python benchmarks/bench_learn.py [--dir DIR] [--count 600] [--size 256] [--tags "Ring: Oriented z" ...]

DIR is written with ``core.synth.write_dataset`` when it holds no images. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_TAGS = ["Ring: Oriented z", "Halo: Isotropic", "Bragg rods", "GISAXS", "Ring: Spotted"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir")
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tags", nargs="*", default=DEFAULT_TAGS)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    os.environ.setdefault("TUI_TAGGER_CACHE_DIR", tempfile.mkdtemp(prefix="bench-learn-cache-"))

    from tui_tagger.core.synth import write_dataset
    from tui_tagger.learn.curve import learning_curve
    from tui_tagger.learn.folder import load_folder
    from tui_tagger.learn.heads import fit_embedding, train_head
    from tui_tagger.learn.suggest import suggest

    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-learn-"))
    if not any(folder.glob("*.tif")):
        t = time.perf_counter()
        write_dataset(folder, args.count, seed=args.seed, size=args.size)
        print(f"synthetic data: {args.count} frames at {args.size} px in {time.perf_counter() - t:.1f} s -> {folder}")

    for run in ("cold", "warm"):
        t = time.perf_counter()
        data = load_folder(folder, workers=args.workers)
        dt = time.perf_counter() - t
        print(f"features ({run} cache): {len(data.entries)} images, {data.X.shape[1]} dims, {dt:.1f} s "
              f"({1000 * dt / len(data.entries):.1f} ms/image)")

    t = time.perf_counter()
    emb = fit_embedding(data.X)
    Z = emb.transform(data.X)
    print(f"embedding (standardise + PCA {emb.dim}): {1000 * (time.perf_counter() - t):.0f} ms")
    y = data.labels(args.tags[0])
    idx = np.random.default_rng(0).choice(len(y), 50, replace=False)
    t = time.perf_counter()
    train_head(args.tags[0], data.X[idx], y[idx], embedding=emb)
    print(f"head from 50 labels: {1000 * (time.perf_counter() - t):.0f} ms")

    big = np.random.default_rng(1).normal(size=(85_000, emb.dim))
    labels = np.full(len(big), np.nan)
    labels[:200] = (np.arange(200) % 7 == 0).astype(float)
    t = time.perf_counter()
    suggest(big, labels, 20)
    print(f"suggest 20 of 85,000 images (200 labelled): {time.perf_counter() - t:.2f} s")

    print("\nlearning curves (accuracy at p >= 0.5 / AP on the images not labelled; random = mean of 5 orders)")
    for tag in args.tags:
        truth = data.labels(tag)
        t = time.perf_counter()
        points = learning_curve(Z, truth, step=5, max_labels=50, seed=args.seed)
        majority = max(np.mean(truth), 1 - np.mean(truth))
        print(f"\n{tag}: prevalence {np.mean(truth):.3f} (all-majority accuracy {majority:.3f}), "
              f"{time.perf_counter() - t:.1f} s")
        print(f"{'labels':>6} {'acc':>6} {'AP':>6} | {'rnd acc':>7} {'rnd AP':>6}")
        for p in points:
            print(f"{p['labels']:>6} {p['accuracy']:>6.3f} {p['ap']:>6.3f} | {p['random_accuracy']:>7.3f} {p['random_ap']:>6.3f}")


if __name__ == "__main__":
    main()
