"""The attribute vocabulary: 98 attributes in groups G1-G7, their known ids and where they sit in a tag file.

The vocabulary is open: a tag found in a file that the table lacks is kept and usable
(``Vocabulary.add``). Ids are the field's own numbers (seen in real tag files), not row numbers.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from importlib import resources

# The primary categories of the field's tag files, one per group.
GROUPS: dict[str, str] = {
    "G1": "Kinds of experiments",
    "G2": "Instrumental",
    "G3": "Kinds of images",
    "G4": "Scattering features in image",
    "G5": "Kinds of samples",
    "G6": "Kinds of materials",
    "G7": "Specific substances",
}
GROUP_OF_CATEGORY = {v.lower(): k for k, v in GROUPS.items()}
OTHER_GROUP = "Other"

# Ids seen in real tag files. The full table of the field was never published.
KNOWN_IDS: dict[str, int] = {
    "TSAXS": 1, "GISAXS": 6, "Linear beamstop": 12, "MarCCD": 17, "Sample": 19, "Test": 20,
    "Standard": 22, "Weak scattering": 25, "Misaligned": 28, "Saturation": 34,
    "Saturation artifacts": 35, "Beam streaking": 38, "Diffuse low-q: Isotropic": 39,
    "Ring: Isotropic": 42, "Diffuse low-q: Oriented z": 51, "Specular rod": 93,
    "Vertical streaks": 98, "Ordered": 103, "Powder": 107, "Thin film": 111,
    "Block-copolymer": 122, "AgBH": 130, "PS-PMMA": 134, "Specular rod peaks": 143,
}

# The kinds of experiment: every frame is of one of them (when it is of any), so a tag set that names none
# has not decided which (``decides``); the model's highest p among them is its answer to "which experiment?".
EXPERIMENT_TYPES = ("TSAXS", "TWAXS", "GISAXS", "GIWAXS")


def decides(tag: str, tags) -> bool:
    """Whether a reviewed image's tags (``tags``: the names it has) say ``tag`` is absent when it is not among
    them. Yes, but for an experiment type when the image names none: a person who added "AgBH" to a frame
    said nothing of TSAXS, and a calibrant in SAXS geometry is one (a learnt head took "absent" from such
    corrections for every type)."""
    return tag not in EXPERIMENT_TYPES or any(t in tags for t in EXPERIMENT_TYPES)


def reviewed_tags(tags: dict, predictions) -> bool:
    """Whether a tag file's ``tags`` (name -> source) and ``predictions`` (the model's p block) are a person's
    decision on the image, so that a tag it lacks is absent (``decides``): it holds a tag a person (or the
    synthetic generator, or a file that does not say) stated, or nothing at all (an empty tag file someone
    saved). A file of the model's alone, its predictions (``predict --write``) or its tags (``--accept-above``),
    decides nothing: training or a head that took it for "every other tag absent" would learn from the model
    itself, on frames no one looked at."""
    if tags:
        return any(source != "model" for source in tags.values())
    return not predictions


# Tags real files carry that attributes.tsv lacks: known to the field, so grouped rather than "Other".
FIELD_EXTRAS: dict[str, str] = {"Sample": "G3", "Test": "G3", "Standard": "G3"}

# Secondary categories for writing new tags where the field's files show them; the rest get a
# per-group default. G4 "Row: Col" attributes always go into the grid nest.
_SECONDARY: dict[str, str] = {
    "Linear beamstop": "beamstop", "Circular beamstop": "beamstop",
    "MarCCD": "detector", "Photonics CCD": "detector",
    "Sample": "what we measured", "Test": "what we measured", "Standard": "what we measured",
    "Direct": "what we measured", "Empty cell": "what we measured", "Blocked": "what we measured",
    "Weak scattering": "general result", "Strong scattering": "general result",
    "Ordered": "type", "Amorphous": "type", "Single crystal": "type", "Polycrystalline": "type",
    "Thin film": "form", "Powder": "form", "Grating": "form", "Composite": "form",
    "Nanoporous": "form",
    "Polymer": "soft", "Block-copolymer": "soft", "Superlattice": "hard",
    "AgBH": "instrumental", "LaB6": "instrumental", "Silicon": "instrumental",
    "P3HT": "polymer", "PCBM": "polymer", "PS-PMMA": "polymer", "PDMS": "polymer",
    "Rubrene": "small molecule", "SiO2": "inorganic", "MWCNT": "inorganic",
}
_DEFAULT_SECONDARY = {
    "G1": "measurements", "G2": "problems", "G3": "problems", "G4": "other features",
    "G5": "type", "G6": "soft", "G7": "other",
}
# Real files put "Specular rod" (G3 in the table) among G4's "other features"; follow the files.
_PRIMARY_OVERRIDE = {"Specular rod": "G4"}


@dataclass(frozen=True)
class Attribute:
    name: str
    group: str  # "G1".."G7" or "Other"
    count: int = 0  # count in the seed's real data set (0 when unknown)
    id: int | None = None
    in_table: bool = True  # one of the 98 of attributes.tsv

    @property
    def group_name(self) -> str:
        return GROUPS.get(self.group, OTHER_GROUP)

    @property
    def grid(self) -> tuple[str, str] | None:
        """(row, col) of the G4 grid nest for "Row: Col" names, else None."""
        if self.group == "G4" and ": " in self.name:
            row, col = self.name.split(": ", 1)
            return row, col
        return None

    @property
    def placement(self) -> tuple[str, str]:
        """(primary category, secondary category) this tag is written under."""
        group = _PRIMARY_OVERRIDE.get(self.name, self.group)
        primary = GROUPS.get(group, OTHER_GROUP)
        if self.grid is not None:
            return primary, "main features"
        return primary, _SECONDARY.get(self.name, _DEFAULT_SECONDARY.get(group, "other"))


def _load_table() -> list[Attribute]:
    text = resources.files("tui_tagger").joinpath("data/attributes.tsv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return [
        Attribute(r["name"], r["group"], int(r["count_in_real_dataset"] or 0), KNOWN_IDS.get(r["name"]))
        for r in rows
    ]


class Vocabulary:
    """An ordered, open set of attributes; lookups are by exact name, then case-insensitively."""

    def __init__(self, attributes: list[Attribute]):
        self._by_name: dict[str, Attribute] = {}
        self._by_lower: dict[str, Attribute] = {}
        for a in attributes:
            self._insert(a)

    def _insert(self, a: Attribute) -> None:
        self._by_name[a.name] = a
        self._by_lower.setdefault(a.name.lower(), a)

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> Attribute | None:
        return self._by_name.get(name) or self._by_lower.get(name.lower())

    def canonical(self, name: str) -> str:
        """The vocabulary's spelling of ``name`` (case-insensitive match), or ``name`` itself."""
        a = self.get(name)
        return a.name if a else name

    def add(self, name: str, group: str | None = None) -> Attribute:
        """Keep a tag the table lacks (found in a file or typed by a user)."""
        found = self.get(name)
        if found:
            return found
        a = Attribute(name, group or FIELD_EXTRAS.get(name, OTHER_GROUP), 0, KNOWN_IDS.get(name), False)
        self._insert(a)
        return a

    def by_group(self) -> dict[str, list[Attribute]]:
        out: dict[str, list[Attribute]] = {g: [] for g in [*GROUPS, OTHER_GROUP]}
        for a in self:
            out.setdefault(a.group, []).append(a)
        return {g: v for g, v in out.items() if v}

    def nearest(self, name: str, n: int = 3) -> list[str]:
        """Closest known names, for 'did you mean' messages."""
        lower = {a.name.lower(): a.name for a in self}
        hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
        if not hits:  # substring matches help for short fragments ("ring")
            hits = [k for k in lower if name.lower() in k][:n]
        return [lower[h] for h in hits]

    def copy(self) -> "Vocabulary":
        return Vocabulary(list(self))


_DEFAULT: Vocabulary | None = None


def default_vocabulary() -> Vocabulary:
    """A fresh copy of the 98 table attributes plus the field's extra tags (Sample, Test, Standard)."""
    global _DEFAULT
    if _DEFAULT is None:
        v = Vocabulary(_load_table())
        for name in FIELD_EXTRAS:
            v.add(name)
        _DEFAULT = v
    return _DEFAULT.copy()
