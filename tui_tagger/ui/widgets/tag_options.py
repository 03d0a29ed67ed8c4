"""The tag picker's options: a Line-API ScrollView that renders only the lines on screen, one line per option.

Textual's OptionList measures every option (each a wrapped Visual) before its first paint and again at each
change (~100 tags and their groups, at each letter typed too). Here an option is one line, cut at the
width; nothing is measured. Its keys, its highlight (disabled options, the group headers, are skipped) and
``OptionSelected`` are OptionList's, and so are the names of what the picker and its tests use
(``highlighted``, ``option_count``, ``get_option_at_index``, ``get_option_index``, ``action_cursor_down`` ...).
Prompts are ``Text`` (never markup).
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets.option_list import Option


class TagOptions(ScrollView, can_focus=True):
    """One line per ``Option``; the highlighted one in the block cursor's colours."""

    BINDINGS = [
        Binding("down", "cursor_down", "Down", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("pagedown", "page_down", "Page Down", show=False),
        Binding("pageup", "page_up", "Page Up", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]
    COMPONENT_CLASSES = {"tag-options--highlighted", "tag-options--disabled"}
    # OptionList's look (its colours, border and padding)
    DEFAULT_CSS = """
    TagOptions {
        height: auto;
        max-height: 100%;
        color: $foreground;
        overflow-x: hidden;
        border: tall $border-blurred;
        padding: 0 1;
        background: $surface;
        & > .tag-options--highlighted {
            color: $foreground;
            background: $block-cursor-blurred-background;
        }
        &:focus {
            border: tall $border;
            background-tint: $foreground 5%;
            & > .tag-options--highlighted {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
                text-style: $block-cursor-text-style;
            }
        }
        & > .tag-options--disabled {
            color: $text-disabled;
        }
    }
    """

    highlighted: reactive[int | None] = reactive(None, repaint=False, always_update=True)

    class OptionSelected(Message):
        """An option was chosen (Enter, or a click)."""

        def __init__(self, option_list: TagOptions, option: Option, index: int) -> None:
            super().__init__()
            self.option_list, self.option, self.option_index = option_list, option, index

        @property
        def control(self) -> TagOptions:
            return self.option_list

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._options: list[Option] = []
        self._index: dict[str, int] = {}  # option id -> index
        self._strips: dict[tuple, Strip] = {}  # rendered lines, by (index, highlighted, width)

    # ---- content ----------------------------------------------------------------------------------
    def set_options(self, options: list[Option], highlighted: int | None = None) -> None:
        """Show these options (one line each) with ``highlighted`` highlighted, in view."""
        self._options = list(options)
        self._index = {o.id: i for i, o in enumerate(self._options) if o.id is not None}
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._options))
        self.set_reactive(TagOptions.highlighted, None)
        self.highlighted = highlighted
        self.refresh()

    @property
    def options(self) -> list[Option]:
        return self._options

    @property
    def option_count(self) -> int:
        return len(self._options)

    def get_option_at_index(self, index: int) -> Option:
        return self._options[index]

    def get_option_index(self, option_id: str) -> int:
        """The index of the option of this id (KeyError: none)."""
        return self._index[option_id]

    # ---- the highlight ----------------------------------------------------------------------------
    def validate_highlighted(self, highlighted: int | None) -> int | None:
        if highlighted is None or not self._options:
            return None
        return min(max(highlighted, 0), len(self._options) - 1)

    def watch_highlighted(self, old: int | None, new: int | None) -> None:
        for index in {old, new} - {None}:
            self._refresh_option(index)
        self.scroll_to_highlight()

    def scroll_to_highlight(self) -> None:
        if self.highlighted is None or not self.is_mounted or not self.scrollable_content_region.height:
            return
        self.scroll_to_region(Region(0, self.highlighted, 1, 1), animate=False, force=True, immediate=True)

    def on_resize(self, _event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._options))
        self.scroll_to_highlight()

    def _refresh_option(self, index: int) -> None:
        y = index - self.scroll_offset.y
        if 0 <= y < self.scrollable_content_region.height:
            self.refresh(Region(0, y, self.scrollable_content_region.width, 1))

    def _enabled(self, start: int, step: int, wrap: bool = True) -> int | None:
        """The first enabled option from ``start`` on in steps of ``step`` (past either end: round again when
        ``wrap``, else back from the end towards ``start``)."""
        n = len(self._options)
        if not n:
            return None
        if wrap:
            for k in range(n):
                i = (start + k * step) % n
                if not self._options[i].disabled:
                    return i
            return None
        start = min(max(start, 0), n - 1)
        for i in [*range(start, n if step > 0 else -1, step), *range(start, -1 if step > 0 else n, -step)]:
            if not self._options[i].disabled:
                return i
        return None

    def action_cursor_down(self) -> None:
        at = self.highlighted
        self.highlighted = self._enabled(0 if at is None else at + 1, 1)

    def action_cursor_up(self) -> None:
        at = self.highlighted
        self.highlighted = self._enabled(len(self._options) - 1 if at is None else at - 1, -1)

    def action_first(self) -> None:
        self.highlighted = self._enabled(0, 1, wrap=False)

    def action_last(self) -> None:
        self.highlighted = self._enabled(len(self._options) - 1, -1, wrap=False)

    def action_page_down(self) -> None:
        page = max(1, self.scrollable_content_region.height)
        self.highlighted = self._enabled((self.highlighted or 0) + page, 1, wrap=False)

    def action_page_up(self) -> None:
        page = max(1, self.scrollable_content_region.height)
        self.highlighted = self._enabled((self.highlighted or 0) - page, -1, wrap=False)

    def action_select(self) -> None:
        at = self.highlighted
        if at is not None and not self._options[at].disabled:
            self.post_message(self.OptionSelected(self, self._options[at], at))

    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("option")
        if index is None or not 0 <= index < len(self._options) or self._options[index].disabled:
            return
        event.stop()
        self.highlighted = index
        self.action_select()

    # ---- painting ---------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if not 0 <= index < len(self._options):
            return Strip.blank(width, self.rich_style)
        key = (index, index == self.highlighted, width)
        strip = self._strips.get(key)
        if strip is None:
            self._strips[key] = strip = self._render_option(index, width)
        return strip

    def _render_option(self, index: int, width: int) -> Strip:
        option = self._options[index]
        if option.disabled:
            base = self.get_component_rich_style("tag-options--disabled")
        elif index == self.highlighted:
            base = self.get_component_rich_style("tag-options--highlighted")
        else:
            base = self.rich_style
        prompt = option.prompt if isinstance(option.prompt, Text) else Text(str(option.prompt))
        segments = Segment.apply_style(prompt.render(self.app.console), base)
        return Strip(segments).crop_extend(0, width, base).apply_meta({"option": index})
