"""tui-tagger evaluate DIR... : per-tag metrics of a model on tagged folders (scikit-learn).

Per tag: support, AP, ROC AUC, precision/recall/F1 at the model's threshold (or --threshold), and the
prevalence, the AP a random ranking would get. Tags the model added itself (source="model") are not
ground truth and are left out of their tag's rows."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders of images with tag files")
    p.add_argument("--model", metavar="M", help="model file (default: $TUI_TAGGER_MODEL, the user's, the shipped one)")
    p.add_argument("--json", action="store_true",
                   help='{"tags": {tag: {support, ap, auc, precision, recall, f1, prevalence}}, "mean_ap"}')
    p.add_argument("--threshold", type=float, metavar="T", help="one threshold for all tags (default: the model's)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch", type=int, default=32, metavar="N")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: cores - 1)")
    p.add_argument("--tags-dir", metavar="DIR", help="tag files live under DIR, mirroring the image folders")
    p.add_argument("--no-heads", action="store_true",
                   help="the model's own tags only, not the few-label heads saved with it (tui-tagger train-head)")


def run(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise TaggerError(f"--threshold must be between 0 and 1, not {args.threshold}")
    import numpy as np

    from tui_tagger.model.locate import default_model_path
    from tui_tagger.model.data import label_matrix, labelled_samples
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.metrics import format_table, tag_metrics
    from tui_tagger.model.progress import Progress

    problems: list[str] = []
    predictor = LocalPredictor.load(Path(args.model) if args.model else default_model_path(), args.device,
                                    heads=not args.no_heads, problems=problems)
    for problem in problems:
        warn(problem)
    data = labelled_samples(args.dirs, args.tags_dir)
    for problem in data.problems:
        warn(problem)
    if not data.samples:
        raise TaggerError("no tagged images under " + ", ".join(args.dirs))
    tags = predictor.tags
    refs = [s.ref for s in data.samples]
    probs = np.zeros((len(refs), len(tags)), dtype=np.float32)
    ok = np.zeros(len(refs), dtype=bool)
    progress = Progress(len(refs), "evaluate")
    for i, (_, p, error) in enumerate(predictor.predict_paths(refs, args.batch, args.workers, progress)):
        if error:
            progress.close()
            warn(error)
            continue
        probs[i] = [p[t] for t in tags]
        ok[i] = True
    progress.close()
    if not ok.any():
        raise TaggerError("no readable tagged images to evaluate on")
    y, known = label_matrix([s for s, good in zip(data.samples, ok) if good], tags)
    thresholds = args.threshold if args.threshold is not None else {t: predictor.info.threshold(t) for t in tags}
    metrics = tag_metrics(y, probs[ok], tags, thresholds, known)
    if args.json:
        print_json(metrics)
    else:
        print(f"{int(ok.sum())} images, model {printable(str(predictor.info.name))} ({len(tags)} tags)")
        print(format_table(metrics))
    return 0 if ok.all() else 1
