"""Kitty graphics through Unicode placeholders: images drawn as ordinary text cells, so that Textual lays them
out, scrolls and caches them like any text, and tmux keeps them in its panes.

The protocol (kitty's graphics protocol, "Unicode placeholders"; kitty and Ghostty draw it): an image is
transmitted once, outside any frame, with ``a=T,U=1,i=ID,c=COLS,r=ROWS`` (a *virtual* placement COLS x ROWS
cells; raw RGB compressed with zlib, ``f=24,o=z``: 3-9x faster to make than a PNG and smaller, measured
on thumbnails of 48-192 px; base64, in chunks of at most 4096 bytes); then every cell that shows part of
it is U+10EEEE followed by two combining diacritics (``DIACRITICS[row]``, ``DIACRITICS[col]``), written in
the image id as a 24-bit foreground colour. Under tmux each escape goes through tmux's passthrough
(``ESC P tmux; … ESC \\`` with the inner ESCs doubled; tmux needs ``allow-passthrough on``), and the cells go
through as text.

``Placeholders`` is one app's set of images on the terminal: it transmits each (thumbnail) array once, hands
out the cells that show it, and past ``LIMIT`` images deletes (``a=d``) the oldest ones that no list has on
screen (the lists' cached lines are dropped then: they may name a deleted image). ``PlaceholderImage`` is
the inspect pane's image widget: one id re-transmitted for each new image (the terminal replaces the old
one: no flicker, nothing left behind).

The escapes go to the terminal through the app's driver (``write``), in order with Textual's frames: an image
is transmitted while the line showing it is rendered, so before the frame that shows its cells.
"""

from __future__ import annotations

import base64
import os
import random
import zlib
from collections import OrderedDict

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from tui_tagger.ui.widgets.inline_codec import wrap_tmux  # one tmux passthrough for every protocol

PLACEHOLDER = "\U0010eeee"
CHUNK = 4096  # base64 bytes per escape (the protocol's limit; a multiple of 4)
LIMIT = 400  # images kept on the terminal (a screen of the smallest grid shows ~100; kitty's quota is 320 MB)

# The row / column diacritics: kitty's rowcolumn-diacritics.txt (combining class 230 marks of Unicode 6.0
# with no decomposition), as ranges; DIACRITICS[n] is row (or column) n
_RANGES = (
    (0x0305,), (0x030D, 0x030E), (0x0310,), (0x0312,), (0x033D, 0x033F), (0x0346,), (0x034A, 0x034C),
    (0x0350, 0x0352), (0x0357,), (0x035B,), (0x0363, 0x036F), (0x0483, 0x0487), (0x0592, 0x0595),
    (0x0597, 0x0599), (0x059C, 0x05A1), (0x05A8, 0x05A9), (0x05AB, 0x05AC), (0x05AF,), (0x05C4,),
    (0x0610, 0x0617), (0x0657, 0x065B), (0x065D, 0x065E), (0x06D6, 0x06DC), (0x06DF, 0x06E2), (0x06E4,),
    (0x06E7, 0x06E8), (0x06EB, 0x06EC), (0x0730,), (0x0732, 0x0733), (0x0735, 0x0736), (0x073A,), (0x073D,),
    (0x073F, 0x0741), (0x0743,), (0x0745,), (0x0747,), (0x0749, 0x074A), (0x07EB, 0x07F1), (0x07F3,),
    (0x0816, 0x0819), (0x081B, 0x0823), (0x0825, 0x0827), (0x0829, 0x082D), (0x0951,), (0x0953, 0x0954),
    (0x0F82, 0x0F83), (0x0F86, 0x0F87), (0x135D, 0x135F), (0x17DD,), (0x193A,), (0x1A17,), (0x1A75, 0x1A7C),
    (0x1B6B,), (0x1B6D, 0x1B73), (0x1CD0, 0x1CD2), (0x1CDA, 0x1CDB), (0x1CE0,), (0x1DC0, 0x1DC1),
    (0x1DC3, 0x1DC9), (0x1DCB, 0x1DCC), (0x1DD1, 0x1DE6), (0x1DFE,), (0x20D0, 0x20D1), (0x20D4, 0x20D7),
    (0x20DB, 0x20DC), (0x20E1,), (0x20E7,), (0x20E9,), (0x20F0,), (0x2CEF, 0x2CF1), (0x2DE0, 0x2DFF),
    (0xA66F,), (0xA67C, 0xA67D), (0xA6F0, 0xA6F1), (0xA8E0, 0xA8F1), (0xAAB0,), (0xAAB2, 0xAAB3),
    (0xAAB7, 0xAAB8), (0xAABE, 0xAABF), (0xAAC1,), (0xFE20, 0xFE26), (0x10A0F,), (0x10A38,),
    (0x1D185, 0x1D189), (0x1D1AA, 0x1D1AD), (0x1D242, 0x1D244),
)
DIACRITICS = "".join(chr(c) for r in _RANGES for c in range(r[0], r[-1] + 1))
MAX_CELLS = len(DIACRITICS)  # rows or columns one image can span (297)


