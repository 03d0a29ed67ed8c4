"""The shipped model on real frames from many beamlines (real-dev: 26 frames from 8 public repositories),
measured on their certain labels only, through ``tui-tagger evaluate DIR --labels``'s machinery.

    python benchmarks/bench_real.py [REAL_DEV] [--model M] [--device cpu] [--workers N] [--no-physics]

REAL_DEV (default ``../shared/reference/real-dev`` from the repository) holds ``images/``,
``labels.csv`` (certain labels: 1 and 0) and ``labels_judged.csv`` (judged positives, same
``file,tag,value`` columns, value always 1). Prints, for the certain labels: per tag n_pos, n_neg,
ROC AUC, AP and accuracy at the model's thresholds (worst first), the mean AUC over the tags with
>= 2 certain positives and >= 2 certain negatives, how many of those are under 0.75, the experiment
type (highest of TSAXS / TWAXS / GISAXS / GIWAXS) right/total with the wrong frames, every certain
label the model gets wrong at its threshold, and "Linear beamstop" on frames whose label for it is 0.
For the judged positives (no negatives: no AUC) accuracy is the recall at the threshold. Then the
physics check (``core.calibrant``) on every frame: the calibrants it names, with the frame's certain
AgBH / LaB6 labels beside them; the model's p include it unless ``--no-physics``. Never trains.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "reference" / "real-dev"
LINEAR, ROUND = "Linear beamstop", "Circular beamstop"
AUC_BAR = 0.75


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("real_dev", nargs="?", type=Path, default=DEFAULT, help=f"default {DEFAULT}")
    ap.add_argument("--model", help="default: the shipped model (models/tagger.pt)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-physics", action="store_true", help="the network alone (no physics check)")
    args = ap.parse_args()

    from tui_tagger.commands.common import warn
    from tui_tagger.commands.evaluate import evaluate_labels, read_tables
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.locate import shipped_model_paths
    from tui_tagger.model.metrics import (format_certain, format_experiment_type, worst_first,
                                          wrong_at_threshold)

    images = args.real_dev / "images"
    certain, judged = args.real_dev / "labels.csv", args.real_dev / "labels_judged.csv"
    if not images.is_dir() or not certain.is_file():
        print(f"{args.real_dev}: no images/ and labels.csv here (pass the real-dev folder)", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else next(p for p in shipped_model_paths() if p.exists())
    predictor = LocalPredictor.load(model, args.device, heads=False, physics=not args.no_physics)
    print(f"model {model} ({predictor.info.name}, {len(predictor.tags)} tags) on {images}, physics check "
          + ("on" if predictor.physics else "off"))

    run = evaluate_labels(predictor, [str(images)], read_tables([str(certain)], [str(images)]),
                          batch=args.batch, workers=args.workers, warn=warn)
    report = run.report
    print(f"\n== certain labels ({certain.name}): {report['images']} frames with a label of the model's tags, "
          f"{report['skipped']} unreadable ==")
    print(format_certain({k: v for k, v in report.items() if k != "experiment_type"}, worst_first(report)))
    graded = {t: m["auc"] for t, m in report["tags"].items() if m["n_pos"] >= 2 and m["n_neg"] >= 2}
    under = {t: a for t, a in graded.items() if a is not None and a < AUC_BAR}
    print(f"tags under AUC {AUC_BAR} (of {len(graded)}): {len(under)}"
          + (" (" + ", ".join(f"{t} {a:.3f}" for t, a in under.items()) + ")" if under else ""))
    print(format_experiment_type(report["experiment_type"]))
    print("certain labels wrong at the model's thresholds:")
    for tag, rows in wrong_at_threshold(run.y, run.known, run.probs, run.tags, run.thresholds, run.names).items():
        thr = report["tags"][tag]["threshold"]
        for r in rows:
            print(f"  {tag} (thr {thr:.2f}): {r['image']} is {r['label']}, p {r['p']:.3f}")

    j = run.tags.index(LINEAR)
    zero = [i for i in range(len(run.refs)) if run.known[i, j] > 0 and run.y[i, j] == 0]
    print(f"\n{LINEAR} on frames whose certain label for it is 0 (threshold {predictor.info.threshold(LINEAR):.2f}):"
          + ("" if zero else f" none, {certain.name} has no {LINEAR} = 0 row"))
    for i in zero:
        print(f"  {run.names[i]}: p {run.probs[i, j]:.3f}")

    physics_report(images, run)
    if not judged.is_file():
        return 0
    jrun = evaluate_labels(predictor, [str(images)], read_tables([str(judged)], [str(images)]),
                           batch=args.batch, workers=args.workers, warn=warn)
    jr = jrun.report
    values = {int(jrun.y[i, k]) for i in range(len(jrun.refs)) for k in range(len(jrun.tags)) if jrun.known[i, k]}
    print(f"\n== judged positives ({judged.name}, columns file,tag,value like {certain.name}, values {sorted(values)}: "
          f"no negatives, so no AUC; accuracy is the recall at the threshold): {jr['images']} frames ==")
    order = sorted(jr["tags"], key=lambda t: (jr["tags"][t]["accuracy"], t))
    print(format_certain(jr, order, means=False))
    print(format_experiment_type(jr["experiment_type"]))
    jl, jc = jrun.tags.index(LINEAR), jrun.tags.index(ROUND)
    thr = predictor.info.threshold(LINEAR)
    for title, rows in (
        (f"judged {ROUND} and not {LINEAR} (a round stop: {LINEAR} taken as 0)",
         [i for i in range(len(jrun.refs)) if jrun.y[i, jc] > 0 and not jrun.y[i, jl] > 0]),
        (f"judged {LINEAR}", [i for i in range(len(jrun.refs)) if jrun.y[i, jl] > 0]),
        ("with neither beamstop judged (not labelled either way)",
         [i for i in range(len(jrun.refs)) if not jrun.y[i, jc] > 0 and not jrun.y[i, jl] > 0]),
    ):
        above = sum(jrun.probs[i, jl] >= thr for i in rows)
        print(f"{LINEAR} p on frames {title}: {above}/{len(rows)} at or over its threshold {thr:.2f}")
        for i in rows:
            print(f"  {jrun.names[i]}: p {jrun.probs[i, jl]:.3f}")
    return 0


def physics_report(images: Path, run) -> None:
    """The physics check on every frame of ``images``: the calibrants it names (sure only), the frame's
    certain AgBH / LaB6 labels where ``run`` (the certain-label evaluation) has them, the time it took."""
    import time

    from tui_tagger.core.formats import read_image
    from tui_tagger.model.data import frame_physics, image_refs

    print("\nphysics check on every frame (calibrants named from ring positions, experiment types the geometry or the file name "
          "rules out, a round beamstop measured, the beam off the frame; sure only; certain labels in brackets):")
    row = {ref: i for i, ref in enumerate(run.refs)}
    spent, named_count = [], 0
    for ref in image_refs([images]):
        frame = read_image(ref)
        t = time.perf_counter()
        found = frame_physics(ref, frame)
        spent.append(time.perf_counter() - t)
        named_count += bool(found and found.calibrants)
        i = row.get(ref)
        labels = [] if i is None else [f"{t}={int(run.y[i, run.tags.index(t)])}" for t in ("AgBH", "LaB6")
                                      if t in run.tags and run.known[i, run.tags.index(t)]]
        named = (", ".join(f"{c} {p:.4f}" for c, p in found.calibrants) or "-") if found is not None else "check failed"
        if found is not None and found.ruled_out:
            named += "; not " + "/".join(sorted(found.ruled_out))
        if found is not None and found.stop:
            named += {"open": "; the direct beam unblocked (no stop)",
                      "beam": "; the direct beam seen, no scattering around (no bar)"}.get(found.stop,
                                                                                        f"; {found.stop} beamstop")
        if found is not None and found.beam_off:
            named += "; beam off the frame"
        if found is not None and found.blank:
            named += "; blank (detector noise alone)"
        print(f"  {Path(ref).name}: {named}" + (f"  [{', '.join(labels)}]" if labels else ""))
    print(f"  {named_count} of {len(spent)} frames named; {1000 * sum(spent) / max(len(spent), 1):.0f} ms per frame "
          "on average (reading the geometry from the header and the check)")


if __name__ == "__main__":
    raise SystemExit(main())
