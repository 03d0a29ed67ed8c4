"""Sixel and iTerm2 thumbnails in the lists and the grid: half blocks as text, real pixels painted over them.

A Sixel or iTerm2 image is not text: Textual cannot lay it out, crop it or scroll it, and a line holding its
escape would be cut apart where another widget overlaps the line (Textual counts an escape's characters as
cells once its colour filter has dropped the segment's control flag). So a thumbnail is drawn twice:

- as text, in the list's lines: half blocks in exactly the cells the image will cover (``thumb_line``, the
  interface of kitty_placeholders.Placeholders, so the list and grid paint either). What Textual caches,
  moves and scrolls is only text; a row cut by the list's bottom edge, a list under a dialog, a thumbnail
  not yet encoded: half blocks, never a stale image.
- as an image, after each frame (``attach`` wraps the app's ``_display``): the images whose cells that frame
  wrote, each placed at its cells with an absolute cursor move, appended to the frame's output (inside
  Textual's synchronized update). Writing text over an image's cells removes the image there (Sixel
  terminals, tmux and iTerm2 alike), so whatever the frame changed under an image is painted again and an
  image whose row scrolled away is overwritten by the text now there. An image is painted only when all its
  cells are inside its list, nothing (a toast) lies over them and the list's screen is the one on top.

A frame that writes over an image it leaves in place (a cursor move repaints its row's line, the same
thumbnail at the same cells) has those cells taken out of it: the image stays and is not sent again. Neither
protocol can move an image, so a scroll paints every image on the list again (130-490 KB a screen at
160 x 48): while scrolls follow one another within ``REST_S`` (a key held), the half blocks stay and the
images come once the list rests, as the inspect pane's image does.

Encoding (a few ms a thumbnail: Sixel in Python, a PNG for iTerm2) runs in the decoding worker processes,
asked for by one thread of this module; the escapes are kept per (thumbnail array, cells), so a repaint only
writes them. Thumbnails of fewer than ``MIN_LINES`` lines (the list's smallest zoom) stay half blocks: that
view is for skimming many rows, which text redraws fastest.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict

import numpy as np
from PIL import Image
from rich.segment import Segment
from textual.geometry import Region

from tui_tagger.ui.widgets import halfcell
from tui_tagger.ui.widgets.image_grid import cell_width
from tui_tagger.ui.widgets.kitty_placeholders import fit_cells

MIN_LINES = 4  # thumbnails this tall or taller are painted in pixels (the list's first zoom is 3 lines)
CACHE_BYTES = 48 << 20  # encoded escapes kept, with the thumbnails they hold
UNDERLAYS = 4000  # half-block thumbnails kept
BURST = 4  # a frame painting more images than this is a scroll (a cursor move repaints 2)
REST_S = 0.15  # scrolls closer together than this (a key held) paint their images only once they stop


def move_to(x: int, y: int) -> str:
    """Cursor to cell (x, y) of the screen (0-based)."""
    return f"\x1b[{y + 1};{x + 1}H"


class InlineImages:
    """One app's Sixel (``protocol`` "sixel") or iTerm2 ("iterm2") thumbnails. ``cell``: the terminal's cell
    in pixels; ``encode``: (protocol, rgb, cols, rows, cell, tmux) -> escape, by default in the decoding
    worker processes."""

    def __init__(self, protocol: str, cell: tuple[int, int], tmux: bool = False, encode=None) -> None:
        self.protocol = protocol
        self.cell = tuple(cell)
        self.tmux = tmux
        if encode is None:
            from tui_tagger.ui import decoding

            encode = decoding.inline_image
        self._encode = encode
        self._lists: list = []  # the image lists drawn (``keep``)
        self._escapes: OrderedDict[tuple, tuple[object, str]] = OrderedDict()  # (id(arr), cols, rows) -> (arr, escape)
        self._bytes = 0
        self._underlays: OrderedDict[tuple, tuple[object, list]] = OrderedDict()  # -> (weakref, lines of segments)
        self._wanted: OrderedDict[tuple, tuple] = OrderedDict()  # to encode: key -> (arr, cols, rows, list, path)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stop = False
        self._app = None
        self._timer = None  # repaints the lists once they rest (``_rest_then_paint``)
        self._last_burst = 0.0  # when a frame last had more than BURST images to paint
        self.painted = 0  # images painted (figures for benchmarks and tests)
        self.bytes_sent = 0  # their escapes' bytes
        self._shown: dict[Region, object] = {}  # the images on the terminal now: cells -> thumbnail array
        self.encoded = 0

    # ---- Placeholders' interface: what the lists call --------------------------------------------
    def keep(self, on_screen) -> None:
        """A list draws through these (``on_screen``: kitty_placeholders.list_on_screen, holding the list)."""
        lst = getattr(on_screen, "list", None)
        if lst is not None and lst not in self._lists:
            self._lists.append(lst)

    def on_delete(self, callback) -> None:
        """Nothing is deleted from the terminal: text written over an image removes it."""

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._wake.notify_all()

    def thumb_line(self, arr, width: int, height: int, line: int, base) -> list[Segment]:
        """Line ``line`` of a thumbnail drawn in ``width`` x ``height`` cells: half blocks in the cells its
        image covers (centred, its aspect kept to the nearest cell), blank in ``base`` around them."""
        cols, rows = self.cells_of(arr, width, height)
        top, left = (height - rows) // 2, (width - cols) // 2
        r = line - top
        if not 0 <= r < rows:
            return [Segment(" " * width, base)]
        return [Segment(" " * left, base), *self._underlay(arr, cols, rows)[r],
                Segment(" " * (width - cols - left), base)]

    def cells_of(self, arr, width: int, height: int) -> tuple[int, int]:
        """(cols, rows) the thumbnail ``arr`` takes in a ``width`` x ``height``-cell box."""
        h, w = arr.shape[:2]
        return fit_cells(w, h, width, height, self.cell)

    def _underlay(self, arr, cols: int, rows: int) -> list[list[Segment]]:
        key = (id(arr), cols, rows)
        hit = self._underlays.get(key)
        if hit is not None and hit[0]() is arr:
            return hit[1]
        small = np.asarray(Image.fromarray(np.ascontiguousarray(arr[..., :3], dtype=np.uint8))
                           .resize((cols, 2 * rows), Image.Resampling.BOX))
        lines: list[list[Segment]] = [[]]
        for seg in halfcell.segments(small):
            if seg is halfcell.NEWLINE:
                lines.append([])
            else:
                lines[-1].append(seg)
        if len(self._underlays) >= UNDERLAYS:
            self._underlays.popitem(last=False)
        # a weak reference: its id() names this array only while it lives, and the cache keeps no thumbnail alive
        self._underlays[key] = (weakref.ref(arr), lines[:rows])
        return lines[:rows]

    # ---- the images, after each frame --------------------------------------------------------------
    def attach(self, app) -> None:
        """Paint the images after each of ``app``'s frames: its ``_display`` (Textual's one door to the
        terminal) gets the frame's output with the images appended."""
        display = app._display
        self._app = app

        def display_with_images(screen, update) -> None:
            if update is not None and callable(getattr(update, "render_segments", None)):
                extra = self.after_frame(screen, update)
                if extra:
                    render = update.render_segments
                    update.render_segments = lambda console: render(console) + extra
            display(screen, update)

        app._display = display_with_images

    def after_frame(self, screen, update) -> str:
        """The escapes painting the images whose cells ``update`` (a Textual compositor update of
        ``screen``) writes: '' when there are none. An image already on the terminal at the same cells (a
        cursor move repaints its row's line) stays: its cells are left out of a partial update instead."""
        spans = _spans(update)
        if not spans:
            return ""
        shown, kept, out = self._shown, set(), []
        partial = _cuttable(update)
        if not partial:
            shown.clear()  # a full frame writes every cell: no image outlives it
        for lst in self._lists:
            if not lst.is_attached or lst.screen is not screen or not screen.is_current:
                continue  # under a dialog, or a screen not shown: the half blocks stay
            area = lst.region
            if not any(area.y <= y < area.bottom and x1 < area.right and x2 > area.x for y, x1, x2 in spans):
                continue  # a frame elsewhere (the status bar, the inspect pane)
            for arr, rect, path in self.rects(lst):
                if not _crosses(rect, spans):
                    continue
                if partial and shown.get(rect) is arr and _leave_out(update, rect):
                    kept.add(rect)  # the same image at the same cells, not written over: nothing to send
                    continue
                escape = self._escape(arr, rect.width, rect.height, lst, path)
                if escape is not None:
                    out.append((rect, arr, move_to(rect.x, rect.y) + escape))
        for rect in [r for r in shown if r not in kept and _crosses(r, spans)]:
            del shown[rect]  # text written over it: that image is gone
        if len(out) > BURST:  # a scroll: while frames keep coming (a key held) the half blocks stay
            now = time.monotonic()
            moving, self._last_burst = now - self._last_burst < REST_S, now
            if moving:
                self._rest_then_paint()
                return ""
        for rect, arr, _ in out:
            for other in [r for r in shown if r.overlaps(rect)]:
                del shown[other]  # painted over
            shown[rect] = arr
        self.painted += len(out)
        self.bytes_sent += sum(len(escape) for _, _, escape in out)
        return "".join(escape for _, _, escape in out)

    def _rest_then_paint(self) -> None:
        """Repaint the lists REST_S after the last scroll (their images come with that frame)."""
        if self._timer is not None:
            self._timer.reset()
            return

        def rested() -> None:
            self._timer = None
            for lst in self._lists:
                if lst.is_attached:
                    lst.refresh()

        self._timer = self._app.set_timer(REST_S, rested)

    @property
    def resting(self) -> bool:
        """Images are held back until the lists rest (tests wait for it)."""
        return self._timer is not None

    def rects(self, lst) -> list[tuple]:
        """(thumbnail array, screen region, path) of each image ``lst`` shows whole and uncovered now."""
        if lst.thumbs is None or lst.thumb_h < MIN_LINES or not lst.is_mounted or not lst.rows:
            return []
        region = lst.scrollable_content_region
        covers = _in_front_of(lst)
        if region.area == 0 or covers is None:
            return []
        tw, th, scroll, cols = lst.thumb_w, lst.thumb_h, int(lst.scroll_y), lst.cols
        width = cell_width(lst, region.width) if lst.grid else 0
        rows, found = lst.rows, []
        for i in lst.visible_range():
            arr = lst.thumbs.get(rows[i].path)
            if arr is None or arr.size == 0:
                continue
            c, r = self.cells_of(arr, tw, th)
            x = (i % cols) * width + (width - tw) // 2 if lst.grid else 1  # the list's first cell: the mark
            rect = Region(region.x + x + (tw - c) // 2, region.y + lst.line_of(i) - scroll + (th - r) // 2, c, r)
            if region.contains_region(rect) and not any(rect.overlaps(other) for other in covers):
                found.append((arr, rect, rows[i].path))
        return found

    def _escape(self, arr, cols: int, rows: int, lst, path: str) -> str | None:
        """The image's escape if encoded, else None (and it is asked for: the row repaints once it is)."""
        key = (id(arr), cols, rows)
        with self._lock:
            hit = self._escapes.get(key)
            if hit is not None and hit[0] is arr:
                self._escapes.move_to_end(key)
                return hit[1]
            if key not in self._wanted:
                self._wanted[key] = (arr, cols, rows, lst, path)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True, name="inline-images")
                    self._thread.start()
                self._wake.notify()
        return None

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._wanted and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                key, (arr, cols, rows, lst, path) = self._wanted.popitem(last=True)  # the newest first
            try:
                escape = self._encode(self.protocol, arr, cols, rows, self.cell, self.tmux)
            except Exception:  # the worker pool broke: this image stays in half blocks
                continue
            with self._lock:
                self.encoded += 1
                self._escapes[key] = (arr, escape)
                self._bytes += len(escape) + arr.nbytes
                while self._bytes > CACHE_BYTES and len(self._escapes) > 1:
                    _, (old_arr, old) = self._escapes.popitem(last=False)
                    self._bytes -= len(old) + old_arr.nbytes
            thumbs = lst.thumbs
            if thumbs is not None:
                thumbs.mark_fresh(path)  # the row repaints (ThumbsReady), and this frame paints its image


