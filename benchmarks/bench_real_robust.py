"""The shipped model on real-dev frames changed in ways that keep every label true: does the first pass hold
when a real frame reaches it binned, mirrored, at a lower dose, with detector gaps, or without its header?

    python benchmarks/bench_real_robust.py [REAL_DEV] [--variants tiff mirror ...] [--out DIR] [--model M]
                                           [--no-physics] [--no-hot] [--no-unit]

Each variant writes every labelled real-dev frame again (a float32 TIFF, flagged pixels NaN, named the
original name + ``.tif``, so the file name rules still see the name; the header's geometry is gone in every
variant, ``tiff`` alone measures that) and evaluates it on the same certain labels (``labels.csv``), as
``bench_real.py`` does. Variants:

- ``original``: the files as they are (headers, formats);
- ``tiff``: the pixels alone (no header: no geometry, no pixel size);
- ``mirror``: left-right flip (the training augmentation's; every tag here is mirror-symmetric);
- ``flipud``, ``rot90``: upside down, turned a quarter (a detector mounted so, a reader of the other row order;
  a grazing-incidence frame stays one to a person, and the model was never trained on either);
- ``bin2``: 2x2 binning (sum; a binned pixel with a flagged one is flagged), as detectors and users bin;
- ``dose10``: a tenth of the counts, Poisson (a short exposure; frames of floats taken as counts);
- ``gaps``: Pilatus-like module gaps, 7 px between columns of modules (487 px) and 17 px
  between rows (195 px; at least 1 and 2 gaps on a smaller frame), flagged (NaN): gaps are never pattern;
- ``u16``: clipped to 0..65535 as unsigned 16 bits (the saturation of a 16-bit readout);
- ``offset``: a CCD's readout pedestal (+1000, read noise 10);
- ``xF`` (``x0.001``, ``x1000``, any factor F): the counts times F (frames in other units: normalised to
  the monitor or to absolute intensity, per second, an integrating detector's ADU);
- ``hot``: 0.05 % hot pixels at the frame's maximum x10 and 0.05 % dead (0) (a worn CCD, an unmasked
  counting detector); ``zingers``: 0.005 % of each (a long CCD exposure's cosmic rays: 310 on a 6M frame).

Prints per variant: experiment type right / total (and the frames whose type changed from ``original``),
mean ROC AUC over the tags with >= 2 certain positives and negatives, tags under 0.75, and "Linear beamstop"
at or over its threshold on the frames ``labels_judged.csv`` judges to have a round stop (and no linear one).
Measurement only: never trains.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "reference" / "real-dev"
VARIANTS = ("original", "tiff", "mirror", "flipud", "rot90", "bin2", "dose10", "gaps", "u16", "hot", "zingers",
            "offset", "x0.001", "x1000")
AUC_BAR = 0.75
LINEAR, ROUND = "Linear beamstop", "Circular beamstop"


def transform(name: str, a: np.ndarray, bad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``a`` (float64) with its flagged pixels ``bad`` changed by variant ``name``: float32, flagged NaN."""
    clean = np.where(bad, 0.0, a)
    if name == "tiff":
        out = clean
    elif name == "mirror":
        out, bad = clean[:, ::-1], bad[:, ::-1]
    elif name == "flipud":
        out, bad = clean[::-1], bad[::-1]
    elif name == "rot90":
        out, bad = np.rot90(clean), np.rot90(bad)
    elif name == "bin2":
        h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
        out = clean[:h, :w].reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
        bad = bad[:h, :w].reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
    elif name == "dose10":
        out = rng.poisson(np.clip(clean, 0, 1e12) / 10).astype(np.float64)
    elif name == "gaps":
        out, bad = clean, bad.copy()
        # a Pilatus module is 487 x 195 pixels; a frame smaller than 2 x 3 modules gets 1 and 2 gaps
        step_c, step_r = min(487, a.shape[1] // 2), min(195, a.shape[0] // 3)
        for c in range(step_c, a.shape[1], step_c + 7):
            bad[:, c:c + 7] = True
        for r in range(step_r, a.shape[0], step_r + 17):
            bad[r:r + 17, :] = True
    elif name == "u16":
        out = np.clip(clean, 0, 65535)
    elif name in ("hot", "zingers"):
        out = clean.copy()
        n = max(1, out.size // (2000 if name == "hot" else 20000))
        out.flat[rng.integers(0, out.size, n)] = max(out.max(), 1.0) * 10
        out.flat[rng.integers(0, out.size, n)] = 0
    elif name == "offset":
        out = clean + 1000 + rng.normal(0, 10, clean.shape)
    elif name.startswith("x"):
        out = clean * float(name[1:])
    else:
        raise ValueError(name)
    out = np.array(out, dtype=np.float64)
    out[bad] = np.nan
    return out.astype(np.float32)


def _variant(name: str) -> str:
    if name in VARIANTS or (name.startswith("x") and name[1:].replace(".", "", 1).isdigit()):
        return name
    raise argparse.ArgumentTypeError(f"no variant {name!r}")


def write_variant(name: str, images: Path, rows: list[dict], out: Path) -> tuple[Path, Path]:
    """The labelled frames of ``images`` as variant ``name`` in ``out/images``, with their labels.csv."""
    import tifffile

    from tui_tagger.core.formats import read_image

    folder = out / name / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    renamed = {}
    for file in sorted({r["file"] for r in rows}):
        target = folder / (file + ".tif")
        renamed[file] = target.name
        if not target.exists():
            frame = read_image(str(images / file))
            bad = ~np.asarray(frame.mask, dtype=bool) if frame.mask is not None else np.zeros(frame.data.shape, bool)
            tifffile.imwrite(target, transform(name, np.asarray(frame.data, dtype=np.float64), bad, rng))
    table = out / name / "labels.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "tag", "value"])
        for r in rows:
            w.writerow([renamed[r["file"]], r["tag"], r["value"]])
    return folder, table


def round_stops(real_dev: Path) -> set[str]:
    """The frames ``labels_judged.csv`` judges to have a round beamstop and not a linear one."""
    judged = real_dev / "labels_judged.csv"
    if not judged.is_file():
        return set()
    with open(judged, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["value"].strip() == "1"]
    return {r["file"] for r in rows if r["tag"] == ROUND} - {r["file"] for r in rows if r["tag"] == LINEAR}


def measure(predictor, images: Path, table: Path, batch: int, renamed: bool, round_names: set[str]) -> dict:
    from tui_tagger.commands.evaluate import evaluate_labels, read_tables

    run = evaluate_labels(predictor, [str(images)], read_tables([str(table)], [str(images)]), batch=batch,
                          warn=lambda m: print("  " + m, file=sys.stderr))
    rep = run.report
    graded = {t: m["auc"] for t, m in rep["tags"].items()
              if m["n_pos"] >= 2 and m["n_neg"] >= 2 and m["auc"] is not None}
    et = rep["experiment_type"]
    j = run.tags.index(LINEAR)
    thr = run.thresholds[LINEAR] if isinstance(run.thresholds, dict) else run.thresholds
    # by the original name (a variant adds ".tif")
    original = [n.removesuffix(".tif") if renamed else n for n in run.names]
    on_round = [i for i, n in enumerate(original) if n in round_names]
    lb = (sum(run.probs[i, j] >= thr for i in on_round), len(on_round))
    types = [t for t in ("TSAXS", "TWAXS", "GISAXS", "GIWAXS") if t in run.tags]
    top = {n: types[int(np.argmax([run.probs[i, run.tags.index(t)] for t in types]))] for i, n in enumerate(original)}
    return {"et": et, "auc": graded, "lb": lb, "top": top, "skipped": run.skipped}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("real_dev", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), type=_variant,
                    help=f"of {', '.join(VARIANTS)} (xF: any factor F)")
    ap.add_argument("--out", type=Path, help="where the variants are written (kept: reused next run)")
    ap.add_argument("--model", help="default: the shipped model")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-physics", action="store_true")
    ap.add_argument("--no-hot", action="store_true", help="hot pixels not masked (the preprocessing before they were)")
    ap.add_argument("--no-unit", action="store_true",
                    help="frames of many units per photon not brought to a few (the preprocessing before)")
    args = ap.parse_args()

    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.locate import shipped_model_paths

    images, certain = args.real_dev / "images", args.real_dev / "labels.csv"
    if not images.is_dir() or not certain.is_file():
        print(f"{args.real_dev}: no images/ and labels.csv here (pass the real-dev folder)", file=sys.stderr)
        return 2
    with open(certain, newline="") as f:
        rows = list(csv.DictReader(f))
    model = Path(args.model) if args.model else next(p for p in shipped_model_paths() if p.exists())
    predictor = LocalPredictor.load(model, "cpu", heads=False, physics=not args.no_physics)
    if args.no_hot:
        predictor.preprocess["hot"] = False
    if args.no_unit:
        predictor.preprocess["unit"] = False
    out = args.out or Path(tempfile.mkdtemp(prefix="robust-"))
    print(f"model {model}, physics {'off' if args.no_physics else 'on'}, hot pixels "
          f"{'kept' if args.no_hot else 'masked'}, units {'as they are' if args.no_unit else 'to a few per photon'}; "
          f"variants in {out}")
    base = None
    rounds = round_stops(args.real_dev)
    print(f"{'variant':<9} {'type right':>10} {'mean AUC':>9} {'<' + str(AUC_BAR):>6} {'LB/round':>8}  "
          "type changed from original / tags under the bar")
    for name in args.variants:
        if name == "original":
            folder, table = images, certain
        else:
            folder, table = write_variant(name, images, rows, out)
        m = measure(predictor, folder, table, args.batch, name != "original", rounds)
        if name == "original":
            base = m
        et, auc = m["et"], m["auc"]
        mean = float(np.mean(list(auc.values()))) if auc else float("nan")
        under = [f"{t} {a:.2f}" for t, a in sorted(auc.items(), key=lambda x: x[1]) if a < AUC_BAR]
        changed = [f"{k}: {base['top'][k]}->{v}" for k, v in sorted(m["top"].items())
                   if base is not None and k in base["top"] and base["top"][k] != v]
        lb = f"{m['lb'][0]}/{m['lb'][1]}"
        print(f"{name:<9} {et['right']:>5}/{et['total']:<4} {mean:>9.3f} {len(under):>6} {lb:>8}  "
              + "; ".join(changed + under) + (f" (unreadable: {len(m['skipped'])})" if m["skipped"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
