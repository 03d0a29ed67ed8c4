"""The escapes that draw a thumbnail as a Sixel or an iTerm2 inline image over ``cols`` x ``rows`` cells,
from a uint8 RGB array. No Textual here: ``ui/decoding.py`` runs ``encode`` in its worker processes (the
encoding is 1-40 ms of Python per thumbnail, which the UI's process would otherwise pay under its GIL).

Sixel draws pixels as they are (the terminal does not scale them): the thumbnail is resized to the cells'
pixels (``cell``: the terminal's cell). iTerm2 scales the image to the ``width`` x ``height`` cells it is
given, so the thumbnail goes as it is, as a PNG. Under tmux an iTerm2 escape goes through tmux's passthrough
(tmux parses Sixel itself when built with it, so Sixel is never wrapped).
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def encode(protocol: str, rgb: np.ndarray, cols: int, rows: int, cell: tuple[int, int],
           tmux: bool = False) -> str:
    """The escape drawing ``rgb`` over ``cols`` x ``rows`` cells from the cursor ("sixel" or "iterm2")."""
    image = Image.fromarray(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8))
    if protocol == "sixel":
        from tui_tagger.ui.widgets.image_adapter import sixel_data

        size = (cols * cell[0], rows * cell[1])
        data = sixel_data(image if image.size == size else image.resize(size, Image.Resampling.BILINEAR))
        # P2=1: bits left 0 leave the screen as it is. Every pixel of the image is set by one colour, but a
        # height that is not a multiple of 6 ends in a partial band, whose unused rows would otherwise be
        # painted in the background colour over the line below
        return data.replace("\x1bP0;0;0q", "\x1bP0;1;0q", 1)
    if protocol != "iterm2":
        raise ValueError(f"no inline images for {protocol!r}")
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)  # 1: ~3x faster than the default for a few % more bytes
    png = buf.getvalue()
    data = base64.standard_b64encode(png).decode("ascii")
    # preserveAspectRatio=0: the thumbnail fills exactly the cells its half blocks take (the aspect was kept
    # when they were chosen, to the nearest cell)
    escape = (f"\x1b]1337;File=inline=1;size={len(png)};width={cols};height={rows};preserveAspectRatio=0:"
              f"{data}\x07")
    return wrap_tmux(escape) if tmux else escape


def wrap_tmux(escape: str) -> str:
    """An escape passed through tmux to the terminal outside (``allow-passthrough on``): its ESCs doubled."""
    return "\x1bPtmux;" + escape.replace("\x1b", "\x1b\x1b") + "\x1b\\"
