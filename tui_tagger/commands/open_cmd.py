"""``tui-tagger open DIR``: the tagging TUI."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from tui_tagger.commands import cluster_options
from tui_tagger.core.errors import TaggerError

GRAPHICS = ("auto", "kitty", "sixel", "iterm2", "halfcell", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="folder of images (searched recursively)")
    add_view_arguments(parser)
    parser.add_argument("--follow", action="store_true",
                        help="follow the folder as a detector writes into it: new frames join the lists, predicted "
                             "in the background (the key f toggles it)")
    parser.add_argument("--alert", action="append", default=[], metavar="QUERY",
                        help="a tag query, as watch's (repeatable): a followed frame that matches it gives a notice "
                             "and the terminal bell")
    cluster_options.add_arguments(parser)


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", metavar="NAME", help="the tag to start with")
    parser.add_argument("--theme", metavar="NAME", help="colour theme (see the command palette, ctrl+p)")
    parser.add_argument("--graphics", choices=GRAPHICS, default="auto",
                        help="how images are drawn (default: detected): kitty graphics placeholders, sixel or "
                             "iterm2 inline images in the lists (zoomed), grid and inspect pane; halfcell; none "
                             "(no inspect image)")
    parser.add_argument("--tags-dir", metavar="DIR", type=Path,
                        help="keep tag files under DIR (mirroring the folder) instead of beside the images")
    parser.add_argument("--model", metavar="M", type=Path,
                        help="the model that predict (p, P), training (T), heat maps (h) and learning from "
                             "corrections use (default: $TUI_TAGGER_MODEL, the user's, the shipped one)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        raise TaggerError(f"{root}: not a folder")
    return launch(root, args)


def check_theme(name: str) -> None:
    from textual.theme import BUILTIN_THEMES

    from tui_tagger.ui.themes import load_themes

    known = {t.name for t in load_themes()[0]} | set(BUILTIN_THEMES)
    if name not in known:
        raise TaggerError(f"unknown theme {name!r}; known: {', '.join(sorted(known))}")


def check_model(model: Path | None) -> Path | None:
    """``--model M`` as an absolute path; a one-line TaggerError when there is no such file."""
    if model is None:
        return None
    from tui_tagger.model.locate import resolve_model  # no torch

    model = resolve_model(model).expanduser()
    if not model.is_file():
        raise TaggerError(f"{model}: model file not found" if not model.exists() else f"{model}: not a model file")
    return model.resolve()


def check_alerts(queries: list[str]) -> list[str]:
    """``--alert QUERY``s parsed as ``watch`` parses them (a one-line TaggerError naming a bad one)."""
    from tui_tagger.core.query import parse_query
    from tui_tagger.core.vocabulary import default_vocabulary

    vocabulary = default_vocabulary()
    for query in queries:
        try:
            parse_query(query, vocabulary)
        except TaggerError as err:
            raise TaggerError(f"--alert {query!r}: {err}") from None
    return list(queries)


def launch(root: Path, args: argparse.Namespace) -> int:
    model = check_model(getattr(args, "model", None))  # at start, not at the first p: scripts get it too
    if args.theme:
        check_theme(args.theme)  # before the terminal check: scripts get the error too
    alerts = check_alerts(getattr(args, "alert", None) or [])
    if alerts and not getattr(args, "follow", False):
        raise TaggerError("--alert checks followed frames: give --follow too")
    with contextlib.ExitStack() as stack:
        # --scheduler / --cluster / $TUI_TAGGER_SCHEDULER checked now (a bad file, no dask: one line, scripts
        # get it too); the app connects in the background and says on screen when the scheduler is unreachable
        cluster = stack.enter_context(cluster_options.session(args)) if hasattr(args, "scheduler") else None
        return _launch(root, args, model, alerts, cluster)


def _launch(root: Path, args: argparse.Namespace, model: Path | None, alerts: list[str], cluster) -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise TaggerError("open needs a terminal (stdin and stdout); for scripts use `tui-tagger tags/tag/search`")
    if args.graphics != "none":
        from tui_tagger.ui.widgets.image_adapter import probe_terminal

        probe_terminal()  # before Textual owns stdin
    from tui_tagger.ui.app import TaggerApp

    app = TaggerApp(root.resolve(), tag=args.tag, tags_dir=args.tags_dir, graphics=args.graphics, theme=args.theme,
                    model=model, follow=getattr(args, "follow", False), alerts=alerts, cluster=cluster)
    app.run()
    from tui_tagger.core.text import printable

    for line in dict.fromkeys(app.stderr_lines):  # what went wrong on screen, kept where a log can see it
        print(f"tui-tagger: {printable(line)}", file=sys.stderr)
    return 0
