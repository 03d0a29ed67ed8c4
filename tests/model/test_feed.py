"""The decoding workers that feed the model (model.feed) and what predict reads of a model file before torch
(model.peek): the same inputs as decoding in this process, in order, one line for a bad file, a dead worker's
frames failed and the rest still decoded, and a safe start in a many-threaded process."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
import zipfile

import numpy as np
import pytest
import tifffile

from tui_tagger.model.data import decode_item
from tui_tagger.model.feed import DecodePool, Feed, start_method
from tui_tagger.model.peek import model_preprocess
from tui_tagger.model.transforms import preprocess_config

CONFIG = preprocess_config({"size": 64, "invalid": -1.0})


def _frames(folder, n: int) -> list[str]:
    rng = np.random.default_rng(3)
    paths = []
    for i in range(n):
        path = folder / f"f{i:02d}.tif"
        img = rng.poisson(30, (90, 120)).astype(np.uint16)
        img[40:50, :] += np.uint16(400 * (i + 1))
        tifffile.imwrite(path, img)
        paths.append(str(path))
    return paths


def test_a_feed_gives_every_frame_in_order_as_this_process_decodes_it(tmp_path):
    paths = _frames(tmp_path, 7)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\0garbage")
    refs = paths[:3] + [str(bad)] + paths[3:]
    with Feed(refs, CONFIG, physics=True, workers=2, ahead=2) as feed:  # 2 slots, reused for 8 frames
        got = list(feed.batches(3))
    assert [b[0] for b in got] == [[0, 1, 2], [4, 5], [6, 7]]
    assert got[1][2] == [(3, decode_item(str(bad), CONFIG)[1])] and str(bad) in got[1][2][0][1]
    for index, x, _, found in got:
        for i, row, sure in zip(index, x, found):
            want, _, want_sure = decode_item(refs[i], CONFIG, True)
            assert row.tobytes() == want.tobytes() and sure == want_sure


def test_a_dead_worker_fails_its_frames_with_one_line_each_and_the_next_frames_decode(tmp_path):
    paths = _frames(tmp_path, 3)
    pool = DecodePool(CONFIG, False, 1, slots=4)
    try:
        first = pool.submit(paths[0])
        assert pool.result(first)[1] is None
        pool.release(first)
        os.kill(pool._workers[0].process.pid, signal.SIGKILL)
        time.sleep(0.2)
        lost = pool.submit(paths[1])
        x, error, _ = pool.result(lost)
        assert x is None and error.startswith(paths[1] + ": the decoding process stopped")
        pool.release(lost)
        after = pool.submit(paths[2])
        assert pool.result(after)[0].tobytes() == decode_item(paths[2], CONFIG)[0].tobytes()
    finally:
        pool.close()


def test_the_tuis_decoding_workers_yield_the_cpu_to_its_keys(tmp_path, monkeypatch):
    """The TUI's p and follow load their model through ui.predict, which lowers the workers' priority as for the
    thumbnail workers; predict and watch keep theirs (the model waits on them)."""
    from tui_tagger.model import feed
    from tui_tagger.ui import decoding, predict

    monkeypatch.setattr(feed, "WORKER_NICE", 0)
    paths = _frames(tmp_path, 1)

    def worker_nice() -> int:
        pool = DecodePool(CONFIG, False, 1)
        try:
            assert pool.result(pool.submit(paths[0]))[1] is None  # the worker has started and set itself up
            return os.getpriority(os.PRIO_PROCESS, pool._workers[0].process.pid)
        finally:
            pool.close()

    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert worker_nice() == own
    try:
        predict.load_predictor(str(tmp_path / "missing.pt"))
    except Exception:
        pass  # no model there: what counts is that the TUI's path set the priority first
    assert worker_nice() == min(19, own + decoding.NICE)


def test_workers_are_not_forked_from_a_process_with_other_threads_running():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert start_method() == "forkserver"
    finally:
        stop.set()
        other.join()


def test_a_feed_started_beside_other_threads_decodes_the_same_through_a_fork_server(tmp_path):
    paths = _frames(tmp_path, 3)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with Feed(paths, CONFIG, physics=False, workers=1) as feed:
            assert feed._pool.method == "forkserver"
            got = [(i, None if x is None else x.copy(), error) for i, x, error, _ in feed.items()]
    finally:
        stop.set()
        other.join()
    assert [(i, x.tobytes(), e) for i, x, e in got] == [(i, decode_item(p, CONFIG)[0].tobytes(), None)
                                                       for i, p in enumerate(paths)]


def test_the_model_files_preprocessing_is_read_without_torch_and_matches_the_load(tmp_path):
    from tui_tagger.model.checkpoint import ModelInfo, load_checkpoint, save_checkpoint
    from tui_tagger.model.nets import create_model

    path = tmp_path / "m.pt"
    save_checkpoint(path, create_model("alexnet-tagger", 2), ModelInfo("alexnet-tagger", {}, ["a", "b"], CONFIG))
    assert model_preprocess(path) == load_checkpoint(path)[1].preprocess == CONFIG

    # anything else is None, never an error: the real load says what is wrong
    (tmp_path / "not.pt").write_bytes(b"not a zip")
    assert model_preprocess(tmp_path / "not.pt") is None
    assert model_preprocess(tmp_path / "missing.pt") is None
    os.mkfifo(tmp_path / "fifo.pt")
    assert model_preprocess(tmp_path / "fifo.pt") is None  # refused at once, never waited on
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"magic": "tui-tagger-model", "preprocess": os.getcwd}))
    assert model_preprocess(evil) is None  # a global beyond torch's tensors: refused, nothing called


@pytest.mark.parametrize("workers", [0, 1])
def test_predict_started_before_the_model_gives_the_same_probabilities(tmp_path, workers, capsys):
    from tui_tagger.cli import main
    from tui_tagger.model.checkpoint import ModelInfo, save_checkpoint
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.nets import create_model

    paths = _frames(tmp_path, 5)
    model = tmp_path / "m.pt"
    save_checkpoint(model, create_model("alexnet-tagger", 3), ModelInfo("alexnet-tagger", {}, ["a", "b", "c"], CONFIG))
    assert main(["predict", "--json", "--model", str(model), "--workers", str(workers), *paths]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    want = list(LocalPredictor.load(model).predict_paths(paths, workers=0))
    import json

    assert [(r["path"], r["probabilities"]) for r in map(json.loads, lines)] == [(p, probs) for p, probs, _ in want]
