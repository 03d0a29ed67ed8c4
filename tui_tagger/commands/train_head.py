"""``tui-tagger train-head DIR --tag NAME``: a few-label head for NAME on the model's frozen CNN features,
from the labels in DIR's tag files, saved with the model so that ``predict`` (and the TUI's P) give
p(NAME) from then on. Seconds on a CPU once the features are cached; works for a tag the model never saw.

The head is saved in ``<model>.heads/`` beside the model, or in the config folder when the model's
folder cannot be written (the shipped model in site-packages). ``--json``: {tag: {"path", "positives",
"negatives", "cv_ap", "cv_accuracy"}} (cross-validated figures are null with under 5 of either label). They
score the head as it is built: for a tag the model has, each fold's head starts from the model's p too.
"""

from __future__ import annotations

import argparse

MIN_CV = 5  # positives and negatives needed for a cross-validated estimate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="folder of images with tag files (searched recursively)")
    parser.add_argument("--tag", required=True, action="append", metavar="NAME",
                        help="the tag to learn (repeat for several)")
    parser.add_argument("--model", metavar="FILE", help="the model whose features the head uses (default: the default model)")
    parser.add_argument("--tags-dir", metavar="DIR", help="tag files are kept under DIR, mirroring the tree")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print {tag: {path, positives, negatives, cv_ap, cv_accuracy}}")
    from tui_tagger.commands import cluster_options

    cluster_options.add_arguments(parser)  # the features not yet cached are computed on the cluster


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tui_tagger.commands.common import print_json, warn
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.core.text import printable
    from tui_tagger.learn.folder import load_folder, resolve_tag
    from tui_tagger.learn.heads import fit_embedding, model_prior, save_model_head, train_head, with_prior
    from tui_tagger.learn.review import cross_val_p
    from tui_tagger.model.locate import default_model_path, resolve_model

    from tui_tagger.model.checkpoint import load_checkpoint

    model = str(resolve_model(args.model) if args.model else default_model_path())
    model_tags = set(load_checkpoint(model)[1].tags)  # a bad model file: one line, before any features
    from tui_tagger.commands import cluster_options

    with cluster_options.session(args) as cluster:
        data = load_folder(args.dir, args.tags_dir, "cnn", model, cluster=cluster)
    for problem in data.problems:
        warn(f"{problem} (left out)")
    embedding = fit_embedding(data.X, seed=args.seed)
    report: dict[str, dict] = {}
    failed = 0
    for name in args.tag:
        tag = resolve_tag(name, data.entries)
        labels = data.labels(tag)
        known = ~np.isnan(labels)
        y = labels[known]
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        if not pos or not neg:
            warn(f"{tag}: needs at least one image with the tag and one without ({pos} with, {neg} without); not trained")
            failed += 1
            continue
        # a tag the model has: the head starts from the model's own weights and corrects them
        prior = model_prior(tag, model) if tag in model_tags else None
        head = train_head(tag, data.X[known], y, embedding=embedding, info={"folder": str(args.dir)}, prior=prior)
        try:
            path = save_model_head(head, model)
        except TaggerError as err:
            warn(str(err))
            failed += 1
            continue
        cv_ap = cv_acc = None
        if pos >= MIN_CV and neg >= MIN_CV:
            from sklearn.metrics import average_precision_score

            # the folds fit what was saved: on the head's embedding, from the model's head where it has one
            start = with_prior(embedding, *prior)[1] if prior is not None else None
            p = cross_val_p(head.embedding.transform(data.X[known]), y, seed=args.seed, prior=start)
            if p is not None:
                cv_ap = round(float(average_precision_score(y > 0.5, p)), 4)
                cv_acc = round(float(np.mean((p >= 0.5) == (y > 0.5))), 4)
        report[tag] = {"path": str(path), "positives": pos, "negatives": neg, "cv_ap": cv_ap, "cv_accuracy": cv_acc}
        if not args.json:
            cv = f", cross-validated AP {cv_ap:.3f}, accuracy {cv_acc:.3f}" if cv_ap is not None else ""
            print(f"{printable(tag)}: {pos} with, {neg} without{cv} -> {printable(str(path))}", flush=True)
            if tag in model_tags:
                print(f"  (the model has '{printable(tag)}' too: predict now gives the head's p for it)", flush=True)
    if args.json:
        print_json(report)
    return 1 if failed else 0
