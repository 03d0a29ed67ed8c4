"""The one table of user actions: id, keys, description. BINDINGS, the footer, the help screen and the
command palette are all built from it, so they cannot disagree. The keys are a contract (issue 4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    Action("cancel", "escape", "Cancel prediction", footer=False),
    Action("next_suggested", "n", "Next suggested"),
    Action("help", "question_mark", "Help"),
    Action("quit", "q", "Quit"),
)

BY_ID = {a.id: a for a in ACTIONS}


def bindings() -> list[Binding]:
    # priority: the keys work whichever widget has focus (except where a modal screen takes them).
    # The binding id is the action id, so a user keymap (Textual's App.set_keymap) can rebind it.
    return [
        Binding(a.keys, a.id, a.description, show=a.footer, priority=a.id in ("next_pane",), id=a.id)
        for a in ACTIONS
    ]


KEYMAP_FILE = "keymap.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The user's keymap (``config_dir()/keymap.toml``: ``action_id = "keys"`` or a list of keys), and
    one-line problems with it. A broken file never stops the app: the defaults stay."""
    import tomllib

    from tui_tagger.config import config_dir

    path = Path(path) if path is not None else Path(config_dir()) / KEYMAP_FILE
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return {}, [f"{path}: {err}; using the default keys"]
    data = data.get("keys", data)  # a [keys] table or top-level entries
    keymap, problems = {}, []
    for action_id, keys in data.items():
        if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            keys = ",".join(keys)
        if action_id not in BY_ID:
            problems.append(f"{path}: unknown action {action_id!r} (known: {', '.join(BY_ID)})")
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f"{path}: {action_id}: give keys as a string like \"x,ctrl+x\"")
        else:
            keymap[action_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return keymap, problems


_LABELS = {"slash": "/", "question_mark": "?"}


def key_label(action: Action, keymap: dict[str, str] | None = None) -> str:
    keys = (keymap or {}).get(action.id, action.keys)
    return ", ".join(_LABELS.get(k, k) for k in keys.split(","))
