"""tui-tagger watch as a user runs it: the command in a subprocess, frames written by another process (a scripted
detector) while it runs. Every wait is a wait-until with a generous timeout, never a timing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PREDICT_KEYS = {"path", "probabilities", "error"}
TAGS = ["TSAXS", "Saturation"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny untrained model of 64 px inputs (the predictions' values do not matter here, only their flow)."""
    import torch

    from tui_tagger.model.checkpoint import ModelInfo, save_checkpoint
    from tui_tagger.model.nets import create_model
    from tui_tagger.model.transforms import preprocess_config

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("watch-model") / "tiny.pt"
    info = ModelInfo("alexnet-tagger", {}, TAGS, preprocess_config({"size": 64}), name="tiny")
    save_checkpoint(path, create_model(info.arch, len(TAGS)), info)
    return path


def tiff_bytes(seed: int = 0, size: int = 48) -> bytes:
    import io

    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(seed).poisson(50, (size, size)).astype(np.uint16))
    return buf.getvalue()


def detector(script: str, *args: str) -> subprocess.Popen:
    """Another process writing frames: ``script`` (Python) with ``args`` in sys.argv[1:]."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT)


class Watch:
    """``tui-tagger watch ...`` in a subprocess; its stdout and stderr lines collected as they come."""

    def __init__(self, *args: str, cwd: Path | None = None):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "tui_tagger", "watch", *args], cwd=cwd or ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()
        self.wait_for(lambda: any("watching" in line for line in self.err), "the start note", 90)

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for raw in stream:
            sink.append(raw.decode("utf-8", "surrogateescape").rstrip("\n"))

    def wait_for(self, cond, what: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if self.proc.poll() is not None and not cond():
                time.sleep(0.2)  # the readers may still be catching up
                if cond():
                    return
                raise AssertionError(f"watch exited ({self.proc.returncode}) before {what}:\n" + "\n".join(self.err))
            if time.monotonic() > end:
                raise AssertionError(f"no {what} within {timeout} s; stderr:\n" + "\n".join(self.err)
                                     + "\nstdout:\n" + "\n".join(self.out))
            time.sleep(0.05)

    def records(self) -> list[dict]:
        return [json.loads(line) for line in list(self.out)]

    def wait_records(self, n: int, timeout: float = 60) -> list[dict]:
        self.wait_for(lambda: len(self.out) >= n, f"{n} output lines", timeout)
        return self.records()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("watch did not stop on " + signal.Signals(sig).name)
        time.sleep(0.2)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def watches():
    started: list[Watch] = []
    yield started
    for w in started:
        w.kill()


def start(watches, *args) -> Watch:
    w = Watch(*map(str, args))
    watches.append(w)
    return w


WRITE_IN_PARTS = """
import os, sys, time
folder, data = sys.argv[1], open(sys.argv[2], "rb").read()
for i in range(3):  # written in two parts with a pause between, the file open the whole time
    with open(os.path.join(folder, f"shot_{i}.tif"), "wb") as fh:
        fh.write(data[: len(data) // 3]); fh.flush(); time.sleep(0.4); fh.write(data[len(data) // 3 :])
tmp = os.path.join(folder, ".incoming.tif")  # written under a hidden name, renamed into place
with open(tmp, "wb") as fh:
    fh.write(data[:100]); fh.flush(); time.sleep(0.3); fh.write(data[100:])
os.rename(tmp, os.path.join(folder, "renamed.tif"))
open(os.path.join(folder, "notes.txt"), "w").write("not an image")
"""


def test_partial_writes_give_one_prediction_per_complete_frame(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    (tmp_path / "frame.bin").write_bytes(tiff_bytes())
    w = start(watches, folder, "--model", model, "--json", "--workers", "1")
    assert any("inotify events" in line or "polling" in line for line in w.err)  # says which mode it uses
    writer = detector(WRITE_IN_PARTS, str(folder), str(tmp_path / "frame.bin"))
    assert writer.wait(60) == 0
    records = w.wait_records(4)
    assert sorted(Path(r["path"]).name for r in records) == ["renamed.tif", "shot_0.tif", "shot_1.tif", "shot_2.tif"]
    for r in records:
        assert PREDICT_KEYS | {"seen", "done"} == set(r)
        assert r["error"] is None and set(r["probabilities"]) == set(TAGS)
        seen, done = datetime.fromisoformat(r["seen"]), datetime.fromisoformat(r["done"])
        assert seen.tzinfo is not None and seen <= done
    assert w.stop() == 0
    assert len(w.out) == 4  # nothing twice, the hidden temp name and the text file never
    assert not any("Traceback" in line for line in w.err)
    assert not list(folder.glob("*.tag")) and not list(folder.glob("*.xml"))  # no --write: nothing written there


def test_restart_does_not_predict_again_and_backlog_says_what_to_do_with_old_frames(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    for i in range(2):
        (folder / f"old_{i}.tif").write_bytes(tiff_bytes(i))
    w = start(watches, folder, "--model", model, "--json", "--workers", "0")
    assert sorted(Path(r["path"]).name for r in w.wait_records(2)) == ["old_0.tif", "old_1.tif"]
    assert w.stop() == 0

    (folder / "while_down.tif").write_bytes(tiff_bytes(5))  # arrives while no watch runs
    (folder / "old_1.tif").write_bytes(tiff_bytes(9) + b"")  # rewritten: a new frame at the same path
    os.utime(folder / "old_1.tif", ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    w = start(watches, folder, "--model", model, "--json", "--workers", "0")
    records = w.wait_records(2)
    time.sleep(1.5)  # let a wrong repeat show, if there were one
    assert sorted(Path(r["path"]).name for r in w.records()) == ["old_1.tif", "while_down.tif"]
    assert w.stop() == 0

    (folder / "before_start.tif").write_bytes(tiff_bytes(6))
    w = start(watches, folder, "--model", model, "--json", "--workers", "0", "--backlog", "none")
    (folder / "after_start.tif").write_bytes(tiff_bytes(7))
    records = w.wait_records(1)
    time.sleep(1.5)
    assert [Path(r["path"]).name for r in w.records()] == ["after_start.tif"]
    assert w.stop() == 0

    w = start(watches, folder, "--model", model, "--json", "--workers", "0", "--backlog", "all")
    records = w.wait_records(5)
    assert sorted(Path(r["path"]).name for r in records) == sorted(p.name for p in folder.glob("*.tif"))
    assert len(records) == 5
    assert w.stop() == 0


EXEC_WAITS = ('while [ ! -f "$RELEASE" ]; do sleep 0.05; done; '
              'printf "%s|%s\\n" "$TUI_TAGGER_FRAME" "$(printf %s "$TUI_TAGGER_TAGS" | tr "\\n" ,)" >> "$LOG"')


def test_alerts_ring_name_the_frame_and_run_exec_without_blocking(model, tmp_path, watches, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    release, log = tmp_path / "release", tmp_path / "exec.log"
    monkeypatch.setenv("RELEASE", str(release))
    monkeypatch.setenv("LOG", str(log))
    # --threshold 0: every tag is on, so "TSAXS" matches every frame and "not TSAXS" none
    w = start(watches, folder, "--model", model, "--threshold", "0", "--alert", "TSAXS", "--alert", "not tsaxs",
              "--exec", EXEC_WAITS, "--workers", "0")
    odd = os.fsdecode(b"odd_\x1b[31m_\xff.tif")
    for name in ("a.tif", "b.tif", odd):
        (folder / name).write_bytes(tiff_bytes())
    # the --exec commands wait for the release file, yet every frame is predicted and alerted meanwhile
    w.wait_for(lambda: len([l for l in w.err if "alert:" in l]) >= 3, "three alert lines")
    assert len(w.out) == 3 and not log.exists()
    alerts = [line for line in w.err if "alert:" in line]
    assert len(alerts) == 3 and all('"TSAXS"' in line and "TSAXS 0." in line for line in alerts)
    assert any("odd_\\x1b[31m_\\xff.tif" in line for line in alerts)  # the name shown escaped, never obeyed
    release.write_text("go")
    w.wait_for(lambda: log.exists() and log.read_bytes().count(b"\n") >= 3, "the --exec commands' output")
    lines = log.read_bytes().splitlines()
    assert sorted(line.split(b"|")[0] for line in lines) == sorted(
        os.fsencode(folder / n) for n in ("a.tif", "b.tif", odd))  # the frame's path, byte for byte
    assert all(set(line.split(b"|")[1].split(b",")) == {b"TSAXS", b"Saturation"} for line in lines)  # its tags
    assert w.stop(signal.SIGINT) == 0
    assert "3 alerts" in w.err[-1]


def test_polling_mode(model, tmp_path, watches):
    folder = tmp_path / "run"
    (folder / "deep" / "er").mkdir(parents=True)
    w = start(watches, folder, "--model", model, "--json", "--poll", "0.2", "--workers", "0")
    assert any("polling every 0.2 s" in line for line in w.err)
    (folder / "deep" / "er" / "x.tif").write_bytes(tiff_bytes())
    (records,) = w.wait_records(1)
    assert records["path"] == str(folder / "deep" / "er" / "x.tif") and records["error"] is None
    assert w.stop() == 0


GROWING_HDF5 = """
import sys, time, os, numpy as np, h5py
path, go = sys.argv[1], sys.argv[2]
f = h5py.File(path, "w", libver="latest")
ds = f.create_dataset("entry/data/data", shape=(0, 40, 40), maxshape=(None, 40, 40), chunks=(1, 40, 40), dtype="uint16")
f.swmr_mode = True
rng = np.random.default_rng(0)
for i in range(4):
    ds.resize(i + 1, axis=0); ds[i] = rng.poisson(30, (40, 40)); ds.flush()
    if i == 1:  # the file stays open for writing until the watch has shown frame 0
        while not os.path.exists(go):
            time.sleep(0.05)
f.close()
"""


def test_a_growing_hdf5_file_is_followed_frame_by_frame(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    go = tmp_path / "go"
    w = start(watches, folder, "--model", model, "--json", "--workers", "1")
    writer = detector(GROWING_HDF5, str(folder / "series.h5"), str(go))
    first = w.wait_records(1)[0]  # frame 0 comes out while its writer still appends (and waits for us)
    assert first["path"] == f"{folder / 'series.h5'}::/entry/data/data#0" and first["error"] is None
    assert writer.poll() is None
    go.write_text("go")
    assert writer.wait(60) == 0
    records = w.wait_records(4)
    time.sleep(1.5)
    assert [r["path"].rsplit("#", 1)[1] for r in w.records()] == ["0", "1", "2", "3"]
    assert all(r["error"] is None for r in w.records())
    assert w.stop() == 0


EIGER_DATA_FIRST = """
import sys, time, os, numpy as np, h5py
folder, go = sys.argv[1], sys.argv[2]
def data_file(n, frames):
    with h5py.File(os.path.join(folder, f"s_data_{n:06d}.h5"), "w") as d:
        d["entry/data/data"] = np.random.default_rng(n).poisson(30, (frames, 40, 40)).astype("uint16")
data_file(1, 3)  # a data file full and closed before its master is there
while not os.path.exists(go):  # until the watch has taken it on its own
    time.sleep(0.05)
with h5py.File(os.path.join(folder, "s_master.h5"), "w") as f:  # then the master, linking it and the next one
    for n in (1, 2):
        f[f"entry/data/data_{n:06d}"] = h5py.ExternalLink(f"s_data_{n:06d}.h5", "/entry/data/data")
data_file(2, 2)
"""


def test_eiger_data_file_before_its_master_each_frame_predicted_once(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    go = tmp_path / "go"
    w = start(watches, folder, "--model", model, "--json", "--workers", "1")
    writer = detector(EIGER_DATA_FIRST, str(folder), str(go))
    first = w.wait_records(3)  # the data file's frames, on their own: its master is not there yet
    assert [r["path"] for r in first] == [f"{folder / 's_data_000001.h5'}::/entry/data/data#{i}" for i in range(3)]
    go.write_text("go")
    assert writer.wait(60) == 0
    w.wait_records(5)
    time.sleep(2.5)  # the master settles (1 s) and is taken: a repeat of the first 3 frames would show now
    master = f"{folder / 's_master.h5'}::/entry/data"
    assert [r["path"] for r in w.records()][3:] == [f"{master}#3", f"{master}#4"]  # data_000002's, once
    assert all(r["error"] is None for r in w.records())
    assert w.stop() == 0
    w = start(watches, folder, "--model", model, "--json", "--workers", "1")  # a restart: nothing again
    time.sleep(2.5)
    assert w.records() == [] and not any("Traceback" in line for line in w.err)
    assert w.stop() == 0
    w = start(watches, folder, "--model", model, "--json", "--workers", "1", "--backlog", "all")
    w.wait_records(5)
    time.sleep(1.5)
    assert sorted(r["path"] for r in w.records()) == sorted(f"{master}#{i}" for i in range(5))  # all, once
    assert w.stop() == 0


def test_sigterm_finishes_the_frame_in_hand_and_a_restart_takes_the_rest(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    for i in range(40):
        (folder / f"f_{i:02d}.tif").write_bytes(tiff_bytes(i, size=200))
    w = start(watches, folder, "--model", model, "--json", "--workers", "1", "--batch", "2")
    w.wait_records(1)
    assert w.stop(signal.SIGTERM) == 0
    first = [r["path"] for r in w.records()]  # every line whole JSON (records() parses each)
    assert "stopped:" in w.err[-1] and not any("Traceback" in line for line in w.err)
    w = start(watches, folder, "--model", model, "--json", "--workers", "1")
    w.wait_for(lambda: len(first) + len(w.out) >= 40, "the rest of the frames")
    time.sleep(1.5)
    second = [r["path"] for r in w.records()]
    assert sorted(first + second) == sorted(str(p) for p in folder.glob("*.tif"))  # each exactly once
    assert w.stop() == 0


def test_a_corrupt_file_is_one_line_and_tried_once_more_when_it_changes(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    w = start(watches, folder, "--model", model, "--json", "--workers", "0")
    good = tiff_bytes()
    (folder / "cut.tif").write_bytes(good[: len(good) // 2])  # a writer that died half way
    w.wait_for(lambda: any("cut.tif" in line for line in w.err), "a line about cut.tif")
    lines = [line for line in w.err if "cut.tif" in line]
    assert len(lines) == 1 and "tried once more if it changes" in lines[0]
    (folder / "cut.tif").write_bytes(good)  # written again, complete
    w.wait_for(lambda: any(r["error"] is None for r in w.records()), "its prediction")
    (folder / "bad.tif").write_bytes(b"II*\x00garbage")
    w.wait_for(lambda: len([l for l in w.err if "bad.tif" in l]) >= 1, "a line about bad.tif")
    (folder / "bad.tif").write_bytes(b"II*\x00garbage, again")
    w.wait_for(lambda: len([l for l in w.err if "bad.tif" in l]) >= 2, "a second line about bad.tif")
    (folder / "bad.tif").write_bytes(b"II*\x00garbage, a third time")
    (folder / "fine.tif").write_bytes(good)
    w.wait_for(lambda: any(r["path"].endswith("fine.tif") for r in w.records()), "fine.tif")
    time.sleep(1.5)
    assert len([line for line in w.err if "bad.tif" in line]) == 2  # not tried a third time
    assert not any("Traceback" in line for line in w.err)
    assert w.stop() == 0


def test_tag_files_that_cannot_be_written_do_not_stop_the_watch(model, tmp_path, watches):
    folder = tmp_path / "run"
    folder.mkdir()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the tags folder should be")  # writes fail (root ignores read-only modes)
    w = start(watches, folder, "--model", model, "--json", "--workers", "0", "--accept-above", "0",
              "--tags-dir", blocked)
    for i in range(3):
        (folder / f"f{i}.tif").write_bytes(tiff_bytes(i))
    records = w.wait_records(3)
    assert all(r["probabilities"] and r["error"] for r in records)  # predicted; the write error said
    assert len([line for line in w.err if "cannot write" in line or "not-a-folder" in line]) == 1
    assert w.stop() == 0

    w = start(watches, folder, "--model", model, "--json", "--workers", "0", "--accept-above", "0.0")
    (folder / "f9.tif").write_bytes(tiff_bytes(9))
    (record,) = w.wait_records(1)
    assert record["error"] is None
    from tui_tagger.core.tagstore import TagStore

    tagfile = TagStore().load(folder / "f9.tif")
    assert {t.source for t in tagfile.tags.values()} == {"model"} and set(tagfile.predictions) == set(TAGS)
    assert w.stop() == 0


def test_the_summary_counts_the_files_skipped_as_unreadable(model, tmp_path, watches):
    """An empty or mislabelled file is reported as it comes and skipped; the line at the stop counted it as
    neither predicted nor unreadable ("2 frames predicted, 0 unreadable" after two such files and one frame)."""
    folder = tmp_path / "run"
    folder.mkdir()
    w = start(watches, folder, "--model", model, "--json", "--workers", "1")
    (folder / "empty.tif").write_bytes(b"")
    (folder / "notes.tif").write_text("not a frame\n")
    (folder / "good.tif").write_bytes(tiff_bytes(1))
    w.wait_records(1)
    w.wait_for(lambda: sum("skipped" in line for line in w.err) >= 2, "both skip lines")
    assert w.stop() == 0
    assert w.err[-1] == "tui-tagger: stopped: 1 frames predicted, 2 unreadable, 0 alerts"
