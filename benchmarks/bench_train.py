"""Training throughput: images/s of train's fit() (augmentation, forward, backward, AdamW step) on
preprocessed frames in memory, for each --precision, on a model of the shipped model's shape.

    python benchmarks/bench_train.py [--frames 640] [--size 256] [--device cpu] [--model models/tagger.pt]

Decoding is left out (train decodes every frame once, before the first epoch: bench_predict measures it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=640)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None, help="a model file (default: an untrained one of the default size)")
    ap.add_argument("--rounds", type=int, default=2, help="each precision this many times, interleaved")
    args = ap.parse_args()

    import torch

    from tui_tagger.model.checkpoint import load_checkpoint
    from tui_tagger.model.device import resolve_device
    from tui_tagger.model.nets import create_model
    from tui_tagger.model.train import PRECISIONS, TrainConfig, cpu_has_fast_bf16, fit

    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    tags = [f"tag{i}" for i in range(44)]
    x = rng.random((args.frames, args.size, args.size), dtype=np.float32).astype(np.float16)
    y = (rng.random((args.frames, len(tags))) < 0.15).astype(np.float32)

    def model():
        if args.model:
            return load_checkpoint(args.model)[0]
        return create_model("alexnet-tagger", len(tags), {"pool": 7, "hidden": 768, "attention": 2})

    print(f"device {device}; CPU with AMX/AVX-512 BF16: {cpu_has_fast_bf16()}; torch threads {torch.get_num_threads()}")
    rates: dict[str, list[float]] = {p: [] for p in PRECISIONS if p != "auto"}
    for _ in range(args.rounds):
        for precision in rates:
            net = model()
            if args.model:  # the model's own tags
                y = (rng.random((args.frames, net.head.out_features)) < 0.15).astype(np.float32)
            config = TrainConfig(epochs=1, batch=32, lr=1e-5, val_split=0.0, precision=precision)
            start = time.perf_counter()
            fit(net, x, y, np.ones_like(y), [str(i) for i in range(len(x))], tags[: y.shape[1]], config, device,
                log=lambda _: None)
            rates[precision].append(len(x) / (time.perf_counter() - start))
    for precision, values in rates.items():
        print(f"{precision}: {max(values):7.1f} images/s (best of {len(values)}; all {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
