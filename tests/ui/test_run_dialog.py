"""Pilot test of the P dialog's checkbox (T has none): off is an empty box, on an X, in every colour mode (the
off X in a dark colour read as ticked in 256 colours)."""

from __future__ import annotations

from support import app_on, ready, until
from textual.widgets import Checkbox

from tui_tagger.ui.screens.run_dialog import RunDialog


async def test_a_checkbox_off_is_an_empty_box_and_on_an_x(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("P")
        assert await until(pilot, lambda: isinstance(app.screen, RunDialog))
        box = app.screen.query_one(".run-field Checkbox", Checkbox)
        box.focus()
        await pilot.pause(0.1)

        def drawn() -> str:
            return "".join(seg.text for seg in box.render_line(0)).strip()

        for _ in range(2):  # whichever it starts as, both states
            assert ("X" in drawn()) is box.value, (box.value, drawn())
            was = box.value
            await pilot.press("space")
            assert await until(pilot, lambda: box.value is not was)
            await pilot.pause(0.05)
        assert ("X" in drawn()) is box.value
        await pilot.press("escape")
