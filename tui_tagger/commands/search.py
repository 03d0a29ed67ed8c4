"""``tui-tagger search DIR QUERY``: the images under DIR whose tags match QUERY, one path per line.

Exit status like grep: 0 when something matched, 1 when nothing did, 2 on an error (a query that does
not parse, a missing folder). Images whose tag file cannot be read match nothing and are named on stderr.

The folder's index (core/catalog.py) answers the query: first the change check brings it up to date, then
the images are selected by tag set in SQLite and stream out in scan order, with no Python object per image
held. The change check, by default: the folders whose stamp changed are listed again (tui-tagger saves by
renaming a new file into place, which changes its folder), plus a rolling full check of ROLLING entries per
search, the next folders in turn, for tag files rewritten in place; ``--quick``: the folders alone;
``--verify``: a stat of every file, as the TUI's background check does.
"""

from __future__ import annotations

import argparse
import sys

from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable

# Files and folders the default search checks in full (a stat each) besides the folders that changed: a
# few hundredths of a second; a million frames (two million files) are gone round in ~400 searches.
ROLLING = 5_000

QUERY_HELP = (
    "tag query, e.g. '\"Ring: Isotropic\" and not Saturation'; operators not > and > or, parentheses, "
    "quoted or bare names (case-insensitive), 'Ring: *' wildcards, human:NAME / model:NAME, "
    "p(NAME) > 0.5; an empty query lists every image"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="folder to search (recursively)")
    parser.add_argument("query", metavar="QUERY", nargs="*", help=QUERY_HELP)
    parser.add_argument("--json", action="store_true", help="print a JSON list of paths")
    parser.add_argument("--tags-dir", metavar="DIR", help="tag files are kept under DIR, mirroring the tree")
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--verify", action="store_true",
                       help="check every file against the index first (a stat each: a minute on a million "
                            "images). Without it, only folders whose modification time changed are listed again "
                            "(files added, removed, or saved by renaming a new file into place, as tui-tagger "
                            f"saves), plus the next ~{ROLLING:,} files in turn: a tag file rewritten in place by "
                            "another program, in a folder that did not change, shows after --verify, after the "
                            "TUI opened the folder, or once the rolling check comes round to it")
    check.add_argument("--quick", action="store_true",
                       help="only the folders whose modification time changed, no rolling check")


def run(args: argparse.Namespace) -> int:
    from tui_tagger.core.catalog import Catalog

    try:
        catalog = Catalog(args.dir, tags_dir=args.tags_dir)
    except TaggerError as err:
        warn(str(err))
        return 2
    try:
        # the change check brings the index up to date; then the index answers the query: no Python
        # object per image, hits stream out in scan order
        if args.verify:
            catalog.update()
        else:
            catalog.update(quick=True, rolling=0 if args.quick else ROLLING)
        query = catalog.parse(" ".join(args.query))
        for problem in catalog.problems:
            warn(problem)
        for path, message in catalog.tag_errors():
            warn(f"{message} (not searched)")
        hits = 0
        paths: list[str] = []
        for chunk in catalog.path_chunks(query):  # thousands of paths, one write each
            hits += len(chunk)
            if args.json:
                paths.extend(chunk)
            elif "".join(chunk).isprintable():  # nearly always: no escaping pass per path
                sys.stdout.write("\n".join(chunk) + "\n")
            else:
                sys.stdout.write("\n".join(map(printable, chunk)) + "\n")
    except TaggerError as err:
        warn(str(err))
        return 2
    finally:
        catalog.close()
    if args.json:
        print_json(paths)
    return 0 if hits else 1
