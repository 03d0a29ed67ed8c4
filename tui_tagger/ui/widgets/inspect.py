"""The inspect pane: the selected image large, its metadata or error, and a checklist of all tags."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual.widgets.selection_list import Selection

from tui_tagger.core.text import printable
from tui_tagger.core.vocabulary import GROUPS
from tui_tagger.ui.fit import middle_ellipsis
from tui_tagger.ui.messages import InspectResized
from tui_tagger.ui.widgets.checklist import TagChecklist
from tui_tagger.ui.widgets.image_adapter import area_pixels, choose_graphics, image_widget_class


class InspectPane(Vertical):
    def __init__(self, graphics: str = "auto", placeholders=None, **kw) -> None:
        super().__init__(**kw)
        self.graphics = choose_graphics(graphics)  # kitty, sixel, halfcell or none: what is drawn
        self._image_cls = image_widget_class(self.graphics, placeholders)  # kitty: drawn through placeholders
        self._filling = False
        self.path: str | None = None
        self.shown_key = None  # (path, settings key, pixel size) of the image drawn now
        self._details = None  # while only the title follows a moving cursor: fills the rest (show_title)
        self._tag_problem: str | None = None  # the shown row's tag file problem (show_row)

    def compose(self) -> ComposeResult:
        # kept as attributes: a query per cursor move walks the pane's widgets each time
        self._title_line = InspectTitle(id="inspect-title")
        self._image_area = (self._image_cls(id="inspect-image") if self._image_cls is not None
                       else Static("(graphics off)", id="inspect-image"))
        if self._image_cls is None:
            self._image_area.styles.width = "auto"  # words, no image to arrive: as wide as they are
        self._meta_text = Static("", id="inspect-meta")
        self.checklist = TagChecklist(id="checklist")
        yield from (self._title_line, self._image_area, self._meta_text, self.checklist)

    def on_resize(self, event) -> None:
        # the image was rendered for the old size (or for none, while the pane was hidden): ask again
        if self.path is not None and event.size.width > 0 and event.size.height > 0:
            self.post_message(InspectResized())

    def _image_widget(self):
        """The image area, or None while the pane is being torn down (a late worker result at quit)."""
        image = getattr(self, "_image_area", None)
        return image if image is not None and image.is_attached else None

    def image_cells(self) -> tuple[int, int]:
        widget = self._image_widget()
        if widget is None:
            return 4, 2
        region = widget.content_region
        return max(region.width, 4), max(region.height, 2)

    def pixel_size(self) -> tuple[int, int]:
        """Pixels to render for the image area: half-cell draws 1x2 px per cell, graphics protocols more."""
        return area_pixels(self.graphics if self._image_cls is not None else "none", self.image_cells())

    def show_title(self, row, details) -> None:
        """Only the title follows ``row`` for now (a moving cursor); ``details()`` fills the rest of the pane
        for it (``show_details``: when the cursor rests, or at once when a key is about to go to the pane)."""
        self.path = row.path
        self._title_line.show(middle_ellipsis(row.name, self.content_region.width or 200))
        self._details = details

    def show_details(self) -> None:
        details, self._details = self._details, None
        if details is not None:
            details()

    def on_descendant_focus(self, _event) -> None:
        self.show_details()  # the checklist takes keys: it shows the title's image first

    def show_row(self, row, tags: dict, vocab, session_tag: str) -> None:
        self._details = None
        self.path = row.path if row else None
        self._tag_problem = row.tag_error if row else None  # shown above the image's metadata
        if row is None:
            self._title_line.show("no image", bold=False)
        else:
            # printable(rel), literal; a long one cut in the middle (its end is the frame number)
            self._title_line.show(middle_ellipsis(row.name, self.content_region.width or 200))
        self._fill_checklist(tags if row else {}, vocab, session_tag)
        self.update_predictions(row)
        if row is None:  # an empty list (a filter that matches nothing): no image of another row stays
            if self._image_cls is not None:
                self._image_area.image = None
            self.shown_key = None
            self._meta_text.update("", layout=False)
            self.set_class(False, "-error")
        elif row.error:
            self.show_error(row.problem)
        else:
            self.set_class(False, "-error")  # a no-op when unchanged: a class change restyles the pane
            if self._tag_problem:  # the image is fine: it follows
                self._meta_text.update(self._meta(None), layout=False)

    def update_predictions(self, row) -> None:
        """The model's p per tag for the shown image (predictions arrive while it is shown)."""
        if self._details is not None:
            return  # the checklist still shows an earlier image: the details to come read the p
        if row is not None and row.path == self.path:
            self.checklist.set_info(self.checklist.sources, row.predictions)
        elif row is None:
            self.checklist.set_info({}, {})

    def _fill_checklist(self, tags: dict, vocab, session_tag: str) -> None:
        checklist = self.checklist
        checklist.set_info(tags, checklist.probs)
        key = (len(vocab), session_tag)
        was = getattr(self, "_checklist_key", None)
        if key == was or (was is not None and key[0] == was[0]):
            # same options: only the ticks change (rebuilding ~100 options per cursor move is slow), and on a
            # new tag the bold one: two prompts
            self._filling = True
            if key != was:
                self._checklist_key = key
                groups = {a.name: group for group, attrs in vocab.by_group().items() for a in attrs}
                checklist.set_prompts({name: _label(groups[name], name, name == session_tag)
                                       for name in (was[1], session_tag) if name in groups})
            checklist.set_ticks(tags)
            self._filling = False
            return
        self._checklist_key = key
        self._filling = True
        highlighted = checklist.highlighted
        checklist.clear_options()
        items = [Selection(_label(group, a.name, a.name == session_tag), a.name, a.name in tags)
                 for group, attrs in vocab.by_group().items() for a in attrs]
        checklist.add_options(items)
        if highlighted is not None and highlighted < len(items):
            checklist.highlighted = highlighted
        self._filling = False

    def show_image(self, pil_image, meta: dict, key=None) -> None:
        """Show a pre-sized image; ``key`` (path, settings, size) names what it was rendered from."""
        widget = self._image_widget()
        if widget is None:
            return
        if self._image_cls is not None:
            # textual-image cannot scale into a hidden (0-wide) area: the image comes back when shown
            # (the pane's size: the image widget is as wide as its image, 0 until it has one)
            visible = self.size.width > 0 and widget.size.height > 0
            widget.render_key = key
            widget.image = pil_image if visible else None
            self.shown_key = key if visible else None
        self._meta_text.update(self._meta(meta), layout=False)

    def _meta(self, meta: dict | None) -> Text:
        """The line under the image: its tag file's problem (a file's text: literal), then its metadata."""
        text = Text(_format_meta(meta) if meta else "")
        if self._tag_problem:
            text = Text.assemble(("✗ " + printable(self._tag_problem), "bold"), "  " if meta else "", text)
        return text

    def show_error(self, message: str) -> None:
        widget = self._image_widget()
        if widget is None:
            return
        if self._image_cls is not None:
            widget.image = None
        self.shown_key = None
        self._meta_text.update(Text("✗ " + printable(message), style="bold"), layout=False)
        self.set_class(True, "-error")


