"""A strip's terminal codes without the repeats: each colour and attribute is sent once where it changes.

Textual writes every segment of a line as ``ESC[<whole style>m text ESC[0m``: a thumbnail's half-block cells
as ~26 bytes each, the same style again for the next cell, and a reset between. A list key's frame was
12-15 KB (a scroll sends the list's 45 lines again), 72 % of it these codes. Through tmux (a 2-core VM,
``p`` running) the app's writes then waited for tmux to read: a pty holds ~20 KB, and a frame blocked the UI
thread for 10-30 ms (p90 18 ms, up to 105 ms) whenever tmux was a little late, the next key waiting behind
it; tmux, ``pipe-pane`` and SSH read every byte again.

Here a strip says a style once for a run of segments that share it; between two styles it sends what
changed (the foreground or the background only, where the attributes stay), or a reset with the new style
in one code where something must be turned off. A strip still starts and ends with nothing set (``ESC[0m``
at its end), so strips compose as before. What the terminal shows is the same, cell by cell
(tests/ui/test_compact_sgr.py). Strips with a link are rendered as Textual does.
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import ColorSystem
from textual.strip import SGR_STYLES, Strip

_textual_render = Strip.render


@lru_cache(maxsize=4096)
def _color_codes(color, color_system, foreground: bool) -> str:
    return ";".join(color.downgrade(color_system).get_ansi_codes(foreground))


@lru_cache(maxsize=16384)
def _codes(style, color_system) -> tuple[str, int, str | None, str | None]:
    """(the whole style's codes, as Textual's ``Strip.render_ansi`` makes them: attributes, foreground,
    background; its attribute bits; its foreground's codes; its background's)."""
    attributes = style._attributes & style._set_attributes
    sgr = [SGR_STYLES[bit] for bit in range(attributes.bit_length()) if attributes & (1 << bit)] if attributes else []
    fg = _color_codes(style._color, color_system, True) if style._color is not None else None
    bg = _color_codes(style._bgcolor, color_system, False) if style._bgcolor is not None else None
    if fg is not None:
        sgr.append(fg)
    if bg is not None:
        sgr.append(bg)
    return ";".join(sgr), attributes, fg, bg


def render(self: Strip, console) -> str:
    """``Strip.render``: the same cells, each style sent where it changes (cached on the strip, as Textual's)."""
    if self._render_cache is not None:
        return self._render_cache
    color_system = console._color_system or ColorSystem.TRUECOLOR
    out: list[str] = []
    append = out.append
    ansi_now = ""  # the codes in effect ("": nothing set)
    attrs_now, fg_now, bg_now = 0, None, None
    for text, style, _ in self._segments:
        if style is None:
            ansi = ""
        else:
            if style._link:
                return _textual_render(self, console)  # (its own escape around each segment, as Textual's)
            ansi, attrs, fg, bg = _codes(style, color_system)
        if ansi != ansi_now:
            if not ansi:
                append("\x1b[0m")
            elif not ansi_now:
                append(f"\x1b[{ansi}m")
            elif attrs_now & ~attrs or (fg is None and fg_now is not None) or (bg is None and bg_now is not None):
                append(f"\x1b[0;{ansi}m")  # something to turn off: a reset, then the style
            elif attrs != attrs_now:
                append(f"\x1b[{ansi}m")  # attributes added: the style over what is set
            else:  # the colours alone changed
                append(f"\x1b[{fg if fg != fg_now else ''}{';' if fg != fg_now and bg != bg_now else ''}"
                       f"{bg if bg != bg_now else ''}m")
            ansi_now = ansi
            if ansi:
                attrs_now, fg_now, bg_now = attrs, fg, bg
            else:
                attrs_now, fg_now, bg_now = 0, None, None
        append(text)
    if ansi_now:
        append("\x1b[0m")
    self._render_cache = "".join(out)
    return self._render_cache


def install() -> None:
    """Every strip is written this way from now on (the app's screens and any other in the process)."""
    Strip.render = render


def uninstall() -> None:
    Strip.render = _textual_render
