"""Small modal dialogs: a choice between buttons (quit, restore, conflicts) and a one-line prompt.

Messages are the program's own, possibly several lines: shown as ``Text`` (never markup) through
``printable(message, layout=True)``, so their newlines stay; the names in them are ``printable`` already."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tui_tagger.core.text import printable


class ButtonRow(Horizontal):
    """A dialog's buttons: Left / Right move between them (as Tab / Shift+Tab do)."""

    DEFAULT_CLASSES = "dialog-buttons"
    BINDINGS = [Binding("left", "step(-1)", "Previous button", show=False),
                Binding("right", "step(1)", "Next button", show=False)]

    def action_step(self, delta: int) -> None:
        buttons = [b for b in self.query(Button) if b.focusable]
        if not buttons:
            return
        focused = self.screen.focused
        i = buttons.index(focused) if focused in buttons else (-1 if delta > 0 else 0)
        buttons[(i + delta) % len(buttons)].focus()


class ChoiceDialog(ModalScreen[str | None]):
    """A message and buttons; dismisses with the chosen id. The first button is the default (Enter)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, message: str, choices: list[tuple[str, str]], cancel: str | None = None) -> None:
        super().__init__()
        self.message = message
        self.choices = choices  # (id, label)
        self.cancel = cancel

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            with VerticalScroll(classes="dialog-body"):
                yield Static(Text(printable(self.message, layout=True)), classes="dialog-message")
            with ButtonRow():
                for i, (cid, label) in enumerate(self.choices):
                    yield Button(label, id=f"choice-{cid}", variant="primary" if i == 0 else "default")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id.removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(self.cancel)


class PromptDialog(ModalScreen[str | None]):
    """One line of input (filter, expression); Enter accepts, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(printable(self.title_text, layout=True)), classes="dialog-message")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
