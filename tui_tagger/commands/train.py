"""tui-tagger train DIR... --out M : train (or fine-tune with --from) on tagged folders.

Validation is split by sample (see ``model.data.group_key``), never by frame; the run's full
configuration is written beside the model as ``M.toml`` (``--config M.toml`` runs it again)."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from tui_tagger.commands.common import warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.model.runconfig import TRAIN_DEFAULTS

DEFAULTS = TRAIN_DEFAULTS  # model/runconfig.py, where the TUI's T dialog reads them too
MAX_POOL = 16
MAX_WIDTH = 4096
MAX_ATTENTION = 8


def _widths(value) -> list[int] | None:
    """--widths as 5 channel counts: "32,64,160,160,128" on the command line, a list from a --config file."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        widths = [int(v) for v in parts]
    except (TypeError, ValueError):
        widths = []
    if len(widths) != 5 or not all(1 <= w <= MAX_WIDTH for w in widths):
        raise TaggerError(f"train: --widths takes 5 channel counts between 1 and {MAX_WIDTH}, like 32,64,128,128,96 "
                          f"(got {value!r})")
    return widths


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="*", metavar="DIR", help="folders of images with tag files")
    p.add_argument("--out", metavar="M",
                   help="the model file to write, and M.toml beside it (required; its folder is made). To fine-tune "
                        "the model that comes with tui-tagger on your folders: train DIR... --from shipped --out M")
    p.add_argument("--from", dest="init", metavar="M0",
                   help="fine-tune this model: a file, or 'shipped' for the one that comes with tui-tagger (its "
                        "preprocessing is kept)")
    p.add_argument("--epochs", type=int, metavar="E", help="at most E epochs (default 30; early stopping)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--val-split", type=float, metavar="F", help="fraction of frames (whole samples) for validation (0.2)")
    p.add_argument("--batch", type=int, metavar="N", help="batch size (32)")
    p.add_argument("--lr", type=float, help="learning rate (1e-3)")
    p.add_argument("--seed", type=int, help="random seed (0)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: cores - 1)")
    p.add_argument("--size", type=int,
                   help="model input size in pixels (256; with --from: the model's own unless given, so a "
                        "model can be fine-tuned at a higher resolution)")
    p.add_argument("--pool", type=int, metavar="N",
                   help="the classifier reads N x N cells of the last feature map (4 for a new model; with "
                        "--from: the model's own unless given; growing it keeps what the model learnt)")
    p.add_argument("--widths", metavar="W1,...,W5",
                   help="channels of the 5 convolutions (default 32,64,128,128,96); with --from they can only "
                        "grow, and the new channels start out silent: the model computes what it did")
    p.add_argument("--hidden", type=int, metavar="N",
                   help="hidden units of the classifier (default 512); with --from it can only grow, as --widths")
    p.add_argument("--attention", type=int, metavar="N",
                   help="self-attention blocks across the cells of the last feature map (default 0); with --from "
                        "new blocks start as the identity: the model computes what it did")
    p.add_argument("--focal", type=float, metavar="G",
                   help="focal loss exponent: 0 (default) is plain weighted BCE; 1-2 gives the frames a tag "
                        "gets wrong more of the gradient")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="arithmetic of the training steps: auto (default: bfloat16 on CUDA, float32 on the CPU), "
                        "fp32, or bf16 (on the CPU too: about 1.35x faster on CPUs with AMX, such as Xeon "
                        "Sapphire Rapids and later)")
    p.add_argument("--invalid", type=float, choices=(0.0, -1.0), metavar="V",
                   help="what masked pixels, detector gaps and the padding to a square are in the model's input: "
                        "-1 (default for a new model: the network tells them from dark pixels, so a strip "
                        "detector's padding is no horizon) or 0 (the first models); with --from: the model's own "
                        "unless given")
    p.add_argument("--min-support", type=int, metavar="K", help="learn tags with at least K positives (2)")
    p.add_argument("--patience", type=int, help="stop after this many epochs without a better validation mean AP or loss (6)")
    p.add_argument("--max-pos-weight", type=float, metavar="W",
                   help="rare tags' positives weigh up to W times more in the loss (3; 1 = no weighting)")
    p.add_argument("--exclude-tag", action="append", metavar="NAME",
                   help="do not learn this tag (repeatable): a tag you label unreliably, or one held out to "
                        "test few-label heads on (tui-tagger learning-curve)")
    p.add_argument("--tags-dir", metavar="DIR", help="tag files live under DIR, mirroring the image folders")
    p.add_argument("--config", metavar="FILE", help="run again with the options of a saved M.toml")


