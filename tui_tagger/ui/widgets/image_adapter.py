"""The one module that knows textual-image (a pinned, tested version range: pyproject.toml) and what each
terminal can draw: which way images are drawn (``choose_graphics``: kitty placeholders, Sixel, iTerm2 or half
blocks,
from what textual-image's probe found, the environment and, under tmux, the terminal outside it; or
``--graphics``), the image widget class for it, and the terminal's cell size in pixels.

"kitty" means kitty graphics through Unicode placeholders (ui/widgets/kitty_placeholders.py, ours): real
pixels in the list rows, the grid and the inspect pane, also under tmux. "sixel" and "iterm2" (iTerm2's inline
images): the lists and the grid draw half blocks as text and paint the images over them after each frame
(ui/widgets/inline_images.py, ours); the inspect pane is textual-image's Sixel widget (iTerm2 draws Sixel too).

textual-image re-encodes the whole image on every repaint (~20-100 ms for half-cell), and the inspect pane
repaints for unrelated reasons (a tick, the title, a theme variable); the widget made here replays what it
drew for one (image, size, ``render_key``). That reaches into the library's widget (``_image``,
``_renderable``, ``_Renderable``, ``_get_styled_size``), so it lives here alone and
tests/ui/test_image_adapter.py checks it against the installed version.
"""

from __future__ import annotations

import os
from functools import lru_cache, partial
from typing import NamedTuple

from PIL import Image as PILImage

KINDS = ("kitty", "sixel", "iterm2", "halfcell", "none")  # what choose_graphics answers
THUMB_CELL_MAX = (8, 16)  # px per cell of a list thumbnail at most (the terminal scales it to its cells)
PASSTHROUGH = "set -g allow-passthrough on"


class TmuxClient(NamedTuple):
    """The terminal outside tmux, as tmux knows it (``tmux_client``)."""
    term: str = ""  # its $TERM (client_termname): xterm-kitty, xterm-ghostty, …
    termtype: str = ""  # what it answered tmux (client_termtype, tmux >= 3.3): "kitty(0.35.2)", …
    features: str = ""  # tmux's terminal features for it (client_termfeatures): RGB, …
    passthrough: bool = False  # allow-passthrough on for this pane


class Choice(NamedTuple):
    kind: str  # one of KINDS
    problem: str | None = None  # one line for the user: why the images are not what the terminal could draw


def decide(graphics: str, probed: str, env, tmux: TmuxClient | None = None) -> Choice:
    """How images are drawn: a pure function of ``--graphics`` (auto, kitty, sixel, iterm2, halfcell, none), what the
    terminal answered textual-image's probe (``probed``: sixel, kitty, halfcell, text), the environment and
    the terminal outside tmux (``tmux``; None outside tmux).

    auto: kitty and Ghostty draw kitty's Unicode placeholders: "kitty", under tmux too when tmux passes them
    through (``allow-passthrough on``; tmux answers the probe itself, so the terminal is the tmux client's).
    Sixel where the terminal answered Sixel (foot, WezTerm, Konsole, xterm -ti vt340, mlterm, a tmux built
    with Sixel; textual-image ranks Sixel first: WezTerm and Konsole answer both and draw placeholders
    wrongly). iTerm2 (outside tmux, which would drop its images): its own inline images, which it scales to
    the cells itself. Half blocks elsewhere."""
    in_tmux = bool(env.get("TMUX"))
    placeholders = _draws_placeholders(probed, env, tmux if in_tmux else None)
    client = tmux or TmuxClient()
    blocked = in_tmux and not client.passthrough  # tmux drops the escapes that send the images
    problem = None
    if in_tmux and (graphics == "kitty" or graphics == "auto" and placeholders):
        if blocked:
            problem = (f"images: tmux passes no kitty graphics through; add `{PASSTHROUGH}` to ~/.tmux.conf"
                       + (" (half blocks until then)" if graphics == "auto" else ""))
        elif client.features and "RGB" not in client.features.split(","):
            problem = (f"images: tmux sends no 24-bit colour to this terminal (they need it); add "
                       f"`set -as terminal-features ',{client.term or 'TERM'}:RGB'` to ~/.tmux.conf")
    if graphics != "auto":
        return Choice(graphics, problem)
    if placeholders:
        return Choice("halfcell" if blocked else "kitty", problem)
    if env.get("TERM_PROGRAM") == "iTerm.app" and not in_tmux:  # it answers Sixel too
        return Choice("iterm2")
    if probed == "sixel":
        return Choice("sixel")
    return Choice("halfcell")


