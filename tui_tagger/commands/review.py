"""``tui-tagger review DIR``: labels a confident cross-validated head disagrees with, and outlier images.

``--json``: {"questionable": [{"path", "tag", "human", "p"}], "outliers": [{"path", "score"}]}, each
list most suspicious first; with ``--anomaly-tag NAME`` also "roc": {"tag", "auc", "fpr", "tpr"}: how
well the outlier scores find the images labelled NAME.
"""

from __future__ import annotations

import argparse

from tui_tagger.commands.learn_options import add_folder_arguments, load, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folder_arguments(parser)
    parser.add_argument("--tag", action="append", metavar="NAME",
                        help="review only this tag (repeatable; default: every tag with enough labels)")
    parser.add_argument("--confidence", type=float, default=0.8, metavar="P",
                        help="list a label when the head says the opposite with at least this p (default 0.8)")
    parser.add_argument("--count", type=positive_int, default=20, metavar="N", help="outliers to list (default 20)")
    parser.add_argument("--anomaly-tag", metavar="NAME", help="report the ROC AUC of the outlier scores for this tag")
    parser.add_argument("--plot", metavar="FILE.png", help="with --anomaly-tag: draw the ROC curve into this PNG")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tui_tagger.commands.common import print_json
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.core.text import printable
    from tui_tagger.learn.features import column_weights
    from tui_tagger.learn.folder import folder_tags, resolve_tag
    from tui_tagger.learn.heads import fit_embedding
    from tui_tagger.learn.review import outlier_scores, questionable, roc

    if args.plot and not args.anomaly_tag:
        raise TaggerError("--plot draws the ROC curve of --anomaly-tag NAME: give it too")
    if not 0.5 < args.confidence < 1:
        raise TaggerError(f"--confidence must be between 0.5 and 1, not {args.confidence}")
    data = load(args)
    tags = [resolve_tag(t, data.entries) for t in args.tag] if args.tag else folder_tags(data.entries)
    anomaly = resolve_tag(args.anomaly_tag, data.entries) if args.anomaly_tag else None
    Z = fit_embedding(data.X, seed=args.seed, weights=column_weights(args.features, data.X)).transform(data.X)
    found = questionable(Z, {t: data.labels(t) for t in tags}, args.confidence, args.seed)
    scores = outlier_scores(Z, args.seed)
    top = np.argsort(-scores, kind="stable")[:args.count]
    out = {
        "questionable": [{"path": data.entries[i].path, "tag": t, "human": h, "p": round(p, 4)} for i, t, h, p in found],
        "outliers": [{"path": data.entries[i].path, "score": round(float(scores[i]), 4)} for i in top],
    }
    curve = None
    if anomaly:
        lab = data.labels(anomaly)
        known = ~np.isnan(lab)
        curve = roc(scores[known], lab[known] > 0.5)
        if curve is None:
            raise TaggerError(f"{args.dir}: the labelled images are all {'with' if np.nansum(lab) else 'without'} "
                              f"{anomaly!r}; an ROC curve needs both")
        out["roc"] = {"tag": anomaly, **curve}
        if args.plot:
            from pathlib import Path

            from tui_tagger.learn.plots import roc_png

            try:
                roc_png(curve, Path(args.plot), f"outlier scores vs {anomaly} (AUC {curve['auc']:.2f})")
            except OSError as err:
                raise TaggerError(f"{args.plot}: cannot write the plot: {err.strerror or err}") from None
    if args.json:
        print_json(out)
        return 0
    print(f"# questionable labels ({len(found)}): human label, cross-validated p")
    for q in out["questionable"]:
        print(f"{'present' if q['human'] else 'absent':>7}  p={q['p']:.3f}  {printable(q['tag'])}  {printable(q['path'])}")
    print(f"# outliers (isolation forest score, top {len(top)})")
    for o in out["outliers"]:
        print(f"{o['score']:.3f}  {printable(o['path'])}")
    if curve:
        print(f"# outlier scores vs '{printable(anomaly)}': ROC AUC {curve['auc']:.3f}")
    return 0
