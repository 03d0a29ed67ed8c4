"""Messages posted from worker threads and widgets to the app."""

from __future__ import annotations

from textual.message import Message


class EntriesArrived(Message):
    """A batch of session rows (built from catalog entries) from the scan worker.

    ``cached``: the index's contents, for the first screen; the scan that follows sends only the rows that
    are new or changed, and ``removed`` (paths) with the last batch. ``done``: the last batch."""

    def __init__(self, rows: list, done: bool = False, error: str | None = None, catalog=None,
                 cached: bool = False, removed: list[str] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.done = done
        self.error = error
        self.catalog = catalog  # with the last batch of a finished scan
        self.cached = cached
        self.removed = removed or []


class ThumbsReady(Message):
    """Thumbnails for some rows are in the memory cache: repaint the lists."""


class RowSelected(Message):
    """The cursor of an image list moved to a row (path) or the list became empty (None)."""

    def __init__(self, image_list, path: str | None) -> None:
        super().__init__()
        self.image_list = image_list
        self.path = path

    @property
    def control(self):
        """The list whose cursor moved (Message.control is None unless a message names it)."""
        return self.image_list


class RowMoveRequested(Message):
    """Right-click on a row: move it to the other list."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class InspectResized(Message):
    """The inspect pane changed size (shown at 80x24, a terminal resize): the image is rendered again to fit."""
