"""Shift+Tab goes back through the panes Tab goes through (at 80x24 it could not bring the inspect pane in)."""

from __future__ import annotations

from support import app_on, ready, until

from tui_tagger.ui.widgets.checklist import TagChecklist


async def test_shift_tab_is_tab_backwards(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.pos.focus()
        await pilot.press("tab")
        assert await until(pilot, lambda: app.focused is app.neg)
        await pilot.press("shift+tab")
        assert await until(pilot, lambda: app.focused is app.pos)
        await pilot.press("shift+tab")  # round to the inspect pane's checklist
        assert await until(pilot, lambda: isinstance(app.focused, TagChecklist))
        await pilot.press("shift+tab")
        assert await until(pilot, lambda: app.focused is app.neg)


async def test_at_80x24_shift_tab_swaps_the_inspect_pane_in(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.pos.focus()
        await pilot.press("shift+tab")
        assert await until(pilot, lambda: isinstance(app.focused, TagChecklist) and app.screen.has_class("-show-inspect"))
        await pilot.press("shift+tab")
        assert await until(pilot, lambda: app.focused is app.neg and not app.screen.has_class("-show-inspect"))
