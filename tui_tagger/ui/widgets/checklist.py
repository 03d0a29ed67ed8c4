"""The inspect pane's tag checklist: a SelectionList whose ticks read as text.

Textual draws "▐X▌" for ticked and unticked alike (only the colour differs), which is unreadable in tmux
at 256 colours and on monochrome terminals. Here each line starts with "[x]" or "[ ]", then who set the
tag (human / model / synth / file) and the model's p(tag) where known, in fixed columns. Tag names and
sources come from files: shown through ``printable`` (a control character shows as ``\x9b``, a newline as
``\n``), as plain text, never markup.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import OptionList, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

from tui_tagger.core.text import printable

SOURCE_W = 6  # "human ", "model ", "synth ", "file  "
P_W = 5  # "0.93 "
_SHORT = {"synthetic": "synth", None: "file"}


def source_label(source: str | None) -> str:
    return printable(_SHORT.get(source, source or ""))[: SOURCE_W - 1]  # a tag file's source attribute


class TagChecklist(SelectionList[str]):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.sources: dict[str, str | None] = {}  # ticked tags of the image -> source
        self.probs: dict[str, float] = {}  # the model's p per tag, where known

    def set_info(self, sources: dict[str, str | None], probs: dict[str, float]) -> None:
        """Who set each tag and the model's p: drawn in the gutter, so no option is rebuilt."""
        if sources != self.sources or probs != self.probs:
            before = self._gutters(sources, probs)
            self.sources, self.probs = dict(sources), dict(probs)
            self._repaint_changed(before)

    def set_ticks(self, ticked) -> None:
        """The shown image's ticks (no SelectedChanged: nobody ticked anything). A cursor move changes a few of
        ~100 lines: only those are repainted (select / deselect repaint the whole list, ~2 ms a move)."""
        ticked = set(ticked)
        if ticked == set(self._selected):
            return
        before = self._gutters(ticked)
        for value in [v for v in self._selected if v not in ticked]:
            del self._selected[value]
        for value in ticked:
            self._selected.setdefault(value, None)
        self._repaint_changed(before)

    def set_prompts(self, prompts: dict[str, object]) -> None:
        """New prompts for a few options (name -> prompt) of one line each, as before: those lines are drawn
        again, not the whole list (``replace_option_prompt`` measures every option again: ~60 ms for ~100,
        on every tag change). Textual 8's option internals; elsewhere Textual's own way."""
        cache = getattr(self, "_option_render_cache", None)
        for name, prompt in prompts.items():
            index = self._values.get(name)
            if index is None:
                continue
            option = self.get_option_at_index(index)
            if cache is None or not hasattr(option, "_set_prompt"):
                self.replace_option_prompt_at_index(index, prompt)
                continue
            option._set_prompt(prompt)
            self.refresh_lines(self._values[name])
        if cache is not None:
            cache.clear()  # rendered prompts, by option: the lines on screen are rendered again as they repaint

    def refresh_lines(self, y_start: int, line_count: int = 1) -> None:
        """ScrollView's, over the content's columns only (its region runs on over the scrollbar, which the
        repaint would then draw again too)."""
        self.refresh(Region(0, y_start - self.scroll_offset.y, self.scrollable_content_region.width, line_count))

    def _gutter(self, name: str) -> tuple:
        ticked = name in self._selected
        return ticked, self.sources.get(name) if ticked else None, self.probs.get(name)

    def _gutters(self, *more) -> dict[str, tuple]:
        names = set(self._selected) | set(self.sources) | set(self.probs)
        for extra in more:
            names |= set(extra)
        return {name: self._gutter(name) for name in names}

    def _repaint_changed(self, before: dict[str, tuple]) -> None:
        for name, was in before.items():
            if name in self._values and self._gutter(name) != was:
                self.refresh_lines(self._values[name])  # one line per option (render_line's index)

    def _on_focus(self, event) -> None:
        super()._on_focus(event)
        if self.highlighted is None and self.option_count:
            self.highlighted = 0  # tabbing in shows where space will tick (else the first key only moves)

    def _get_left_gutter_width(self) -> int:
        return len("[x] ") + SOURCE_W + P_W

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)  # the prompt, without SelectionList's button
        index = self.scroll_offset.y + y
        try:
            option = self.get_option_at_index(index)
        except OptionDoesNotExist:
            return line
        name = option.value
        ticked = name in self._selected
        under = next(iter(line)).style or self.rich_style  # the prompt's first segment: its dim group label
        meta = Style(meta={"option": index})
        box = Style(bold=ticked, dim=False) + meta  # what space toggles, at full contrast
        source = source_label(self.sources.get(name)) if ticked else ""
        p = self.probs.get(name)
        dim = under + Style(dim=True) + meta
        if self.has_focus and index == self.highlighted:
            # dim text on the cursor's colour is unreadable (tmux, 256 colours: dark teal on steel blue)
            full = Style(dim=False)
            dim = under + full + meta
            line = [Segment(seg.text, (seg.style or under) + full, seg.control) for seg in line]
        return Strip([
            Segment("[x] " if ticked else "[ ] ", under + box),
            Segment(f"{source:<{SOURCE_W}}", dim),
            Segment(f"{p:.2f} " if p is not None else " " * P_W, dim),
            *line,
        ])
