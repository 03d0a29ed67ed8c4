"""The round-beamstop measure (core/beamstop.py) on generated frames whose stop is known: how often a bar is
called round (must be never: it would hide a real linear stop), how often a round stop is found, and the time
per frame, per frame size. The beam centre given is the true one (as a header or PONI file states it).

    python benchmarks/bench_beamstop.py [--count 200] [--sizes 256,384,512,1024] [--seed 9100]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200, help="frames per size")
    ap.add_argument("--sizes", default="256,384,512,1024")
    ap.add_argument("--seed", type=int, default=9100)
    args = ap.parse_args()

    import numpy as np

    from tui_tagger.core.beamstop import measure
    from tui_tagger.core.synth import draw_scene, generate_frame

    print(f"{'size':>5} {'bars':>5} {'bar->round':>10} {'round stops':>11} {'found round':>11} {'ms/frame p50':>12} {'max':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        verdicts: Counter = Counter()
        spent = []
        for i in range(args.count):
            scene = draw_scene(args.seed + size, i, size, None)
            counts, mask, tags, _ = generate_frame(args.seed + size, i, size)
            t = time.perf_counter()
            kind = measure(counts, mask, (scene.geometry.cx, scene.geometry.cy)).kind
            spent.append(time.perf_counter() - t)
            truth = "bar" if "Linear beamstop" in tags else "round" if "Circular beamstop" in tags else "none"
            verdicts[truth, kind] += 1
        bars = sum(v for (t, _), v in verdicts.items() if t == "bar")
        rounds = sum(v for (t, _), v in verdicts.items() if t == "round")
        print(f"{size:>5} {bars:>5} {verdicts['bar', 'round']:>10} {rounds:>11} {verdicts['round', 'round']:>11} "
              f"{1000 * float(np.median(spent)):>12.1f} {1000 * max(spent):>6.0f}")
        if verdicts["none", "round"]:
            print(f"      frames with no stop called round: {verdicts['none', 'round']}")


if __name__ == "__main__":
    main()
