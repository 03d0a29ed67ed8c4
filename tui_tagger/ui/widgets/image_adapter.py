"""The one module that knows textual-image (a pinned, tested version range: pyproject.toml): which way the
terminal draws images (``choose_graphics``: kitty, Sixel or half blocks, from what textual-image's probe
found, or ``--graphics``), the image widget class for it, and the terminal's cell size in pixels.

textual-image re-encodes the whole image on every repaint (~20-100 ms for half-cell), and the inspect pane
repaints for unrelated reasons (a tick, the title, a theme variable); the widget made here replays what it
drew for one (image, size, ``render_key``). That reaches into the library's widget (``_image``,
``_renderable``, ``_Renderable``, ``_get_styled_size``), so it lives here alone and
tests/ui/test_image_adapter.py checks it against the installed version.
"""

from __future__ import annotations

from PIL import Image as PILImage


KINDS = ("kitty", "sixel", "halfcell", "none")  # what choose_graphics answers


def choose_graphics(graphics: str = "auto", env=None) -> str:
    """How images are drawn for ``--graphics`` (auto, kitty, sixel, halfcell, none): one of ``KINDS``.

    auto: what the terminal answered textual-image's probe (``probe_terminal``), Sixel before kitty as
    textual-image ranks them (WezTerm and Konsole answer both and draw kitty's Unicode placeholders wrongly;
    kitty has no Sixel): kitty graphics in kitty (Unicode placeholders), Sixel in foot, WezTerm, Konsole,
    xterm -ti vt340, mlterm, and tmux built with Sixel. iTerm2 (``$TERM_PROGRAM`` iTerm.app) draws Sixel
    since 3.3 whether or not it answers (textual-image has no iTerm2 protocol). Elsewhere, and under tmux
    otherwise (it passes neither protocol through to the terminal outside), half blocks."""
    if graphics != "auto":
        return graphics
    import os

    env = os.environ if env is None else env
    found = _probed()
    if found in ("sixel", "kitty"):
        return found
    if env.get("TERM_PROGRAM") == "iTerm.app" and not env.get("TMUX"):
        return "sixel"
    return "halfcell"


def _probed() -> str:
    """What textual-image's probe of the terminal found: "sixel", "kitty", "halfcell" (a terminal that
    answered neither) or "text" (no terminal). The probe runs once, at its import."""
    from textual_image import renderable

    kind = renderable.Image.__module__.rsplit(".", 1)[-1]
    return {"sixel": "sixel", "tgp": "kitty", "halfcell": "halfcell"}.get(kind, "text")


def image_widget_class(graphics: str):
    """The widget class for ``--graphics`` (auto, kitty, sixel, halfcell; None for "none"; auto: as
    ``choose_graphics`` chooses). Its instances take a PIL image (``.image``) and a ``render_key`` naming
    what it shows (repaints of the same key are replays)."""
    graphics = choose_graphics(graphics)
    if graphics == "none":
        return None
    from textual_image import widget as tiw  # asks the terminal its cell size once, at import

    base = {
        "kitty": tiw.TGPImage,
        "sixel": tiw.SixelImage,
        "halfcell": tiw.HalfcellImage,
    }[graphics]
    return _cached(base)


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
    import os
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
            w._strip_cache = (key, list(console.render(w._renderable, options)))
        yield from w._strip_cache[1]


def _cached(base):
    def render(self):
        if not self._image:
            return ""
        return _RenderedOnce(self)

    def set_image(self, value) -> None:
        # the next image at the same pixel size (the usual case: one move, one new image) takes the same
        # cells: repaint only, no screen-wide layout pass (~50 ms with the checklist)
        old = self._image
        if isinstance(value, PILImage.Image) and isinstance(old, PILImage.Image) and value.size == old.size:
            self._image = value
            self.refresh()
        else:
            base.image.fset(self, value)

    return type(f"Cached{base.__name__}", (base,), {
        "render": render, "image": property(base.image.fget, set_image), "_strip_cache": None,
        "render_key": None,
    }, Renderable=base._Renderable)