def _draws_placeholders(probed: str, env, tmux: TmuxClient | None) -> bool:
    """kitty or Ghostty: the terminal itself, or outside tmux (its client's $TERM or answer; the environment
    tmux was started from: $KITTY_WINDOW_ID)."""
    names = (env.get("TERM", ""), env.get("TERM_PROGRAM", ""))
    if tmux is not None:
        names += (tmux.term, tmux.termtype.split("(")[0])
        if env.get("KITTY_WINDOW_ID"):
            return True
    elif probed == "kitty" and env.get("TERM_PROGRAM") != "WarpTerminal":  # Warp: kitty graphics, no placeholders
        return True
    return any(n.lower() in ("xterm-kitty", "kitty", "xterm-ghostty", "ghostty") for n in names)


def choose_graphics(graphics: str = "auto", env=None) -> str:
    """``decide`` for this process's terminal: one of ``KINDS``."""
    return _choice(graphics, env).kind


def graphics_problem(graphics: str = "auto", env=None) -> str | None:
    """A line to show at start when the terminal could draw more than it will (tmux settings), else None."""
    return _choice(graphics, env).problem


def _choice(graphics: str, env) -> Choice:
    env = os.environ if env is None else env
    if graphics not in ("auto", "kitty") or not env.get("TMUX"):
        return decide(graphics, _probed() if graphics == "auto" else "text", env)
    return decide(graphics, _probed(), env, tmux_client())


@lru_cache(maxsize=1)
def tmux_client() -> TmuxClient:
    """The terminal outside tmux and this pane's passthrough, asked of tmux once (empty outside tmux)."""
    out = _tmux(["display-message", "-p", "#{client_termname}\t#{client_termtype}\t#{client_termfeatures}"])
    term, termtype, features = ((out or "").rstrip("\n").split("\t") + ["", "", ""])[:3]
    passthrough = (_tmux(["show-options", "-Apv", "allow-passthrough"]) or "").strip() in ("on", "all")
    return TmuxClient(term, termtype, features, passthrough)


def _probed() -> str:
    """What textual-image's probe of the terminal found: "sixel", "kitty", "halfcell" (a terminal that
    answered neither) or "text" (no terminal). The probe runs once, at its import."""
    from textual_image import renderable

    kind = renderable.Image.__module__.rsplit(".", 1)[-1]
    return {"sixel": "sixel", "tgp": "kitty", "halfcell": "halfcell"}.get(kind, "text")


def image_widget_class(graphics: str, placeholders=None):
    """The widget class for ``--graphics`` (auto, kitty, sixel, iterm2, halfcell; None for "none"; auto: as
    ``choose_graphics`` chooses). Its instances take a PIL image (``.image``) and a ``render_key`` naming
    what it shows (repaints of the same key are replays). kitty: our placeholder widget, drawing through
    ``placeholders`` (``make_placeholders``); iterm2: Sixel (iTerm2 draws it since 3.3; textual-image has no
    iTerm2 widget)."""
    graphics = choose_graphics(graphics)
    if graphics == "none":
        return None
    if graphics == "kitty":
        from tui_tagger.ui.widgets.kitty_placeholders import PlaceholderImage

        if placeholders is None:
            raise ValueError("kitty graphics need the app's placeholders (make_placeholders)")
        return partial(PlaceholderImage, placeholders)
    from textual_image import widget as tiw  # asks the terminal its cell size once, at import

    return _cached({"sixel": tiw.SixelImage, "iterm2": tiw.SixelImage, "halfcell": tiw.HalfcellImage}[graphics])


