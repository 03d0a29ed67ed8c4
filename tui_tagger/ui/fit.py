"""Text fitted to a number of terminal cells. Names are cut in the middle with an ellipsis, so that both
their start and their end show: the end of a detector frame's name is its frame number
(``…_pilatus_000123.tif``), which a cut at the end would lose."""

from __future__ import annotations

import re

from rich.cells import cell_len

ELLIPSIS = "…"


def middle_ellipsis(text: str, width: int, tail: float = 0.6) -> str:
    """``text`` in at most ``width`` cells: as it is when it fits, else its start, "…", and its end (the end
    gets ``tail`` of the room: frame numbers and extensions are there). Wide characters count two cells."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:max(width, 0)]
    start, end = middle_cut(text, width, tail)
    return text[:start] + ELLIPSIS + text[end:]


def middle_cut(text: str, width: int, tail: float = 0.6) -> tuple[int, int]:
    """Where ``middle_ellipsis`` cuts a ``text`` too long for ``width`` (> 1) cells: it keeps ``text[:start]``
    and ``text[end:]`` (for a styled ``rich.text.Text``, cut by its plain text)."""
    room = width - 1
    want_tail = max(1, round(room * tail))
    end, used = len(text), 0
    while end > 0 and used + cell_len(text[end - 1]) <= want_tail:
        end -= 1
        used += cell_len(text[end])
    start, head_used = 0, 0
    while start < end and head_used + cell_len(text[start]) <= room - used:
        head_used += cell_len(text[start])
        start += 1
    return start, end


_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")  # ".tiff", ".gz", ".bz2", ".h5": never ".0026"
_DIGITS = re.compile(r"[0-9]+")
FRAME_SUFFIX = 8  # at most this much of the stem after its frame number


def frame_ellipsis(name: str, width: int) -> str:
    """A file name in at most ``width`` cells, cut so that its frame number stays: the last run of digits
    before its extension (``xsp__latest_0081042_craw.tiff`` in 15 cells: ``xs…0081042_craw``, where
    ``middle_ellipsis`` gave ``xsp_…_craw.tiff`` for every frame of the run). What follows the number goes
    first (the extension, then the rest), then the start; a name without one is cut in the middle."""
    if cell_len(name) <= width:
        return name
    stem = name
    for _ in range(2):  # ".cbf.gz", ".edf.bz2"
        stem = _EXTENSION.sub("", stem)
    runs = list(_DIGITS.finditer(stem))
    cut = middle_ellipsis(name, width, tail=0.75)
    # a frame number ends the stem or nearly ("_craw", "_waxs"); "2022-2_sample_data" has none
    if width <= 2 or not runs or len(stem) - runs[-1].end() > FRAME_SUFFIX:
        return cut
    number = runs[-1]
    if name[number.start():] in cut:  # the plain cut keeps it already
        return cut
    before = name[:number.start()]
    for tail, least in ((name[number.start():], 4), (stem[number.start():], 2), (number.group(), 2)):
        room = width - 1 - cell_len(tail)  # for the start of the name
        if room >= least:
            return _first_cells(before, room) + ELLIPSIS + tail
    return ELLIPSIS + number.group()[-(width - 1):]  # a number longer than the room: its last digits


def _first_cells(text: str, width: int) -> str:
    used = 0
    for i, ch in enumerate(text):
        used += cell_len(ch)
        if used > width:
            return text[:i]
    return text