# ---- escapes ------------------------------------------------------------------------------------
def apc(control: str, payload: str = "") -> str:
    """One graphics command: ``ESC _ G control ; payload ESC \\``."""
    return f"\x1b_G{control}{';' + payload if payload else ''}\x1b\\"


def transmit(image_id: int, image, cols: int, rows: int, tmux: bool = False) -> str:
    """The escapes that send ``image`` (a uint8 RGB array or a PIL image) and make it a virtual placement of
    ``cols`` x ``rows`` cells (replacing any image with this id); quiet (``q=2``: the terminal answers
    nothing Textual would read as keys)."""
    rgb = rgb_array(image)
    h, w = rgb.shape[:2]
    data = base64.standard_b64encode(zlib.compress(rgb.tobytes(), 1)).decode("ascii")
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [""]
    out = []
    for n, chunk in enumerate(chunks):
        more = int(n < len(chunks) - 1)
        control = (f"a=T,U=1,f=24,o=z,s={w},v={h},i={image_id},c={cols},r={rows},q=2,m={more}" if n == 0
                   else f"q=2,m={more}")
        out.append(apc(control, chunk))
    return "".join(wrap_tmux(e) for e in out) if tmux else "".join(out)


def delete(image_id: int, tmux: bool = False) -> str:
    """The escape that deletes an image, its placements and its data (``d=I``)."""
    e = apc(f"a=d,d=I,i={image_id},q=2")
    return wrap_tmux(e) if tmux else e


def cells(row: int, cols: int) -> str:
    """Row ``row`` of an image's placeholder cells, ``cols`` wide (each: U+10EEEE, row and column marks)."""
    mark = DIACRITICS[row]
    return "".join(PLACEHOLDER + mark + DIACRITICS[c] for c in range(cols))


def id_style(image_id: int) -> Style:
    """The foreground that names the image (24-bit); never dim nor reversed, which would change it."""
    return Style(color=Color.from_rgb((image_id >> 16) & 255, (image_id >> 8) & 255, image_id & 255),
                 dim=False, reverse=False)


def fit_cells(width: int, height: int, max_cols: int, max_rows: int, cell: tuple[int, int]) -> tuple[int, int]:
    """(cols, rows) of an image of ``width`` x ``height`` px fitted in ``max_cols`` x ``max_rows`` cells of
    ``cell`` px, its aspect kept (the terminal scales it to the placement)."""
    cw, ch = cell
    scale = min(max_cols * cw / max(width, 1), max_rows * ch / max(height, 1))
    cols = max(1, min(max_cols, MAX_CELLS, round(width * scale / cw)))
    rows = max(1, min(max_rows, MAX_CELLS, round(height * scale / ch)))
    return cols, rows


def rgb_array(image) -> np.ndarray:
    """A PIL image or an array as contiguous uint8 RGB (h, w, 3)."""
    if not isinstance(image, np.ndarray):
        image = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


# ---- one app's images -------------------------------------------------------------------------
class Placeholders:
    """The images this app put on the terminal. ``write`` takes escapes for the terminal (the app's driver);
    ``cell``: the terminal's cell in pixels; ``tmux``: wrap escapes for tmux (default: ``$TMUX`` is set)."""

    def __init__(self, write, cell: tuple[int, int], tmux: bool | None = None, limit: int = LIMIT) -> None:
        self.write = write
        self.cell = cell
        self.tmux = bool(os.environ.get("TMUX")) if tmux is None else tmux
        self.limit = limit
        # random start: another program's (or another pane's) images in the same terminal rarely share ids
        self._next = random.randint(1, 0xFFFFFF)
        self._images: OrderedDict[tuple, tuple[object, int]] = OrderedDict()  # key -> (array, id), oldest first
        self._styles: dict[int, Style] = {}
        self._rows: dict[tuple[int, int], str] = {}
        self._on_screen: list = []  # callables -> arrays shown now (never deleted)
        self._on_delete: list = []  # called after images were deleted (cached lines name them)
        self.transmitted = 0  # images sent (figures for benchmarks and tests)

    def new_id(self) -> int:
        image_id = self._next
        self._next = self._next % 0xFFFFFF + 1  # 1 .. 2**24 - 1: the id fits the 24-bit colour
        return image_id

    def keep(self, on_screen) -> None:
        """``on_screen()`` gives the arrays a widget shows now: they are never deleted."""
        self._on_screen.append(on_screen)

    def on_delete(self, callback) -> None:
        self._on_delete.append(callback)

    def image_id(self, arr, cols: int, rows: int) -> int:
        """The id of ``arr`` (a thumbnail) placed as ``cols`` x ``rows`` cells: transmitted on first use."""
        key = (id(arr), cols, rows)
        found = self._images.get(key)
        if found is not None:
            return found[1]
        if len(self._images) >= self.limit:
            self._delete_some()
        image_id = self.new_id()
        self.write(transmit(image_id, arr, cols, rows, self.tmux))
        self.transmitted += 1
        self._images[key] = (arr, image_id)  # the array held: its id() names no other array meanwhile
        return image_id

    def style(self, image_id: int) -> Style:
        style = self._styles.get(image_id)
        if style is None:
            if len(self._styles) > 4 * self.limit:
                self._styles.clear()
            style = self._styles[image_id] = id_style(image_id)
        return style

    def row_text(self, row: int, cols: int) -> str:
        text = self._rows.get((row, cols))
        if text is None:
            text = self._rows[(row, cols)] = cells(row, cols)
        return text

    def thumb_line(self, arr, width: int, height: int, line: int, base: Style) -> list[Segment]:
        """Line ``line`` of a thumbnail drawn in ``width`` x ``height`` cells: the image's cells centred (its
        aspect kept), the cells around it blank in ``base`` (the row's cursor or mark colour)."""
        h, w = arr.shape[:2]
        cols, rows = fit_cells(w, h, width, height, self.cell)
        top, left = (height - rows) // 2, (width - cols) // 2
        r = line - top
        if not 0 <= r < rows:
            return [Segment(" " * width, base)]
        image_id = self.image_id(arr, cols, rows)
        return [Segment(" " * left, base), Segment(self.row_text(r, cols), base + self.style(image_id)),
                Segment(" " * (width - cols - left), base)]

    def _delete_some(self) -> None:
        """Delete the oldest images no widget shows, down to 3/4 of the limit."""
        shown = {id(a) for fn in self._on_screen for a in fn() if a is not None}
        target = self.limit * 3 // 4
        gone = []
        for key, (arr, image_id) in list(self._images.items()):
            if len(self._images) <= target:
                break
            if id(arr) not in shown:
                del self._images[key]
                gone.append(image_id)
        if gone:
            self.write("".join(delete(i, self.tmux) for i in gone))
            for callback in self._on_delete:
                callback()

    def close(self) -> None:
        """Delete every image (the app ends)."""
        if self._images:
            self.write("".join(delete(i, self.tmux) for _, i in self._images.values()))
        self._images.clear()


