"""tui-tagger average M1 M2... --out M : one model whose weights are the mean of models fine-tuned from
one another (successive ``train --from`` stages): a "model soup", which often ranks better than its parts
at the cost of one model (not when one part is far ahead of the others: ``--val`` tells).

With ``--val DIR...`` (labelled folders none of the models trained on) each part and the mean are
evaluated there, the per-tag thresholds are chosen again on the mean's probabilities, and the mean AP of
each is printed; without it the thresholds are averaged too. ``M.toml`` beside the output records the
run (``--config M.toml`` runs it again)."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError

DEFAULTS = {"models": [], "out": None, "weights": None, "val": [], "device": "auto", "batch": 32, "workers": None,
            "tags_dir": None}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="M", help="model files fine-tuned from one another (2 or more)")
    p.add_argument("--out", metavar="M", help="the averaged model to write (and M.toml beside it)")
    p.add_argument("--weights", metavar="W1,W2,...", help="one weight per model (default: all equal)")
    p.add_argument("--val", nargs="+", metavar="DIR",
                   help="labelled folders to compare the parts with the mean on and choose its thresholds on")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N (for --val)")
    p.add_argument("--batch", type=int, metavar="N", help="batch size for --val (32)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes for --val (default: cores - 1)")
    p.add_argument("--tags-dir", metavar="DIR", help="tag files of --val live under DIR, mirroring the image folders")
    p.add_argument("--json", action="store_true", help='{"out", "mean_ap": {model: AP}, "val_images"}')
    p.add_argument("--config", metavar="FILE", help="run again with the options of a saved M.toml")


def _weights(value) -> list[float] | None:
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        return [float(v) for v in parts]
    except (TypeError, ValueError):
        raise TaggerError(f"average: --weights takes numbers separated by commas, like 1,1,2 (got {value!r})") from None


def run(args: argparse.Namespace) -> int:
    from tui_tagger.model import runconfig

    table = runconfig.read(args.config).get("average", {}) if args.config else {}
    runconfig.apply(args, table, DEFAULTS)
    if len(args.models) < 2 or not args.out:
        raise TaggerError("average: give two or more model files and --out M (or --config FILE)")
    weights = args.weights = _weights(args.weights)
    out = Path(args.out)
    if out.resolve() in {Path(m).resolve() for m in args.models}:
        raise TaggerError(f"{out}: --out is one of the models being averaged; write the mean to a new file")

    from tui_tagger.model.checkpoint import save_checkpoint
    from tui_tagger.model.soup import average_models

    model, info = average_models(args.models, weights)
    report: dict = {"out": str(out), "mean_ap": {}, "val_images": 0}
    if args.val:
        report.update(_validate(args, model, info))
        best_part = max(v for k, v in report["mean_ap"].items() if k != "average")
        if report["mean_ap"]["average"] < best_part:
            warn(f"the average ranks worse on --val than its best part (mean AP {report['mean_ap']['average']} "
                 f"< {best_part}): keep the best part alone, or average parts of like quality fine-tuned "
                 "from one another")
    try:
        save_checkpoint(out, model, info)
    except OSError as err:
        raise TaggerError(f"{out}: cannot write the model: {err.strerror or err}") from None
    config = {
        "average": {"models": [str(Path(m).resolve()) for m in args.models], "out": str(out.resolve()),
                    "weights": weights, "val": [str(Path(d).resolve()) for d in args.val or []],
                    "device": args.device, "batch": args.batch, "workers": args.workers,
                    "tags_dir": str(Path(args.tags_dir).resolve()) if args.tags_dir else None},
        "thresholds": info.thresholds,
        "result": {"val_images": report["val_images"],
                   "time": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "val_mean_ap": report["mean_ap"],  # per part and "average"; empty without --val
    }
    runconfig.write(out.with_suffix(".toml"), config, header="tui-tagger average: rerun with --config THIS_FILE")
    if args.json:
        print_json(report)
    else:
        for name, ap in report["mean_ap"].items():
            print(f"mean AP on --val  {ap:.4f}  {name}")
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.toml')}")
    return 0


def _validate(args, model, info) -> dict:
    """Mean AP of each part and of the mean on the --val folders (decoded once); the mean's thresholds
    chosen there (best F1 per tag, as training chooses them on its validation split)."""
    import numpy as np

    from tui_tagger.model.checkpoint import load_checkpoint
    from tui_tagger.model.data import decode_all, default_workers, label_matrix, labelled_samples
    from tui_tagger.model.device import resolve_device
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.metrics import best_thresholds, tag_metrics

    data = labelled_samples(args.val, args.tags_dir)
    for problem in data.problems:
        warn(problem)
    if not data.samples:
        raise TaggerError("average: no tagged images under --val " + ", ".join(args.val))
    workers = default_workers() if args.workers is None else args.workers
    x, ok = decode_all([s.ref for s in data.samples], info.preprocess, args.batch, workers, warn, np.float32)
    if not ok.any():
        raise TaggerError("average: no readable tagged images under --val")
    y, known = label_matrix([s for s, good in zip(data.samples, ok) if good], info.tags)
    device = resolve_device(args.device)

    def probs_of(net, net_info) -> np.ndarray:
        predictor = LocalPredictor(net, net_info, device)
        return np.concatenate([predictor.predict_arrays(x[i : i + args.batch]) for i in range(0, len(x), args.batch)])

    mean_ap = {}
    for path in args.models:
        net, net_info = load_checkpoint(path)
        mean_ap[str(path)] = tag_metrics(y, probs_of(net, net_info), info.tags, 0.5, known)["mean_ap"]
    probs = probs_of(model, info)
    mean_ap["average"] = tag_metrics(y, probs, info.tags, 0.5, known)["mean_ap"]
    info.thresholds = best_thresholds(y, probs, info.tags, known)
    stored = {k if k == "average" else str(Path(k).resolve()): v for k, v in mean_ap.items()}  # as averaged_from
    info.training["averaged_val"] = {"dirs": [str(Path(d).resolve()) for d in args.val], "images": int(ok.sum()),
                                     "mean_ap": stored}
    return {"mean_ap": mean_ap, "val_images": int(ok.sum())}
