"""A screen repaint of what changed only, not of the box around it.

Textual's partial update renders every widget that overlaps the *bounding box* of the changed regions, each
one whole: the cursor's row in a list plus the inspect pane's title plus the status line make that box the
whole screen, so every key repaints ~12 widgets x 46 lines (~5 ms at 160x48 on a 2-core VM). Here a widget
is asked only for the lines where a changed span crosses its columns, and widgets no span crosses are left
alone. What reaches the terminal is the same: the changed spans, each filled from the topmost widget there
(tests/ui/test_span_repaint.py compares the bytes with Textual's own update).

Textual 8's compositor internals (``_dirty_regions``, ``cuts``, ``visible_widgets``, ``ChopsUpdate``); where
they are not there, Textual's own update runs.
"""

from __future__ import annotations

from types import MethodType

from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import OptionList

try:
    from textual._compositor import ChopsUpdate, Compositor
except ImportError:  # another Textual: its own repaint
    ChopsUpdate = Compositor = None


# lines from the widget's line cache: any band of them can be asked for (OptionList's: its lines measured first)
_LINE_CACHED = {Widget.render_lines, OptionList.render_lines}


def install(screen) -> bool:
    """The screen repaints changed spans only from now on; False (Textual's repaint) where its internals differ."""
    compositor = getattr(screen, "_compositor", None)
    if Compositor is None or not isinstance(compositor, Compositor) or not all(
            hasattr(compositor, name) for name in ("_dirty_regions", "cuts", "visible_widgets", "_regions_to_spans")):
        return False
    compositor.render_partial_update = MethodType(render_partial_update, compositor)
    return True


def render_partial_update(self):
    """``Compositor.render_partial_update``, rendering each widget only where a changed span crosses it."""
    update_regions = self._dirty_regions.copy()
    self._dirty_regions.clear()
    if not update_regions:
        return None
    screen = self.size.region
    spans = [(y, x1, x2) for y, x1, x2 in self._regions_to_spans(update_regions) if 0 <= y < screen.height]
    if not spans:
        return None
    by_line: dict[int, list[tuple[int, int]]] = {}
    for y, x1, x2 in spans:
        by_line.setdefault(y, []).append((x1, x2))
    cuts = self.cuts
    chops = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
    intersection = Region.intersection
    for widget, (region, clip) in self.visible_widgets.items():  # front to back: the first strip at a cut wins
        render = intersection(region, clip)
        left, right = render.x, render.right
        lines = [y for y in render.line_range
                 if any(x1 < right and x2 > left for x1, x2 in by_line.get(y, ()))]
        if not lines:
            continue
        if type(widget).render_lines not in _LINE_CACHED:  # its own (a Sixel image, a cached bar): as Textual asks
            runs = [(render.y, render.bottom)]
        else:  # each run of consecutive lines (a thumbnail's row here, another there: not every line between)
            runs, top = [], lines[0]
            for before, y in zip(lines, lines[1:]):
                if y != before + 1:
                    runs.append((top, before + 1))
                    top = y
            runs.append((top, lines[-1] + 1))
        wanted = set(lines)
        for top, bottom in runs:
            strips = widget.render_lines(Region(left - region.x, top - region.y, render.width, bottom - top))
            for y, strip in zip(range(top, bottom), strips):
                if y not in wanted:
                    continue
                line = chops[y]
                final_cuts = [cut for cut in cuts[y] if right >= cut >= left]
                for cut, piece in zip(final_cuts, strip.divide([cut - left for cut in final_cuts[1:]])):
                    if line.get(cut) is None:
                        line[cut] = piece
    return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in cuts])
