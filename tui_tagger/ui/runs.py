"""Predict-with-options and train from the TUI (a mixin of TaggerApp).

Both open ``RunDialog`` with the shell command's options and defaults; Save writes the TOML that the
command's ``--config`` reads, Run saves it too (every run records what it ran with, as on the shell) and
starts the job. Training runs ``tui-tagger train --config FILE`` as a child process read by a worker
thread: the UI never waits for it, and Escape stops it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.model.locate import SHIPPED, resolve_model  # no torch
from tui_tagger.ui import run_options
from tui_tagger.ui.messages import TrainingFinished, TrainingProgress
from tui_tagger.ui.screens.run_dialog import RunDialog

_EPOCH = re.compile(r"^epoch (\d+)\b.*?(?:val_mean_ap ([0-9.]+|None))?\s*$")


class RunsMixin:
    model: str | None = None  # `tui-tagger open --model M`: the model of p, P, T, h and the live heads
    predict_options: dict | None = None  # the options of the last "Predict with options" (p reuses them)
    _train_proc: subprocess.Popen | None = None  # training: the child process (the worker reads its output)

    def model_file(self) -> str | None:
        """The model this session uses: the last "Predict with options" one (or the one T just trained),
        else ``--model``; None means the default model (``model.locate.default_model_path``)."""
        model = (self.predict_options or {}).get("model") or self.model
        if model == SHIPPED:  # the P dialog's word for the model in the package: its file in this install
            try:
                return str(resolve_model(model))
            except TaggerError:
                return None
        return model

    # ---- predict with options ----------------------------------------------------------------
    def action_predict_options(self) -> None:
        options = run_options.predict_options(self.model)
        if self.predict_options:  # show what the last run used
            options = [run_options.Option(o.key, o.label, o.kind, self.predict_options.get(o.key, o.default),
                                          o.hint, o.optional) for o in options]
        path = run_options.config_path("predict", self.root)
        self.push_screen(RunDialog("predict", f"Predict · {self.root}", options, path, "Predict"),
                         lambda answer: self._predict_dialog_done(answer, path))

    def _predict_dialog_done(self, answer, path: Path) -> None:
        if answer is None:
            return
        action, values = answer
        if not self._save_run("predict", run_options.predict_table(values, [str(self.root)], self.session.tags_dir), path):
            return
        self.predict_options = values
        if action == "run":
            if self.predicting is not None:
                self.action_cancel()
            self.action_predict()

    # ---- train ---------------------------------------------------------------------------
    def action_train(self) -> None:
        if self._train_proc is not None:
            self.notify("A training run is already going (Escape stops it).")
            return
        path = run_options.config_path("train", self.root)
        self.push_screen(
            RunDialog("train", f"Train on the tagged images of {self.root}",
                      run_options.train_options(self.model_file()), path, "Train"),
            lambda answer: self._train_dialog_done(answer, path))

    def _train_dialog_done(self, answer, path: Path) -> None:
        if answer is None:
            return
        action, values = answer
        if self.session.dirty:
            self.notify("Unsaved corrections are not in the tag files yet: save (s) first to train on them.",
                        severity="warning", timeout=8)
        if not self._save_run("train", run_options.train_table(values, self.root, self.session.tags_dir), path):
            return
        if action == "run":
            out = Path(values["out"]).expanduser()
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                self.notify(f"{out.parent}: {err.strerror or err}", severity="error")
                return
            cmd = [sys.executable, "-m", "tui_tagger.cli", "train", "--config", str(path)]
            try:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
            except OSError as err:
                self.notify(f"Training failed: cannot start training: {err}", severity="error", timeout=15,
                            markup=False)
                return
            self._train_proc = proc
            self.training = "starting…"
            self.train_run(proc, out)

    @work(thread=True, exclusive=True, group="train", description="train")
    def train_run(self, proc: subprocess.Popen, out: Path) -> None:
        """Reads the training process's output into progress messages until it ends."""
        last = ""
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            last = line
            m = _EPOCH.match(line)
            if m:
                shown = f"epoch {m.group(1)}" + (f", val mAP {m.group(2)}" if m.group(2) not in (None, "None") else "")
                self.post_message(TrainingProgress(shown))
            elif line.startswith("training "):
                self.post_message(TrainingProgress("epoch 0 (decoding done)"))
        rc = proc.wait()
        self.post_message(TrainingFinished(rc, last, out))

    def on_training_progress(self, msg: TrainingProgress) -> None:
        if self._train_proc is not None:
            self.training = msg.text

    def on_training_finished(self, msg: TrainingFinished) -> None:
        rc, last, out = msg.rc, msg.last, msg.out
        stopped = self._train_proc is None or rc is not None and rc < 0
        self._train_proc, self.training = None, None
        if rc == 0:
            # p uses the new model from now on (a model.pt in the config folder is the default anyway)
            self.predict_options = {**(self.predict_options or {}), "model": str(out)}
            self.notify(f"Trained: {out}. Predict (p) now uses it.", timeout=12, markup=False)
        elif stopped:
            self.notify("Training stopped.")
        else:
            self.notify(f"Training failed: {last or 'no output'}", severity="error", timeout=15, markup=False)

    def cancel_training(self) -> bool:
        proc = self._train_proc
        if proc is None:
            return False
        self._train_proc = None
        proc.terminate()
        self.training = None
        self.notify("Stopping the training run…")
        return True

    # ---- shared --------------------------------------------------------------------------
    def _save_run(self, kind: str, table: dict, path: Path) -> bool:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            run_options.save(kind, table, path)
        except (TaggerError, OSError) as err:
            self.notify(str(err), severity="error", timeout=10, markup=False)
            return False
        self.notify(f"Saved {path} · from the shell: {run_options.shell_command(kind, path)}", timeout=10, markup=False)
        return True
