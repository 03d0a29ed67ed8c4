"""tui-tagger predict PATH... : per-image tag probabilities from a model.

Probabilities are never tags: ``--write`` keeps them in each tag file's prediction block;
``--accept-above P`` (implies --write) adds the tags above P with source="model" and their p."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import datetime, timezone
from pathlib import Path

from tui_tagger.commands import cluster_options
from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable
from tui_tagger.model.runconfig import PREDICT_DEFAULTS

# Options a --config file may set (model/runconfig.py, where the TUI's P dialog reads them too)
DEFAULTS = PREDICT_DEFAULTS
CONFIG_NAME = "predict-config.toml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="image files or folders (walked recursively)")
    p.add_argument("--model", metavar="M", help="model file, or `shipped` (default: $TUI_TAGGER_MODEL, the user's, the shipped one)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch", type=int, metavar="N", help="images per model batch (default 32)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: cores - 1)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="list tags with p >= T (default: the model's per-tag thresholds)")
    p.add_argument("--write", action="store_true", default=None,
                   help="store the probabilities in each image's tag file (prediction block, not tags)")
    p.add_argument("--accept-above", type=float, metavar="P",
                   help="also add tags with p > P as tags (source=model); implies --write")
    p.add_argument("--json", action="store_true", default=None,
                   help='JSON lines: {"path", "probabilities": {tag: p}, "error"}')
    p.add_argument("--no-heads", action="store_true", default=None,
                   help="the model's own tags only, not the few-label heads saved with it (tui-tagger train-head)")
    p.add_argument("--no-physics", action="store_true", default=None,
                   help="the network alone: no physics check (where the header or a .poni file gives the geometry: a "
                        "powder calibrant named from its ring positions, experiment types the q range or a grazing "
                        "angle rules out, a round beamstop measured at the beam centre; also TUI_TAGGER_PHYSICS=0)")
    p.add_argument("--tags-dir", metavar="DIR", help="tag files live under DIR, mirroring the image folders")
    p.add_argument("--config", metavar="FILE", help="run again with the options of a saved predict-config.toml")
    cluster_options.add_arguments(p)
    p.add_argument("--config-out", metavar="FILE",
                   help=f"write the run's configuration to FILE (default: runs/FOLDER-HASH/{CONFIG_NAME} in the "
                        "config folder; never into the image folder unless named here)")
    p.add_argument("--save-config", dest="config_out", metavar="FILE", help=argparse.SUPPRESS)  # the old name


def run(args: argparse.Namespace) -> int:
    from tui_tagger.model import runconfig

    table = runconfig.read(args.config).get("predict", {}) if args.config else {}
    runconfig.apply(args, table, DEFAULTS)
    _check(args)
    with cluster_options.session(args) as cluster:
        return _run(args, cluster)


def _run(args: argparse.Namespace, cluster) -> int:
    from tui_tagger.core.workers import keep_freed_memory
    from tui_tagger.model.locate import default_model_path, resolve_model
    from tui_tagger.model.data import default_workers, image_refs

    keep_freed_memory()  # the model's activations and the batches: reused, not faulted in again per batch
    model_path = resolve_model(args.model) if args.model else default_model_path()
    workers = default_workers() if args.workers is None else args.workers
    roots, refs = [], []
    for path in args.paths:
        found = image_refs([path])
        refs += found
        roots += [Path(path) if Path(path).is_dir() else Path(path).parent] * len(found)
    if not refs:
        raise TaggerError("no images found under " + ", ".join(args.paths))
    with _early_feed(args, cluster, model_path, refs, workers) as feed:
        return _predict(args, cluster, model_path, refs, roots, workers, feed)


@contextlib.contextmanager
def _early_feed(args, cluster, model_path: Path, refs: list[str], workers: int):
    """The frames' decoding started now, before torch is imported and the model loaded (1-2 s that the decoding
    workers use), with the preprocessing the model file names (``model.peek``); None on a cluster, without
    workers, or where the file says nothing readable without torch (the real load then judges it)."""
    from tui_tagger.config import env_flag

    config = None
    if cluster is None and workers > 0:
        from tui_tagger.model.peek import model_preprocess

        config = model_preprocess(model_path)
    if config is None:
        yield None
        return
    from tui_tagger.model.feed import Feed

    physics = not args.no_physics and env_flag("TUI_TAGGER_PHYSICS", True)  # as LocalPredictor's default
    with Feed(refs, config, physics, workers) as feed:
        yield feed


def _predict(args: argparse.Namespace, cluster, model_path: Path, refs: list[str], roots: list[Path], workers: int,
             feed) -> int:
    from tui_tagger.config import Settings
    from tui_tagger.core.tagstore import TagStore
    from tui_tagger.model.cluster import indexed
    from tui_tagger.model.progress import Progress

    predictor = cluster_options.load_predictor(args, cluster, model_path)
    info = predictor.info
    thresholds = {t: (args.threshold if args.threshold is not None else info.threshold(t)) for t in predictor.tags}
    _save_config(args, model_path, predictor, workers, thresholds, len(refs))
    if feed is not None and not feed.matches(predictor.preprocess, predictor.physics):
        feed.close()  # not what the model needs after all: decoded again below
        feed = None

    fsync = Settings.from_env().fsync
    stores: dict[Path, TagStore] = {}
    progress = Progress(len(refs), "predict")
    failed = 0
    try:
        results = enumerate(predictor.predict_paths(refs, args.batch, workers, progress, feed=feed)) if feed else \
            indexed(predictor, refs, args.batch, workers, progress)
        for n, (ref, probs, error) in results:  # as they finish
            if error is None and args.write:
                store = stores.setdefault(roots[n], TagStore(args.tags_dir, roots[n]))
                error = _write(store, ref, probs, info.name, args.accept_above, fsync)
            failed += error is not None
            if args.json:
                print_json({"path": ref, "probabilities": probs, "error": error})
            elif error:
                progress.close()
                warn(error)
            else:
                above = sorted(((p, t) for t, p in probs.items() if p >= thresholds[t]), reverse=True)
                progress.close()
                print(f"{printable(ref)}: " + (", ".join(f"{printable(t)} {p:.2f}" for p, t in above) or "-"))
            sys.stdout.flush()
    finally:
        progress.close()
    return 1 if failed else 0


def _check(args: argparse.Namespace) -> None:
    if not args.paths:
        raise TaggerError("predict: give at least one PATH (or --config FILE)")
    for name in ("threshold", "accept_above"):
        v = getattr(args, name)
        if v is not None and not 0.0 <= v <= 1.0:
            raise TaggerError(f"--{name.replace('_', '-')} must be between 0 and 1, not {v}")
    if args.batch < 1 or (args.workers is not None and args.workers < 0):
        raise TaggerError("--batch must be at least 1 and --workers at least 0")
    if args.accept_above is not None:
        args.write = True


def _write(store, ref: str, probs: dict[str, float], model: str, accept_above: float | None, fsync: bool) -> str | None:
    """Store the predictions (and accepted tags) in the image's tag file; a one-line error or None."""
    try:
        tagfile = store.load_or_new(ref)
        tagfile.set_predictions(model, probs)
        if accept_above is not None:
            for tag, p in probs.items():
                if p > accept_above and not tagfile.has(tag):  # a human's tag is never overwritten
                    tagfile.add(tag, source="model", p=p)
        store.save(tagfile, fsync=fsync)
    except TaggerError as err:
        return str(err)
    except OSError as err:
        return f"{store.path_for(ref)}: cannot write: {err.strerror or err}"
    return None


