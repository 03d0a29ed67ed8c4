"""tui-tagger watch DIR... : tag frames as the detector writes them.

The folders are followed recursively (``core.follow.Follower``: inotify events, or polling with ``--poll`` and on
network file systems); each frame is predicted once it is complete, with the model, preprocessing, heads and
physics check of ``predict`` (``model.stream.StreamPredictor``), and printed like ``predict`` does (``--json``:
its keys plus ``seen`` and ``done``). ``--write`` / ``--accept-above`` write like ``predict`` (its writer).
``--alert QUERY``: a frame whose tags (p at or above the threshold) match the query gets one line on stderr, the
terminal bell, and ``--exec CMD`` started with the frame in its environment, never waited for. SIGINT/SIGTERM
finish the frames in hand and exit 0."""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from tui_tagger.commands import cluster_options
from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.query import alert_hits
from tui_tagger.core.text import printable

MAX_EXEC = 4  # --exec commands running at once; an alert beyond that is reported, its command not started


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders to follow (recursively)")
    p.add_argument("--model", metavar="M", help="model file (default: as predict)")
    p.add_argument("--write", action="store_true",
                   help="store the probabilities in each frame's tag file (prediction block, not tags)")
    p.add_argument("--accept-above", type=float, metavar="P",
                   help="also add tags with p > P as tags (source=model; a person's tag is never touched); implies --write")
    p.add_argument("--alert", action="append", default=[], metavar="QUERY",
                   help="a tag query (repeatable): a matching frame gives a line on stderr and the bell, and runs --exec")
    p.add_argument("--exec", dest="exec_cmd", metavar="CMD",
                   help="shell command run for each alert, not waited for; its environment has TUI_TAGGER_FRAME, "
                        "TUI_TAGGER_FILE, TUI_TAGGER_TAGS (one per line), TUI_TAGGER_ALERT, TUI_TAGGER_PROBABILITIES (JSON)")
    p.add_argument("--json", action="store_true",
                   help='JSON lines: predict\'s {"path", "probabilities", "error"} plus "seen" (frame complete) and '
                        '"done" (prediction out), ISO 8601')
    p.add_argument("--poll", type=float, metavar="SECONDS",
                   help="poll the folders every SECONDS instead of using file system events (NFS, GPFS, Lustre "
                        "written by another host; chosen by itself there)")
    p.add_argument("--backlog", choices=("new", "all", "none"), default="new",
                   help="frames there before the start: new (default) those not predicted by an earlier watch, "
                        "all of them, none")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="a tag is on when p >= T (default: the model's per-tag thresholds)")
    p.add_argument("--tags-dir", metavar="DIR", help="tag files live under DIR, mirroring the image folders")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--batch", type=int, default=32, metavar="N", help="most frames per model batch (default 32)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: cores - 1)")
    p.add_argument("--no-heads", action="store_true", help="the model's own tags only (as predict)")
    p.add_argument("--no-physics", action="store_true", help="the network alone (as predict)")
    cluster_options.add_arguments(p)


def _check(args: argparse.Namespace) -> None:
    for d in args.dirs:
        if not os.path.isdir(d):
            raise TaggerError(f"{d}: {'not a folder' if os.path.exists(d) else 'no such folder'}")
    for name in ("threshold", "accept_above"):
        v = getattr(args, name)
        if v is not None and not 0.0 <= v <= 1.0:
            raise TaggerError(f"--{name.replace('_', '-')} must be between 0 and 1, not {v}")
    if args.poll is not None and not args.poll > 0:
        raise TaggerError(f"--poll must be a number of seconds above 0, not {args.poll}")
    if args.batch < 1 or (args.workers is not None and args.workers < 0):
        raise TaggerError("--batch must be at least 1 and --workers at least 0")
    if args.exec_cmd and not args.alert:
        raise TaggerError("--exec runs on alerts: give --alert QUERY too")
    if args.accept_above is not None:
        args.write = True


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


