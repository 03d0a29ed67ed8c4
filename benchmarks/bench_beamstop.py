"""The beamstop verdict (core/beamstop.py: ``judge``, as predict runs it) on generated frames whose stop is
known: how often a bar, or a frame with no stop, is called round (must be never: it would hide a real linear
stop), how often a round stop is found, and the CPU time per frame, per frame size; with the true beam centre
stated (as a header or PONI file states it), and with none (the stop found from the pixels alone). With the
centre stated, also ``open_beam`` (the direct beam unblocked: both stop tags lowered): how often a frame with
a stop is called open (must be never) and how many frames without a stop are; and ``beam_seen`` where the stop
gives no verdict (the beam seen on a frame with no scattering around it: "Linear beamstop" lowered): how often
a frame with a bar is (must be never) and how many frames without a stop are.

``--soft SIGMA``: every stop's edge blurred into a penumbra (a stop far from the detector, a divergent or
large beam, as real frames show): the pixels around the generator's stop thinned (binomially: counts stay
counts) by a Gaussian blur of width SIGMA px of the stop's map; a thin arm turns grey, as it does there.

    python benchmarks/bench_beamstop.py [--count 200] [--sizes 256,384,512,1024] [--seed 9100] [--centre both]
                                        [--soft 0]
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
    ap.add_argument("--centre", choices=("stated", "none", "both"), default="both",
                    help="judge with the true beam centre stated, with none, or both")
    ap.add_argument("--soft", type=float, default=0.0, help="penumbra width (Gaussian sigma, px); 0: sharp")
    args = ap.parse_args()

    import numpy as np

    from tui_tagger.core.beamstop import beam_seen, judge, open_beam
    from scipy.ndimage import gaussian_filter

    from tui_tagger.core.synth import draw_scene, generate_frame
    from tui_tagger.core.synth.instrument import beamstop_map

    modes = ("stated", "none") if args.centre == "both" else (args.centre,)
    print(f"{'size':>5} {'centre':>7} {'bars':>5} {'bar->round':>10} {'no stop':>7} {'none->round':>11} "
          f"{'round stops':>11} {'found round':>11} {'stop->open':>10} {'none->open':>10} {'bar->beam':>9} "
          f"{'none->beam':>10} {'CPU ms p50':>10} {'max':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        frames = []
        for i in range(args.count):
            scene = draw_scene(args.seed + size, i, size, None)
            counts, mask, tags, _ = generate_frame(args.seed + size, i, size)
            if args.soft > 0:
                lit = 1 - gaussian_filter(beamstop_map(scene.geometry, scene.instrument).astype(np.float64), args.soft)
                rng = np.random.default_rng(i)
                counts = np.where(counts > 0, rng.binomial(np.maximum(counts, 0).astype(np.int64), np.clip(lit, 0, 1)),
                                  counts).astype(counts.dtype)
            truth = "bar" if "Linear beamstop" in tags else "round" if "Circular beamstop" in tags else "none"
            frames.append((counts, mask, (scene.geometry.cx, scene.geometry.cy), truth))
        for mode in modes:
            verdicts: Counter = Counter()
            spent = []
            for counts, mask, centre, truth in frames:
                t = time.process_time()
                kind = judge(counts, mask, centre if mode == "stated" else None).kind
                opened = mode == "stated" and open_beam(counts, mask, centre)
                seen = mode == "stated" and not opened and kind is None and beam_seen(counts, mask, centre)
                spent.append(time.process_time() - t)
                verdicts[truth, kind] += 1
                verdicts[truth, "open"] += opened
                verdicts[truth, "beam"] += seen
            n = Counter(t for _, _, _, t in frames)
            print(f"{size:>5} {mode:>7} {n['bar']:>5} {verdicts['bar', 'round']:>10} {n['none']:>7} "
                  f"{verdicts['none', 'round']:>11} {n['round']:>11} {verdicts['round', 'round']:>11} "
                  f"{verdicts['bar', 'open'] + verdicts['round', 'open']:>10} {verdicts['none', 'open']:>10} "
                  f"{verdicts['bar', 'beam']:>9} {verdicts['none', 'beam']:>10} "
                  f"{1000 * float(np.median(spent)):>10.1f} {1000 * max(spent):>6.0f}")


if __name__ == "__main__":
    main()