def run(args: argparse.Namespace) -> int:
    from tui_tagger.model import runconfig

    table = runconfig.read(args.config).get("train", {}) if args.config else {}
    size_given = args.size is not None or "size" in table  # before the defaults fill it in
    runconfig.apply(args, table, DEFAULTS)
    if not args.dirs or not args.out:
        raise TaggerError("train: give at least one DIR and --out M (or --config FILE)")
    if args.max_pos_weight < 1:
        raise TaggerError("train: --max-pos-weight must be at least 1")
    if not 0.0 <= args.val_split < 1.0 or args.epochs < 1 or args.batch < 2:
        raise TaggerError("train: --val-split must be in [0, 1), --epochs at least 1, --batch at least 2")
    if args.pool is not None and not 1 <= args.pool <= MAX_POOL:
        raise TaggerError(f"train: --pool must be between 1 and {MAX_POOL} (got {args.pool})")
    widths = args.widths = _widths(args.widths)  # parsed once: the saved config holds the list
    if args.hidden is not None and not 1 <= args.hidden <= MAX_WIDTH:
        raise TaggerError(f"train: --hidden must be between 1 and {MAX_WIDTH} (got {args.hidden})")
    if args.attention is not None and not 0 <= args.attention <= MAX_ATTENTION:
        raise TaggerError(f"train: --attention must be between 0 and {MAX_ATTENTION} (got {args.attention})")
    if not 0 <= args.focal <= 5:
        raise TaggerError(f"train: --focal must be between 0 and 5 (got {args.focal})")
    _check_out(Path(args.out))

    from tui_tagger.model.checkpoint import ModelInfo, load_checkpoint, save_checkpoint
    from tui_tagger.model.data import decode_all, default_workers, label_matrix, labelled_samples
    from tui_tagger.model.device import resolve_device
    from tui_tagger.model.metrics import format_table
    from tui_tagger.model.build import build_model
    from tui_tagger.model.nets import count_parameters
    from tui_tagger.model.train import PRECISIONS, TrainConfig, cpu_has_fast_bf16, fit

    device = resolve_device(args.device)
    if args.precision not in PRECISIONS:  # a --config file may hold anything
        raise TaggerError(f"train: precision must be one of {', '.join(PRECISIONS)} (got {args.precision!r})")
    if args.precision == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        warn("train: --precision bf16 on a CPU without AMX or AVX-512 BF16 is slower than fp32")
    workers = default_workers() if args.workers is None else args.workers
    data = labelled_samples(args.dirs, args.tags_dir)
    for problem in data.problems:
        warn(problem)
    if not data.samples:
        raise TaggerError("no tagged images under " + ", ".join(args.dirs))

    from tui_tagger.model.locate import resolve_model

    base = load_checkpoint(resolve_model(args.init)) if args.init else None
    exclude = set(args.exclude_tag or [])
    tags = [t for t in _tag_list(data.samples, args.min_support, base[1].tags if base else []) if t not in exclude]
    if not tags:
        raise TaggerError(f"no tag has {args.min_support} or more positive images: nothing to learn")
    built = build_model(tags, base, size=args.size if size_given or not base else None, invalid=args.invalid,
                        pool=args.pool, widths=widths, hidden=args.hidden, attention=args.attention)
    model, arch, arch_config, preprocess = built.model, built.arch, built.arch_config, built.preprocess

    x, ok = decode_all([s.ref for s in data.samples], preprocess, args.batch, workers, warn)
    samples = [s for s, good in zip(data.samples, ok) if good]
    if len(samples) < 2:
        raise TaggerError("fewer than two readable tagged images: nothing to train on")
    y, known = label_matrix(samples, tags)
    groups = [s.group for s in samples]
    print(f"training {arch} ({count_parameters(model) / 1e6:.2f} M parameters) on {device}: "
          f"{len(samples)} images, {len(set(groups))} sample groups, {len(tags)} tags")

    config = TrainConfig(epochs=args.epochs, batch=args.batch, lr=args.lr, patience=args.patience,
                         max_pos_weight=args.max_pos_weight, focal=args.focal, precision=args.precision,
                         val_split=args.val_split, seed=args.seed, invalid=float(preprocess["invalid"]))
    model, summary, thresholds = fit(model, x, y, known, groups, tags, config, device)
    summary["data"] = {
        "dirs": [str(Path(d).resolve()) for d in args.dirs], "images": len(samples),
        "unreadable": int((~ok).sum()), "untagged": data.unlabelled, "tag_file_problems": len(data.problems),
    }
    summary["from"] = str(resolve_model(args.init).resolve()) if args.init else None
    if "val_metrics" in summary:
        print("validation (threshold per tag chosen on validation; AP against its prevalence baseline):")
        print(format_table({"tags": summary["val_metrics"], "mean_ap": summary["val_mean_ap"]}))
    if summary.get("overfitting"):
        warn(summary["overfitting"])

    out = Path(args.out)
    info = ModelInfo(arch=arch, arch_config=arch_config, tags=tags, preprocess=preprocess,
                     thresholds=thresholds, training=summary, name=out.stem)
    try:
        save_checkpoint(out, model, info)
    except OSError as err:
        raise TaggerError(f"{out}: cannot write the model: {err.strerror or err}") from None
    _save_config(args, out, device, workers, preprocess, summary, thresholds)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.toml')}")
    return 0


