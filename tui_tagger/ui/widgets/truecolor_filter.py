"""Textual's ANSI-to-truecolor line filter without its work where it changes nothing.

Textual passes every line a widget draws through ``ANSIToTruecolor`` (on unless the app uses the terminal's
own ANSI colours): each segment is made anew with a style looked up in an LRU cache by (style, background).
Half-block image cells are all truecolor already, yet the 40 x 20-cell inspect image paid ~1.6 ms a repaint
for it (of ~3 ms for the whole image, in-process), each new image once more (its ~800 colour pairs overflow the
filter's cache of 1024), on the UI thread in the repaint after the cursor rests, which the next key waits for.

Here a segment whose style has no ANSI-numbered colour and no dim (what the filter leaves as it is) is
passed through as it was, after a check kept per style; others go through Textual's filter as before.
"""

from __future__ import annotations

from textual.filter import ANSIToTruecolor

_textual_apply = ANSIToTruecolor.apply
_KEPT = 1 << 16
_unchanged: dict = {}  # style -> whether the filter leaves it as it is


def _leaves(style) -> bool:
    color, bgcolor = style.color, style.bgcolor
    same = (color is None or color.triplet is not None) and (bgcolor is None or bgcolor.triplet is not None) \
        and not style.dim
    if len(_unchanged) >= _KEPT:
        _unchanged.clear()
    _unchanged[style] = same
    return same


def apply(self: ANSIToTruecolor, segments: list, background) -> list:
    """``ANSIToTruecolor.apply``: the same segments, the ones it would leave unchanged passed through."""
    unchanged = _unchanged.get
    for segment in segments:
        if segment.control is not None:
            return _textual_apply(self, segments, background)
        style = segment.style
        if style is not None:
            same = unchanged(style)  # None: not seen yet (a style the filter changes is not checked again)
            if not (_leaves(style) if same is None else same):
                return _textual_apply(self, segments, background)  # (some segment changes: Textual's own)
    return list(segments)


def install() -> None:
    ANSIToTruecolor.apply = apply


def uninstall() -> None:
    ANSIToTruecolor.apply = _textual_apply
