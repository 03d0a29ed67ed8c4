"""Command-line options shared by suggest, learning-curve and review, and the folder they load."""

from __future__ import annotations

import argparse

from tui_tagger.commands import cluster_options
from tui_tagger.commands.common import warn
from tui_tagger.learn.features import SOURCES


def add_folder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="folder of images (searched recursively)")
    parser.add_argument("--tags-dir", metavar="DIR", help="tag files are kept under DIR, mirroring the tree")
    parser.add_argument("--features", choices=(*SOURCES, "auto"), default="auto",
                        help="per-image features: the CNN's (the model's penultimate layer), hand-made scattering "
                             "features, or auto (default): the CNN's when torch and a model are there")
    parser.add_argument("--model", metavar="FILE", help="model file for --features cnn (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    cluster_options.add_arguments(parser)  # the features not yet cached are computed on the cluster


def load(args: argparse.Namespace):
    """The folder's features and labels; images that cannot be read are named on stderr and left out."""
    from tui_tagger.learn.features import default_source
    from tui_tagger.learn.folder import load_folder

    if args.features == "auto":
        args.features = default_source(args.model)
    with cluster_options.session(args) as cluster:
        data = load_folder(args.dir, args.tags_dir, args.features, args.model, cluster=cluster)
    for problem in data.problems:
        warn(f"{problem} (left out)")
    return data


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
