"""What the analysis views' tabs share: the messages their workers post to their own tab, and the
features progress line (at most ~3 a second, and the last)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from tui_tagger.core.text import printable


class Computed(Message):
    """A tab's worker is done: ``result`` or ``error`` (one line); ``key`` names what was computed."""

    bubble = False

    def __init__(self, result, error: str | None = None, key=None, extra=None) -> None:
        super().__init__()
        self.result, self.error, self.key, self.extra = result, error, key, extra


class Progress(Message):
    """A progress line from a tab's worker."""

    bubble = False

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def progress_line(widget, worker, what: str, then: str):
    """A features progress callback for ``worker`` that posts ``Progress`` lines to ``widget``."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if not worker.is_cancelled and (now - last[0] > 0.3 or done == total):
            last[0] = now
            widget.post_message(Progress(f"{what}: features {done:,}/{total:,}…" if done < total
                                         else f"{what}: {then} {total:,} images…"))

    return progress


def show_line(widget: Static, message: str | Text) -> None:
    """A progress / result line (plain strings literally: they may hold file names)."""
    widget.update(message if isinstance(message, Text) else Text(printable(message)))
