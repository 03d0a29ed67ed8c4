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
gives the figure of GPU workers. Nothing is written (no tag files): the same work on both sides. Each line
also gives the CPU time per frame of the processes doing the work (here: this one and its decoding
processes; there: the workers), the cost in core-hours that other jobs on the machine do not change.
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


def local_cpu() -> float:
    """CPU seconds of this process and its finished children (the decoding processes)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, n: int, run, cpu) -> float:
    """frames/s of ``run`` (wall clock), and its CPU seconds per frame (``cpu()``: a CPU-seconds counter of
    the processes doing the work): on a machine shared with other jobs, what the work costs in core-hours."""
    c, t = cpu(), time.perf_counter()
    count = run()
    dt, used = time.perf_counter() - t, cpu() - c
    assert count == n, (count, n)
    print(f"{label:46} {n / dt:8.1f} frames/s  ({dt:6.1f} s); {1000 * used / n:6.1f} CPU ms/frame = "
          f"{used / n * 1e6 / 3600:5.1f} core-hours per 1M frames", flush=True)
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
              f"{Path(model).name}, batch {args.batch}, device {args.device}; {os.cpu_count()} cores; cluster "
              f"workers: 1 process x {args.threads} thread(s)",
              flush=True)
        list(local.predict_paths(paths[: args.batch], args.batch, decoders))  # warm up
        figures = {"local": timed(f"local (predict_paths, {decoders} decoding processes)", args.n,
                                  lambda: sum(1 for _ in local.predict_paths(paths, args.batch, decoders)),
                                  local_cpu)}
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
                    client = cluster.client

                    def workers_cpu() -> float:  # the workers' processes (the client's share is small)
                        return sum(client.run(time.process_time).values())

                    figures[k] = timed(f"LocalCluster, {k} worker{'s' * (k > 1)}", args.n,
                                       lambda: sum(1 for _ in remote.predict_indexed(paths, args.batch)),
                                       workers_cpu)
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
