"""Shift+Tab goes back through the panes Tab goes through (at 80x24 it could not bring the inspect pane in)."""

from __future__ import annotations

from support import app_on, ready, until

from tui_tagger.ui.widgets.checklist import TagChecklist


async def _walk(folder, size, steps) -> None:
    """From the positive list, press each key and wait until its check holds."""
    app = app_on(folder)
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        app.pos.focus()
        for key, check in steps:
            await pilot.press(key)
            assert await until(pilot, lambda: check(app)), key


async def test_shift_tab_is_tab_backwards(folder):
    await _walk(folder, (160, 48), [
        ("tab", lambda app: app.focused is app.neg),
        ("shift+tab", lambda app: app.focused is app.pos),
        ("shift+tab", lambda app: isinstance(app.focused, TagChecklist)),  # round to the inspect pane's checklist
        ("shift+tab", lambda app: app.focused is app.neg),
    ])


async def test_at_80x24_shift_tab_swaps_the_inspect_pane_in(folder):
    await _walk(folder, (80, 24), [
        ("shift+tab", lambda app: isinstance(app.focused, TagChecklist) and app.screen.has_class("-show-inspect")),
        ("shift+tab", lambda app: app.focused is app.neg and not app.screen.has_class("-show-inspect")),
    ])
