"""Strips written with each style sent where it changes (ui/widgets/compact_sgr.py) show the terminal what
Textual's own codes show, cell by cell: on strips of every kind of style, and on the app's frames as a key
sends them."""

from __future__ import annotations

import random
import re

from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from support import app_on, make_folder, ready
from textual.strip import Strip

from tui_tagger.ui.widgets import compact_sgr

TOKEN = re.compile(r"\x1b\[([0-9;]*)m|\x1b\[(\d+);(\d+)H|\x1b\[[0-9;?]*[A-Za-z]|\x1b.|\n|[^\x1b\n]", re.S)
ATTRS = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "21", "51", "52", "53"}


class Screen:
    """What a terminal shows: per cell, the character and the colours and attributes it was written with."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], tuple] = {}
        self.x = self.y = 0
        self.attrs: frozenset = frozenset()
        self.fg = self.bg = None

    def sgr(self, params: str) -> None:
        codes = params.split(";") if params else ["0"]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c in ("38", "48"):
                n = 3 if codes[i + 1] == "5" else 5
                value = ";".join(codes[i + 1:i + n])
                if c == "38":
                    self.fg = value
                else:
                    self.bg = value
                i += n
                continue
            if c in ("0", ""):
                self.attrs, self.fg, self.bg = frozenset(), None, None
            elif c in ATTRS:
                self.attrs = self.attrs | {c}
            elif c == "39":
                self.fg = None
            elif c == "49":
                self.bg = None
            elif 30 <= int(c) <= 37 or 90 <= int(c) <= 97:
                self.fg = c
            elif 40 <= int(c) <= 47 or 100 <= int(c) <= 107:
                self.bg = c
            else:
                raise AssertionError(f"unexpected SGR code {c}")
            i += 1

    def feed(self, data: str) -> Screen:
        for m in TOKEN.finditer(data):
            token = m[0]
            if m[1] is not None:
                self.sgr(m[1])
            elif m[2] is not None:
                self.y, self.x = int(m[2]) - 1, int(m[3]) - 1
            elif token == "\n":
                self.y, self.x = self.y + 1, 0
            elif token.startswith("\x1b"):
                continue
            else:
                self.cells[(self.x, self.y)] = (token, self.attrs, self.fg, self.bg)
                self.x += 1
        return self


def random_styles(rng: random.Random, n: int) -> list:
    colors = [None, "red", "bright_blue", "color(17)", "color(188)", "#102030", "#ffcc00", "default"]
    styles = [None, Style()]
    for _ in range(n):
        styles.append(Style(color=rng.choice(colors), bgcolor=rng.choice(colors), bold=rng.random() < 0.3,
                            dim=rng.random() < 0.1, italic=rng.random() < 0.2, underline=rng.random() < 0.2,
                            reverse=rng.random() < 0.1, strike=rng.random() < 0.05))
    return styles


def render_both(strip: Strip, console: Console) -> tuple[str, str]:
    ours = compact_sgr.render(Strip(list(strip), strip.cell_length), console)
    theirs = compact_sgr._textual_render(Strip(list(strip), strip.cell_length), console)
    return ours, theirs


def test_strips_show_the_same_cells_as_textuals_codes():
    rng = random.Random(11)
    for system in ("truecolor", "256", "standard"):
        # (styles of their own: Textual keeps a style's codes on it for the first colour system it met)
        styles = random_styles(rng, 40)
        console = Console(color_system=system, force_terminal=True)
        for _ in range(300):
            segments = []
            for _ in range(rng.randrange(1, 30)):
                style = rng.choice(styles[:6]) if rng.random() < 0.4 else rng.choice(styles)
                segments.append((rng.choice(["▀", "ab", " ", "", "x" * rng.randrange(1, 5)]), style))
            from rich.segment import Segment

            strip = Strip([Segment(t, s) for t, s in segments])
            ours, theirs = render_both(strip, console)
            assert Screen().feed(ours).cells == Screen().feed(theirs).cells, (ours, theirs)
            # a strip starts and ends with nothing set: strips compose in any order
            assert Screen().feed(ours + "Z").cells[(strip.cell_length, 0)][1:] == (frozenset(), None, None)


def test_a_run_of_one_style_is_one_code():
    from rich.segment import Segment

    console = Console(color_system="256", force_terminal=True)
    cell = Style(color="color(16)", bgcolor="color(16)")
    strip = Strip([Segment("▀", cell)] * 6 + [Segment(" ", Style(color="color(188)", bgcolor="color(16)"))])
    ours, theirs = render_both(strip, console)
    assert ours == "\x1b[38;5;16;48;5;16m▀▀▀▀▀▀\x1b[38;5;188m \x1b[0m"
    assert len(ours) < len(theirs) / 3


def test_a_linked_strip_is_written_as_textual_writes_it():
    from rich.segment import Segment

    console = Console(color_system="truecolor", force_terminal=True)
    strip = Strip([Segment("a", Style(color="red")), Segment("b", Style(color="red", link="https://x.org"))])
    ours, theirs = render_both(strip, console)
    assert ours == theirs


async def test_the_apps_frames_show_the_same_screen_as_textuals_codes(tmp_path):
    """Keys through the app (a scroll of the list, the inspect pane, the status line): each frame the app
    writes, with Textual's codes and with these, leaves the same screen."""
    app = app_on(make_folder(tmp_path / "f", n=80, tagged={f"img{i:02d}": ["Ring: Isotropic"] for i in range(0, 80, 3)}))
    frames = []
    display = app._display

    def record(screen, update) -> None:
        display(screen, update)
        if update is not None and hasattr(update, "render_segments"):
            frames.append(update)

    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert Strip.render is compact_sgr.render  # installed with the app's screen
        app._display = record
        for key in ["down"] * 3 + ["pagedown", "pagedown", "tab", "down", "pageup"]:
            await pilot.press(key)
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        assert frames
        ours, theirs = Screen(), Screen()
        sent = [0, 0]
        for update in frames:
            a, b = (_fresh(update, app.console, render) for render in (compact_sgr.render, compact_sgr._textual_render))
            ours.feed(a)
            theirs.feed(b)
            sent[0] += len(a)
            sent[1] += len(b)
            assert ours.cells == theirs.cells
        assert sent[0] < sent[1]


def _fresh(update, console, render) -> str:
    """``update``'s output with each strip written by ``render`` anew (not what Strip.render kept)."""
    def fresh(strip, console):
        kept, strip._render_cache = strip._render_cache, None
        try:
            return render(strip, console)
        finally:
            strip._render_cache = kept

    installed = Strip.render
    Strip.render = fresh
    try:
        return update.render_segments(console)
    finally:
        Strip.render = installed
