"""The selected image on the whole screen (``z``): the inspect pane's image is a third of the width, a few
dozen half-block pixels of a 2k frame; here it has every cell the terminal has (160x48: 160 x 92 half-block
pixels, or the terminal's own pixels with kitty graphics, Sixel or iTerm2).

Up/Down (and Left/Right, j/k) go to the previous/next image of the list behind, whose cursor follows; escape,
``z`` or ``q`` close. The image is decoded and rendered in the decoding workers (``ui/decoding.py``), sized for
the screen, in a thread worker: only the newest request is drawn, so a held key never waits for a decode.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_tagger.core.text import printable
from tui_tagger.ui.fit import middle_ellipsis
from tui_tagger.ui.widgets.image_adapter import area_pixels, image_widget_class

HINT = "  esc close · ↑↓ previous/next"


class FullImageScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    FullImageScreen { background: $background; }
    FullImageScreen #full-title { height: 1; color: $accent; }
    FullImageScreen #full-body { height: 1fr; }
    FullImageScreen #full-image { width: auto; height: 1fr; }
    FullImageScreen #full-note { height: 1; color: $foreground 70%; }
    """
    BINDINGS = [
        Binding("escape,q,z", "close", "Close"),
        Binding("up,left,k", "step(-1)", "Previous image", show=False),
        Binding("down,right,j", "step(1)", "Next image", show=False),
    ]

    # the lists do not re-sort by themselves under this screen (ui/lists.py resort_if_idle): Up/Down step
    # through the list in the order the user saw; o still re-sorts, and an idle moment after closing
    holds_list_order = True

    def __init__(self, image_list, graphics: str, placeholders=None) -> None:
        super().__init__()
        self.image_list = image_list  # the list behind: its cursor is the image shown
        self.graphics = graphics
        self._image_cls = image_widget_class(graphics, placeholders)
        self.path: str | None = None
        self._wanted = None  # (path, settings key, pixels) last asked for

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="full-title")
            with Center(id="full-body"):
                yield (self._image_cls(id="full-image") if self._image_cls is not None
                       else Static("(graphics off: --graphics none)", id="full-image"))
            yield Static("", id="full-note")

    def on_mount(self) -> None:
        self.show_current()

    def on_resize(self, _event) -> None:
        self.show_current()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_step(self, delta: int) -> None:
        lst = self.image_list
        if lst.rows:
            lst.cursor = max(0, min(lst.cursor + delta, len(lst.rows) - 1))
        self.show_current()

    def show_current(self) -> None:
        """The title and the image of the list's cursor row (its decode asked for unless drawn already)."""
        lst = self.image_list
        row = lst.current
        title, note = self.query_one("#full-title", Static), self.query_one("#full-note", Static)
        if row is None:
            title.update(Text("no image" + HINT))
            return
        where = f"  {lst.cursor + 1}/{len(lst.rows)}"
        room = max(8, self.size.width - len(where) - len(HINT))
        title.update(Text(middle_ellipsis(row.name, room) + where + HINT))  # Text: a name is never markup
        self.path = row.path
        if row.error:
            note.update(Text("✗ " + printable(row.error), style="bold"))
            self._set_image(None)
            return
        body = self.query_one("#full-body").content_region
        settings = self.app.settings
        want = (row.path, settings.key(), area_pixels(self.graphics, (max(body.width, 4), max(body.height, 2))))
        if self._image_cls is None or want == self._wanted:
            return
        self._wanted = want
        note.update(Text("decoding…"))
        self._decode(row.path, settings, want)

    @work(thread=True, exclusive=True, group="full-image", description="full-screen image")
    def _decode(self, path: str, settings, want) -> None:
        from tui_tagger.ui import decoding
        from tui_tagger.ui.widgets import halfcell

        try:
            rgb, meta, _ = decoding.render(path, settings, want[2], False)
        except Exception as err:  # the worker pool broke twice
            rgb, meta = None, f"{path}: cannot show: {err}"
        pil = None
        if rgb is not None:
            if self.graphics == "halfcell":
                halfcell.warm(rgb)  # its cells made here, not in the UI thread's repaint
            from PIL import Image

            pil = Image.fromarray(rgb)
        self.app.call_from_thread(self._rendered, want, pil, meta)

    def _rendered(self, want, pil, meta) -> None:
        if want != self._wanted or not self.is_attached:
            return  # another image was asked for meanwhile
        note = self.query_one("#full-note", Static)
        if pil is None:
            self._set_image(None)
            note.update(Text("✗ " + printable(str(meta)), style="bold"))
            return
        self._set_image(pil, want)
        note.update("")

    def _set_image(self, pil, key=None) -> None:
        image = self.query_one("#full-image")
        if self._image_cls is not None:
            image.render_key = key
            image.image = pil