class _Stop:
    """SIGINT/SIGTERM: finish the frames in hand, then exit 0; a second SIGINT interrupts at once."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Alerts:
    """The --alert queries and --exec: one stderr line, the bell and the command per matching frame."""

    def __init__(self, queries: list, thresholds: dict[str, float], command: str | None):
        self.queries = queries
        self.thresholds = thresholds
        self.command = command
        self.running: list[subprocess.Popen] = []
        self.count = 0
        self._exec_problem = False

    def check(self, ref: str, path: str, probs: dict[str, float]) -> None:
        for i, shown, tags in alert_hits(self.queries, probs, self.thresholds):
            query = self.queries[i]
            self.count += 1
            print(f"tui-tagger: alert: {printable(ref)}: {printable(shown)} [{printable(str(query))}]",
                  file=sys.stderr)
            if sys.stderr.isatty():
                sys.stderr.write("\a")
            sys.stderr.flush()
            if self.command:
                self._run(ref, path, tags, probs, query)

    def _run(self, ref: str, path: str, tags: list[str], probs: dict[str, float], query) -> None:
        self.reap()
        if len(self.running) >= MAX_EXEC:
            warn(f"--exec: {len(self.running)} still running; not started for {ref}")
            return
        env = dict(os.environ)
        env.update(
            TUI_TAGGER_FRAME=ref, TUI_TAGGER_FILE=path,
            TUI_TAGGER_TAGS="\n".join(tags),
            TUI_TAGGER_ALERT=str(query), TUI_TAGGER_PROBABILITIES=json.dumps(probs),
        )
        try:
            self.running.append(subprocess.Popen(
                self.command, shell=True, env=env, stdin=subprocess.DEVNULL, start_new_session=True))
        except (OSError, ValueError) as err:
            if not self._exec_problem:
                warn(f"--exec: cannot start {self.command!r}: {getattr(err, 'strerror', None) or err}")
                self._exec_problem = True

    def reap(self) -> None:
        self.running = [p for p in self.running if p.poll() is None]


def run(args: argparse.Namespace) -> int:
    _check(args)
    stop = _Stop()
    stop.install()  # from the start: a SIGTERM while the model loads is a clean exit too
    try:
        with cluster_options.session(args) as cluster:
            return _run(args, stop, cluster)
    finally:
        stop.restore()


def _run(args: argparse.Namespace, stop: _Stop, cluster=None) -> int:
    from tui_tagger.config import Settings
    from tui_tagger.core.follow import Follower
    from tui_tagger.core.query import parse_query
    from tui_tagger.core.tagstore import TagStore
    from tui_tagger.core.vocabulary import default_vocabulary
    from tui_tagger.model.locate import default_model_path, resolve_model
    from tui_tagger.model.stream import Following, StreamPredictor
    from tui_tagger.commands.predict import _write as write_predictions

    from tui_tagger.core.workers import keep_freed_memory

    keep_freed_memory()  # the model's activations reused, not faulted in again per batch (and memory stays flat)
    model_path = resolve_model(args.model) if args.model else default_model_path()
    predictor = cluster_options.load_predictor(args, cluster, model_path)
    info = predictor.info
    thresholds = {t: (args.threshold if args.threshold is not None else info.threshold(t)) for t in predictor.tags}
    vocabulary = default_vocabulary().copy()
    for tag in predictor.tags:
        if tag not in vocabulary:
            vocabulary.add(tag)
    alerts = Alerts([parse_query(q, vocabulary) for q in args.alert], thresholds, args.exec_cmd)

    fsync = Settings.from_env().fsync
    roots = [os.path.abspath(d) for d in args.dirs]
    stores: dict[str, TagStore] = {}
    write_problems: dict[str, str] = {}  # tag folder -> the last write error shown for it

    def store_for(path: str) -> TagStore:
        root = next((r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)), os.path.dirname(path))
        if root not in stores:
            stores[root] = TagStore(Path(args.tags_dir) if args.tags_dir else None, Path(root))
        return stores[root]

    import numpy as np

    counts = collections.Counter()
    if cluster is not None:  # the workers decode and predict; batches of paths go out as frames come
        stream = predictor.stream(args.batch, in_flight=max(8, 2 * args.batch))
    else:
        size = int(predictor.preprocess["size"])
        predictor.predict_arrays(np.zeros((1, size, size), np.float32))  # the first forward pass is slow: not on a frame
        # the decoding workers are forked before the watcher's threads start (model.feed.start_method)
        stream = StreamPredictor(predictor, args.batch, args.workers, in_flight=max(8, 2 * args.batch))
    follower = Follower(roots, poll=args.poll, backlog=args.backlog, report=warn)

    def handle(arrival, result) -> None:
        ref, probs, error = result
        read_error = error
        if probs is not None and args.write:
            error = write_predictions(store_for(arrival.path), ref, probs, info.name, args.accept_above, fsync)
            folder = os.path.dirname(arrival.path)
            if error and write_problems.get(folder) != error.split(":")[-1]:
                write_problems[folder] = error.split(":")[-1]
                warn(f"{error} (the watch goes on; further write errors in this folder are not shown)")
            elif not error:
                write_problems.pop(folder, None)
        done = time.time()
        counts["frames"] += 1
        counts["errors"] += read_error is not None
        if args.json:
            print_json({"path": ref, "probabilities": probs, "error": error, "seen": iso(arrival.seen),
                        "done": iso(done)})
        elif read_error is None:
            above = sorted(((p, t) for t, p in probs.items() if p >= thresholds[t]), reverse=True)
            print(f"{printable(ref)}: " + (", ".join(f"{printable(t)} {p:.2f}" for p, t in above) or "-"))
        elif arrival.index or ref != arrival.path:  # a frame of a container (a bad file is reported by the follower)
            warn(read_error)
        sys.stdout.flush()
        if probs is not None and alerts.queries:
            alerts.check(ref, arrival.path, probs)

    following = Following(follower, stream, lambda: stop.requested, alerts.reap)
    try:
        follower.start()
        where = ", ".join(printable(d) for d in args.dirs)
        warn(f"watching {where}: {follower.mode}; model {printable(info.name)} on {predictor.device}; "
             "Ctrl-C stops")
        for arrival, result in following:  # after a stop: the frames in hand, the others wait for the next run
            handle(arrival, result)
    finally:
        follower.stop()
        stream.close()
    left = len(following.waiting)
    warn(f"stopped: {counts['frames'] - counts['errors']} frames predicted, {counts['errors'] + follower.skipped} "
         f"unreadable, {alerts.count} alerts"
         + (f"; {left} complete frames left for the next run" if left else ""))
    return 0
