"""The help screen: every key from the action table."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_tagger.ui.actions import ACTIONS, key_label

EXTRA = [
    ("up/down, pgup/pgdn, home/end", "Move in a list"),
    ("mouse click / right-click", "Select / move to the other list"),
    ("space (in the checklist)", "Tick or untick a tag for the selected image"),
    ("ctrl+p", "Command palette (themes, all actions)"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}  # the user's keys, where they changed the defaults

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 2))
        for a in ACTIONS:
            table.add_row(key_label(a, self.keymap), a.description)
        for keys, what in EXTRA:
            table.add_row(keys, what)
        with VerticalScroll(classes="dialog", id="help"):
            yield Static("tui-tagger keys   (escape, q or ? closes this)", classes="dialog-title")
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
