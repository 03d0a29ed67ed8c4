"""The tag picker: fuzzy search over all tags (vocabulary + tags found in the folder), grouped G1-G7,
each with its positive/negative counts in this folder."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui_tagger.core.vocabulary import GROUPS, OTHER_GROUP


def fuzzy_score(query: str, name: str) -> float | None:
    """None when the letters of ``query`` do not appear in order in ``name``; higher is better."""
    q, n = query.lower().strip(), name.lower()
    if not q:
        return 0.0
    if q in n:
        return 100.0 - n.index(q) - len(n) / 100  # substring, earlier is better
    pos, score, last = 0, 0.0, -1
    for ch in q:
        found = n.find(ch, pos)
        if found < 0:
            return None
        score += 2.0 if found == last + 1 else 1.0  # reward runs of consecutive letters
        last, pos = found, found + 1
    return score - len(n) / 100


class TagPicker(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, vocab, counts: dict[str, int], total: int, current: str = "") -> None:
        super().__init__()
        self.vocab = vocab
        self.counts = counts
        self.total = total
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tag-picker"):
            yield Static("Pick tag (type to search)", classes="dialog-title")
            yield Input(placeholder="ring, beamstop, saxs...", id="tag-search")
            yield OptionList(id="tag-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        options: list[Option | None] = []
        groups = self.vocab.by_group()
        scored = []
        for gi, (group, attrs) in enumerate(groups.items()):
            for ai, a in enumerate(attrs):
                s = fuzzy_score(text, a.name)
                if s is not None:
                    scored.append((s, gi, ai, group, a))
        if text.strip():
            scored.sort(key=lambda x: (-x[0], x[1], x[2]))  # best matches first
        last_group = None
        for _, _, _, group, a in scored:
            if not text.strip() and group != last_group:
                label = f"{group}  {GROUPS.get(group, OTHER_GROUP)}" if group in GROUPS else OTHER_GROUP
                options.append(Option(Text(label, style="bold"), disabled=True))
                last_group = group
            pos = self.counts.get(a.name, 0)
            line = Text()
            line.append(f"{a.group:<3}", style="dim")
            line.append(f" {a.name}")  # literal: never markup
            line.append(f"   +{pos} / −{self.total - pos}", style="dim")
            options.append(Option(line, id=a.name))
        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_options(options)
        first = next((i for i, o in enumerate(options) if o is not None and not o.disabled), None)
        if text.strip() or self.current not in self.vocab:
            ol.highlighted = first
        else:
            try:
                ol.highlighted = ol.get_option_index(self.vocab.canonical(self.current))
            except Exception:
                ol.highlighted = first

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.dismiss(ol.get_option_at_index(ol.highlighted).id)
        elif event.value.strip():
            self.dismiss(event.value.strip())  # a new tag: the vocabulary is open

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, delta: int) -> None:
        ol = self.query_one(OptionList)
        ol.action_cursor_down() if delta > 0 else ol.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
