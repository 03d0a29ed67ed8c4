"""A virtual list of images: a Line-API ScrollView that paints only the rows on screen.

Each row is three lines (more when zoomed: ``set_geometry``): an inline false-colour thumbnail drawn as
``▀`` half blocks (foreground = upper pixel, background = lower pixel) and the name, then the tag's source
and p(tag). In the grid view (``ui/widgets/image_grid.py`` paints it) the same rows are a contact sheet. Names are drawn as
plain segments (never parsed as markup), with their controls made visible (``printable``). 100k rows cost
one list of Row objects, no widgets.
"""

from __future__ import annotations

import math

import numpy as np
from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.actions import parse as parse_action
from textual.binding import Binding
from textual.events import Click, Key
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from tui_tagger.core.text import printable
from tui_tagger.ui.fit import frame_ellipsis
from tui_tagger.ui.messages import RowMoveRequested, RowSelected
from tui_tagger.ui.sorted_rows import SortedRows
from tui_tagger.ui.thumbs import FAILED
from tui_tagger.ui.widgets.image_grid import cell_width, grid_line
from tui_tagger.ui.widgets.kitty_placeholders import list_on_screen
from tui_tagger.ui.widgets.span_repaint import line_cached, repaint_now

ROW_H = 3  # lines per row at the smallest zoom: name, source and p(tag), error
THUMB_W = 6  # cells; the thumbnail is THUMB_W x 2*ROW_H pixels (square frames fill it)
WARM_AFTER_S = 0.005  # a key's repaint written, the lines the next one needs are finished (_warm_ahead)
PREFETCH_BANDS = 2  # rows (grid: rows of cells) past the screen whose thumbnails a moving cursor asks for


def _problem(row, arr) -> str:
    """A bad row's error without the row's own path in front: the row names the file, and a real folder's
    path would fill the line and cut off what is wrong (an error naming another file, its tag file, keeps it).
    A thumbnail that failed before the file's error is known (the scan reads only the first bytes) says so."""
    error = row.problem or ""
    if not error and arr is FAILED:
        return "unreadable — select it for why"
    return error[len(row.path) + 2:] if error.startswith(f"{row.path}: ") else error