def make_placeholders(app, graphics: str = "kitty"):
    """How ``app``'s lists and grid draw thumbnails in pixels for ``graphics`` (a kind): kitty placeholders
    (kitty_placeholders.Placeholders), Sixel or iTerm2 images (``make_images``), or None (half blocks).

    kitty: escapes go out through its driver, in order with its frames; its console draws 24-bit colour (the
    colour of a placeholder cell is its image's id: tmux's $TERM would make Rich round it to 256 colours)."""
    if graphics in ("sixel", "iterm2"):
        return make_images(app, graphics)
    if graphics != "kitty":
        return None
    from rich.color import ColorSystem

    from tui_tagger.ui.widgets.kitty_placeholders import Placeholders

    app.console._color_system = ColorSystem.TRUECOLOR  # Rich has no public setter after construction

    def write(data: str) -> None:
        driver = app._driver
        if driver is not None:  # None before the app runs and after it stopped
            driver.write(data)

    return Placeholders(write, cell_pixel_size(), tmux=bool(os.environ.get("TMUX")))


def make_images(app, graphics: str):
    """Sixel or iTerm2 thumbnails for ``app``'s lists and grid (inline_images.InlineImages): painted over
    the frames Textual writes, through its driver."""
    from tui_tagger.ui.widgets.inline_images import InlineImages

    images = InlineImages(graphics, cell_pixel_size(), tmux=bool(os.environ.get("TMUX")))
    images.attach(app)
    return images


def sixel_data(image: PILImage.Image) -> str:
    """``image`` as a Sixel escape (``ESC P … q … ESC \\``), drawn at its size in pixels: textual-image's
    encoder (a private module of the pinned version; tests/ui/test_inline_images.py checks it)."""
    from textual_image._sixel import image_to_sixels

    return image_to_sixels(image)


def thumb_cell_pixels(graphics: str) -> tuple[int, int]:
    """Pixels per cell of the lists' thumbnails for ``graphics`` (a kind): half blocks draw 1 x 2; kitty
    placeholders, Sixel and iTerm2 the terminal's cell, at most THUMB_CELL_MAX (kitty and iTerm2 scale them
    up; Sixel is scaled to the cells when encoded: a larger thumbnail would cost decoding time, memory and
    bytes to send without showing more)."""
    if graphics not in ("kitty", "sixel", "iterm2"):
        return 1, 2
    cw, ch = cell_pixel_size()
    scale = min(1.0, THUMB_CELL_MAX[0] / max(cw, 1), THUMB_CELL_MAX[1] / max(ch, 1))
    return max(1, round(cw * scale)), max(2, round(ch * scale))


def probe_terminal() -> None:
    """Ask the terminal what it can draw (textual-image does on import): before Textual owns stdin.

    Under tmux the kitty query (an APC string, ``ESC _ Gi=…,a=q,… ESC \\``) becomes the pane's title
    (tmux takes APC strings as titles, as screen does): the title is put back after the probe."""
    title = _tmux_pane_title()
    import textual_image.widget  # noqa: F401

    if title is not None:
        _tmux(["select-pane", "-T", title])


def _tmux(args: list[str]) -> str | None:
    """A tmux command on this process's pane (``$TMUX_PANE``); its output, or None outside tmux
    (no ``$TMUX``) or when it fails."""
    import subprocess

    if not os.environ.get("TMUX"):
        return None
    pane = os.environ.get("TMUX_PANE")
    cmd = ["tmux", args[0], *(["-t", pane] if pane else []), *args[1:]]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=2, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _tmux_pane_title() -> str | None:
    out = _tmux(["display-message", "-p", "#{pane_title}"])
    return None if out is None else out.rstrip("\n")


