"""Frames per second of the synthetic generator: generate only, and generate + write (TIFF/EDF + tag file).

    python benchmarks/bench_synth.py [--count N]

Reports wall-clock and CPU figures (the CPU one is what a single idle core would give on a busy machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from tui_tagger.core.synth import generate_frame, write_dataset


def _measure(fn, n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return n / (time.perf_counter() - wall), n / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="frames at 256 px (a tenth of it at 1024)")
    args = parser.parse_args()
    generate_frame(0, 0, 256)  # warm imports
    for size, n in ((256, args.count), (1024, max(args.count // 10, 2))):
        gen = _measure(lambda: [generate_frame(1, i, size) for i in range(n)], n)
        with tempfile.TemporaryDirectory() as tmp:
            wr = _measure(lambda: write_dataset(tmp, n, seed=1, size=size), n)
        print(f"size {size:5d}: generate {gen[0]:6.1f} frames/s ({gen[1]:6.1f} per CPU-s)   "
              f"generate+write {wr[0]:6.1f} frames/s ({wr[1]:6.1f} per CPU-s)   [{n} frames]")


if __name__ == "__main__":
    main()
