"""The inspect pane: the selected image large, its metadata or error, and a checklist of all tags."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui_tagger.core.vocabulary import GROUPS


def image_widget_class(graphics: str):
    """The textual-image widget class for ``--graphics`` (None: no images)."""
    if graphics == "none":
        return None
    from textual_image import widget as tiw

    return {
        "kitty": tiw.TGPImage,
        "sixel": tiw.SixelImage,
        "halfcell": tiw.HalfcellImage,
    }.get(graphics, tiw.Image)


class InspectPane(Vertical):
    def __init__(self, graphics: str = "auto", **kw) -> None:
        super().__init__(**kw)
        self.graphics = graphics
        self._image_cls = image_widget_class(graphics)
        self._filling = False
        self.path: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="inspect-title")
        if self._image_cls is not None:
            yield self._image_cls(id="inspect-image")
        else:
            yield Static("(graphics off)", id="inspect-image")
        yield Static("", id="inspect-meta")
        yield SelectionList[str](id="checklist")

    def image_cells(self) -> tuple[int, int]:
        region = self.query_one("#inspect-image").content_region
        return max(region.width, 4), max(region.height, 2)

    def pixel_size(self) -> tuple[int, int]:
        """Pixels to render for the image area: half-cell draws 1x2 px per cell, graphics protocols more."""
        w, h = self.image_cells()
        if self.graphics in ("halfcell", "none") or self._image_cls is None:
            return w, h * 2
        try:
            from textual_image._terminal import get_cell_size

            cell = get_cell_size()
            return w * cell.width, h * cell.height
        except Exception:
            return w * 2, h * 4

    def show_row(self, row, tags: dict, vocab, session_tag: str) -> None:
        self.path = row.path if row else None
        title = Text()
        if row is None:
            title.append("no image")
        else:
            title.append(row.name, style="bold")  # literal
        self.query_one("#inspect-title", Static).update(title, layout=False)  # fixed size: no layout pass
        self._fill_checklist(tags if row else {}, vocab, session_tag)
        if row is not None and row.error:
            self.show_error(row.error)
        else:
            self.set_class(False, "-error")  # a no-op when unchanged: a class change restyles the pane

    def _fill_checklist(self, tags: dict, vocab, session_tag: str) -> None:
        checklist = self.query_one(SelectionList)
        key = (len(vocab), session_tag, tuple(n for n, src in tags.items() if src not in (None, "human")))
        if key == getattr(self, "_checklist_key", None):
            # same options: only the ticks change (rebuilding ~100 options per cursor move is slow)
            self._filling = True
            want = set(tags)
            with checklist.prevent(SelectionList.SelectedChanged):
                for value in set(checklist.selected) - want:
                    checklist.deselect(value)
                for value in want - set(checklist.selected):
                    checklist.select(value)
            self._filling = False
            return
        self._checklist_key = key
        self._filling = True
        highlighted = checklist.highlighted
        checklist.clear_options()
        items = []
        for group, attrs in vocab.by_group().items():
            for a in attrs:
                label = Text()
                label.append(f"{group if group in GROUPS else '--':<3}", style="dim")
                label.append(f" {a.name}", style="bold" if a.name == session_tag else "")
                src = tags.get(a.name)
                if a.name in tags and src not in (None, "human"):
                    label.append(f" ({src})", style="dim")
                items.append(Selection(label, a.name, a.name in tags))
        checklist.add_options(items)
        if highlighted is not None and highlighted < len(items):
            checklist.highlighted = highlighted
        self._filling = False

    def show_image(self, pil_image, meta: dict) -> None:
        widget = self.query_one("#inspect-image")
        if self._image_cls is not None:
            # textual-image cannot scale into a hidden (0-wide) area: the image comes back when shown
            visible = widget.size.width > 0 and widget.size.height > 0
            widget.image = pil_image if visible else None
        self.query_one("#inspect-meta", Static).update(Text(_format_meta(meta)), layout=False)

    def show_error(self, message: str) -> None:
        widget = self.query_one("#inspect-image")
        if self._image_cls is not None:
            widget.image = None
        self.query_one("#inspect-meta", Static).update(Text("✗ " + message, style="bold"), layout=False)
        self.set_class(True, "-error")



def _format_meta(meta: dict) -> str:
    keep = []
    for k, v in meta.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        text = "".join(ch if ch.isprintable() else "?" for ch in f"{k}: {v}")
        keep.append(text[:60])
    return "  ".join(keep[:12])
