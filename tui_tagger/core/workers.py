"""What a helper process (decoding, thumbnails) sets up once: it writes nothing on the terminal."""

from __future__ import annotations

import logging
import os
import warnings


def silence_worker() -> None:
    """Warnings and log lines off, stdout and stderr to /dev/null, for the rest of this process. The terminal is
    the TUI's screen or the watch's output: a reader's warning printed there would scribble over the screen or
    land between the watch's lines. Every problem still comes back to the parent as the frame's one-line error."""
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
    except OSError:
        pass
