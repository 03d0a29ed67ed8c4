"""Textual's ANSI-to-truecolor line filter with its pass-through (ui/widgets/truecolor_filter.py) gives the
segments Textual's own gives: lines of truecolor cells, of ANSI colours, dim text, no style, control codes;
and the app's screen draws the same lines with it."""

from __future__ import annotations

import random

from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import MONOKAI
from support import app_on, make_folder, ready
from textual.color import Color
from textual.filter import ANSIToTruecolor
from textual.geometry import Region

from tui_tagger.ui.widgets import truecolor_filter


def test_lines_of_any_style_come_out_as_textuals_filter_makes_them():
    rng = random.Random(3)
    colors = [None, "red", "bright_blue", "color(17)", "#102030", "#ffcc00", "default"]
    styles = [None] + [Style(color=rng.choice(colors), bgcolor=rng.choice(colors), dim=rng.random() < 0.2,
                             bold=rng.random() < 0.3) for _ in range(60)]
    truecolor = [Style(color=f"#{rng.randrange(1 << 24):06x}", bgcolor=f"#{rng.randrange(1 << 24):06x}")
                 for _ in range(30)]
    f = ANSIToTruecolor(MONOKAI)
    for _ in range(400):
        pool = truecolor if rng.random() < 0.5 else styles + truecolor
        line = [Segment(rng.choice(["▀", "ab", " "]), rng.choice(pool)) for _ in range(rng.randrange(0, 12))]
        if rng.random() < 0.05:
            line.append(Segment("", None, [(1,)]))  # a control segment
        background = Color(rng.randrange(256), rng.randrange(256), rng.randrange(256))
        assert truecolor_filter.apply(f, line, background) == truecolor_filter._textual_apply(f, line, background)


async def test_the_apps_widgets_draw_the_same_lines_with_it(tmp_path):
    app = app_on(make_folder(tmp_path / "f", n=40, tagged={f"img{i:02d}": ["Ring: Isotropic"] for i in range(0, 40, 3)}))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("down", "down")
        await pilot.pause(0.3)
        assert ANSIToTruecolor.apply is truecolor_filter.apply  # installed with the app's screen
        widgets = [w for w in app.screen.walk_children(with_self=False) if w.region.area]
        assert widgets

        def lines():
            out = []
            for w in widgets:
                w._styles_cache.clear()
                if isinstance(getattr(w, "_finished", None), dict):
                    w._finished.clear()  # (a list's kept lines: made again too)
                out.append(list(w.render_lines(Region(0, 0, w.outer_size.width, w.outer_size.height))))
            return out

        ours = lines()
        truecolor_filter.uninstall()
        try:
            theirs = lines()
        finally:
            truecolor_filter.install()
        assert ours == theirs
