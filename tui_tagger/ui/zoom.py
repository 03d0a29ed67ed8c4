"""How large the lists draw their images: the list zoom, the grid view's zoom, and whether the grid is on
(``+`` / ``-`` / ``v``). Remembered between sessions in ``view.toml`` in the config folder (no Textual here).

A level is a thumbnail of (cells wide, lines high); half blocks draw 1 x 2 pixels per cell, so a square
frame fills it at w = 2 h.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LIST_LEVELS = ((6, 3), (8, 4), (12, 6), (16, 8), (24, 12))  # the list's rows: thumbnail cells x lines
GRID_LEVELS = ((8, 4), (12, 6), (16, 8), (24, 12), (32, 16))  # the grid's cells
VIEW_FILE = "view.toml"


@dataclass
class Zoom:
    list_level: int = 0
    grid_level: int = 1
    grid: bool = False

    @property
    def level(self) -> int:
        return self.grid_level if self.grid else self.list_level

    def thumb_cells(self) -> tuple[int, int]:
        """(cells wide, lines high) of a thumbnail now."""
        levels = GRID_LEVELS if self.grid else LIST_LEVELS
        return levels[max(0, min(self.level, len(levels) - 1))]

    def thumb_pixels(self, cell: tuple[int, int] = (1, 2)) -> tuple[int, int]:
        """(w, h) pixels of a thumbnail at ``cell`` pixels per cell (half blocks: 1 x 2; kitty graphics: the
        terminal's, ui/widgets/image_adapter.thumb_cell_pixels)."""
        w, h = self.thumb_cells()
        return w * cell[0], h * cell[1]

    def step(self, delta: int) -> bool:
        """One level larger (+1) or smaller (-1); False at either end."""
        levels = GRID_LEVELS if self.grid else LIST_LEVELS
        new = max(0, min(self.level + delta, len(levels) - 1))
        if new == self.level:
            return False
        if self.grid:
            self.grid_level = new
        else:
            self.list_level = new
        return True

    # ---- remembered in the config folder -----------------------------------------------------
    @classmethod
    def load(cls, path: Path | None = None) -> "Zoom":
        """The saved zoom, or the defaults (a missing or broken file is never an error)."""
        import tomllib

        path = path or _path()
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return cls()
        z = cls()
        for name, levels in (("list_level", LIST_LEVELS), ("grid_level", GRID_LEVELS)):
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(levels):
                setattr(z, name, value)
        if isinstance(data.get("grid"), bool):
            z.grid = data["grid"]
        return z

    def save(self, path: Path | None = None) -> str | None:
        """Write it; a one-line problem when it could not be written (the zoom still applies)."""
        path = path or _path()
        text = (f"# tui-tagger's view, as + / - / v left it\nlist_level = {self.list_level}\n"
                f"grid_level = {self.grid_level}\ngrid = {'true' if self.grid else 'false'}\n")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, "utf-8")
            tmp.replace(path)
        except OSError as err:
            return f"{path}: cannot save the zoom: {err.strerror or err}"
        return None


def _path() -> Path:
    from tui_tagger.config import config_dir

    return Path(config_dir()) / VIEW_FILE
