"""predict, evaluate and CNN features on a real dask.distributed LocalCluster of worker processes (no mock):
the same results as a local run, a worker killed mid-run, one-line errors for a scheduler that is not there."""

from __future__ import annotations

import json
import os
import signal
import sys

import distributed  # the cluster extra, which the test extra brings: CI runs these tests, never skips them
import numpy as np
import pytest

from tests.support import free_port, local_cluster, spread_model_file, write_tagged_tiffs
from tui_tagger import cli
from tui_tagger.commands import predict as predict_cmd
from tui_tagger.core.tagfile import TagFile
from tui_tagger.core.tagstore import TagStore

N = 16


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(folder of N tagged 64x64 TIFFs, an untrained model file with spread-out logits)."""
    base = tmp_path_factory.mktemp("cluster")
    write_tagged_tiffs(base / "data", N, size=64)
    return base / "data", spread_model_file(base / "m.pt")


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of 2 worker processes, 1 thread each (the machine has 2 cores): its address."""
    yield from local_cluster(2)


def _json_lines(text: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(r["error"] is None for r in rows), rows
    return {r["path"]: r["probabilities"] for r in rows}


def _local(data, model, capsys) -> dict[str, dict]:
    capsys.readouterr()
    assert cli.main(["predict", str(data), "--model", str(model), "--json", "--workers", "0"]) == 0
    return _json_lines(capsys.readouterr().out)


def test_predict_and_evaluate_on_a_cluster_give_the_local_results(setup, scheduler, tmp_path, monkeypatch, capsys):
    data, model = setup
    local = _local(data, model, capsys)
    assert len(local) == N
    # the address, written to tag files; batches of 3 so that several batches finish in their own order
    assert cli.main(["predict", str(data), "--model", str(model), "--json", "--write", "--batch", "3",
                     "--scheduler", scheduler]) == 0
    remote = _json_lines(capsys.readouterr().out)
    assert remote == local
    store = TagStore()
    for ref, probs in local.items():
        tagfile = store.load(ref)
        assert tagfile.predictions == probs and tagfile.prediction_model == "m"
    # a scheduler file, as `dask scheduler --scheduler-file` writes it
    file = tmp_path / "scheduler.json"
    file.write_text(json.dumps({"type": "Scheduler", "address": scheduler}))
    assert cli.main(["predict", str(data), "--model", str(model), "--json", "--scheduler", str(file)]) == 0
    assert _json_lines(capsys.readouterr().out) == local
    # evaluate through $TUI_TAGGER_SCHEDULER: the same metrics
    assert cli.main(["evaluate", str(data), "--model", str(model), "--json", "--workers", "0"]) == 0
    here = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("TUI_TAGGER_SCHEDULER", scheduler)
    assert cli.main(["evaluate", str(data), "--model", str(model), "--json", "--batch", "5"]) == 0
    assert json.loads(capsys.readouterr().out) == here


def test_a_worker_killed_mid_run_and_every_frame_is_written_once(setup, scheduler, monkeypatch, capsys):
    data, model = setup
    local = _local(data, model, capsys)
    with distributed.Client(scheduler, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    writes: dict[str, int] = {}
    real_write = predict_cmd._write

    def write(store, ref, *args):
        if not writes:  # the first result is in, most batches are not: kill a worker now
            os.kill(victim, signal.SIGKILL)
        writes[ref] = writes.get(ref, 0) + 1
        return real_write(store, ref, *args)

    monkeypatch.setattr(predict_cmd, "_write", write)
    rc = cli.main(["predict", str(data), "--model", str(model), "--json", "--write", "--batch", "1",
                   "--scheduler", scheduler])
    out = capsys.readouterr().out
    assert rc == 0
    assert _dead(victim)  # it was killed, during the run
    assert sorted(writes) == sorted(local) and set(writes.values()) == {1}
    lines = [json.loads(line)["path"] for line in out.splitlines()]
    assert sorted(lines) == sorted(local)  # each frame reported once
    assert _json_lines(out) == local
    for ref, probs in local.items():
        assert TagFile.read(TagStore().path_for(ref)).predictions == probs


def _dead(pid: int) -> bool:
    """The process is gone or a zombie its nanny has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def test_cnn_features_on_a_cluster_equal_the_local_ones(setup, scheduler, tmp_path):
    from tui_tagger.learn import features
    from tui_tagger.model.cluster import Cluster

    data, model = setup
    items = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(data.glob("*.tif"))]
    here = features.compute(items, "cnn", model=str(model), cache_dir=tmp_path / "a")
    with Cluster(scheduler) as cluster:
        there = features.compute(items, "cnn", model=str(model), cache_dir=tmp_path / "b", cluster=cluster)
    assert there.refs == here.refs and there.X.shape == (N, here.X.shape[1])
    np.testing.assert_array_equal(there.X, here.X)


def test_no_scheduler_no_workers_no_dask_each_one_line(setup, tmp_path, monkeypatch, capsys):
    data, model = setup
    monkeypatch.setenv("TUI_TAGGER_SCHEDULER_TIMEOUT", "2")
    common = [str(data), "--model", str(model), "--json"]

    def one_line(argv) -> str:
        capsys.readouterr()
        assert cli.main(argv) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err
        return lines[0]

    address = f"tcp://127.0.0.1:{free_port()}"
    assert address in one_line(["predict", *common, "--scheduler", address])
    missing = tmp_path / "nowhere" / "scheduler.json"
    assert str(missing) in one_line(["predict", *common, "--scheduler", str(missing)])
    (tmp_path / "bad.json").write_text("{not json")
    assert "not a Dask scheduler file" in one_line(["evaluate", *common, "--scheduler", str(tmp_path / "bad.json")])
    assert "local or local:N" in one_line(["predict", *common, "--cluster", "remote:3"])
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        line = one_line(["predict", *common, "--scheduler", empty.scheduler_address])
        assert empty.scheduler_address in line and "no workers" in line
    monkeypatch.setitem(sys.modules, "distributed", None)  # as without the extra
    assert 'pip install "tui-tagger[cluster]"' in one_line(["predict", *common, "--scheduler", address])


def test_suggest_with_a_local_cluster_of_its_own_gives_the_local_suggestions(setup, tmp_path, monkeypatch, capsys):
    """--cluster local:1 starts (and stops) a LocalCluster; the physics features are computed there."""
    data, _ = setup
    argv = ["suggest", str(data), "--tag", "Ring: Isotropic", "--features", "physics", "--json"]
    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(tmp_path / "here"))
    assert cli.main(argv) == 0
    here = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(tmp_path / "there"))  # nothing cached: all on the cluster
    assert cli.main([*argv, "--cluster", "local:1"]) == 0
    assert json.loads(capsys.readouterr().out) == here
    assert (tmp_path / "there" / "features" / "physics" / "features.sqlite").is_file()  # the client wrote it


def test_the_heads_saved_with_the_model_are_the_workers_too(setup, scheduler, tmp_path, capsys):
    """A head trained with train-head (here on the cluster's CNN features) gives the same p there as here."""
    import shutil

    data, model = setup
    mine = tmp_path / "m.pt"
    shutil.copy(model, mine)  # its heads go beside it, not beside the shared model
    assert cli.main(["train-head", str(data), "--tag", "Vertical streaks", "--model", str(mine),
                     "--scheduler", scheduler]) == 0
    assert list((tmp_path / "m.pt.heads").glob("*.cnn.npz"))
    local = _local(data, mine, capsys)
    assert cli.main(["predict", str(data), "--model", str(mine), "--json", "--scheduler", scheduler]) == 0
    assert _json_lines(capsys.readouterr().out) == local
    plain = _local(data, model, capsys)
    assert any(local[ref]["Vertical streaks"] != plain[ref]["Vertical streaks"] for ref in local)  # the head's p


def test_frames_submitted_one_by_one_stream_back_as_a_local_run_gives(setup, scheduler):
    """RemoteStream (what watch --scheduler will drive): every submitted frame comes back once, with its token,
    the local run's result; an unreadable one as its one-line error."""
    from tui_tagger.model.cluster import Cluster
    from tui_tagger.model.infer import LocalPredictor

    data, model = setup
    refs = sorted(str(p) for p in data.glob("*.tif"))
    local = {ref: probs for ref, probs, _ in LocalPredictor.load(model, "cpu").predict_paths(refs, 1, 0)}
    refs.append(str(data / "not-there.tif"))
    got: dict[int, tuple] = {}
    with Cluster(scheduler) as cluster, cluster.predictor(model).stream(batch=1) as stream:
        for token, ref in enumerate(refs):
            stream.submit(ref, token)
            for done, result in stream.results():
                assert done not in got
                got[done] = result
        for done, result in stream.drain(timeout=300):
            assert done not in got
            got[done] = result
        assert len(stream) == 0
    assert sorted(got) == list(range(len(refs)))
    assert {ref: probs for ref, probs, _ in (got[t] for t in range(N))} == local
    assert [got[t][0] for t in range(len(refs))] == refs
    assert got[N][1] is None and "not-there.tif" in got[N][2]


def test_watch_on_a_cluster_gives_the_local_results(setup, scheduler, capsys, tmp_path):
    """`watch --scheduler`: the frames of the folder (--backlog all) predicted on the workers, one line each,
    the local p; SIGTERM ends it with 0."""
    import subprocess
    import threading
    import time
    from pathlib import Path

    data, model = setup
    local = _local(data, model, capsys)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), TUI_TAGGER_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "tui_tagger", "watch", str(data), "--model", str(model),
                             "--json", "--backlog", "all", "--batch", "4", "--scheduler", scheduler],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        end = time.monotonic() + 120
        while len(lines) < N and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert rc == 0, err
    rows = [json.loads(line) for line in lines]
    assert len(rows) == N and all(r["seen"] and r["done"] for r in rows), err
    assert {r["path"]: r["probabilities"] for r in rows} == local
