"""``tui-tagger learning-curve DIR --tag NAME``: how fast a head learns NAME when a person follows the
suggestions, next to labelling at random.

Uses the images already labelled for NAME: labels are revealed ``--step`` at a time up to
``--max-labels``, a head is trained on those revealed, and accuracy (p >= 0.5) and average precision
are measured on the rest. Random choice is the mean over several random orders. On CNN features, for a tag
the model has, every head starts from the model's own p (as ``suggest`` and the TUI's live head do). ``--json``:
{"tag", "points": [{"labels", "accuracy", "ap", "random_accuracy", "random_ap"}]}.
"""

from __future__ import annotations

import argparse
import math

from tui_tagger.commands.learn_options import add_folder_arguments, load, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folder_arguments(parser)
    parser.add_argument("--tag", required=True, metavar="NAME", help="the tag to simulate")
    parser.add_argument("--step", type=positive_int, default=5, metavar="K", help="labels per round (default 5)")
    parser.add_argument("--max-labels", type=positive_int, default=50, metavar="N", help="stop here (default 50)")
    parser.add_argument("--json", action="store_true", help="print the points as JSON")


def _num(v: float) -> float | None:
    return None if math.isnan(v) else round(v, 4)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tui_tagger.commands.common import print_json
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.core.text import printable
    from tui_tagger.learn.curve import learning_curve
    from tui_tagger.learn.features import column_weights
    from tui_tagger.learn.folder import resolve_tag
    from tui_tagger.learn.heads import fit_embedding, tag_embedding

    data = load(args)
    tag = resolve_tag(args.tag, data.entries)
    labels = data.labels(tag)
    known = np.flatnonzero(~np.isnan(labels))
    truth = labels[known]
    if len(known) <= args.step:
        raise TaggerError(f"{args.dir}: only {len(known)} images are labelled for {tag!r}; "
                          f"a learning curve needs more than --step ({args.step})")
    if truth.min() == truth.max():
        state = "present" if truth[0] else "absent"
        raise TaggerError(f"{args.dir}: {tag!r} is {state} in every labelled image; nothing to learn")
    weights = column_weights(args.features, data.X)  # combined features: each block its share
    embedding, prior = tag_embedding(fit_embedding(data.X, seed=args.seed, weights=weights), tag, args.features,
                                     args.model)
    Z = embedding.transform(data.X[known])
    points = learning_curve(Z, truth, args.step, args.max_labels, args.seed, prior=prior)
    if args.json:
        print_json({"tag": tag, "points": [{k: (_num(v) if isinstance(v, float) else v) for k, v in p.items()}
                                           for p in points]})
        return 0
    print(f"# {printable(tag)}: {len(known)} labelled images, {int(truth.sum())} present")
    print(f"{'labels':>6}  {'accuracy':>8}  {'AP':>6}  {'random acc':>10}  {'random AP':>9}")
    for p in points:
        print(f"{p['labels']:>6}  {p['accuracy']:>8.3f}  {p['ap']:>6.3f}  {p['random_accuracy']:>10.3f}  "
              f"{p['random_ap']:>9.3f}")
    return 0