def _save_config(args, model_path: Path, predictor, workers: int, thresholds: dict[str, float], count: int) -> None:
    from tui_tagger import __version__
    from tui_tagger.model import runconfig
    from tui_tagger.model.locate import saved_model_name

    first = Path(args.paths[0])
    target = Path(args.config_out) if args.config_out else \
        runconfig.default_path("predict", first if first.is_dir() else first.parent)
    info = predictor.info
    config = {
        "predict": {
            "paths": [str(Path(p).resolve()) for p in args.paths],
            "model": saved_model_name(model_path),
            "device": args.device, "batch": args.batch, "workers": workers, "threshold": args.threshold,
            "write": bool(args.write), "accept_above": args.accept_above, "json": bool(args.json),
            "tags_dir": str(Path(args.tags_dir).resolve()) if args.tags_dir else None,
            "no_heads": bool(args.no_heads), "no_physics": not predictor.physics,
        },
        "heads": {"tags": [h.tag for h in predictor.heads],
                  "trained_on": [str(h.info.get("folder", "")) for h in predictor.heads]},
        "model": {"name": info.name, "arch": info.arch, "created": info.created, "tags": list(info.tags)},
        "preprocess": info.preprocess,
        "thresholds": thresholds,
        "run": {
            "device_used": predictor.device, "images": count, "seed": 0,  # inference is deterministic
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "tui_tagger": __version__,
        },
    }
    try:
        runconfig.write(target, config, "tui-tagger predict: rerun with `tui-tagger predict --config THIS_FILE`")
    except OSError as err:
        warn(f"{target}: configuration not saved: {err.strerror or err}")
    except UnicodeEncodeError:  # a path from a shell glob in another system's encoding: TOML holds UTF-8 only
        warn(f"{target}: configuration not saved: a path in it is not valid UTF-8")
