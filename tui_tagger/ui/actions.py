"""The one table of user actions: id, keys, description. BINDINGS, the footer, the help screen and the
command palette are all built from it, so they cannot disagree. The keys are a contract: docs/keys.md lists
them, and tests/ui/test_keys_doc.py fails when the two differ."""

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
    short: str = ""  # the footer's label (the footer has one line for all of them); else description


ACTIONS: tuple[Action, ...] = (
    Action("move", "m", "Move to the other list", short="Move"),
    Action("mark", "space", "Mark / unmark for a bulk move", short="Mark"),
    Action("next_pane", "tab", "Next pane (lists, inspect)", short="Pane"),
    Action("prev_pane", "shift+tab", "Previous pane", footer=False),
    Action("pick_tag", "t", "Pick tag", short="Tag"),
    Action("filter", "slash", "Filter by tag query or name", short="Filter"),
    Action("save", "s", "Save", short="Save"),
    Action("undo", "u", "Undo", short="Undo"),
    Action("redo", "ctrl+r", "Redo", short="Redo"),
    Action("expression", "e", "Image expression", short="Expr"),
    Action("colormap", "c", "Next colour map", short="Colours"),
    Action("scaling", "g", "Next scaling (log, gamma, linear)", footer=False),
    Action("zoom_in", "plus,equals_sign", "Zoom in: larger images in the lists", footer=False),
    Action("zoom_out", "minus", "Zoom out: smaller images in the lists", footer=False),
    Action("grid", "v", "Grid view (contact sheets) / back to rows", footer=False),
    Action("full_image", "z", "The selected image on the whole screen", footer=False),
    Action("sort", "o", "Re-sort now (new p), else next sort order (p, name, time, newest first)", footer=False),
    Action("predict", "p", "Predict (p again stops)", short="Predict"),
    Action("predict_options", "P", "Predict with options…", footer=False),
    Action("train", "T", "Train on this folder…", footer=False),
    Action("review", "r", "Review: questionable labels, then outliers", footer=False),
    Action("analysis", "a", "Analysis views: tag relations, performance, embedding", footer=False),
    Action("cancel", "escape", "Stop the prediction or training", footer=False),
    Action("next_suggested", "n", "Next suggested image", short="Next"),
    Action("heatmap", "h", "Heat map: where the model looks / where the anomaly is", footer=False),
    Action("follow", "f", "Follow the folder: new frames as they are written (f again stops)", footer=False),
    Action("help", "question_mark", "Help", short="Help"),
    Action("quit", "q", "Quit", short="Quit"),
)

BY_ID = {a.id: a for a in ACTIONS}


def bindings() -> list[Binding]:
    # priority: the keys work whichever widget has focus (except where a modal screen takes them).
    # The binding id is the action id, so a user keymap (Textual's App.set_keymap) can rebind it.
    return [
        Binding(a.keys, a.id, a.short or a.description, show=a.footer, priority=a.id in ("next_pane", "prev_pane"),
                tooltip=a.description, id=a.id)
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


_LABELS = {"slash": "/", "question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-"}


def key_label(action: Action, keymap: dict[str, str] | None = None) -> str:
    keys = (keymap or {}).get(action.id, action.keys)
    return ", ".join(_LABELS.get(k, k) for k in keys.split(","))
