"""The grid view of an image list (``v``): a contact sheet of larger thumbnails, painted line by line for
``ImageList.render_line`` when the list is in grid mode. The list keeps its rows, cursor, marks and keys;
only the painting and the geometry (``ImageList.cols``, ``row_h``, ``cell_w``) differ.

A band of the sheet is ``thumb_h`` lines of thumbnails and one line under each: a mark (``●``), p(tag) and
the name, cut in the middle (its end holds the frame number).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from textual.strip import Strip

from tui_tagger.ui.fit import frame_ellipsis, middle_ellipsis


def fit(p: str, name: str, width: int) -> str:
    """``p`` and ``name`` in exactly ``width`` cells, the name cut so that its frame number stays: the p whole
    and the number whole (``0.37 xs…0081042``; a cut at the start lost the p, a plain middle cut gave
    ``0.70 xs…aw.tiff`` under every frame of a run)."""
    if width <= 0:
        return ""
    text = middle_ellipsis(p + frame_ellipsis(name, max(width - cell_len(p), 1)), width)
    return text + " " * (width - cell_len(text))


def cell_width(lst, width: int) -> int:
    """Cells per image: the width shared by the images of a band (the thumbnail centred in it)."""
    return max(lst.cell_w, width // lst.cols)


def grid_line(lst, band: int, line: int, width: int) -> Strip:
    """Line ``line`` of band ``band`` of ``lst``'s contact sheet, ``width`` cells wide."""
    base = lst._style("base")
    cols, cw = lst.cols, cell_width(lst, width)
    segs: list[Segment] = []
    for c in range(cols):
        index = band * cols + c
        if index >= len(lst.rows):
            break
        segs += _cell_segments(lst, index, line, cw)
    return Strip(segs).crop_extend(0, width, base) if segs else Strip.blank(width, base)


def _cell_segments(lst, index: int, line: int, cw: int) -> list[Segment]:
    row = lst.rows[index]
    marked = row.path in lst.marked
    state = (2 + lst.has_focus) if index == lst.cursor else int(marked)
    arr = lst.thumbs.get(row.path) if lst.thumbs is not None else None
    p_text = name = ""
    if line == lst.thumb_h:
        p = row.predictions.get(lst.session.tag)
        p_text, name = (f"{p:.2f} " if p is not None else ""), row.name
    key = ("grid", row.path, line, state, marked, id(arr), p_text, name, bool(row.problem), cw, lst.thumb_w)
    cached = lst._strips.get(key)
    if cached is not None:
        return cached
    base = lst._style("base")
    if state >= 2:
        base = base + lst._style("image-list--cursor" if state == 3 else "image-list--cursor-blurred")
    elif state == 1:
        base = base + lst._style("image-list--marked")
    if line < lst.thumb_h:
        left = (cw - lst.thumb_w) // 2
        right = cw - lst.thumb_w - left
        segs = [Segment(" " * left, base), *lst._thumb_segments(row, arr, line, base), Segment(" " * right, base)]
    else:
        style = base + lst._style("image-list--error") if row.problem else base
        segs = [Segment("●" if marked else " ", base), Segment(fit(p_text, name, cw - 2), style), Segment(" ", base)]
    if len(lst._strips) > 4000:
        lst._strips.clear()
    lst._strips[key] = segs
    return segs
