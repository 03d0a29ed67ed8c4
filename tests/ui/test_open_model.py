"""`tui-tagger open --model M`: a missing file is a one-line error at start; the app gets the model, and
p, P and T use it."""

from __future__ import annotations

import io
from pathlib import Path

from support import ready, until

from tui_tagger import cli
from tui_tagger.ui import predict as ui_predict
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.run_dialog import RunDialog

RING = "Ring: Isotropic"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class RecordingPredictor:
    device = "cpu"
    tags = [RING]

    def predict_paths(self, paths, batch=32, workers=None, progress=None):
        for path in paths:
            yield path, {RING: 0.5}, None


def test_a_missing_model_is_one_line_at_start(folder, tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert cli.main(["open", str(folder), "--model", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err == f"tui-tagger: {missing}: model file not found\n"  # one line, no traceback
    assert cli.main([str(folder), "--model", str(tmp_path)]) == 1  # a folder is no model either
    assert capsys.readouterr().err == f"tui-tagger: {tmp_path}: not a model file\n"


def test_open_hands_the_model_to_the_app(folder, tmp_path, monkeypatch):
    model = tmp_path / "mine.pt"
    model.write_bytes(b"not read before p")
    made = {}

    class Recorder:
        def __init__(self, root, **kwargs):
            made.update(kwargs, root=root)
            self.stderr_lines = []

        def run(self):
            made["ran"] = True

    monkeypatch.setattr("tui_tagger.ui.app.TaggerApp", Recorder)
    monkeypatch.setattr("sys.stdin", FakeTTY())
    monkeypatch.setattr("sys.stdout", FakeTTY())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["open", str(folder), "--model", "mine.pt", "--graphics", "none"]) == 0
    assert made["ran"] and made["model"] == model.resolve()  # absolute: the TUI may change folders
    made.clear()
    assert cli.main(["open", str(folder), "--graphics", "none"]) == 0
    assert made["model"] is None  # the default model, as before


async def test_p_P_and_T_use_the_model(folder, tmp_path, monkeypatch):
    model = tmp_path / "mine.pt"
    model.write_bytes(b"x")
    loaded = []

    def load_predictor(m=None, device="auto"):
        loaded.append((m, device))
        return RecordingPredictor()

    monkeypatch.setattr(ui_predict, "load_predictor", load_predictor)
    # p runs its model in a process of its own: the same model asked for
    monkeypatch.setattr(ui_predict, "model_process", lambda m=None, device=None, previous=None:
                        load_predictor(m, device or "auto"))
    app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False, model=model,
                    predictor=lambda: (_ for _ in ()).throw(AssertionError("not the default model")))
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        assert app.model == str(model) and app.model_file() == str(model)
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None and loaded)
        assert loaded == [(str(model), "auto")]
        assert app.session.prediction_model  # the predictions arrived
        await pilot.press("P")
        assert await until(pilot, lambda: isinstance(app.screen, RunDialog) and bool(app.screen.query("#run-error")))
        assert app.screen.query_one("#opt-model").value == str(model)
        await pilot.press("escape")
        await pilot.press("T")
        assert await until(pilot, lambda: isinstance(app.screen, RunDialog) and bool(app.screen.query("#run-error")))
        assert app.screen.query_one("#opt-init").value == str(model)  # fine-tunes the model in use
        await pilot.press("escape")
