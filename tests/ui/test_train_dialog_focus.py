"""T opens on its first field: an Enter typed right after T (as after P, which runs a cheap predict) must not
start minutes of training that replaces the default model."""

from __future__ import annotations

from support import RING, app_on, make_folder, ready, until

from tui_tagger.ui.screens.run_dialog import RunDialog


async def test_enter_right_after_t_starts_no_training(tmp_path):
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING]})
    app = app_on(folder, thumbnails=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("T")
        assert await until(pilot, lambda: isinstance(app.screen, RunDialog) and bool(app.screen.query("#run-error")))
        assert app.focused is app.screen.query_one("#opt-out")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, RunDialog) and app._train_proc is None  # still asking, nothing runs
        assert app.focused is not app.screen.query_one("#opt-out")  # Enter went to the next field
