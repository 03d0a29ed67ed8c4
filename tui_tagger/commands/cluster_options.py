"""``--scheduler ADDRESS|FILE`` and ``--cluster local[:N]``: the commands that run the model (predict,
evaluate, and the feature extraction of suggest, review, train-head, learning-curve) send it to a Dask
cluster (``tui_tagger.model.cluster``). Without either, ``$TUI_TAGGER_SCHEDULER``; without that, local work."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator

from tui_tagger.model.cluster import ENV, INSTALL, TIMEOUT_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "on a Dask cluster",
        f"frames are decoded and the model runs on the workers, which must see the same files; this process "
        f"writes the results. Needs {INSTALL}. ${TIMEOUT_ENV}: seconds to wait for the scheduler and a "
        "worker (default 10)")
    group.add_argument("--scheduler", metavar="ADDRESS|FILE",
                       help=f"the scheduler's tcp://HOST:PORT or its scheduler file (dask scheduler "
                            f"--scheduler-file FILE); default ${ENV}")
    group.add_argument("--cluster", metavar="local[:N]",
                       help="start a Dask LocalCluster of N worker processes on this machine (default: one per core)")


@contextlib.contextmanager
def session(args: argparse.Namespace) -> Iterator:
    """The cluster the options ask for (None: local work), closed (a LocalCluster stopped) at the end."""
    from tui_tagger.model.cluster import open_cluster

    cluster = open_cluster(getattr(args, "scheduler", None), getattr(args, "cluster", None))
    try:
        yield cluster
    finally:
        if cluster is not None:
            cluster.close()


def announce(cluster) -> None:
    """Connect now (an unreachable scheduler fails before any work) and say where the model runs: one line
    on a terminal's stderr (never in logs or pipes)."""
    if cluster is None:
        return
    cluster.client
    if sys.stderr.isatty():
        print(f"tui-tagger: model on {cluster.describe()}", file=sys.stderr, flush=True)


def load_predictor(args: argparse.Namespace, cluster, model_path):
    """The model of a run that predicts (``predict``, ``watch``): on the cluster's workers when there is one,
    else here, with the heads saved with it (unless ``--no-heads``) and the physics check (unless
    ``--no-physics``); unreadable heads named on stderr; where the model runs said on a terminal."""
    from tui_tagger.commands.common import warn
    from tui_tagger.model.infer import LocalPredictor

    problems: list[str] = []
    load = cluster.predictor if cluster is not None else LocalPredictor.load
    predictor = load(model_path, args.device, heads=not args.no_heads, problems=problems,
                     physics=False if args.no_physics else None)
    for problem in problems:
        warn(problem)
    announce(cluster)
    return predictor
