"""Half-block pixels as Rich segments, the same segments textual-image's half-cell renderable yields
(``▀``, foreground = upper pixel, background = lower pixel; a newline after each row of cells), made ~10x
faster: one Segment per colour pair, kept and reused, where textual-image builds two Colors and a Style per
cell (~8 ms for a 40 x 20-cell inspect image, on the UI thread, each time one arrives).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from rich.color import Color
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style

_KEPT = 1 << 16  # colour pairs kept (a colour map's images reuse few)
_segments: dict[int, Segment] = {}
NEWLINE = Segment("\n")


def _triplet(rgb: int) -> Color:
    return Color.from_triplet(ColorTriplet(rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF))


def _segment(pair: int) -> Segment:
    seg = Segment("▀", Style(color=_triplet(pair >> 24), bgcolor=_triplet(pair & 0xFFFFFF)))
    if len(_segments) >= _KEPT:
        _segments.clear()
    _segments[pair] = seg
    return seg


def segments(rgb: np.ndarray) -> Iterator[Segment]:
    """``rgb`` (h, w, 3) uint8 as h // 2 lines of w half blocks (an odd last row is dropped, as textual-image
    does)."""
    h = rgb.shape[0] // 2 * 2
    px = rgb[:h, :, :3].astype(np.int64)
    packed = (px[..., 0] << 16) | (px[..., 1] << 8) | px[..., 2]
    pairs = (packed[0::2] << 24) | packed[1::2]
    get = _segments.get
    for row in pairs.tolist():
        for pair in row:
            yield get(pair) or _segment(pair)
        yield NEWLINE