class ImageList(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "image-list--cursor",
        "image-list--cursor-blurred",
        "image-list--marked",
        "image-list--dim",
        "image-list--error",
        "image-list--placeholder",
    }
    BINDINGS = [
        Binding("up,k", "line(-1)", "Up", show=False),
        Binding("down,j", "line(1)", "Down", show=False),
        Binding("left", "sideways(-1)", "Left", show=False),  # the grid's previous / next image
        Binding("right", "sideways(1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    # geometry (set_geometry: the zoom and the grid view): a band is a row of the list, or a row of the
    # grid's cells; images are drawn thumb_w cells x thumb_h lines (thumb_w x 2*thumb_h pixels)
    row_h = ROW_H  # lines per band
    thumb_w, thumb_h = THUMB_W, ROW_H
    grid = False  # a contact sheet: ``cols`` images per band, each cell_w cells wide
    cell_w = THUMB_W + 2
    _width = None  # the content's width during a render_lines

    def __init__(self, session, thumbs=None, placeholders=None, on_select=None, **kw) -> None:
        super().__init__(**kw)
        self.session = session
        # the app's RowSelected handler, called as the cursor moves: the inspect pane's title then changes in the
        # same repaint as the cursor (a posted message reaches the app after a repaint, and Textual holds the
        # next one for its 60 Hz tick: ~17 ms more per key). None: the message is posted.
        self.on_select = on_select
        self.thumbs = thumbs  # ThumbLoader or None (no thumbnails)
        # kitty graphics (ui/widgets/kitty_placeholders.Placeholders): thumbnails as image cells, else half blocks
        self.placeholders = placeholders
        self.sorted = SortedRows()
        self.marked: set[str] = set()
        # while the lists are rebuilt in a worker (ui/lists.py): the paths of the rows moved in or out since
        self.touched: set[str] | None = None
        self._cells: dict[tuple, Segment] = {}  # half-block cells by (upper, lower, base style)
        self._boxes: dict[int, tuple] = {}  # thumbnails as packed pixels (_thumb_cells)
        self._strips: dict[tuple, Strip] = {}  # rendered row lines, by everything they show
        self._finished: dict[tuple, Strip] = {}  # the same lines finished (border, filters): render_lines
        self._component: dict[str, Style] = {}
        if placeholders is not None:
            placeholders.keep(list_on_screen(self))  # never deleted from the terminal while shown
            placeholders.on_delete(self._forget_lines)  # cached lines may name deleted images

    # ---- geometry: zoom and grid (ui/widgets/image_grid.py paints the grid) -------------------------
    def set_geometry(self, thumb_w: int, thumb_h: int, grid: bool) -> None:
        """Thumbnails of ``thumb_w`` cells x ``thumb_h`` lines; ``grid``: a contact sheet of them (a name line
        under each), else one row per image (as tall as its thumbnail, 3 lines at least). The cursor's image
        stays in view."""
        if (thumb_w, thumb_h, grid) == (self.thumb_w, self.thumb_h, self.grid):
            return
        self.thumb_w, self.thumb_h, self.grid = thumb_w, thumb_h, grid
        self.row_h = thumb_h + 1 if grid else max(ROW_H, thumb_h)
        self.cell_w = thumb_w + 2
        self._forget_lines()
        self._resized()
        if self.rows:
            self.scroll_to(y=max(0, self.line_of(self.cursor) - self.scrollable_content_region.height // 2),
                           animate=False, immediate=True)
        self.refresh()

    @property
    def cols(self) -> int:
        """Images per band: 1 in a list, as many cells as fit the width in the grid."""
        if not self.grid:
            return 1
        return max(1, (self.scrollable_content_region.width or self.size.width or 40) // self.cell_w)

    def line_of(self, index: int) -> int:
        """The first line (virtual) of the band showing image ``index``."""
        return index // self.cols * self.row_h

    def on_resize(self, _event) -> None:
        if self.grid:  # a new width: another number of cells per band
            self._forget_lines()
            self._resized()

    # ---- content ----------------------------------------------------------------------------
    @property
    def rows(self) -> list:
        return self.sorted.rows

    def set_rows(self, rows: list, key=None) -> None:
        """Replace the rows (already sorted by ``key``), keeping the cursor on the same image where it is
        still listed, on the same line of the screen where it can. Marks stay on the images still listed."""
        current, offset = self.current, self._cursor_offset()
        self.sorted = SortedRows(rows, key or self.sorted.key, presorted=True)
        if self.marked:
            self.marked = {p for p in self.marked if self.listed(p)}
        pos = self.cursor
        if current is not None:
            found = self.sorted.index(current)
            pos = found if found is not None else min(self.cursor, max(len(rows) - 1, 0))
        self._resized()
        self._place(pos, offset if current is not None and pos == self.sorted.index(current) else None)
        self.refresh()

    # ---- steady order: new p show at once, rows move when the user asks ---------------------------
    def freeze(self, rows: list) -> None:
        """These listed rows' p are about to change: they stay where they are (``resort`` moves them);
        ``settle`` once they changed."""
        self.sorted.freeze(rows)

    def settle(self, rows: list) -> None:
        self.sorted.settle(rows)

    @property
    def stale(self) -> bool:
        """Some row's p changed since the list was sorted (``resort`` would move it)."""
        return self.sorted.stale

    def resort(self) -> bool:
        """Rows whose p changed go to their sorted places; the cursor's image stays on the same line of the
        screen (the rows around it move). Marks stay on their images. True when a row moved."""
        if not self.sorted.frozen:
            return False
        current, offset = self.current, self._cursor_offset()
        moved = self.sorted.resort()
        if not moved:
            return False
        found = self.sorted.index(current) if current is not None else None
        self._place(found if found is not None else self.cursor, offset)
        self.refresh()
        return True

    def _cursor_offset(self) -> int | None:
        """The cursor's line on screen (from the list's top), or None when it is off screen."""
        if not self.rows or not self.is_mounted:
            return None
        offset = self.line_of(self.cursor) - int(self.scroll_y)
        return offset if 0 <= offset < max(self.scrollable_content_region.height, 1) else None

    def _place(self, pos: int, offset: int | None) -> None:
        """The cursor to row ``pos``, scrolled so that it shows ``offset`` lines from the top (as near as the
        list's ends allow), or just into view."""
        if offset is not None and self.rows:
            pos = max(0, min(pos, len(self.rows) - 1))
            self.scroll_to(y=max(0, self.line_of(pos) - offset), animate=False, immediate=True)
        self.cursor = pos

    def update_rows(self, gone: list, new: list) -> None:
        """Take ``gone`` rows out (those listed here) and put ``new`` ones in at their sorted places: a move
        touches only the moved rows. The cursor stays on its image, or on the row that took its place."""
        self.end_update(self.begin_update(gone), new)

    def begin_update(self, gone: list) -> tuple:
        """First half of update_rows: take rows out while their listed keys are known (a caller changing a
        row's p does so between the halves)."""
        current, cursor, changed, first = self.current, self.cursor, False, len(self.rows)
        was: dict[str, object] = {}  # path -> listed key of the rows taken out
        if self.touched is not None:
            self.touched.update(row.path for row in gone)
        for row in gone:
            k = self.sorted.frozen.get(row.path)
            i = self.sorted.remove(row)
            if i is not None:
                changed, first = True, min(first, i)
                was[row.path] = k
                if i < cursor:
                    cursor -= 1
        rows = self.sorted.rows
        anchor = rows[min(cursor, len(rows) - 1)] if rows else None
        return current, anchor, changed, first, was

    def end_update(self, state: tuple, new: list) -> None:
        current, anchor, changed, first, was = state
        if self.touched is not None:
            self.touched.update(row.path for row in new)
        for row in new:
            # a row back in the list it was in (a tick of another tag) keeps its place if it was frozen
            first = min(first, self.sorted.insert(row, was.get(row.path)))
            changed = True
        if self.marked:  # a mark goes with its image's row: off when the row left this list
            listed = {r.path for r in new}
            self.marked -= {p for p in was if p not in listed}
        if not changed:
            return
        follow = current if current is not None and self.sorted.index(current) is not None else anchor
        self._resized()
        cursor = (self.sorted.index(follow) or 0) if follow is not None else 0
        if cursor != self.cursor:
            self.cursor = cursor  # repaints the old and new cursor rows (or all, if it scrolled)
        # rows above the first change did not move: repaint from there down only
        scroll_y, height = int(self.scroll_y), self.scrollable_content_region.height
        top = max(self.line_of(first), scroll_y)
        if top < scroll_y + height:
            self.refresh_lines(top, scroll_y + height - top)

    def listed(self, path: str) -> bool:
        return path in self.session.index and self.sorted.index(self.session.row(path)) is not None

    def _resized(self) -> None:
        bands = -(-len(self.rows) // self.cols)
        new, old = Size(self.size.width or 40, bands * self.row_h), self.virtual_size
        if new == old:
            return
        view = self.container_size.height
        if self.is_mounted and min(new.height, old.height) > view > 0:
            # the scrollbar stays: skip the screen-wide layout pass that setting virtual_size costs
            # (~50-150 ms with the inspect pane's checklist); only the scrollbar's thumb changes. The width
            # does not count: nothing scrolls sideways (overflow-x: hidden), and the rows of a big folder
            # arriving after the first screen's (set while the list was not laid out yet: 40 wide) would
            # otherwise cost that pass in the middle of the user's keys
            self.set_reactive(ImageList.virtual_size, new)
            self._scroll_update(new)
        else:
            self.virtual_size = new

    @property
    def current(self):
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def selection(self) -> list[str]:
        """Marked rows in list order, or else the row under the cursor."""
        if self.marked:
            index = self.session.index
            rows = [self.session.rows[index[p]] for p in self.marked if p in index]
            return [r.path for r in sorted(rows, key=self.sorted.listed_key)]
        return [self.current.path] if self.current else []

    def toggle_mark(self) -> None:
        row = self.current
        if row is None:
            return
        self.marked.symmetric_difference_update({row.path})
        self.refresh_paths({row.path})
        self.action_cursor(1)

    def select_path(self, path: str) -> bool:
        if not self.listed(path):
            return False
        self.cursor = self.sorted.index(self.session.row(path))
        return True

    def visible_range(self) -> range:
        top = int(self.scroll_y) // self.row_h * self.cols
        bottom = ((int(self.scroll_y) + self.scrollable_content_region.height) // self.row_h + 1) * self.cols
        return range(top, min(bottom, len(self.rows)))

    def refresh_lines(self, y_start: int, line_count: int = 1) -> None:
        """ScrollView's, over the content's columns only: its region runs on over the border, the scrollbar and
        the next list's first column, which the repaint would then draw again too."""
        self.refresh(Region(0, y_start - self.scroll_offset.y, self.scrollable_content_region.width, line_count))

    def refresh_paths(self, paths) -> None:
        """Repaint only the on-screen rows of these images (a thumbnail arrived, an error was found)."""
        rows = self.rows
        for i in self.visible_range():
            if rows[i].path in paths:
                self.refresh_lines(self.line_of(i), self.row_h)

    # ---- cursor -----------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        if self.rows:
            clamped = max(0, min(new, len(self.rows) - 1))
            if clamped != new:
                self.cursor = clamped
                return
            self.scroll_to_region_of(new)  # a scroll keeps the lines still on screen (watch_scroll_y)
            shown = self.visible_range()
            for index in {old, new}:  # repaint only the two rows that changed
                if index in shown:
                    self.refresh_lines(self.line_of(index), self.row_h)
            if new != old:
                self._prefetch(shown, new > old, abs(new - old))
        else:
            self.refresh()
        msg = RowSelected(self, self.current.path if self.current else None)
        if self.on_select is not None:
            self.on_select(msg)
        else:
            self.post_message(msg)

    def _prefetch(self, shown: range, down: bool, step: int) -> None:
        """Ask for the thumbnails of the rows just off screen where the cursor is heading, as far as its move
        went (a page for PageDown): a held key scrolls them in with their thumbnails drawn in its own repaint,
        instead of one more repaint when they arrive (nearest last: the loader serves its newest requests
        first)."""
        if self.thumbs is None:
            return
        ahead = max(PREFETCH_BANDS * self.cols, min(step, len(shown)))  # (a jump: a screen's worth at most)
        rows = self.rows
        # (visible_range ends with a band past the last whole one: where the next rows start)
        first = max(shown.stop - self.cols, shown.start)
        wanted = (range(min(first + ahead, len(rows)) - 1, first - 1, -1) if down
                  else range(max(shown.start - ahead, 0), shown.start))
        get = self.thumbs.get
        for i in wanted:
            get(rows[i].path)

    # ---- scrolling: the top row is always whole (offsets at row boundaries) ----------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """ScrollView repaints every line on a scroll; the lines still on screen only moved: their finished
        strips (border, filters: ~60 us a line) move with them and only the lines scrolled in are built."""
        cache = getattr(self, "_styles_cache", None)  # Textual internals (textual 8): a widget's line cache
        if not isinstance(getattr(cache, "_cache", None), dict) or not hasattr(cache, "_dirty_lines"):
            super().watch_scroll_y(old_value, new_value)  # another Textual: its own full repaint
            return
        dirty = set(cache._dirty_lines)
        super().watch_scroll_y(old_value, new_value)  # the scrollbar, and the whole widget repainted
        dy = round(new_value) - round(old_value)
        top, height = self.content_offset.y, self.scrollable_content_region.height
        if not dy or not self.is_mounted or abs(dy) >= height:
            return
        lines = cache._cache
        content = range(top, top + height)
        moved = {y: lines[y + dy] for y in content if y + dy in content and y + dy in lines and y + dy not in dirty}
        for y in content:
            lines.pop(y, None)
        lines.update(moved)
        cache._dirty_lines = {y - dy for y in dirty if y - dy in content} | {y for y in dirty if y not in content} \
            | {y for y in content if y not in moved}

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's, drawing through a cache (ListScrollBar)."""
        if self._vertical_scrollbar is None:  # as Widget.vertical_scrollbar creates it
            bar = self._vertical_scrollbar = ListScrollBar(vertical=True, name="vertical",
                                                           thickness=self.scrollbar_size_vertical)
            bar.display = False
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    @property
    def max_scroll_y(self) -> int:
        """Rounded up to a row boundary: at the end a few blank lines, never a half row at the top."""
        return -(-super().max_scroll_y // self.row_h) * self.row_h

    def _snap(self, value: float, old: float) -> int:
        """``value`` on a row boundary, rounded in the direction of travel (a wheel notch of one line
        moves one row instead of snapping back)."""
        rows = max(0.0, min(value, self.max_scroll_y)) / self.row_h
        rows = math.ceil(rows) if value > old else math.floor(rows) if value < old else round(rows)
        return min(rows * self.row_h, self.max_scroll_y)

    def validate_scroll_y(self, value: float) -> float:
        return self._snap(value, self.scroll_y)

    def validate_scroll_target_y(self, value: float) -> float:
        return self._snap(value, self.scroll_target_y)

    def scroll_to_region_of(self, index: int) -> None:
        # (a ScrollView scrolls at once: the key's own repaint shows the scroll)
        top, height, row_h = self.line_of(index), self.scrollable_content_region.height, self.row_h
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False)
        elif top + row_h > self.scroll_y + height:
            self.scroll_to(y=top + row_h - height, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(self.cursor + delta, len(self.rows) - 1))

    def action_line(self, delta: int) -> None:
        """Up / Down: the next row of the list, the next row of cells in the grid (same column)."""
        if self.rows:
            cols = self.cols
            target = self.cursor + delta * cols
            if 0 <= target < len(self.rows) or cols == 1:
                self.action_cursor(delta * cols)
            elif delta > 0 and self.cursor // cols < (len(self.rows) - 1) // cols:
                self.cursor = len(self.rows) - 1  # the last band is short: its last image

    def action_sideways(self, delta: int) -> None:
        """Left / Right: the previous / next image in the grid (nothing in a list)."""
        if self.grid:
            self.action_cursor(delta)

    def action_page(self, direction: int) -> None:
        per_page = max(1, self.scrollable_content_region.height // self.row_h) * self.cols
        if self.thumbs is not None:
            self.thumbs.forget_queue()
        self.action_cursor(direction * per_page)

    def action_jump(self, where: int) -> None:
        if self.thumbs is not None:
            self.thumbs.forget_queue()
        self.cursor = 0 if where == 0 else max(len(self.rows) - 1, 0)

    def on_key(self, event: Key) -> None:
        """The list's own keys (BINDINGS) run here, as the binding would run them: a key the list does not
        take goes up to the screen and the app, which then look its binding up along the focus chain (the
        list's first); for a held Down that trip was ~1 ms of the UI thread's time per key. (Keys the app binds
        with priority never get here: the app runs those first.)"""
        action = _KEY_ACTIONS.get(event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            name, args = action
            getattr(self, f"action_{name}")(*args)
            repaint_now(self)
            # the lines the next key needs, a moment after the repaint: the terminal's output is written by
            # Textual's writer thread, which waits for the GIL while this thread holds it
            self.set_timer(WARM_AFTER_S, self._warm_ahead)

    def on_click(self, event: Click) -> None:
        index = int(event.y + self.scroll_y) // self.row_h * self.cols
        if self.grid:
            column = int(event.x) // cell_width(self, self.scrollable_content_region.width)
            index = index + column if column < self.cols else len(self.rows)
        if 0 <= index < len(self.rows):
            self.focus()
            self.cursor = index
            if event.button == 3:  # right-click: the seed's move
                self.post_message(RowMoveRequested(self.rows[index].path))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # ---- painting ---------------------------------------------------------------------------
    def _thumb_segments(self, row, arr, line: int, base: Style) -> list[Segment]:
        tw = self.thumb_w
        if line >= self.thumb_h:  # a zoomed row's text is 3 lines; below them, only the thumbnail
            return [Segment(" " * tw, base)]
        if arr is None or arr is FAILED or arr.size == 0:
            if row.error or arr is FAILED:
                text = " ✗ bad" if line == 0 else ""
                return [Segment(text.ljust(tw)[:tw], base + self._style("image-list--error"))]
            ph = self._style("image-list--placeholder")
            return [Segment("░" * tw if self.thumbs is not None else " " * tw, base + ph)]
        if self.placeholders is not None:  # kitty graphics: the thumbnail as image cells
            return self.placeholders.thumb_line(arr, tw, self.thumb_h, line, base)
        uppers, lowers = self._thumb_cells(arr)  # half blocks
        cells, make = self._cells, self._cell_segment
        return [cells.get((u, lo, base)) or make(u, lo, base) for u, lo in zip(uppers[line], lowers[line])]

    def _thumb_cells(self, arr) -> tuple[list, list]:
        """The thumbnail centred on its thumb_w x 2*thumb_h pixel box, as packed 0xRRGGBB ints (-1: no
        pixel there): (upper, lower) pixel rows per line of cells. Made once per image, not per cell."""
        size = (self.thumb_w, self.thumb_h)
        hit = self._boxes.get(id(arr))
        if hit is not None and hit[0] is arr and hit[1] == size:
            return hit[2]
        tw, th2 = self.thumb_w, 2 * self.thumb_h
        h, w = arr.shape[:2]
        x0, y0 = (tw - w) // 2, (th2 - h) // 2
        px = arr[..., :3].astype(np.int64)
        packed = (px[..., 0] << 16) | (px[..., 1] << 8) | px[..., 2]
        box = np.full((th2, tw), -1, np.int64)
        ys, xs, ye, xe = max(0, -y0), max(0, -x0), min(h, th2 - y0), min(w, tw - x0)
        if ye > ys and xe > xs:
            box[y0 + ys:y0 + ye, x0 + xs:x0 + xe] = packed[ys:ye, xs:xe]
        cells = (box[0::2].tolist(), box[1::2].tolist())
        if len(self._boxes) > 4000:
            self._boxes.clear()
        self._boxes[id(arr)] = (arr, size, cells)
        return cells

    def _cell_segment(self, upper: int, lower: int, base: Style) -> Segment:
        """One half-block cell: ▀ in the upper pixel's colour on the lower's, ▄ where only the lower is."""
        def color(rgb: int):
            return RichColor.from_rgb(rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF) if rgb >= 0 else None

        if upper < 0 and lower < 0:
            seg = Segment(" ", base)
        elif upper < 0:
            seg = Segment("▄", base + Style(color=color(lower)))
        else:
            seg = Segment("▀", base + Style(color=color(upper), bgcolor=color(lower)))
        if len(self._cells) > 50000:
            self._cells.clear()
        self._cells[(upper, lower, base)] = seg
        return seg

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_lines()  # a theme or focus style changed: cached lines carry the old colours
        self._component.clear()

    def _style(self, name: str) -> Style:
        """A component style, cached: resolving one costs ~0.1 ms, and a row line needs up to four."""
        style = self._component.get(name)
        if style is None:
            if name == "base" or name.startswith(("image-list--cursor", "image-list--marked")):
                style = self.rich_style if name == "base" else self.get_component_rich_style(name)
            else:
                # text styles layered on a row: their colour and weight only, so the cursor's or a mark's
                # background shows through (a component style carries the widget's background too)
                full = self.get_component_rich_style(name)
                style = Style(color=full.color, bold=full.bold, dim=full.dim, italic=full.italic)
            self._component[name] = style
        return style

    def _forget_lines(self) -> None:
        self._strips.clear()
        self._finished.clear()

    @line_cached
    def render_lines(self, crop: Region) -> list[Strip]:
        # the content's width once per repaint, not per line: scrollable_content_region looks the widget up
        # through its parents and the compositor's map each time (~1 ms a key under load, of render_line's 5)
        self._width = self.scrollable_content_region.width
        try:
            return self._finished_lines(crop)
        finally:
            self._width = None

    def _finished_lines(self, crop: Region) -> list[Strip]:
        """A row's line as Textual finishes it (its border around it, the line filters), kept by what it shows:
        Textual finishes every line it draws anew (~60 us), a line that only moved (a scroll) or came back (a
        page) too, and each new strip then misses the caches downstream (divided at the screen's cuts, turned
        into the terminal's codes: ~0.1 ms a line more). A kept line is the same strip: those caches hit."""
        cache = getattr(self, "_styles_cache", None)  # Textual internals (textual 8): a widget's line cache
        if self.grid or not isinstance(getattr(cache, "_dirty_lines", None), set):
            return super().render_lines(crop)
        width, top = self._width, self.gutter.top
        bottom = top + self.scrollable_content_region.height
        context = (self.outer_size.width, tuple(self.get_line_filters()), self.background_colors)
        finished, lines, missing = self._finished, [], []
        for y in crop.line_range:
            key = self._line_key(y - top, width)[0] if top <= y < bottom else None
            strip = finished.get((key, context)) if key is not None else None
            if strip is None:
                missing.append((len(lines), y, key))
                if key is not None:  # (the line cache's line at y may show another row now; a border's is kept)
                    cache._dirty_lines.add(y)
            lines.append(strip)
        if len(finished) > 4000:
            finished.clear()
        run: list = []
        for miss in missing + [(0, -1, None)]:  # Textual finishes each run of consecutive lines in one call
            if run and miss[1] != run[-1][1] + 1:
                strips = cache.render_widget(self, Region(0, run[0][1], self.outer_size.width, len(run)))
                for (i, _y, key), strip in zip(run, strips):
                    lines[i] = strip
                    if key is not None:
                        finished[key, context] = strip
                run = []
            run.append(miss)
        if crop.column_span != (0, self.outer_size.width):
            lines = [strip.crop(*crop.column_span) for strip in lines]
        return lines

    def _line_key(self, y: int, width: int) -> tuple:
        """(key, row, line, state, thumbnail, text) of content line ``y`` of the list (on screen): the key holds
        everything the line shows. (None, ...) for a line past the rows."""
        index, line = divmod(y + int(self.scroll_y), self.row_h)
        return self._row_key(index, line, width, self.cursor)

    def _row_key(self, index: int, line: int, width: int, cursor: int) -> tuple:
        """``_line_key`` of line ``line`` of row ``index``, the cursor on row ``cursor``."""
        if not 0 <= index < len(self.rows):
            return (None,)
        row = self.rows[index]
        marked = row.path in self.marked
        state = ((2 + self.has_focus) if index == cursor else int(marked), marked)
        arr = self.thumbs.get(row.path) if self.thumbs is not None else None
        tag = self.session.tag
        if line == 1:
            tags = self.session.tags(row)
            source = ("file" if tags[tag] is None else tags[tag]) if tag in tags else ""
            p = row.predictions.get(tag)
            text = f"{printable(source):<9}" + (f" p={p:.2f}" if p is not None else "")  # source: from the file
        else:
            text = row.name if line == 0 else printable(_problem(row, arr)) if line == 2 else ""
        return (row.path, line, state, id(arr), text, bool(row.problem), width), row, line, state, arr, text

    def _warm_ahead(self) -> None:
        """Finish now, while the user's next key is still to come, the lines a next Up or Down needs that are not
        kept: the cursor's row as it looks without the cursor, and the rows above and below with it (a held Down
        scrolls in a row never shown, as the cursor, and leaves one never shown without it: 6 new lines a key,
        ~2 ms of its repaint on 400 real frames). Textual finishes them (a line cache of their own: the list's
        is for the lines on screen)."""
        if self.grid or self.placeholders is not None or not self.rows or not self.is_attached:
            return  # (kitty: an image's placeholder cells are made only for the rows on screen)
        try:
            from textual._styles_cache import StylesCache
        except ImportError:  # another Textual
            return
        width, top, height = self.scrollable_content_region.width, self.gutter.top, self.scrollable_content_region.height
        context = (self.outer_size.width, tuple(self.get_line_filters()), self.background_colors)
        cursor, wanted = self.cursor, []
        # (the rows two away: a screen's last row is often cut, and the row under it scrolls in with the next key)
        for index, with_cursor in ((cursor, -1), (cursor + 1, cursor + 1), (cursor - 1, cursor - 1),
                                   (cursor + 2, -1), (cursor - 2, -1)):
            for line in range(self.row_h):
                key, *spec = self._row_key(index, line, width, with_cursor)
                if key is None or (key, context) in self._finished:
                    continue
                strip = self._strips.get(key)
                if strip is None:
                    strip = self._strips[key] = self._render_row_line(*spec, width)
                wanted.append((key, strip))
        if not wanted or height <= 0:
            return
        cache = self.__dict__.get("_warm_cache") or StylesCache()
        self._warm_cache = cache
        for start in range(0, len(wanted), height):
            batch = wanted[start:start + height]
            cache.clear()
            self._warming = [strip for _key, strip in batch]
            try:
                strips = cache.render_widget(self, Region(0, top, self.outer_size.width, len(batch)))
            finally:
                self._warming = None
            for (key, _strip), strip in zip(batch, strips):
                self._finished[key, context] = strip

    _warming = None  # the content lines _warm_ahead has Textual finish, in place of the list's own

    def render_line(self, y: int) -> Strip:
        if self._warming is not None:
            return self._warming[y]
        width = self._width if self._width is not None else self.scrollable_content_region.width
        if self.grid:  # (an empty list's first line: its hint; tested in this order, a list's lines cost nothing)
            index = (y + int(self.scroll_y)) // self.row_h
            return grid_line(self, index, (y + int(self.scroll_y)) % self.row_h, width) \
                if y or self.sorted.rows else self._empty_line(width)
        key, *spec = self._line_key(y, width)
        if key is None:
            return Strip.blank(width, self._style("base")) if y or self.rows else self._empty_line(width)
        # a move shifts rows on screen: repainting them is a lookup, not a rebuild of their segments
        strip = self._strips.get(key)
        if strip is None:
            strip = self._render_row_line(*spec, width)
            if len(self._strips) > 4000:
                self._strips.clear()
            self._strips[key] = strip
        return strip

    def _empty_line(self, width: int) -> Strip:
        """An empty list's first line, dim: why it is empty and what to do (a blank pane said nothing). The
        longest wording that fits the width."""
        app, tag, positive = self.app, printable(self.session.tag), self.id == "pos"
        if getattr(app, "scanning", False):
            hints = ["reading the folder…"]
        elif not self.session.rows:
            hints = ["no images in this folder"]
        elif positive and not tag:
            hints = ["no tag chosen — t picks one", "t picks a tag"]
        elif getattr(app, "filter_text", ""):
            hints = [f"no images {'with' if positive else 'without'} {tag} match the filter — / then Enter clears it",
                     "none match the filter — / then Enter clears it", "none match — / then Enter clears it",
                     "none match — / Enter clears"]
        elif positive:
            hints = [f"no images with {tag} — p predicts, m in Negative moves one here",
                     f"no images with {tag} — p predicts", "no image has this tag — p predicts",
                     "none — p predicts"]
        else:
            hints = [f"every image has {tag} — m in Positive moves one here", f"every image has {tag}",
                     "every image has this tag"]
        text = next((h for h in hints if cell_len(h) < width), hints[-1])
        base = self._style("base")
        return Strip([Segment(" " + text, base + self._style("image-list--dim"))]).crop_extend(0, width, base)

    def _render_row_line(self, row, line: int, state: tuple, arr, text: str, width: int) -> Strip:
        base = self._style("base")
        state, marked = state
        if state >= 2:
            base = base + self._style("image-list--cursor" if state == 3 else "image-list--cursor-blurred")
        elif state == 1:
            base = base + self._style("image-list--marked")
        segs = [Segment("●" if marked and line == 0 else " ", base)]
        segs += self._thumb_segments(row, arr, line, base)
        segs.append(Segment(" ", base))
        if line == 1:
            segs.append(Segment(text, base + self._style("image-list--dim")))
        elif line == 2 and text:
            segs.append(Segment(text, base + self._style("image-list--error")))
        elif line == 0:  # the name: a long one is cut so that its frame number shows (ui/fit.py)
            segs.append(Segment(frame_ellipsis(text, width - sum(seg.cell_length for seg in segs)), base))
        else:
            segs.append(Segment(text, base))
        return Strip(segs).crop_extend(0, width, base)


def _key_actions(bindings) -> dict[str, tuple[str, tuple]]:
    """Key -> (action name, arguments) of ``bindings``."""
    actions = {}
    for binding in bindings:
        _namespace, name, args = parse_action(binding.action)
        for key in binding.key.split(","):
            actions[key.strip()] = (name, args)
    return actions


_KEY_ACTIONS = _key_actions(ImageList.BINDINGS)


class ListScrollBar(ScrollBar):
    """A vertical scrollbar drawn without Rich and only when what it shows changes. Textual redraws it on every
    scroll (~1.5-3 ms: a Rich render of the whole bar, then its line cache); in a list of 100k rows a scroll by
    one row rarely moves the thumb. Its lines are what Textual's render makes (the widget's style under each of
    the bar's segments, the line filters): tests/ui/test_list_paint.py compares them."""

    _lines: tuple = (None, None)  # (what the bar shows, its lines)
    _given: tuple = (None, None)  # (what the bar was drawn from, its lines)
    _finished: tuple = (None, {})  # (the bar's style, filters, background, columns): line by segment

    def render_lines(self, crop):
        bar = self.render()
        if not self.vertical or not hasattr(bar, "virtual_size"):  # no bar drawn (transparent scrollbars)
            return super().render_lines(crop)
        width, height = self.size
        base = self.rich_style
        # what the bar shows follows from these (a scroll of a long list rarely moves its thumb: the bar's segments
        # are not made again for it, ~0.4 ms a key)
        given = (bar.virtual_size, bar.window_size, bar.position, bar.style, crop, self.size, base)
        if self._given[0] == given:
            return self._given[1]
        back = bar.style.bgcolor or RichColor.parse("#555555")
        shows = self.renderer.render_bar(height, bar.virtual_size, bar.window_size, bar.position, width, True,
                                         back, bar.style.color or RichColor.parse("bright_magenta")).segments
        key = (tuple(shows), crop, self.size, base)
        if self._lines[0] != key:
            filters, background = self.get_line_filters(), self.background_colors[1]
            # a bar has a few kinds of line (track above, thumb, track below, the thumb's ends): each is
            # finished once; a small list's thumb moves with every row, and 45 lines built anew cost ~2 ms
            finished = self._finished if self._finished[0] == (base, tuple(filters), background, crop.column_span) \
                else ((base, tuple(filters), background, crop.column_span), {})
            self._finished = finished
            made = finished[1]
            lines = []
            for seg in shows[crop.y:crop.bottom]:
                strip = made.get(seg)
                if strip is None:
                    strip = Strip([Segment(seg.text, base + seg.style)], seg.cell_length)
                    for line_filter in filters:
                        strip = strip.apply_filter(line_filter, background)
                    if crop.column_span != (0, width):
                        strip = strip.crop(*crop.column_span)
                    made[seg] = strip
                lines.append(strip)
            self._lines = (key, lines)
        self._given = (given, self._lines[1])
        return self._lines[1]
