"""``tui-tagger suggest DIR --tag NAME``: the images whose label for NAME would teach the most.

Uncertain images first (a head trained on the labels so far gives p near 0.5, or the frame is unlike every
labelled one, where the head's p stands on little: ``learn/suggest.py``), each from the side of the head's
boundary of the class with fewer labels so far, spread across the data (no runs of near-duplicate frames),
with a share kept for the most likely unlabelled positives so a rare tag still comes up. With no labels yet:
typical, mutually different images. On CNN features, for a tag the model has, the head starts from the
model's own p (``heads.tag_embedding``). The head is saved in the cache for the folder. ``--json``: a list of {"path", "score"}, best first.
"""

from __future__ import annotations

import argparse

from tui_tagger.commands.learn_options import add_folder_arguments, load, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folder_arguments(parser)
    parser.add_argument("--tag", required=True, metavar="NAME", help="the tag to label")
    parser.add_argument("--count", type=positive_int, default=10, metavar="K", help="how many images (default 10)")
    parser.add_argument("--json", action="store_true", help='print a JSON list of {"path", "score"}, best first')


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tui_tagger.commands.common import print_json, warn
    from tui_tagger.core.text import printable
    from tui_tagger.learn.features import column_weights
    from tui_tagger.learn.folder import resolve_tag
    from tui_tagger.learn.heads import Head, fit_embedding, fit_scores, head_path, tag_embedding
    from tui_tagger.learn.suggest import suggest

    data = load(args)
    tag = resolve_tag(args.tag, data.entries)
    labels = data.labels(tag)
    weights = column_weights(args.features, data.X)  # combined features: each block its share
    embedding, prior = tag_embedding(fit_embedding(data.X, seed=args.seed, weights=weights), tag, args.features,
                                     args.model)
    Z = embedding.transform(data.X)
    picks = suggest(Z, labels, args.count, seed=args.seed, prior=prior)

    known = ~np.isnan(labels)
    pos, neg = int(np.nansum(labels)), int(known.sum() - np.nansum(labels))
    if (pos and neg) or (prior is not None and pos + neg):  # keep the head for the viewer and predict
        coef, b = fit_scores(Z[known], labels[known], prior=prior)
        info = {"positives": pos, "negatives": neg, "features": args.features,
                **({"from_model": True} if prior is not None else {})}
        try:
            Head(tag, embedding, coef, b, info).save(head_path(tag, args.dir, source=args.features))
        except Exception as err:  # noqa: BLE001 - a cache that cannot be written must not stop suggestions
            warn(str(err))
    if args.json:
        if not picks and args.count > 0:  # stdout stays the JSON list; why it is empty goes to stderr
            warn(f"{args.dir}: no image left to suggest for {tag}: every readable image has a label for it "
                 f"({pos} present, {neg} absent)")
        print_json([{"path": data.entries[i].path, "score": round(s, 4)} for i, s in picks])
        return 0
    print(f"# {printable(tag)}: {pos} present, {neg} absent, {int((~known).sum())} unlabelled", flush=True)
    for i, s in picks:
        print(f"{s:.3f}  {printable(data.entries[i].path)}")
    return 0
