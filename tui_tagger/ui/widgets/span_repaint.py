"""A screen repaint of what changed only, not of the box around it.

Textual's partial update renders every widget that overlaps the *bounding box* of the changed regions, each
one whole: the cursor's row in a list plus the inspect pane's title plus the status line make that box the
whole screen, so every key repaints ~12 widgets x 46 lines (~5 ms at 160x48 on a 2-core VM). Here a widget
is asked only for the lines where a changed span crosses its columns, and widgets no span crosses are left
alone. What reaches the terminal is the same: the changed spans, each filled from the topmost widget there
(tests/ui/test_span_repaint.py compares the bytes with Textual's own update, less the cursor moves Textual
sends with nothing drawn after them).

Textual 8's compositor internals (``_dirty_regions``, ``cuts``, ``visible_widgets``, ``ChopsUpdate``); where
they are not there, Textual's own update runs.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from types import MethodType

from textual.events import InputEvent
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import OptionList

from tui_tagger.ui.widgets import compact_sgr, truecolor_filter

try:
    from textual._compositor import ChopsUpdate, Compositor
except ImportError:  # another Textual: its own repaint
    ChopsUpdate = Compositor = None
try:
    from textual.drivers._writer_thread import WriterThread
except ImportError:  # another Textual: its output thread
    WriterThread = None


# lines from the widget's line cache: any band of them can be asked for (OptionList's: its lines measured first)
_LINE_CACHED = {Widget.render_lines, OptionList.render_lines}


def line_cached(render_lines):
    """Marks a widget's own ``render_lines`` that still serves any band of lines from the line cache (it wraps
    Widget.render_lines): it is asked for the changed lines only, as Widget's is."""
    _LINE_CACHED.add(render_lines)
    return render_lines


def install(screen) -> bool:
    """The screen repaints changed spans only from now on, and writes them at once; False (Textual's repaint)
    where its internals differ."""
    _write_in_place(screen.app)
    compact_sgr.install()  # each style sent where it changes: about half the bytes through tmux or SSH
    truecolor_filter.install()  # lines already in truecolor pass Textual's colour filter as they are
    compositor = getattr(screen, "_compositor", None)
    if Compositor is None or not isinstance(compositor, Compositor) or not all(
            hasattr(compositor, name) for name in ("_dirty_regions", "cuts", "visible_widgets", "_regions_to_spans")):
        return False
    compositor.render_partial_update = MethodType(render_partial_update, compositor)
    return True


class _InPlaceWriter:
    """Textual's output thread's interface (``drivers/_writer_thread.WriterThread``), writing in the calling
    thread: through the thread, a frame reached the terminal 1.1 ms later at the median and up to 22 ms later
    under load (the thread woke, then waited for the GIL while the UI thread went on). A pty takes a frame
    (a few KB) at once; a terminal that stops reading holds the UI thread, as the thread's queue of 30 writes
    did once full."""

    def __init__(self, file) -> None:
        self._file, self._lock = file, threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self._file.write(text)
            if text != _SYNC_START:  # (a frame's writes: the sync start, the frame, the sync end: one flush)
                self._file.flush()

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def stop(self) -> None:
        self.flush()

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()


_SYNC_START = "\x1b[?2026h"  # textual.app.SYNC_START


def _write_in_place(app) -> None:
    """The terminal's driver writes in the UI thread from now on (``_InPlaceWriter``); where it has no output
    thread (a test's headless driver, another Textual), nothing changes."""
    driver = getattr(app, "_driver", None)
    writer = getattr(driver, "_writer_thread", None)
    if WriterThread is None or type(writer) is not WriterThread or not writer.is_alive():
        return
    writer.stop()  # (what it holds is written first: stop flushes and joins)
    driver._writer_thread = _InPlaceWriter(writer._file)


def repaint_now(widget) -> None:
    """The screen's repaint at once, where Textual would wait for its next 60 Hz tick: a key's repaint waited
    for it 0-34 ms (p90 16.5 ms on 400 real frames, Down every 40 ms, thumbnails loading: another repaint had
    started the tick's interval, and after a late tick Textual skips to the one after next). What the widgets on
    screen asked to repaint is collected here as their idle handlers would (``Widget._check_refresh``): a
    layout or style change, more input queued (keys faster than repaints share one), a batch update: the tick's
    repaint, as before."""
    screen, app = widget.screen, widget.app
    if screen is not app.screen or app._batch_count or _input_queued(app, screen, widget):
        return
    try:
        visible = screen._compositor.visible_widgets
        tick = screen._on_timer_update
    except AttributeError:  # another Textual
        return
    dirty, scrolled = [], False
    for w in visible:
        if getattr(w, "_layout_required", True) or getattr(w, "_refresh_styles_required", True):
            return
        if w._repaint_required:
            dirty.append(w)
        if w._scroll_required:
            if w.styles.keyline[0] != "none":  # Textual repaints such a widget whole on a scroll
                return
            scrolled = True
    if screen._layout_required:
        return
    for w in dirty:
        w._repaint_required = False
        screen._dirty_widgets.add(w)
    if scrolled:
        for w in visible:
            w._scroll_required = False
        screen._scroll_required = True
    tick()


