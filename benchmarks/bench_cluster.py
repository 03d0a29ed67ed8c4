"""Predict throughput locally and on a Dask LocalCluster of 1, 2, ... worker processes: the same real-size
frames, the same model, frames/s and the ratio to the local run (issue 22).

    python benchmarks/bench_cluster.py [--n 2000] [--workers 1,2] [--model models/tagger.pt] [--device cpu]
                                       [--threads 1] [--batch 32] [--unique 64]

Frames: 1024x1024 uint16 TIFF (Poisson counts), ``--unique`` distinct files hard-linked to ``--n`` paths (the
disk holds 64 frames, not 2,000; every path is decoded, from the page cache as a freshly written data set
would be). Local: ``LocalPredictor.predict_paths`` with the default decoding processes, what ``tui-tagger
predict`` runs. Cluster: ``RemotePredictor.predict_indexed`` (what ``predict --cluster local:N`` runs),
each worker one process of ``--threads`` threads; the timing starts once every worker has loaded the
model (a warm-up batch per worker), and the start-up is printed apart. On a GPU machine ``--device auto``
gives the figure of GPU workers. Nothing is written (no tag files): the same work on both sides.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def make_frames(folder: Path, n: int, unique: int, size: int) -> list[str]:
    import tifffile

    rng = np.random.default_rng(0)
    originals = []
    for i in range(min(unique, n)):
        p = folder / f"frame_{i:05d}.tif"
        tifffile.imwrite(p, rng.poisson(100, (size, size)).astype(np.uint16))
        originals.append(p)
    paths = []
    for i in range(n):
        p = folder / f"frame_{i:05d}.tif"
        if i >= len(originals):
            os.link(originals[i % len(originals)], p)
        paths.append(str(p))
    return paths


def timed(label: str, n: int, run) -> float:
    t = time.perf_counter()
    count = run()
    dt = time.perf_counter() - t
    assert count == n, (count, n)
    print(f"{label:46} {n / dt:8.1f} frames/s  ({dt:6.1f} s)", flush=True)
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="frames (default 2000)")
    ap.add_argument("--workers", default="1,2", help="LocalCluster sizes to measure (default 1,2)")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--device", default="cpu", help="cpu (default), auto or cuda: locally and on the workers")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--unique", type=int, default=64, help="distinct frames, hard-linked to --n paths")
    args = ap.parse_args()

    import distributed
    import torch

    from tui_tagger.model.cluster import Cluster, RemotePredictor, _spec
    from tui_tagger.model.data import default_workers
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.locate import default_model_path

    model = args.model or str(default_model_path())
    sizes = [int(s) for s in args.workers.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_frames(Path(tmp), args.n, args.unique, args.size)
        local = LocalPredictor.load(model, args.device)
        decoders = default_workers()
        print(f"{args.n} frames {args.size}x{args.size} uint16 TIFF ({min(args.unique, args.n)} distinct), model "
              f"{Path(model).name}, batch {args.batch}, device {args.device}; {os.cpu_count()} cores, torch "
              f"threads here {torch.get_num_threads()}; cluster workers: 1 process x {args.threads} thread(s)",
              flush=True)
        list(local.predict_paths(paths[: args.batch], args.batch, decoders))  # warm up
        figures = {"local": timed(f"local (predict_paths, {decoders} decoding processes)", args.n,
                                  lambda: sum(1 for _ in local.predict_paths(paths, args.batch, decoders)))}
        for k in sizes:
            t = time.perf_counter()
            lc = distributed.LocalCluster(n_workers=k, threads_per_worker=args.threads, processes=True,
                                          dashboard_address=":0")
            try:
                with Cluster(lc.scheduler_address) as cluster:
                    cluster.client.wait_for_workers(k, timeout=120)
                    remote = RemotePredictor(cluster, local, _spec(model, args.device, local.physics, local.heads))
                    warm = paths[: args.batch * k * args.threads]
                    sum(1 for _ in remote.predict_indexed(warm, args.batch))  # every worker loads the model
                    print(f"  LocalCluster of {k}: start + model loaded on every worker in "
                          f"{time.perf_counter() - t:.1f} s", flush=True)
                    figures[k] = timed(f"LocalCluster, {k} worker{'s' * (k > 1)}", args.n,
                                       lambda: sum(1 for _ in remote.predict_indexed(paths, args.batch)))
            finally:
                lc.close()
        print("ratios to local: " + ", ".join(f"{k} worker{'s' * (k > 1)} {figures[k] / figures['local']:.2f}"
                                              for k in sizes), flush=True)
        if len(sizes) > 1 and sizes[0] in figures:
            first = sizes[0]
            print("scaling from " + f"{first}: " + ", ".join(
                f"{k} workers {figures[k] / figures[first]:.2f}" for k in sizes[1:]), flush=True)


if __name__ == "__main__":
    main()