class InspectTitle(Widget):
    """The inspect pane's title: the image's name, one line of plain text (never markup), drawn as one strip.
    A Static's update renders its content again through Textual's content pipeline (~0.5 ms a cursor move)."""

    DEFAULT_CSS = "InspectTitle { height: 1; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._shown = ("", False)  # (text, bold)
        self._line: tuple = (None, None)  # (what it shows, its finished strip)
        self._styles: tuple | None = None  # (rich style, background): a refresh drops Textual's copy

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line, self._styles = (None, None), None  # a theme or style change: the old colours go

    def show(self, text: str, bold: bool = True) -> None:
        if (text, bold) != self._shown:
            self._shown = (text, bold)
            self.refresh()

    def render(self) -> Text:
        """The title as Text (what the line shows)."""
        text, bold = self._shown
        return Text(text, style="bold" if bold else "")

    def render_lines(self, crop: Region) -> list[Strip]:
        """The line finished here, as Textual's line cache would finish it (the app's line filters; no
        border or padding to draw): Widget.render_lines gathers the widget's styles each time (~0.2 ms a key)."""
        filters = self.get_line_filters()
        key = (self._shown, self.size, tuple(filters))
        if self._line[0] != key:
            strip, background = self.render_line(0), self._style_pair()[1]
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            self._line = (key, strip)
        line = self._line[1]
        if crop.column_span != (0, self.size.width):
            line = line.crop(*crop.column_span)
        return [line if y == 0 else Strip.blank(crop.width) for y in crop.line_range]

    def _style_pair(self) -> tuple:
        if self._styles is None:
            self._styles = (self.rich_style, self.background_colors[1])
        return self._styles

    def render_line(self, y: int) -> Strip:
        # as a Static draws it: the text's offset for mouse selection, the rest of the line in the background
        base, width = self._style_pair()[0], self.size.width
        pad = Style.from_color(None, base.bgcolor)
        text, bold = self._shown
        if y or not text:
            return Strip.blank(width, pad)
        style = base + Style(bold=bold or None) + Style.from_meta({"offset": (0, 0)})
        return Strip([Segment(text, style)]).crop_extend(0, width, pad)


def _label(group: str, name: str, bold: bool) -> Text:
    """A checklist option's prompt: the group, then the tag's name (bold: the lists' tag)."""
    label = Text()
    label.append(f"{group if group in GROUPS else '--':<3}", style="dim")
    # a tag name from a file: controls made visible, and as Text never markup
    label.append(f" {printable(name)}", style="bold" if bold else "")
    return label


def _format_meta(meta: dict) -> str:
    keep = []
    for k, v in meta.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        text = f"{printable(str(k))}: {printable(str(v))}"  # keys and values from the file's header
        keep.append(text[:60])
    return "  ".join(keep[:12])