def _crosses(rect, spans) -> bool:
    return any(rect.y <= y < rect.bottom and x1 < rect.right and x2 > rect.x for y, x1, x2 in spans)


def _cuttable(update) -> bool:
    """A partial update (Textual's ChopsUpdate: per line, pieces of strips by their first cell)."""
    return all(hasattr(update, name) for name in ("chops", "chop_ends", "spans"))


def _leave_out(update, rect) -> bool:
    """Take ``rect``'s cells out of ``update``'s lines, so the terminal keeps what is there (an image); False,
    with ``update`` as it was, where a line's piece does not hold them whole."""
    chops, ends = update.chops, update.chop_ends
    cuts = {}
    for y in range(rect.y, rect.bottom):
        line = chops[y] if y < len(chops) else None
        if not line:
            continue  # a line the update does not write
        for end, (x, strip) in zip(ends[y], line.items()):
            if strip is not None and x <= rect.x and rect.right <= end:
                cuts[y] = (x, end)
                break
        else:
            return False
    if not cuts:
        return True
    chops, ends = update.chops, update.chop_ends = list(chops), list(ends)  # (not the compositor's own lists)
    for y, (x0, _) in cuts.items():
        line, line_ends = {}, []
        for end, (x, strip) in zip(ends[y], chops[y].items()):
            if x != x0:
                line[x] = strip
                line_ends.append(end)
                continue
            if rect.x > x:  # the piece before the image's cells, and the one after
                line[x] = strip.crop(0, rect.x - x)
                line_ends.append(rect.x)
            if rect.right < end:
                line[rect.right] = strip.crop(rect.right - x, end - x)
                line_ends.append(end)
        chops[y], ends[y] = line, line_ends
    return True


def _spans(update) -> list[tuple[int, int, int]]:
    """The (y, x1, x2) spans of the screen a compositor update writes: all of it for a full update."""
    spans = getattr(update, "spans", None)
    if spans is not None:
        return spans
    region = getattr(update, "region", None)  # a full update (LayoutUpdate)
    if region is None:
        return []
    return [(y, region.x, region.right) for y in range(region.y, region.bottom)]


def _in_front_of(lst):
    """The screen regions of the widgets drawn over ``lst`` (a toast), or None when that cannot be told.
    Textual's compositor lists its visible widgets front to back."""
    try:
        visible = lst.screen._compositor.visible_widgets
    except Exception:
        return None
    regions, area = [], lst.region
    for widget, (region, clip) in visible.items():
        if widget is lst:
            return regions
        over = region.intersection(clip)
        if widget.parent is not lst and over.overlaps(area):  # its own scrollbars lie beside its content
            regions.append(over)
    return None  # not on screen