def list_on_screen(lst):
    """The thumbnail arrays an image list shows now (``Placeholders.keep``); ``.list`` is the list."""
    def arrays():
        if lst.thumbs is None or not lst.is_mounted:
            return []
        rows = lst.rows
        return [lst.thumbs.get(rows[i].path) for i in lst.visible_range()]
    arrays.list = lst
    return arrays


# ---- the inspect pane's image ---------------------------------------------------------------------
class PlaceholderImage(Widget):
    """An image widget (as image_adapter's others: ``.image`` takes a PIL image, ``render_key`` names it)
    drawn in kitty placeholder cells: as wide as the image at the height it is given (``width: auto``)."""

    DEFAULT_CSS = "PlaceholderImage { width: auto; height: auto; }"

    def __init__(self, placeholders: Placeholders, **kw) -> None:
        super().__init__(**kw)
        self.placeholders = placeholders
        self.render_key = None
        self._image = None
        self.image_id = placeholders.new_id()  # one id, re-sent per image: the terminal replaces the old one
        self._sent = None  # (image, cols, rows) on the terminal

    @property
    def image(self):
        return self._image

    @image.setter
    def image(self, value) -> None:
        old, self._image = self._image, value
        same_size = value is not None and old is not None and value.size == old.size
        # sized by CSS (the inspect pane's area): a new image is a repaint, never a layout pass
        sized_by_image = any(d is None or d.is_auto for d in (self.styles.width, self.styles.height))
        self.refresh(layout=sized_by_image and not same_size)

    def _cells(self) -> tuple[int, int]:
        region = self.content_region
        if self._image is None or region.width <= 0 or region.height <= 0:
            return 0, 0
        return fit_cells(*self._image.size, region.width, region.height, self.placeholders.cell)

    def get_content_width(self, container, viewport) -> int:
        if self._image is None:
            return 0
        cw, ch = self.placeholders.cell
        w, h = self._image.size
        rows = container.height or MAX_CELLS
        return max(1, min(container.width, MAX_CELLS, round(rows * ch * w / (h * cw))))

    def get_content_height(self, container, viewport, width: int) -> int:
        if self._image is None:
            return 0
        cw, ch = self.placeholders.cell
        w, h = self._image.size
        return max(1, min(MAX_CELLS, round(width * cw * h / (w * ch))))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        cols, rows = self._cells()
        if not cols or y >= rows:
            return Strip.blank(width, base)
        if self._sent is None or self._sent[0] is not self._image or self._sent[1:] != (cols, rows):
            p = self.placeholders
            p.write(transmit(self.image_id, self._image, cols, rows, p.tmux))
            p.transmitted += 1
            self._sent = (self._image, cols, rows)  # the image held: compared by identity, not id()
        segs = [Segment(self.placeholders.row_text(y, cols), base + self.placeholders.style(self.image_id))]
        return Strip(segs, cols).extend_cell_length(width, base)

    def on_unmount(self) -> None:
        if self._sent is not None:
            self.placeholders.write(delete(self.image_id, self.placeholders.tmux))
            self._sent = None
