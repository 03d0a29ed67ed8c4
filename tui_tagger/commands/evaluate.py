"""tui-tagger evaluate DIR... : per-tag metrics of a model on tagged folders (scikit-learn).

Per tag: support, AP, ROC AUC, precision/recall/F1 at the model's threshold (or --threshold), and the
prevalence, the AP a random ranking would get. Tags the model added itself (source="model") are not
ground truth and are left out of their tag's rows.

With ``--labels FILE.csv`` (``file,tag,value`` rows, see ``core.labels``) the ground truth is the CSV
alone, no tag files: per tag only the images with a certain label (1 or 0) count, since real folders are
partially labelled. Per tag: n_pos, n_neg, ROC AUC, AP, accuracy at the threshold; the mean AUC over the
tags with >= 2 of each; and whether the highest of TSAXS / TWAXS / GISAXS / GIWAXS is the experiment
type of each image labelled with one."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tui_tagger.commands import cluster_options
from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="folders of images with tag files (with --labels: the folder the table's files are in)")
    p.add_argument("--model", metavar="M", help="model file (default: $TUI_TAGGER_MODEL, the user's, the shipped one)")
    p.add_argument("--labels", action="append", metavar="FILE.csv",
                   help="ground truth from this table of certain labels (columns file,tag,value; value 1 or 0; "
                        "file relative to DIR, or a bare name found once under DIR), not from tag files; "
                        "a tag without a row for an image is not counted there. Repeat to merge tables")
    p.add_argument("--json", action="store_true",
                   help='{"tags": {tag: {support, ap, auc, precision, recall, f1, prevalence}}, "mean_ap"}; with '
                        '--labels each tag also has n_pos, n_neg, accuracy, threshold, and "mean_auc", "auc_tags", '
                        '"experiment_type": {right, total, wrong: [{image, labels, predicted, p}]}, '
                        '"images", "skipped"')
    p.add_argument("--threshold", type=float, metavar="T", help="one threshold for all tags (default: the model's)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch", type=int, default=32, metavar="N")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: cores - 1)")
    p.add_argument("--tags-dir", metavar="DIR", help="tag files live under DIR, mirroring the image folders")
    p.add_argument("--no-heads", action="store_true",
                   help="the model's own tags only, not the few-label heads saved with it (tui-tagger train-head)")
    p.add_argument("--no-physics", action="store_true",
                   help="the network alone: no physics check (calibrants, experiment types the geometry rules out, "
                        "round beamstops; as predict; also TUI_TAGGER_PHYSICS=0)")
    cluster_options.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise TaggerError(f"--threshold must be between 0 and 1, not {args.threshold}")
    if args.labels and args.tags_dir:
        raise TaggerError("--labels takes the ground truth from the table, not from tag files: leave out --tags-dir")
    from tui_tagger.model.infer import LocalPredictor

    labels = read_tables(args.labels, args.dirs) if args.labels else None  # a bad table fails before the model loads
    with cluster_options.session(args) as cluster:
        return _run(args, labels, cluster, LocalPredictor.load if cluster is None else cluster.predictor)


def _run(args: argparse.Namespace, labels, cluster, load) -> int:
    from tui_tagger.model.locate import default_model_path, resolve_model

    problems: list[str] = []
    predictor = load(resolve_model(args.model) if args.model else default_model_path(), args.device,
                     heads=not args.no_heads, problems=problems, physics=False if args.no_physics else None)
    for problem in problems:
        warn(problem)
    _tell_heads(predictor, args.dirs)
    cluster_options.announce(cluster)
    if labels is not None:
        return _run_labels(args, predictor, labels)
    from tui_tagger.model.data import label_matrix, labelled_samples
    from tui_tagger.model.metrics import format_table, tag_metrics

    data = labelled_samples(args.dirs, args.tags_dir)
    for problem in data.problems:
        warn(problem)
    if not data.samples:
        raise TaggerError(f"no images a person tagged under {', '.join(args.dirs)} ({data.unlabelled} without a "
                          "tag file or with the model's tags and predictions alone, which are no ground truth): "
                          "tag some, or give --labels FILE.csv")
    tags = predictor.tags
    probs, ok = predict_all(predictor, [s.ref for s in data.samples], args.batch, args.workers, warn)
    if not ok.any():
        raise TaggerError("no readable tagged images to evaluate on")
    y, known = label_matrix([s for s, good in zip(data.samples, ok) if good], tags)
    if not known.any():  # a table of zeros would say nothing
        raise TaggerError("no labels of the model's tags in the tag files under " + ", ".join(args.dirs)
                          + " (tag some images, or give --labels FILE.csv)")
    metrics = tag_metrics(y, probs[ok], tags, _thresholds(args.threshold, predictor), known)
    if args.json:
        print_json(metrics)
    else:
        print(f"{int(ok.sum())} images, model {printable(str(predictor.info.name))} ({len(tags)} tags)")
        print(format_table(metrics))
    return 0 if ok.all() else 1


def _tell_heads(predictor, dirs: list[str]) -> None:
    """Which few-label heads give their tags' p here, and those that learnt from the folders measured: their
    figures there flatter them (labels they were fitted on), which ``--no-heads`` leaves out."""
    from pathlib import Path

    heads = list(getattr(predictor, "heads", None) or [])
    if not heads:
        return
    warn("few-label heads give the p of " + ", ".join(printable(h.tag) for h in heads)
         + " (--no-heads: the model's own)")
    measured = {Path(d).resolve() for d in dirs}
    for head in heads:
        folder = (getattr(head, "info", None) or {}).get("folder")
        if folder and Path(folder).resolve() in measured:
            warn(f"the head of {printable(head.tag)} learnt from the labels of {printable(folder)}: measured on "
                 "them, its figures flatter it")


def _run_labels(args: argparse.Namespace, predictor, labels: list) -> int:
    from tui_tagger.model.metrics import format_certain

    result = evaluate_labels(predictor, args.dirs, labels, args.threshold, args.batch, args.workers, warn)
    if args.json:
        print_json(result.report)
    else:
        skipped = f", {len(result.skipped)} unreadable skipped" if result.skipped else ""
        print(f"{result.report['images']} labelled images{skipped}, model {printable(str(predictor.info.name))} "
              f"({len(predictor.tags)} tags); labels from {printable(', '.join(args.labels))}")
        print(format_certain(result.report))
    return 1 if result.skipped else 0


def predict_all(predictor, refs: list[str], batch: int, workers: int | None,
                warn: Callable[[str], None]):
    """(probs (N, T) float32 in the predictor's tag order, ok (N,) bool): every ref predicted once, each
    unreadable one reported by ``warn`` (one line) and left at ok = False."""
    import numpy as np

    from tui_tagger.model.progress import Progress

    tags = predictor.tags
    probs = np.zeros((len(refs), len(tags)), dtype=np.float32)
    ok = np.zeros(len(refs), dtype=bool)
    progress = Progress(len(refs), "evaluate")
    from tui_tagger.model.cluster import indexed

    for i, (_, p, error) in indexed(predictor, refs, batch, workers, progress):  # on a cluster: as they finish
        if error:
            progress.close()
            warn(error)
            continue
        probs[i] = [p[t] for t in tags]
        ok[i] = True
    progress.close()
    return probs, ok


def _thresholds(threshold: float | None, predictor) -> dict[str, float] | float:
    return threshold if threshold is not None else {t: predictor.info.threshold(t) for t in predictor.tags}


@dataclass
class LabelledRun:
    """An evaluation on certain labels: the readable images (``refs``, shown as ``names``), the model's
    ``probs`` and the labels (``y``, ``known``: 1 where certain), all (N, T) in ``tags`` order; the
    unreadable images' names in ``skipped``; ``report`` is what ``--json`` prints."""

    refs: list[str]
    names: list[str]
    tags: list[str]
    probs: Any
    y: Any
    known: Any
    thresholds: dict[str, float] | float
    skipped: list[str]
    report: dict[str, Any]


def read_tables(tables: list[str], dirs: list[str]) -> list:
    """The rows of every label CSV in ``tables`` (``core.labels.Label``), checking that ``dirs`` are folders."""
    from tui_tagger.core.labels import read_labels

    for d in dirs:
        if not Path(d).is_dir():
            raise TaggerError(f"{d}: not a folder (--labels names images relative to a folder)")
    return [label for table in tables for label in read_labels(table)]


def evaluate_labels(
    predictor, dirs: list[str], labels: list, threshold: float | None = None, batch: int = 32,
    workers: int | None = None, warn: Callable[[str], None] = warn,
) -> LabelledRun:
    """The model on the images of ``dirs`` that ``labels`` (``read_tables``) label, measured on those labels
    only. Unknown files, unknown tags and tags the model does not give: one warning line each (the last
    for all of them); a malformed table raises (``FileProblem``: file, line, problem)."""
    import numpy as np

    from tui_tagger.core.labels import place_labels
    from tui_tagger.core.vocabulary import default_vocabulary
    from tui_tagger.model.metrics import certain_metrics, experiment_type_accuracy

    placed = place_labels(labels, dirs)
    for problem in placed.problems:
        warn(problem)
    tags = predictor.tags
    vocabulary = default_vocabulary()
    counts = placed.tags()
    unknown = [t for t in counts if t not in tags and getattr(vocabulary.get(t), "name", None) != t]
    for tag in unknown:
        first = min((w for (_, t), w in placed.where.items() if t == tag), key=_line_order)
        near = vocabulary.nearest(tag, 1)
        warn(f"{first}: unknown tag {tag!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    other = [t for t in counts if t not in tags and t not in unknown]
    if other:
        warn(f"{len(other)} labelled tags the model does not give are not measured: "
             + ", ".join(f"{t} ({counts[t]})" for t in other))
    refs = [ref for ref, tl in placed.labels.items() if any(t in tags for t in tl)]
    if not refs:
        raise TaggerError(f"no labels of the model's tags on images under {', '.join(map(str, dirs))}")
    probs, ok = predict_all(predictor, refs, batch, workers, warn)
    if not ok.any():
        raise TaggerError("no readable labelled images to evaluate on")
    index = {t: j for j, t in enumerate(tags)}
    y = np.zeros((len(refs), len(tags)), dtype=np.float32)
    known = np.zeros_like(y)
    for i, ref in enumerate(refs):
        for tag, value in placed.labels[ref].items():
            if tag in index:
                y[i, index[tag]] = value
                known[i, index[tag]] = 1.0
    names = [placed.names[r] for r in refs]
    skipped = [n for n, good in zip(names, ok) if not good]
    keep = np.flatnonzero(ok)
    refs, names = [refs[i] for i in keep], [names[i] for i in keep]
    probs, y, known = probs[ok], y[ok], known[ok]
    thresholds = _thresholds(threshold, predictor)
    report = certain_metrics(y, probs, tags, thresholds, known)
    report["experiment_type"] = experiment_type_accuracy(y, known, probs, tags, names)
    report["images"] = len(refs)
    report["skipped"] = len(skipped)
    return LabelledRun(refs, names, tags, probs, y, known, thresholds, skipped, report)


def _line_order(where: str) -> tuple[str, int]:
    path, _, line = where.rpartition(":")
    return path, int(line) if line.isdigit() else 0
