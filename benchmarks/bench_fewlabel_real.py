"""Few-label heads on real frames: what a user of a real folder gets from k = 2..10 labels, following
``suggest``'s order (labelled one at a time, as in the TUI) or labelling at random.

    python benchmarks/bench_fewlabel_real.py [--real-dev DIR] [--examples DIR] [--synth DIR]
                                             [--features cnn physics combined combined:S] [--seeds 20]
                                             [--random 10]
                                             [--no-prior] [--min-share 0.1] [--model-bias 2] [--before REV | --before-n]
                                             [--series 6 [--series-dir DIR]] [--no-near]

Frames and labels (measurement only: nothing here is saved, and no model is trained on these frames):

- real-dev (``../shared/reference/real-dev``): ``labels.csv`` (certain 1 and 0) and ``labels_judged.csv``
  (judged 1; a certain label wins), plus the two real MarCCD frames of ``real-examples`` (their tag file's
  experiment type is a positive and the three other types negatives: the four are exclusive);
- the closest thing to "a real folder of one experiment" those hold: the frames of one source repository
  and instrument (``xsp``: 7 frames of one laboratory SAXSLAB / PILATUS3 300K, transmission SAXS/WAXS and
  GISAXS), so at most 5 labels leave 2 frames to score;
- ``--synth DIR``: a synthetic folder (e.g. ``tui-tagger synth DIR --families classic`` keeping one
  experiment type), labels from its tag files, for more n;
- ``--series V``: real-dev and the real examples as a folder of series, as a beamtime writes them: each real
  frame V times (Poisson noise at an exposure x0.8-1.25, shifted up to 3 px, 5 hot pixels, flagged pixels
  kept flagged; int32 TIFF in ``--series-dir``, a temporary folder by default), each with the real frame's labels.

Per tag with >= 2 positives and >= 2 negatives among the labelled frames: accuracy (p >= 0.5) of the head on
the labelled frames not yet labelled, after k labels. "suggested" is the mean over ``--seeds`` runs of
``learn.curve.learning_curve`` (step 1: suggest one, label it, retrain), "random" the mean over those seeds
x ``--random`` random orders. ``--features combined``: the CNN's and the physics features in one space, the
physics block ``learn.features.PHYSICS_SHARE`` of the variance (``combined:S``: a share S). "model" is the
model's own p for the tag at 0.5 (no labels) where it has the
tag. The embedding is fitted on every frame of the set, as ``learning-curve`` does. ``--model-bias B`` adds B
to the model's logit for every tag (heads start from that): a model off by a bias, as it can be on real
frames, on a synthetic folder whose labels are complete. Accuracy on the frames not
yet labelled is what the user gets; note that a suggested order also takes the hard frames out of it.
``--before REV``: the suggestions of ``learn/suggest.py`` (with ``learn/heads.py``) as of git revision REV
too, on the same frames in the same run: each cell is then before/after/random. ``--no-near``: the heads' p without
the correction near labelled images (``learn.neighbours``). ``--before-n``: instead, the
TUI's ``n`` as it was before it asked ``learn.suggest`` (``p_nearest``: the frame whose head p is nearest 0.5;
a head from scratch says nothing before 2+ and 2- labels, and ``n`` then took the next frame of the list).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "reference"
EXPERIMENT = ("TSAXS", "TWAXS", "GISAXS", "GIWAXS")
ONE_SOURCE = "xsp"  # the real-dev source with the most frames of one instrument
KS = range(2, 11)
NO_NEAR = False  # --no-near


def real_labels(real_dev: Path, examples: Path | None) -> dict[str, dict[str, float]]:
    """{path: {tag: 1.0 | 0.0}} from real-dev's tables (certain first) and the real examples' tag files."""
    out: dict[str, dict[str, float]] = {}
    images = real_dev / "images"
    for name in ("labels.csv", "labels_judged.csv"):
        with open(real_dev / name, newline="") as fh:
            for row in csv.DictReader(fh):
                out.setdefault(str(images / row["file"]), {}).setdefault(row["tag"], float(row["value"]))
    if examples and examples.is_dir():
        for tag_file in sorted(examples.glob("*.tag")):
            image = tag_file.with_suffix("")
            if not image.exists():
                continue
            tags = set(re.findall(r"<tag[^>]*>([^<]+)</tag>", tag_file.read_text(errors="replace")))
            labels = {t: 1.0 for t in tags}
            if tags & set(EXPERIMENT):
                labels.update({t: 0.0 for t in EXPERIMENT if t not in tags})
            out[str(image)] = labels
    return out


def synth_labels(folder: Path) -> dict[str, dict[str, float]]:
    """Every tag of the folder's vocabulary, present or absent, per image (complete synthetic labels)."""
    from tui_tagger.core.catalog import Catalog
    from tui_tagger.learn.folder import folder_tags, tag_labels

    cat = Catalog(folder)
    try:
        entries = [e for e in cat.entries() if not e.error]
    finally:
        cat.close()
    tags = folder_tags(entries)
    cols = {t: tag_labels(entries, t) for t in tags}
    return {e.path: {t: float(cols[t][i]) for t in tags if not np.isnan(cols[t][i])} for i, e in enumerate(entries)}


