"""The folder goes away while the TUI is open (a network mount drops, the run folder is renamed): the lists keep
what was there, and a notice says once that checking the folder again failed (it was silent: a user kept
tagging a folder that no longer existed). When the folder is back, the checks go on as before."""

from __future__ import annotations

import os

from support import RING, app_on, make_folder, ready, until


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_folder_that_goes_away_is_said_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING]})
    app = app_on(folder)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: not app.verifying)
        n_rows = len(app.session.rows)
        os.rename(folder, tmp_path / "elsewhere")
        said = lambda: [n for n in notices(app) if str(folder) in n and "again" in n]  # noqa: E731
        assert await until(pilot, lambda: said()), notices(app)
        await pilot.pause(1.5)  # more checks fail the same way: said once
        assert len(said()) == 1, notices(app)
        assert len(app.session.rows) == n_rows  # the lists keep what was there
