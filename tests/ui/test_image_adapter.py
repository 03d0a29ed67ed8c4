"""ui/widgets/image_adapter.py against the installed textual-image: the image is drawn in its colours, a
repaint of the same image replays what was drawn, and a new image (or key) is drawn anew. And our kitty
graphics (ui/widgets/kitty_placeholders.py): what goes to the terminal for an image, and the cells that show it.
"""

from __future__ import annotations

import base64
import re
import unicodedata
import zlib

import numpy as np
from PIL import Image
from rich.cells import cell_len
from rich.style import Style
from textual.app import App, ComposeResult

from tui_tagger.ui.widgets import kitty_placeholders as kp
from tui_tagger.ui.widgets.image_adapter import cell_pixel_size, image_widget_class


class OneImage(App):
    CSS = "#img { width: 4; height: 2; }"

    def compose(self) -> ComposeResult:
        self.img = image_widget_class("halfcell")(id="img")
        yield self.img


def colours(strip) -> set[str]:
    """The colours a rendered line paints with (half-cell: foreground and background per cell)."""
    out = set()
    for seg in strip:
        for c in (seg.style.color, seg.style.bgcolor) if seg.style else ():
            if c is not None:
                out.add(c.get_truecolor().hex)
    return out


async def test_the_image_is_drawn_and_a_repaint_replays_it():
    app = OneImage()
    async with app.run_test(size=(20, 6)) as pilot:
        app.img.render_key = "red"
        app.img.image = Image.new("RGB", (4, 4), (255, 0, 0))
        await pilot.pause()
        assert "#ff0000" in colours(app.img.render_line(0))
        drawn = app.img._renderable
        app.img.refresh()
        await pilot.pause()
        assert app.img._renderable is drawn  # replayed, not encoded again
        # same size, new image (and key): drawn anew, in its own colour
        app.img.render_key = "blue"
        app.img.image = Image.new("RGB", (4, 4), (0, 0, 255))
        await pilot.pause()
        assert app.img._renderable is not drawn
        assert "#0000ff" in colours(app.img.render_line(0))


def test_no_graphics_no_widget_and_cells_have_a_pixel_size():
    assert image_widget_class("none") is None
    w, h = cell_pixel_size()
    assert w > 0 and h > 0


# ---- kitty graphics through Unicode placeholders (ui/widgets/kitty_placeholders.py) ----------------------
APC = re.compile(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\")


def commands(data: str) -> list[tuple[dict, str]]:
    """The graphics commands in ``data``: (keys, payload) each."""
    out = []
    for control, payload in APC.findall(data):
        out.append((dict(kv.split("=", 1) for kv in control.split(",")), payload))
    assert "".join(f"\x1b_G{c}{';' + p if p else ''}\x1b\\" for c, p in APC.findall(data)) == data  # nothing else
    return out


def picture(w: int = 90, h: int = 60) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)  # noise: a PNG of several chunks


def test_an_image_is_sent_once_in_chunks_as_a_virtual_placement():
    arr = picture()
    sent = commands(kp.transmit(4242, arr, 6, 3))
    assert len(sent) >= 3
    first, *rest = sent
    assert first[0] == {"a": "T", "U": "1", "f": "24", "o": "z", "s": "90", "v": "60", "i": "4242", "c": "6",
                        "r": "3", "q": "2", "m": "1"}  # RGB, zlib, 90 x 60 px, a virtual placement 6 x 3 cells
    assert [keys for keys, _ in rest] == [{"q": "2", "m": "1"}] * (len(rest) - 1) + [{"q": "2", "m": "0"}]
    assert all(0 < len(payload) <= kp.CHUNK for _, payload in sent)
    assert all(len(payload) % 4 == 0 for _, payload in sent[:-1])  # base64 cut at whole quads
    raw = zlib.decompress(base64.b64decode("".join(payload for _, payload in sent)))
    assert np.array_equal(np.frombuffer(raw, np.uint8).reshape(60, 90, 3), arr)  # the very pixels


def test_under_tmux_every_escape_is_passed_through_with_its_escs_doubled():
    plain = kp.transmit(7, picture(), 4, 2) + kp.delete(7)
    wrapped = kp.transmit(7, picture(), 4, 2, tmux=True) + kp.delete(7, tmux=True)
    parts = re.findall(r"\x1bPtmux;((?:[^\x1b]|\x1b\x1b)*)\x1b\\", wrapped)
    assert "".join(f"\x1bPtmux;{p}\x1b\\" for p in parts) == wrapped  # nothing outside a passthrough
    inner = [p.replace("\x1b\x1b", "\x1b") for p in parts]
    assert "".join(inner) == plain and len(inner) == len(commands(plain))  # one passthrough per command
    assert commands(kp.delete(7)) == [({"a": "d", "d": "I", "i": "7", "q": "2"}, "")]


def test_placeholder_cells_name_their_row_column_and_image():
    assert len(kp.DIACRITICS) == kp.MAX_CELLS == 297
    assert [hex(ord(c)) for c in kp.DIACRITICS[:6]] == ["0x305", "0x30d", "0x30e", "0x310", "0x312", "0x33d"]
    assert [ord(c) for c in kp.DIACRITICS] == sorted({ord(c) for c in kp.DIACRITICS})
    assert all(unicodedata.combining(c) == 230 and unicodedata.category(c) == "Mn" for c in kp.DIACRITICS)
    line = kp.cells(2, 5)
    assert line == "".join(kp.PLACEHOLDER + kp.DIACRITICS[2] + kp.DIACRITICS[c] for c in range(5))
    assert cell_len(line) == 5  # one cell each: Textual lays them out as 5 characters
    style = kp.id_style(0x12AB34)
    assert style.color.triplet == (0x12, 0xAB, 0x34) and style.dim is False and style.reverse is False


def test_a_thumbnail_is_sent_once_and_deleted_only_when_off_screen():
    out: list[str] = []
    p = kp.Placeholders(out.append, cell=(10, 20), tmux=False, limit=4)
    arrays = [picture(12, 12) for _ in range(6)]
    shown = [arrays[0]]
    p.keep(lambda: shown)
    cleared = []
    p.on_delete(lambda: cleared.append(True))
    segs = p.thumb_line(arrays[0], 6, 3, 1, Style())  # a square in 6 x 3 cells of 10 x 20 px: 6 x 3
    assert [s.text for s in segs][0] == "" and segs[1].text == kp.cells(1, 6)
    (keys, _), *_ = commands(out[0])
    image_id = int(keys["i"])
    assert segs[1].style.color.triplet == ((image_id >> 16) & 255, (image_id >> 8) & 255, image_id & 255)
    p.thumb_line(arrays[0], 6, 3, 2, Style())
    assert len(out) == 1  # the same image: not sent again
    for arr in arrays[1:5]:
        p.thumb_line(arr, 6, 3, 0, Style())
    # the limit (4) reached: the oldest ones not on screen deleted (arrays[0] is shown: kept)
    deleted = [int(k["i"]) for data in out for k, _ in commands(data) if k.get("a") == "d"]
    assert deleted and image_id not in deleted and cleared
    assert p.image_id(arrays[0], 6, 3) == image_id
    p.close()
    assert image_id in [int(k["i"]) for k, _ in commands(out[-1]) if k.get("a") == "d"]
