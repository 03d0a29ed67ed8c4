"""The geometry part of ``tui-tagger info``: ``--poni``/``--no-poni``, the ``geometry`` JSON object and the
text lines under the table. Kept apart from info.py so the table code stays as it was."""

from __future__ import annotations

import argparse

from tui_tagger.commands.common import warn
from tui_tagger.core.text import printable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poni", metavar="FILE",
                        help="pyFAI PONI calibration file whose geometry (distance, beam centre, tilts, pixel size, "
                             "wavelength) overrides the headers' for every FILE; by default the one *.poni file in "
                             "an image's folder is used, when there is exactly one")
    parser.add_argument("--no-poni", action="store_true", help="header geometry only: ignore .poni files")


class GeometryOptions:
    """What --poni/--no-poni ask for, with the explicit PONI file parsed once (a malformed one stops the
    command with one line naming it) and each folder scanned for a .poni file once."""

    def __init__(self, args: argparse.Namespace):
        from tui_tagger.core.geometry import read_poni

        self.poni = read_poni(args.poni) if getattr(args, "poni", None) else None  # PoniError: one line, exit 1
        self.auto = not getattr(args, "no_poni", False)
        self.folders: dict = {}
        self.warned: set[str] = set()

    def record(self, rec: dict[str, object]) -> dict[str, object] | None:
        """The ``geometry`` object of one info record: the fields found (maybe none); None for unread files."""
        if rec.get("error") and not rec.get("format"):
            return None
        from tui_tagger.core.geometry import PoniError, geometry_of

        ref, shape = str(rec["path"]), rec.get("shape")
        if self.auto and self.poni is None:
            self._several_poni(ref)
        try:
            geom = geometry_of(ref, self.poni, shape=shape, auto_poni=self.auto, poni_cache=self.folders)
        except PoniError as err:  # a malformed .poni beside the image: say so once, show the headers' geometry
            if err.path not in self.warned:
                self.warned.add(err.path)
                warn(f"{err} (ignored: header geometry shown)")
            geom = geometry_of(ref, shape=shape, auto_poni=False)
        return geom.as_record() if geom else {}


    def _several_poni(self, ref: str) -> None:
        """Several .poni files beside an image: none is used (which one holds this frame's calibration is not
        known); said once per folder, as a malformed one is."""
        import os

        from tui_tagger.core.geometry.poni import poni_files

        folder = os.path.dirname(ref) or "."
        if folder in self.warned:
            return
        self.warned.add(folder)
        found = poni_files(folder, limit=3)
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:2]) + (", …" if len(found) > 2 else "")
            warn(f"{folder}: several .poni files ({names}): none used; choose one with --poni FILE")


def text_lines(records: list[dict[str, object]]) -> list[str]:
    """``geometry of PATH: distance ..., q ...-... 1/A [sources]`` for each record with geometry."""
    from tui_tagger.core.geometry.base import describe_record

    return [printable(f"geometry of {rec['path']}: {describe_record(rec['geometry'])}")
            for rec in records if rec.get("geometry")]