def cell_pixel_size() -> tuple[int, int]:
    """(width, height) of one terminal cell in pixels, as the graphics protocols draw them."""
    from textual_image._terminal import get_cell_size

    cell = get_cell_size()
    return int(cell.width), int(cell.height)


def area_pixels(graphics: str, cells: tuple[int, int]) -> tuple[int, int]:
    """Pixels to render for an image area of ``cells`` (columns, lines) drawn with ``graphics`` (a kind): half
    blocks draw 1 x 2 per cell, the graphics protocols the terminal's cell."""
    w, h = cells
    if graphics not in ("kitty", "sixel", "iterm2"):
        return w, h * 2
    try:
        cw, ch = cell_pixel_size()
        return w * cw, h * ch
    except Exception:  # no terminal to ask
        return w * 2, h * 4


class _RenderedOnce:
    """A Rich renderable replaying the segments an image renderable produced for one (image, size)."""

    def __init__(self, widget) -> None:
        self.widget = widget

    def __rich_console__(self, console, options):
        w = self.widget
        key = (id(w._image), w.render_key, options.max_width, options.height, w._get_styled_size())
        if w._strip_cache is None or w._strip_cache[0] != key:
            if w._renderable:
                w._renderable.cleanup()
            w._renderable = w._Renderable(w._image, *w._get_styled_size())
            w._strip_cache = (key, list(_segments_of(w._renderable, w._image, console, options)))
        yield from w._strip_cache[1]


def _segments_of(renderable, image, console, options):
    """What ``renderable`` draws. textual-image's half cells come from ui/widgets/halfcell.py: the same
    segments, ~10x faster (the image scaled and converted as textual-image does, then one cached Segment per
    colour pair instead of two Colors and a Style per cell)."""
    from textual_image.renderable.halfcell import Image as Halfcell

    if type(renderable) is Halfcell and isinstance(image, PILImage.Image):
        from textual_image._terminal import get_cell_size

        from tui_tagger.ui.widgets import halfcell

        width, height = renderable._render_size.get_cell_size(options.max_width, options.max_height,
                                                               get_cell_size())
        if width > 0 and height > 0:
            import numpy as np

            return halfcell.segments(np.asarray(image.convert("RGB").resize((width, 2 * height))))
    return console.render(renderable, options)


def _cached(base):
    def render(self):
        if not self._image:
            return ""
        return _RenderedOnce(self)

    def set_image(self, value) -> None:
        # a new image in an area whose size CSS fixes (the inspect pane's), or the next image at the same
        # pixel size (the usual case: one move, one new image), takes the same cells: repaint only, no
        # screen-wide layout pass (~6-50 ms with the checklist); the first image and one after an error too
        old = self._image
        same = isinstance(value, PILImage.Image) and isinstance(old, PILImage.Image) and value.size == old.size
        if (same or not _sized_by_image(self)) and (value is None or isinstance(value, PILImage.Image)):
            if self._renderable:
                self._renderable.cleanup()
                self._renderable = None
            self._image = value
            self._image_width, self._image_height = value.size if value is not None else (0, 0)
            self.refresh()
        else:
            base.image.fset(self, value)

    def styled_size(self):
        """The image's size in cells as textual-image takes it: in an area whose size CSS fixes, the image is
        drawn at the area's height and as wide as its aspect makes it (at most the area's width), from the
        left, as in an area as wide as the image (``width: auto``): never stretched to the area."""
        width, height = base._get_styled_size(self)
        if not _sized_by_image(self) and isinstance(width, int) and isinstance(height, int):
            width = "auto"
        return width, height

    return type(f"Cached{base.__name__}", (base,), {
        "render": render, "image": property(base.image.fget, set_image), "_strip_cache": None,
        "render_key": None, "_get_styled_size": styled_size,
    }, Renderable=base._Renderable)


def _sized_by_image(widget) -> bool:
    """The widget's size follows its image (CSS width or height auto): a new image may need a layout."""
    styles = widget.styles
    return any(d is None or d.is_auto for d in (styles.width, styles.height))
