"""docs/keys.md and the action table (tui_tagger/ui/actions.py) name the same keys for the same actions:
a key added, changed or dropped in one and not the other fails here."""

from __future__ import annotations

import re
from pathlib import Path

from tui_tagger.ui.actions import ACTIONS, key_label

KEYS_MD = Path(__file__).resolve().parents[2] / "docs" / "keys.md"
ROW = re.compile(r"^\|\s*(?P<keys>`[^|]+?)\s*\|\s*(?P<ids>`[^|]+?)\s*\|")


def documented() -> dict[str, str]:
    """action id -> its keys, from the table rows of docs/keys.md (``a` / `b`` pairs one key with one id)."""
    out = {}
    for line in KEYS_MD.read_text("utf-8").splitlines():
        m = ROW.match(line)
        if not m:
            continue
        keys = [k.strip().strip("`") for k in m["keys"].split(" / ")]
        ids = [i.strip().strip("`") for i in m["ids"].split(" / ")]
        assert len(keys) == len(ids), line
        out.update(zip(ids, keys))
    return out


def test_every_action_is_documented_with_its_keys():
    assert documented() == {a.id: key_label(a) for a in ACTIONS}