def series_labels(labels: dict[str, dict[str, float]], copies: int, out: Path) -> dict[str, dict[str, float]]:
    """Each labelled real frame as ``copies`` frames of a series (see the module doc), written to ``out``."""
    import tifffile

    from tui_tagger.core.formats import read_image

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    series = {}
    for i, (path, lab) in enumerate(sorted(labels.items())):
        a = np.asarray(read_image(path).data, dtype=np.float64)
        flagged = ~np.isfinite(a) | (a < 0) | (a > 2**31)
        clean = np.where(flagged, 0, a)
        for v in range(copies):
            f = out / f"s{i:02d}_v{v}.tif"
            exposure, (dy, dx) = rng.uniform(0.8, 1.25), rng.integers(-3, 4, 2)
            b = np.roll(rng.poisson(np.clip(clean * exposure, 0, 1e9)).astype(np.float64), (dy, dx), axis=(0, 1))
            b[np.roll(flagged, (dy, dx), axis=(0, 1))] = -1
            b.flat[rng.integers(0, b.size, 5)] = b.max()
            if not f.exists():
                tifffile.imwrite(f, b.astype(np.int32))
            series[str(f)] = lab
    return series


def features(paths: list[str], source: str, model: str | None) -> tuple[list[str], np.ndarray]:
    from tui_tagger.learn.features import compute

    if source == "combined":  # the CNN's block, then the physics block, for the frames both could read
        refs_c, Xc = features(paths, "cnn", model)
        refs_p, Xp = features(paths, "physics", model)
        at = {r: i for i, r in enumerate(refs_p)}
        keep = [i for i, r in enumerate(refs_c) if r in at]
        return [refs_c[i] for i in keep], np.hstack([Xc[keep], Xp[[at[refs_c[i]] for i in keep]]])
    items = [(p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]
    fs = compute(items, source, model=model, workers=1)
    for problem in fs.problems:
        print(f"  left out: {problem}", file=sys.stderr)
    return fs.refs, fs.X


def tag_space(emb, tag: str, source: str, model: str | None, X: np.ndarray, use_prior: bool, bias: float = 0.0):
    """(Z of every frame, the head fits start from or None): as the commands do (``heads.tag_embedding``),
    the model's logit moved by ``bias``."""
    try:
        from tui_tagger.learn.heads import tag_embedding
    except ImportError:  # the code before heads started from the model
        return emb.transform(X), None
    e, prior = tag_embedding(emb, tag, source.split(":")[0], model) if use_prior else (emb, None)
    if prior is not None and bias:
        prior = (prior[0], prior[1] + bias)
    return e.transform(X), prior


def curves(Z: np.ndarray, truth: np.ndarray, prior, seeds: int, repeats: int, max_labels: int,
           before=None) -> dict:
    from tui_tagger.learn import curve

    kw = {} if prior is None else {"prior": prior}
    if NO_NEAR:
        kw["near"] = False
    sug, rnd, old = [], [], []
    for s in range(seeds):
        pts = curve.learning_curve(Z, truth, step=1, max_labels=max_labels, seed=s, repeats=repeats, **kw)
        sug.append([p["accuracy"] for p in pts])
        rnd.append([p["random_accuracy"] for p in pts])
        if before is not None:  # the same run with the suggestions of another revision (random: one order)
            now, curve.suggest = curve.suggest, before
            try:
                old.append([p["accuracy"] for p in curve.learning_curve(Z, truth, step=1, max_labels=max_labels,
                                                                        seed=s, repeats=1, **kw)])
            finally:
                curve.suggest = now
    counts = [p["labels"] for p in pts]
    out = {"labels": counts, "suggested": np.nanmean(sug, axis=0), "random": np.nanmean(rnd, axis=0)}
    if before is not None:
        out["before"] = np.nanmean(old, axis=0)
    return out


def suggest_at(rev: str):
    """``suggest`` of ``learn/suggest.py`` as of git revision ``rev``, with that revision's ``learn/heads.py``
    (its ``logit_posterior``); the model, features and the scoring of the heads are today's."""
    import types

    def source(name: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:tui_tagger/learn/{name}.py"],
                              capture_output=True, text=True, check=True).stdout

    heads = types.ModuleType("_heads_before")
    exec(compile(source("heads"), f"{rev}:heads.py", "exec"), heads.__dict__)
    sys.modules[heads.__name__] = heads  # for the import below
    module = types.ModuleType("_suggest_before")
    code = source("suggest").replace("from tui_tagger.learn.heads import", f"from {heads.__name__} import")
    exec(compile(code, f"{rev}:suggest.py", "exec"), module.__dict__)
    return module.suggest


def p_nearest(Z, labels, k=1, *, seed=0, prior=None, **_):
    """The TUI's ``n`` before it asked ``learn.suggest``: the unlabelled frame whose p is nearest 0.5, p of the
    head fitted on the labels (from the model's p where it has the tag, as the live head); before a head from
    scratch has 2+ and 2- labels, the next frame of the list (a random order here)."""
    from tui_tagger.learn.heads import _sigmoid, fit_scores

    labels = np.asarray(labels, dtype=np.float64)
    open_ = np.flatnonzero(np.isnan(labels))
    if not len(open_):
        return []
    known = ~np.isnan(labels)
    y = labels[known]
    if prior is not None:
        coef, b = fit_scores(Z[known], y, prior=prior)
    elif y.sum() >= 2 and len(y) - y.sum() >= 2:
        coef, b = fit_scores(Z[known], y)
    else:
        order = np.random.default_rng(seed).permutation(len(Z))
        return [(int(order[np.isnan(labels[order])][0]), 1.0)]
    p = _sigmoid(Z[open_] @ coef + b)
    return [(int(open_[int(np.argmin(np.abs(p - 0.5)))]), 1.0)]


def run_set(name: str, labels: dict[str, dict[str, float]], source: str, model: str | None, args) -> list:
    from tui_tagger.learn.heads import fit_embedding

    paths, X = features(sorted(labels), source.split(":")[0], model)
    if source.startswith("combined"):  # combined:S: the physics block's share S, not features.PHYSICS_SHARE
        from tui_tagger.learn.features import PHYSICS_SHARE, column_weights

        share = float(source.split(":")[1]) if ":" in source else PHYSICS_SHARE
        emb = fit_embedding(X, seed=0, weights=column_weights("combined", X, share))
    else:
        emb = fit_embedding(X, seed=0)
    tags = sorted({t for lab in labels.values() for t in lab})
    rows = []
    print(f"\n== {name}: {len(paths)} frames, {source} features (accuracy on the frames not yet labelled; "
          f"suggested: mean of {args.seeds} runs, random: mean of {args.seeds * args.random} orders)")
    width = 16 if args.before_suggest else 11
    if args.before or args.before_n:
        print(f"(each cell: suggested before ({args.before or 'the TUI n: p nearest 0.5'}) / after / random)")
    print(f"{'tag':<26} {'pos':>3} {'neg':>3} {'model':>5} | " + " ".join(f"{k:>{width}}" for k in KS))
    for tag in tags:
        known = np.array([i for i, p in enumerate(paths) if tag in labels[p]], dtype=int)
        truth = np.array([labels[paths[i]][tag] for i in known])
        pos, neg = int(truth.sum()), int(len(truth) - truth.sum())
        if pos < 2 or neg < 2 or min(pos, neg) < args.min_share * len(truth):
            continue
        Z, prior = tag_space(emb, tag, source, model, X, not args.no_prior, args.model_bias)
        p = _model_logits(tag, model, X[known][:, :X.shape[1] - (physics_dim() if source != "cnn" else 0)]) \
            if source == "cnn" or source.startswith("combined") else None
        model_acc = "" if p is None else f"{np.mean((p + args.model_bias >= 0) == (truth > 0.5)):.2f}"
        res = curves(Z[known], truth, prior, args.seeds, args.random, min(10, len(known) - 2), args.before_suggest)
        cells = []
        for k in KS:
            if k in res["labels"]:
                j = res["labels"].index(k)
                old = f"{res['before'][j]:.2f}/" if "before" in res else ""
                cells.append(f"{old}{res['suggested'][j]:.2f}/{res['random'][j]:.2f}")
            else:
                cells.append("")
        print(f"{tag[:26]:<26} {pos:>3} {neg:>3} {model_acc:>5} | " + " ".join(f"{c:>{width}}" for c in cells), flush=True)
        rows.append((tag, res))
    if rows:
        summary(rows)
    return rows


def physics_dim() -> int:
    from tui_tagger.learn import physics

    return physics.DIM


def _model_logits(tag: str, model: str | None, X: np.ndarray):
    """The model's linear head on the CNN features (for the 'model' column when heads lack a prior)."""
    from tui_tagger.model.checkpoint import load_checkpoint
    from tui_tagger.model.locate import default_model_path

    net, info = load_checkpoint(model or default_model_path())
    if tag not in info.tags:
        return None
    j = info.tags.index(tag)
    w = net.head.weight.detach().numpy()[j].astype(np.float64)
    return X @ w + float(net.head.bias.detach().numpy()[j])


def summary(rows: list) -> None:
    """Per k: mean over tags, and on how many tags suggested labels are worse than random (by > 0.01)."""
    for key, name in (("before", "before"), ("suggested", "suggested")):
        if key not in rows[0][1]:
            continue
        line = []
        for k in KS:
            s = [r[key][r["labels"].index(k)] for _, r in rows if k in r["labels"]]
            q = [r["random"][r["labels"].index(k)] for _, r in rows if k in r["labels"]]
            if s:
                worse = sum(a < b - 0.01 for a, b in zip(s, q))
                line.append(f"{k}: {np.mean(s):.3f}/{np.mean(q):.3f} ({worse} worse)")
        print(f"mean over tags, {name}/random (tags where {name} < random - 0.01): " + "; ".join(line))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real-dev", type=Path, default=REF / "real-dev")
    ap.add_argument("--examples", type=Path, default=REF / "real-examples")
    ap.add_argument("--synth", type=Path, action="append", default=[], help="a synthetic folder (repeatable)")
    ap.add_argument("--features", nargs="*", default=["cnn", "physics"])
    ap.add_argument("--model", help="default: the default model")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--random", type=int, default=10, help="random orders per seed")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-prior", action="store_true", help="heads from scratch, not from the model's p")
    ap.add_argument("--model-bias", type=float, default=0.0, metavar="B",
                    help="add B to the model's logit for every tag: a model off by a bias (synthetic folders)")
    ap.add_argument("--min-share", type=float, default=0.0,
                    help="skip tags whose rarer class is under this share of the labelled frames (synthetic)")
    ap.add_argument("--before", metavar="REV",
                    help="also the suggestions of git revision REV, in the same run (cells: before/after/random)")
    ap.add_argument("--series", type=int, default=0, metavar="V",
                    help="also real-dev as a folder of series: each real frame V times (noise, exposure, shift)")
    ap.add_argument("--series-dir", type=Path, help="where --series writes its frames (kept: reused next run)")
    ap.add_argument("--no-near", action="store_true", help="heads' p without the correction near labelled images")
    ap.add_argument("--before-n", action="store_true",
                    help="also the TUI's n before it used suggest (p nearest 0.5), in the same run")
    args = ap.parse_args()
    try:
        args.before_suggest = suggest_at(args.before) if args.before else p_nearest if args.before_n else None
    except subprocess.CalledProcessError as err:
        ap.error(f"--before {args.before}: {err.stderr.strip() or 'not a revision of this repository'}")
    os.environ.setdefault("TUI_TAGGER_CACHE_DIR", tempfile.mkdtemp(prefix="bench-fewlabel-"))
    global NO_NEAR
    NO_NEAR = args.no_near
    sets = []
    if not args.no_real:
        real = real_labels(args.real_dev, args.examples)
        sets.append(("real-dev + real examples (mixed experiments)", real))
        one = {p: lab for p, lab in real.items() if Path(p).name.startswith(ONE_SOURCE + "__")}
        sets.append((f"one source ({ONE_SOURCE}: one laboratory instrument)", one))
    if args.series:
        out = args.series_dir or Path(tempfile.mkdtemp(prefix="bench-fewlabel-series-"))
        sets.append((f"real-dev as series ({args.series} frames each)",
                     series_labels(real_labels(args.real_dev, args.examples), args.series, out)))
    for folder in args.synth:
        sets.append((f"synthetic {folder}", synth_labels(folder)))
    for name, labels in sets:
        for source in args.features:
            run_set(name, labels, source, args.model, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
