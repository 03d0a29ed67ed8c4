"""``p``'s model in a process of its own (model/process.py): the same results as the model in this process, in
order, a run stopped early leaves it ready, and a model that cannot load or a process that dies is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.model.test_feed import CONFIG, _frames
from tui_tagger.core.errors import TaggerError
from tui_tagger.model import process as model_process
from tui_tagger.model.process import ModelProcess


@pytest.fixture
def model(tmp_path):
    from tui_tagger.model.checkpoint import ModelInfo, save_checkpoint
    from tui_tagger.model.nets import create_model

    path = tmp_path / "m.pt"
    info = ModelInfo("alexnet-tagger", {}, ["a", "b", "c"], CONFIG, thresholds={"a": 0.3}, name="tiny")
    save_checkpoint(path, create_model("alexnet-tagger", 3), info)
    return path


def test_results_in_order_as_in_this_process_across_chunks(tmp_path, model, monkeypatch):
    from tui_tagger.model.infer import LocalPredictor

    paths = _frames(tmp_path, 5)
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 not a tiff")
    paths.insert(2, str(bad))
    monkeypatch.setattr(model_process, "CHUNK", 2)  # the paths go over in three messages
    proc = ModelProcess(str(model))
    try:
        assert proc.info.name == "tiny" and proc.info.thresholds == {"a": 0.3} and proc.tags == ["a", "b", "c"]
        got = list(proc.predict_paths(paths, batch=2, workers=0))
        want = list(LocalPredictor.load(model).predict_paths(paths, batch=2, workers=0))
        assert got == want
        assert got[2][1] is None and "broken.tif" in got[2][2] and "\n" not in got[2][2]
        assert proc.alive()
    finally:
        proc.close()
    assert not proc.process.is_alive()


def test_a_run_stopped_early_leaves_the_process_ready(tmp_path, model):
    paths = _frames(tmp_path, 4)
    proc = ModelProcess(str(model))
    try:
        run = proc.predict_paths(paths * 50, batch=1, workers=0)
        first = next(run)
        run.close()  # p pressed again: the run stops, the model stays loaded
        assert first[0] == paths[0] and proc.alive()
        again = list(proc.predict_paths(paths, batch=2, workers=0))
        assert [r[0] for r in again] == paths and all(r[1] for r in again)
    finally:
        proc.close()


def test_a_file_that_is_no_model_is_one_line(tmp_path):
    bad = tmp_path / "mine.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(TaggerError) as err:
        ModelProcess(str(bad))
    assert "mine.pt" in str(err.value) and "\n" not in str(err.value)


def test_a_killed_model_process_is_one_line_not_a_hang(tmp_path, model):
    paths = _frames(tmp_path, 2)
    proc = ModelProcess(str(model))
    os.kill(proc.process.pid, signal.SIGKILL)
    proc.process.join(5)
    with pytest.raises(TaggerError) as err:
        list(proc.predict_paths(paths, workers=0))
    assert "model process" in str(err.value)
    assert not proc.alive()


def test_the_callers_process_never_imports_torch(tmp_path, model):
    paths = _frames(tmp_path, 2)
    script = textwrap.dedent(f"""
        import sys
        from tui_tagger.model.process import ModelProcess
        proc = ModelProcess({str(model)!r})
        results = list(proc.predict_paths({paths!r}, workers=0))
        proc.close()
        assert all(probs for _, probs, _ in results), results
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_followed_folders_frames_stream_through_the_process(tmp_path, model):
    from tui_tagger.model.infer import LocalPredictor

    paths = _frames(tmp_path, 5)
    want = {p: probs for p, probs, _ in LocalPredictor.load(model).predict_paths(paths, workers=0)}
    proc = ModelProcess(str(model))
    assert proc.info.threshold("a") == 0.3 and proc.info.threshold("b") == 0.5  # the alerts' thresholds
    try:
        stream = proc.stream(batch=2, workers=0)
        tokens = [object() for _ in paths]  # the caller's tokens never travel (an arrival, not picklable)
        for path, token in zip(paths, tokens):
            stream.submit(path, token)
        assert len(stream) == 5
        got = []
        for _ in range(200):
            got += stream.results(wait=0.1)
            if len(got) == 5:
                break
        assert [t for t, _ in got] == tokens and len(stream) == 0
        assert all(result[0] == p and result[1] == pytest.approx(want[p], abs=1e-3)
                   for p, (_, result) in zip(paths, got))
        stream.close()
        assert proc.alive()  # the process serves on (p's next run, or the next following)
        assert [r[0] for r in proc.predict_paths(paths[:2], workers=0)] == paths[:2]
    finally:
        proc.close()
