"""The one table of user actions: id, keys, description. BINDINGS, the footer, the help screen and the
command palette are all built from it, so they cannot disagree. The keys are a contract (issue 4)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    id: str  # the app's action_<id>
    keys: str  # Textual key names, comma separated
    description: str
    footer: bool = True  # shown in the footer (all are in help and the palette)


ACTIONS: tuple[Action, ...] = (
    Action("move", "m", "Move to other list"),
    Action("mark", "space", "Mark for bulk move"),
    Action("next_pane", "tab", "Next pane", footer=False),
    Action("pick_tag", "t", "Pick tag"),
    Action("filter", "slash", "Filter"),
    Action("save", "s", "Save"),
    Action("undo", "u", "Undo"),
    Action("redo", "ctrl+r", "Redo"),
    Action("expression", "e", "Expression"),
    Action("colormap", "c", "Colour map"),
    Action("scaling", "g", "Scaling", footer=False),
    Action("sort", "o", "Sort order", footer=False),
    Action("predict", "p", "Predict"),
    Action("next_suggested", "n", "Next unreviewed"),
    Action("help", "question_mark", "Help"),
    Action("quit", "q", "Quit"),
)

BY_ID = {a.id: a for a in ACTIONS}


def bindings() -> list[Binding]:
    # priority: the keys work whichever widget has focus (except where a modal screen takes them)
    return [
        Binding(a.keys, a.id, a.description, show=a.footer, priority=a.id in ("next_pane",))
        for a in ACTIONS
    ]


def key_label(action: Action) -> str:
    names = {"slash": "/", "question_mark": "?", "space": "space", "ctrl+r": "ctrl+r"}
    return ", ".join(names.get(k, k) for k in action.keys.split(","))
