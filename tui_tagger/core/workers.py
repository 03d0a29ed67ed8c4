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


def keep_freed_memory() -> None:
    """glibc hands every freed block of 128 KiB to 32 MiB back to the kernel, and the next frame's buffers (the
    file's bytes, its float32 copy, the model's activations) fault in again page by page: 1,500 page faults and
    3 ms of kernel time per 1024x1024 TIFF, as long as the decoding itself. Kept in the heap and reused instead,
    for the rest of this process (a short command, or a decoding worker: its RSS stays at a frame's peak). A
    no-op where the C library is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD: blocks under this come from the heap (32 MiB: glibc's ceiling)
    mallopt(-1, 128 * 2**20)  # M_TRIM_THRESHOLD: free memory at the heap's top kept up to this
