"""Pilot tests of a user trial's findings: a long path in the P dialog shows that it is cut, the heat-map
notice names the model file, and the palette's Screenshot goes to the cache folder, not the image folder."""

from __future__ import annotations

from support import app_on, ready, until
from textual.widgets import Input

from tui_tagger.ui.screens.run_dialog import RunDialog

LONG = "/opt/conda/envs/beamline/lib/python3.11/site-packages/tui_tagger/models/tagger.pt"


async def test_a_long_model_path_in_the_p_dialog_shows_a_leading_ellipsis_and_stays_whole(folder):
    app = app_on(folder, model=LONG)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("P")
        assert await until(pilot, lambda: isinstance(app.screen, RunDialog))
        await pilot.pause(0.1)
        box = app.screen.query_one("#opt-model", Input)
        drawn = "".join(seg.text for seg in box.render_line(0)).strip()
        assert drawn.startswith("…") and drawn.endswith("tagger.pt"), drawn
        assert box.value == LONG  # the value runs whole
        assert str(box.tooltip) == LONG  # and the whole path is a hover away
        short = app.screen.query_one("#opt-batch", Input)
        assert not "".join(seg.text for seg in short.render_line(0)).strip().startswith("…")
        assert app.screen.values()["model"] == LONG
        await pilot.press("escape")


class _FakeCam:
    """What the heat map uses of model.cam.CamModel: a training-stage name inside, a file outside."""

    def __init__(self, path: str) -> None:
        from types import SimpleNamespace

        self.path = path
        self.info = SimpleNamespace(name="stage16")
        self.tags = ["Ring: Isotropic"]

    def cam(self, data, mask, tag):
        from types import SimpleNamespace

        return SimpleNamespace(empty=False, p=0.9)


def _cam_notices(path: str) -> tuple[str, str]:
    import threading
    from types import SimpleNamespace

    from tui_tagger.ui.heatmap import HeatmapMixin

    cm = _FakeCam(path)
    cams = SimpleNamespace(lock=threading.Lock(), get=lambda model: cm)
    frame = SimpleNamespace(data=None, mask=None)
    found = HeatmapMixin._cam(None, frame, "Ring: Isotropic", path, cams).detail
    missing = HeatmapMixin._cam(None, frame, "Beamstop", path, cams).detail
    return found, missing


def test_the_heat_map_notice_names_the_model_file_not_its_training_stage(tmp_path):
    from tui_tagger.model.locate import shipped_model_paths

    for notice in _cam_notices(str(shipped_model_paths()[0])):
        assert "stage16" not in notice and "tagger.pt (shipped)" in notice, notice
    mine = str(tmp_path / "my model.pt")
    for notice in _cam_notices(mine):
        assert "stage16" not in notice and mine in notice, notice


async def test_the_palettes_screenshot_goes_to_the_cache_folder_not_the_image_folder(folder, monkeypatch):
    from tui_tagger.config import cache_dir

    monkeypatch.chdir(folder)  # started from inside the image folder, as on a beamline
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.deliver_screenshot()  # what the palette's Screenshot calls
        assert await until(pilot, lambda: any("screenshot" in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if "screenshot" in n.message)
    shots = list((cache_dir() / "screenshots").glob("*.svg"))
    assert len(shots) == 1 and str(shots[0]) in message, (shots, message)
    assert not list(folder.glob("*.svg"))
