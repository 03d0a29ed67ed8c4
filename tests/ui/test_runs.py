"""Pilot tests: the predict / train options dialogs show the shell command's options with their defaults,
save the TOML that ``--config`` runs again, refuse bad values, and a training run from the TUI writes a
model that ``p`` then uses, while the UI stays live."""

from __future__ import annotations

import json
import subprocess
import sys

from tui_tagger.commands import predict as predict_cmd
from tui_tagger.commands import train as train_cmd
from tui_tagger.config import config_dir
from tui_tagger.model import runconfig
from tui_tagger.ui import run_options
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.run_dialog import RunDialog
from support import ready, until




def field(app, key):
    return app.screen.query_one(f"#opt-{key}")


def dialog_up(app) -> bool:
    """The options dialog is open and its fields are mounted (they compose after the key press returns)."""
    return isinstance(app.screen, RunDialog) and bool(app.screen.query("#run-error"))


async def test_predict_options_dialog_saves_a_config_the_shell_reruns(folder):
    app = TaggerApp(folder, graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        await pilot.press("P")
        assert await until(pilot, lambda: dialog_up(app))
        assert field(app, "device").value == "auto" and field(app, "batch").value == "32"  # the CLI's defaults
        assert field(app, "model").value == "shipped"  # not its path inside the venv
        field(app, "batch").value = "4"
        path = run_options.config_path("predict", folder)
        assert config_dir() in path.parents and not path.exists()  # the config folder, not the images'
        shown = str(app.screen.query_one(".run-shell").render())
        assert str(path) in shown and "saved to" not in shown  # not said before it is true
        app.screen.query_one("#save").press()
        # the button's message closes the dialog; its answer, a callback after that, writes the file
        assert await until(pilot, lambda: not isinstance(app.screen, RunDialog) and path.exists())
    assert not list(folder.glob("*.toml"))  # nothing written beside the images
    table = runconfig.read(path)["predict"]
    assert table["batch"] == 4 and table["paths"] == [str(folder.resolve())]
    assert set(table) <= set(predict_cmd.DEFAULTS)  # nothing --config would not understand
    assert table.get("model") is None  # the default model, not its path inside this venv
    # the same file runs from the shell, with the shipped model
    done = subprocess.run([sys.executable, "-m", "tui_tagger.cli", "predict", "--config", str(path), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 6 and all(r["error"] is None and r["probabilities"] for r in lines)
    assert runconfig.read(path)["predict"]["model"] == "shipped"  # the run saved again, by a word a reinstall keeps


async def test_a_bad_value_is_named_and_the_dialog_stays(folder):
    app = TaggerApp(folder, graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        await pilot.press("P")
        assert await until(pilot, lambda: dialog_up(app))
        field(app, "batch").value = "lots"
        app.screen.query_one("#save").press()
        error = app.screen.query_one("#run-error")
        assert await until(pilot, lambda: "Batch size" in str(error.render()))  # the button's message
        assert isinstance(app.screen, RunDialog)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, RunDialog)
    assert not (folder / "predict-config.toml").exists() and not run_options.config_path("predict", folder).exists()


async def test_train_from_the_tui_writes_a_model_that_p_then_uses(folder, tmp_path):
    out = tmp_path / "models" / "mine.pt"
    app = TaggerApp(folder, graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        await pilot.press("T")
        assert await until(pilot, lambda: dialog_up(app))
        assert field(app, "epochs").value == str(train_cmd.DEFAULTS["epochs"])
        field(app, "out").value = str(out)
        field(app, "init").value = ""  # from scratch: quick on three tagged images
        field(app, "epochs").value = "1"
        field(app, "val_split").value = "0"
        app.screen.query_one("#run").press()
        # the dialog's answer (a callback after it closes) saves the config and starts the run
        saved = run_options.config_path("train", folder)
        assert await until(pilot, lambda: saved.exists())
        assert not (folder / "train-config.toml").exists()
        table = runconfig.read(saved)["train"]
        assert table["dirs"] == [str(folder.resolve())] and table["epochs"] == 1 and table["out"] == str(out)
        assert set(table) <= set(train_cmd.DEFAULTS)
        seen_running = False
        for _ in range(600):  # the UI answers keys while the child process trains
            await pilot.press("down")
            seen_running |= "training:" in str(app.status.render())
            if app.training is None:
                break
            await pilot.pause(0.1)
        assert seen_running
        assert app.training is None and out.exists()
        assert app.predict_options["model"] == str(out)  # p predicts with the new model
