"""The predict / train options dialog: every option of the shell command with its default, a Save that
writes the same TOML the command's ``--config`` reads, and Run."""

from __future__ import annotations

from pathlib import Path

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Button, Checkbox, Input, Label, Static

from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable
from tui_tagger.ui import run_options
from tui_tagger.ui.run_options import Option
from tui_tagger.ui.screens.dialogs import ButtonRow


class OptionBox(Checkbox):
    """A checkbox whose off state is an empty box: Textual draws an X both ways, off in a dark colour that in
    256 colours (tmux) reads as a dark X next to the on one's green X."""

    def render(self):
        self.BUTTON_INNER = "X" if self.value else " "
        return super().render()


class OptionInput(Input):
    """A field that shows it is cut: a value wider than the box (a long model path, scrolled to its end)
    draws a leading '…', and the whole value is its tooltip. The value itself stays whole."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if y == 0 and self.value and self.scroll_offset.x > 0 and strip.cell_length > 1:
            first = next((seg.style for seg in strip if seg.text), None)
            strip = Strip.join([Strip([Segment("…", first)], 1), strip.crop(1, strip.cell_length)])
        return strip

    def watch_value(self, value: str) -> None:
        self.tooltip = Text(printable(value)) if value else None


class RunDialog(ModalScreen[tuple[str, dict] | None]):
    """Dismisses with ("run" | "save", typed values), or None (Escape / Cancel). Save stays open only when
    the values do not parse (the error shows under the fields)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, kind: str, title: str, options: list[Option], config_file: Path, run_label: str) -> None:
        super().__init__()
        self.kind = kind
        self.title_text = title
        self.options = options
        self.config_file = config_file
        self.run_label = run_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog run-dialog"):
            # the folder's name is the user's: controls made visible (an ESC in it would reach the terminal)
            yield Static(Text(printable(self.title_text)), classes="dialog-message")
            with Vertical(classes="run-fields"):  # the dialog scrolls, its buttons stay (app.tcss)
                for o in self.options:
                    with Horizontal(classes="run-field"):
                        yield Label(Text(o.label), classes="run-label")
                        if o.kind is bool:
                            yield OptionBox("", bool(o.default), id=f"opt-{o.key}")
                        else:
                            yield OptionInput(run_options.as_text(o.default), placeholder=o.hint, id=f"opt-{o.key}")
            # not "saved": nothing is until Run or Save config (then a notice says where it went)
            yield Static(Text(printable(f"{self.run_label} and Save config write {self.config_file} (the config "
                                        "folder, not the image folder) · then from the shell: "
                                        + run_options.shell_command(self.kind, self.config_file))),
                         classes="run-shell")
            yield Static("", id="run-error", classes="run-error")
            with ButtonRow():
                yield Button(self.run_label, id="run", variant="primary")
                yield Button("Save config", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        # predict is cheap and stops with p: Enter runs it; training runs for minutes and replaces the default
        # model: the dialog opens on its first field, so an Enter typed after T does not start it unseen
        if self.kind == "train":
            self.query_one(f"#opt-{self.options[0].key}").focus()
        else:
            self.query_one("#run", Button).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Textual scrolls a focused widget into view only when it is off the dialog, not when it is under
        # the buttons docked at the dialog's bottom (80x24: the last fields are): scroll it above them
        if event.widget.parent is not None and event.widget.parent.has_class("run-field"):
            self.query_one(".run-dialog").scroll_to_widget(event.widget, animate=False)

    def values(self) -> dict:
        """The typed values of the fields; raises TaggerError naming a bad one."""
        texts = {}
        for o in self.options:
            widget = self.query_one(f"#opt-{o.key}")
            texts[o.key] = widget.value
        return run_options.parse(self.options, texts)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter in a field goes to the next one (then to the Run button): it never starts a run unseen
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._finish(event.button.id)

    def _finish(self, action: str) -> None:
        try:
            values = self.values()
        except TaggerError as err:
            self.query_one("#run-error", Static).update(Text(printable(str(err))))
            return
        self.dismiss((action, values))

    def action_cancel(self) -> None:
        self.dismiss(None)
