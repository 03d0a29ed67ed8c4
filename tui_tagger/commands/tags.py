"""``tui-tagger tags FILE...``: the tags of images (or of tag files), with who said them."""

from __future__ import annotations

import os

from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="image (or frame ref file.h5::/entry/data/data#12) or its tag file")
    parser.add_argument("--json", action="store_true",
                        help='one JSON list of {"path", "tags", "sources", "error"}')
    parser.add_argument("--tags-dir", metavar="DIR",
                        help="tag files live under DIR, mirroring the images' folders relative to the current one")


def store_from(args):
    from tui_tagger.core.tagstore import TagStore

    return TagStore(tags_dir=args.tags_dir) if args.tags_dir else TagStore()


def run(args) -> int:
    store = store_from(args)
    rows = []
    failed = False
    shown: set[str] = set()  # errors already printed: `tags *` names an image and its tag file, one error
    for file in args.files:
        row = {"path": os.fspath(file), "tags": [], "sources": {}, "error": None, "tag_file": None}
        try:
            tf = store.open(file)
        except TaggerError as err:
            row["error"] = str(err)
            failed = True
            tf = None
        if tf is not None:
            row["tags"] = tf.names
            row["sources"] = {t.name: t.source for t in tf.tags.values()}
            row["tag_file"] = str(tf.read_from)
        rows.append(row)
        if not args.json and not (row["error"] and row["error"] in shown):
            _print_row(row)
            if row["error"]:
                shown.add(row["error"])
    if args.json:
        print_json(rows)
    return 1 if failed else 0


def _print_row(row: dict) -> None:
    if row["error"]:
        warn(row["error"])
        return
    path = printable(row["path"])  # names and sources from files: a newline in one shows as \n
    if row["tag_file"] is None:
        print(f"{path}: (no tag file)")
        return
    parts = []
    for name in row["tags"]:
        source = row["sources"].get(name)
        parts.append(f"{printable(name)} ({printable(source)})" if source else printable(name))
    print(f"{path}: {', '.join(parts) if parts else '(no tags)'}")
