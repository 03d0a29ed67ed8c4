"""Text fitted to a number of terminal cells. Names are cut in the middle with an ellipsis, so that both
their start and their end show: the end of a detector frame's name is its frame number
(``…_pilatus_000123.tif``), which a cut at the end would lose."""

from __future__ import annotations

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
