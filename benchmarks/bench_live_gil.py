"""GIL holds of the live head's stages, each run in a worker thread as the TUI runs it: a sampler thread
sleeps 1 ms and notes how late it wakes (a gap > 20 ms = the worker held the GIL that long), with the
worker's innermost frames at the wakeup. Stages: the imports (learn.live.prepare, with PREIMPORT=1, as the
TUI does them at a rest), the features of 96 images of DIR (cold cache), the embedding and fits on N (4000)
x d random features (d: the features' length), review.

    python benchmarks/bench_live_gil.py DIR          # N=4000 LABELS=300 PREIMPORT=1 ...
"""
import glob
import os
import sys
import tempfile
import threading
import time
import traceback

import numpy as np

os.environ.setdefault("TUI_TAGGER_CACHE_DIR", tempfile.mkdtemp(prefix="bench-live-gil-"))

gaps = []  # (gap s, stage, where)
stage = ["idle"]
worker_ident = [None]
running = [True]

def sampler():
    last = time.perf_counter()
    while running[0]:
        time.sleep(0.001)
        now = time.perf_counter()
        gap = now - last - 0.001
        if gap > 0.02:
            fr = sys._current_frames().get(worker_ident[0])
            where = " < ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in traceback.extract_stack(fr)[-4:][::-1]) if fr else "?"
            gaps.append((gap, stage[0], where))
        last = now

def run(name, fn):
    stage[0] = name
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    mine = [g for g in gaps if g[1] == name]
    top = max(mine, default=(0, name, ""))
    print(f"{name:28s} {dt*1000:7.0f} ms; longest hold {top[0]*1000:5.0f} ms; holds>20ms {len(mine):3d} ({sum(g[0] for g in mine)*1000:.0f} ms)  at: {top[2]}", flush=True)
    return out

def work():
    worker_ident[0] = threading.get_ident()
    from tui_tagger.ui.live_heads import load_head
    import tui_tagger.learn.live as live
    from tui_tagger.learn.heads import fit_embedding
    n = int(os.environ.get("N", "4000"))
    run("idle 1 s", lambda: time.sleep(1))
    if os.environ.get("PREIMPORT"):
        run("prepare (import)", lambda: __import__("tui_tagger.learn.live", fromlist=["x"]).prepare())
    refs = sorted(glob.glob(os.path.join(sys.argv[1], "**", "*.tif"), recursive=True))[:96]
    items = [(r, os.stat(r).st_size, os.stat(r).st_mtime_ns) for r in refs]
    head = run(f"load_head {len(items)} imgs (cold)", lambda: load_head(items))
    d = head.X.shape[1]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32) * rng.gamma(2, size=d).astype(np.float32)
    head.paths = [f"p{i}" for i in range(n)]; head.X = X; head._row = {p: i for i, p in enumerate(head.paths)}; head._spaces = {}
    head.embedding = run(f"fit_embedding {n}x{d}", lambda: fit_embedding(X))
    head._Z = run("transform", lambda: head.embedding.transform(X))
    labels = {f"p{i}": bool(i % 5 == 0) for i in range(0, n, max(1, n // int(os.environ.get("LABELS", "300"))))}
    from tui_tagger.model.checkpoint import load_checkpoint
    tags = load_checkpoint(head.model_path())[1].tags
    run(f"fit scratch {len(labels)} labels", lambda: head.fit(labels, "no-such-tag"))
    run(f"fit prior ({tags[0]})", lambda: head.fit(labels, tags[0]))
    run(f"fit prior again", lambda: head.fit(labels, tags[0]))
    run("review", lambda: head.review(labels))

if __name__ == "__main__":
    t = threading.Thread(target=sampler, daemon=True); t.start()
    w = threading.Thread(target=work); w.start(); w.join()
    running[0] = False
    print("load:", open("/proc/loadavg").read().strip())