def _input_queued(*pumps) -> bool:
    """A key or a mouse event waits in one of these message pumps' queues (on its way to the widget)."""
    for pump in pumps:
        queued = getattr(getattr(pump, "_message_queue", None), "values", None)  # textual._queue.Queue's deque
        if queued is None or any(isinstance(message, InputEvent) for message in queued):
            return True
    return False


def render_partial_update(self):
    """``Compositor.render_partial_update``, rendering each widget only where a changed span crosses it and a
    piece of the line that reaches the terminal is still missing there (the containers behind the widgets
    are rarely asked)."""
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
    chops: list = [None] * len(cuts)  # ChopsUpdate reads the lines of the spans only
    # per changed line, the cuts whose piece overlaps a span and no widget has filled yet (a piece that starts
    # where a span ends is left out: Textual's own update sends a bare cursor move for it, and nothing else)
    open_cuts: dict[int, list[int]] = {}  # sorted
    for y, line_spans in by_line.items():
        cut_set = cuts[y]
        chops[y] = dict.fromkeys(cut_set[:-1])
        starts = cut_set[:-1]
        if len(line_spans) == 1:  # (the usual case) the pieces from the one holding x1 to the one before x2
            x1, x2 = line_spans[0]
            open_cuts[y] = starts[max(bisect_right(starts, x1) - 1, 0):bisect_left(starts, x2)]
        else:
            open_cuts[y] = [x for x, end in zip(starts, cut_set[1:])
                            if any(x < x2 and end > x1 for x1, x2 in line_spans)]
    changed = {y for y, still_open in open_cuts.items() if still_open}  # lines with a piece missing
    # the changed lines by the columns of their spans (a key's: the list's 44 lines, the title's one): a widget
    # looks only at the lines of the spans that cross its columns (the inspect pane's at the title's line)
    extents: dict[tuple[int, int], list[int]] = {}
    for y, x1, x2 in spans:
        extents.setdefault((x1, x2), []).append(y)
    for ys in extents.values():
        ys.sort()
    intersection = Region.intersection
    for widget, (region, clip) in self.visible_widgets.items():  # front to back: the first strip at a cut wins
        if not changed:
            break
        render = intersection(region, clip)
        left, right, top, bottom = render.x, render.right, render.y, render.bottom
        crossing = [ys[bisect_left(ys, top):bisect_left(ys, bottom)]
                    for (x1, x2), ys in extents.items() if x1 < right and x2 > left]
        if not crossing:
            continue
        lines = sorted({y for ys in crossing for y in ys if y in changed and _open_in(open_cuts[y], left, right)})
        if not lines:
            continue
        if type(widget).render_lines not in _LINE_CACHED:  # its own (a Sixel image, a cached bar): as Textual asks
            runs = [(top, bottom)]
        else:  # each run of consecutive lines (a thumbnail's row here, another there: not every line between)
            runs, first = [], lines[0]
            for before, y in zip(lines, lines[1:]):
                if y != before + 1:
                    runs.append((first, before + 1))
                    first = y
            runs.append((first, lines[-1] + 1))
        wanted = set(lines)
        for run_top, run_bottom in runs:
            strips = widget.render_lines(Region(left - region.x, run_top - region.y, render.width, run_bottom - run_top))
            for y, strip in zip(range(run_top, run_bottom), strips):
                if y not in wanted:
                    continue
                line, still_open = chops[y], open_cuts[y]
                final_cuts = [cut for cut in cuts[y] if right >= cut >= left]
                for cut, piece in zip(final_cuts, strip.divide([cut - left for cut in final_cuts[1:]])):
                    if line[cut] is None:
                        line[cut] = piece
                        i = bisect_left(still_open, cut)
                        if i < len(still_open) and still_open[i] == cut:
                            del still_open[i]
                if not still_open:  # every piece of the line is in: the widgets behind need not be asked
                    changed.discard(y)
    return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in cuts])


def _open_in(cuts: list[int], left: int, right: int) -> bool:
    """Some cut of the sorted ``cuts`` is in [left, right)."""
    i = bisect_left(cuts, left)
    return i < len(cuts) and cuts[i] < right
