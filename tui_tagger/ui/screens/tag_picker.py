"""The tag picker: fuzzy search over all tags (vocabulary + tags found in the folder), grouped G1-G7,
each with its positive/negative counts in this folder (a big folder's counted in a worker: the picker opens
at once, the counts fill in). The options are one Line-API widget (widgets/tag_options.py: only the lines
on screen are rendered, nothing measured). Names from files are shown through ``printable``
(controls made visible) as ``Text`` (never markup)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.widgets.option_list import Option

from tui_tagger.core.text import printable
from tui_tagger.core.vocabulary import GROUPS, OTHER_GROUP
from tui_tagger.ui import decoding
from tui_tagger.ui.messages import TagsCounted
from tui_tagger.ui.widgets.tag_options import TagOptions


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


EXACT, PREFIX, WORD, SUBSTRING, FUZZY = range(5)


def match_rank(query: str, name: str) -> int | None:
    """How ``name`` matches what was typed: exact, prefix, a word's prefix ("iso" in "Ring: Isotropic"),
    substring, fuzzy (letters in order), or None. Lower ranks list first."""
    q, n = query.lower().strip(), name.lower()
    if not q or n == q:
        return EXACT
    if n.startswith(q):
        return PREFIX
    if q in n:
        words = n.replace(":", " ").replace("-", " ").replace("(", " ").split()
        return WORD if any(w.startswith(q) for w in words) else SUBSTRING
    return FUZZY if fuzzy_score(q, n) is not None else None


def rank_tags(query: str, attrs, counts: dict[str, int]) -> list:
    """Attributes matching ``query``: exact, then prefix, word-prefix, substring matches, then fuzzy ones;
    within each, the tags used most in this folder first, then the vocabulary's order."""
    ranked = []
    for order, a in enumerate(attrs):
        rank = match_rank(query, a.name)
        if rank is not None:
            fuzz = fuzzy_score(query, a.name) if rank == FUZZY else 0.0
            ranked.append((rank, -fuzz, -counts.get(a.name, 0), order, a))
    ranked.sort(key=lambda x: x[:4])
    return [x[-1] for x in ranked]


class TagPicker(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),  # (typing stays in the box; the options page)
        Binding("pageup", "page(-1)", show=False),
    ]

    def __init__(self, vocab, counts: dict[str, int] | Callable[[], dict[str, int]], total: int,
                 current: str = "") -> None:
        """``counts``: positives per tag, or what counts them (a big folder's: ~0.2 s over a million rows),
        run in this screen's worker: the picker opens at once, its counts fill in when they land."""
        super().__init__()
        self.vocab = vocab
        self.counting = counts if callable(counts) else None
        self.counts: dict[str, int] = {} if callable(counts) else counts
        self.total = total
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tag-picker"):
            yield Static(self._title(), classes="dialog-title")
            yield Input(placeholder="ring, beamstop, saxs...", id="tag-search")
            yield TagOptions(id="tag-options")

    def _title(self) -> str:
        return "Pick tag (type to search)" + ("  · counting images…" if self.counting else "")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()
        if self.counting is not None:  # after the first paint: that shows sooner without a worker beside it
            self.call_after_refresh(self._count, self.counting)

    @work(thread=True, exclusive=True, group="tag-counts", description="tag counts")
    def _count(self, counting) -> None:
        decoding.yield_to_ui()  # this thread at a lower priority: the keys first
        for _ in range(3):  # the UI thread changes rows meanwhile (a scan, a follow): a pass that trips on it again
            try:
                counts = counting()
                break
            except (RuntimeError, KeyError):
                continue
        else:
            counts = None
        self.post_message(TagsCounted(counts))

    def on_tags_counted(self, msg: TagsCounted) -> None:
        self.counting = None
        self.query_one(".dialog-title", Static).update(self._title())
        if msg.counts is None:
            return  # no counts: the names alone, as while counting
        self.counts = msg.counts
        ol = self.query_one(TagOptions)
        at = ol.highlighted
        option = ol.get_option_at_index(at).id if at is not None else None
        self._fill(self.query_one(Input).value)  # the counts shown, and ranked by when typing
        if option is not None and not self.query_one(Input).value.strip():
            ol.highlighted = ol.get_option_index(option)  # the user's choice while counting stays

    def _fill(self, text: str) -> None:
        options: list[Option] = []
        groups = self.vocab.by_group()
        if text.strip():
            shown = [(a.group, a) for a in rank_tags(text, [a for attrs in groups.values() for a in attrs],
                                                     self.counts)]
        else:
            shown = [(group, a) for group, attrs in groups.items() for a in attrs]
        # counts in one column: names padded to the longest shown (capped, so one long name can't push it off)
        width = min(max((len(printable(a.name)) for _, a in shown), default=0), 40)
        digits = len(str(self.total))
        last_group = None
        for group, a in shown:
            if not text.strip() and group != last_group:
                label = f"{group}  {GROUPS.get(group, OTHER_GROUP)}" if group in GROUPS else OTHER_GROUP
                options.append(Option(Text(label, style="bold"), disabled=True))
                last_group = group
            pos = self.counts.get(a.name, 0)
            line = Text()
            line.append(f"{a.group:<3}", style="dim")
            line.append(f" {printable(a.name):<{width}}")  # controls made visible; Text: never markup
            if self.counting is None:
                line.append(f"  +{pos:>{digits}} −{self.total - pos:>{digits}}", style="dim")
            options.append(Option(line, id=a.name))
        at = next((i for i, o in enumerate(options) if not o.disabled), None)
        if not text.strip() and self.current in self.vocab:
            at = next((i for i, o in enumerate(options) if o.id == self.vocab.canonical(self.current)), at)
        self.query_one(TagOptions).set_options(options, at)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one(TagOptions)
        if ol.highlighted is not None:
            self.dismiss(ol.get_option_at_index(ol.highlighted).id)
        elif event.value.strip():
            self.dismiss(event.value.strip())  # a new tag: the vocabulary is open

    def on_tag_options_option_selected(self, event: TagOptions.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, delta: int) -> None:
        ol = self.query_one(TagOptions)
        ol.action_cursor_down() if delta > 0 else ol.action_cursor_up()

    def action_page(self, delta: int) -> None:
        ol = self.query_one(TagOptions)
        ol.action_page_down() if delta > 0 else ol.action_page_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
