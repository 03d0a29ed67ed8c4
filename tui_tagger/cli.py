"""The ``tui-tagger`` command. Each subcommand lives in ``tui_tagger/commands/<name>.py`` with
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only when their command runs,
so ``tui-tagger info`` never pays for Textual or torch."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tui_tagger import __version__
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import PrintableStream, printable

# name -> (module, one-line help). Order is the order of --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "open": ("open_cmd", "open a folder in the tagging TUI"),
    "demo": ("demo", "make a synthetic demo folder (first use) and open it"),
    "info": ("info", "format, shape, dtype, range and masked fraction of image files"),
    "tags": ("tags", "show the tags of image files, with their source"),
    "tag": ("tag", "add or remove tags in the tag files of images"),
    "search": ("search", "images under a folder whose tags match a query"),
    "export": ("export", "images x tags table (CSV or JSON) for downstream use"),
    "synth": ("synth", "write labelled synthetic x-ray scattering frames"),
    "predict": ("predict", "per-image tag probabilities from a model"),
    "watch": ("watch", "follow folders and tag each frame as the detector writes it"),
    "train": ("train", "train or fine-tune a model on tagged folders"),
    "evaluate": ("evaluate", "per-tag metrics of a model on tagged folders"),
    "average": ("average", "one model whose weights are the mean of models fine-tuned from one another"),
    "train-head": ("train_head", "a few-label head for one tag on the model's features, saved with the model"),
    "suggest": ("suggest", "images whose label would teach the model the most, for one tag"),
    "learning-curve": ("learning_curve", "simulate labelling by suggestion vs at random on a labelled folder"),
    "review": ("review", "questionable labels and outlier images"),
}


def _module(name: str):
    return importlib.import_module(f"tui_tagger.commands.{COMMANDS[name][0]}")


def _available() -> dict[str, tuple[str, str]]:
    """Commands whose module exists (the model commands arrive with the model core)."""
    here = os.path.join(os.path.dirname(__file__), "commands")
    return {k: v for k, v in COMMANDS.items() if os.path.exists(os.path.join(here, v[0] + ".py"))}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-tagger",
        description="Tag x-ray scattering detector images from the terminal. "
        "`tui-tagger DIR` is short for `tui-tagger open DIR`.",
    )
    parser.add_argument("--version", action="version", version=f"tui-tagger {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            _module(name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `tui-tagger DIR` is `tui-tagger open DIR`
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "open")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(only=chosen)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    if args.command != "open" and args.command != "demo" and not isinstance(sys.stdout, PrintableStream):
        # names and tag texts come from files: shown literally, never as terminal escapes (JSON escapes its own)
        sys.stdout = PrintableStream(sys.stdout)
    try:
        return int(_module(args.command).run(args) or 0)
    except TaggerError as err:
        print(f"tui-tagger: {printable(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tui-tagger: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tui-tagger search ... | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
