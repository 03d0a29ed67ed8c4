"""``tui-tagger export DIR``: an images x tags table for downstream use (model training, spreadsheets).

CSV: ``path,error`` then one 0/1 column per tag found in the folder (vocabulary order, then tags the
vocabulary lacks in the order first seen). JSON: a list of {"path", "tags", "sources", "predictions",
"error"}. ``-o`` writes the file atomically (a reader never sees half of it); default: stdout.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path

FORMATS = ("csv", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="folder to export (recursively)")
    parser.add_argument("--format", choices=FORMATS,
                        help="table format (default: from the -o suffix, else csv)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    parser.add_argument("--tags-dir", metavar="DIR", help="tag files are kept under DIR, mirroring the tree")


def tag_columns(entries) -> list[str]:
    """Every tag found in the entries: vocabulary order first, then the others as first seen."""
    from tui_tagger.core.vocabulary import default_vocabulary

    seen: dict[str, None] = {}
    for e in entries:
        seen.update(dict.fromkeys(e.tags))
    known = [name for name in default_vocabulary().names if name in seen]
    return known + [name for name in seen if name not in set(known)]


def csv_chunks(entries, columns: list[str]) -> Iterator[str]:
    """The CSV table in pieces (``entries`` may be a stream: a million rows are never all in memory)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "error", *columns])
    for i, e in enumerate(entries):
        writer.writerow([e.path, e.error or "", *(1 if c in e.tags else 0 for c in columns)])
        if i % 2000 == 1999:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def json_chunks(entries) -> Iterator[str]:
    """The JSON list, one row at a time, exactly as ``json_text(rows, indent=1)`` writes the whole list."""
    from tui_tagger.core.text import json_text

    first = True
    for e in entries:
        row = {"path": e.path, "tags": list(e.tags), "sources": dict(e.tags),
               "predictions": dict(e.predictions), "error": e.error}
        text = json_text(row, indent=1).replace("\n", "\n ")  # one level deeper, inside the list
        yield ("[\n " if first else ",\n ") + text
        first = False
    yield "[]\n" if first else "\n]\n"


def to_csv(entries) -> str:
    entries = list(entries)
    return "".join(csv_chunks(entries, tag_columns(entries)))


def to_json(entries) -> str:
    return "".join(json_chunks(entries))


def run(args: argparse.Namespace) -> int:
    from tui_tagger.commands.common import warn
    from tui_tagger.core.atomic import atomic_write_bytes
    from tui_tagger.core.catalog import Catalog
    from tui_tagger.core.errors import FileProblem

    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower().lstrip(".") if args.output else ""
        fmt = suffix if suffix in FORMATS else "csv"
    catalog = Catalog(args.dir, tags_dir=args.tags_dir)
    # the change check brings the index up to date; the rows then stream from it (twice for CSV: its
    # columns are the tags found), never a list of every image
    catalog.update()
    for problem in catalog.problems:
        warn(problem)
    if fmt == "csv":
        chunks = csv_chunks(catalog.rows(), tag_columns(catalog.rows()))
    else:
        chunks = json_chunks(catalog.rows())
    if args.output:
        # surrogateescape: a file name that is not UTF-8 is written as the bytes it has on disk
        data = b"".join(chunk.encode("utf-8", "surrogateescape") for chunk in chunks)
        try:
            atomic_write_bytes(args.output, data)
        except OSError as err:
            raise FileProblem(args.output, f"cannot write: {err.strerror or err}") from None
    else:
        for chunk in chunks:
            sys.stdout.write(chunk)
    catalog.close()
    return 0