def _check_out(out: Path) -> None:
    """--out's folder made (as ``mkdir -p``) and written to before the training: a typo, a read-only folder or
    a full disk is said now, not after the last epoch (the run would be lost)."""
    import tempfile

    if out.is_dir():
        raise TaggerError(f"{out}: is a folder; --out takes the model file to write (e.g. {out / 'model.pt'})")
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{out.name}.", suffix=".check"):
            pass
    except OSError as err:
        raise TaggerError(f"{out}: cannot write the model there: {err.strerror or err}") from None


def _tag_list(samples, min_support: int, keep: list[str]) -> list[str]:
    """The tags to learn: a fine-tuned model's tags (in their order), then the tags with enough
    human/synthetic positives, in vocabulary order (tags the vocabulary lacks after, by name)."""
    from tui_tagger.core.vocabulary import default_vocabulary

    counts: dict[str, int] = {}
    for s in samples:
        for name, source in s.tags.items():
            if source != "model":
                counts[name] = counts.get(name, 0) + 1
    order = {a.name: i for i, a in enumerate(default_vocabulary())}
    new = sorted((t for t, c in counts.items() if c >= min_support and t not in keep),
                 key=lambda t: (order.get(t, len(order)), t))
    return list(keep) + new


def _save_config(args, out: Path, device, workers: int, preprocess, summary, thresholds) -> None:
    from tui_tagger import __version__
    from tui_tagger.model import runconfig
    from tui_tagger.model.locate import resolve_model, saved_model_name

    config = {
        "train": {
            "dirs": [str(Path(d).resolve()) for d in args.dirs], "out": str(out.resolve()),
            "init": saved_model_name(resolve_model(args.init)) if args.init else None, "epochs": args.epochs,
            "device": args.device, "val_split": args.val_split, "batch": args.batch, "lr": args.lr,
            "seed": args.seed, "workers": workers, "size": preprocess["size"], "min_support": args.min_support,
            "patience": args.patience, "max_pos_weight": args.max_pos_weight,
            "exclude_tag": list(args.exclude_tag or []), "pool": args.pool,
            "widths": args.widths, "hidden": args.hidden, "attention": args.attention, "focal": args.focal,
            "precision": args.precision, "invalid": float(preprocess["invalid"]),
            "tags_dir": str(Path(args.tags_dir).resolve()) if args.tags_dir else None,
        },
        "preprocess": preprocess,
        "thresholds": thresholds,
        "result": {
            "device_used": str(device), "images": summary["frames"], "train_frames": summary["train_frames"],
            "val_frames": summary["val_frames"], "groups": summary["groups"], "epochs_run": summary["epochs_run"],
            "best_epoch": summary["best_epoch"], "val_mean_ap": summary.get("val_mean_ap"),
            "train_mean_ap": summary.get("train_mean_ap"), "overfitting": summary.get("overfitting"),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "tui_tagger": __version__,
        },
    }
    target = out.with_suffix(".toml")
    try:
        runconfig.write(target, config, "tui-tagger train: rerun with `tui-tagger train --config THIS_FILE`")
    except OSError as err:
        warn(f"{target}: configuration not saved: {err.strerror or err}")
    except UnicodeEncodeError:  # a folder named in another system's encoding: TOML holds UTF-8 only
        warn(f"{target}: configuration not saved: a path in it is not valid UTF-8")
