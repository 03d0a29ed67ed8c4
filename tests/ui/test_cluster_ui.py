"""Pilot tests: the TUI delegating to a real dask.distributed LocalCluster (issue 22 part 2): ``p`` and the
followed frames predicted on the workers give the local p and fill the lists, the status bar says where the
model runs; an unreachable scheduler is one notice, and the app works on."""

from __future__ import annotations

import subprocess
import sys

import distributed  # noqa: F401  the cluster extra, which the test extra brings: CI runs these tests
import pytest
from support import TAGS, free_port, local_cluster, ready, spread_model_file, until, write_tagged_tiffs

from tui_tagger.model.cluster import Cluster
from tui_tagger.model.infer import LocalPredictor
from tui_tagger.ui.app import TaggerApp

N = 8
RING = TAGS[0]
WRITE = "import sys, numpy, tifffile; tifffile.imwrite(sys.argv[1], numpy.full((64, 64), 9, numpy.uint16))"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """An untrained 64 px model with spread-out logits (the frames' p differ)."""
    return spread_model_file(tmp_path_factory.mktemp("cluster-ui") / "m.pt")


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of one worker process (the machine has 2 cores): its address."""
    yield from local_cluster(1)


def status(app) -> str:
    return str(app.status.render())


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def local_p(model_file, paths) -> dict[str, float]:
    predictor = LocalPredictor.load(model_file, "cpu")
    return {path: probs[RING] for path, probs, _ in predictor.predict_paths(paths, workers=0)}


async def test_p_and_followed_frames_run_on_the_cluster_and_fill_the_lists(tmp_path, model_file, scheduler):
    folder = tmp_path / "data"
    write_tagged_tiffs(folder, N, size=64)
    with Cluster(scheduler) as cluster:
        app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False, model=model_file, cluster=cluster)
        async with app.run_test(size=(160, 48)) as pilot:
            await ready(app, pilot)
            assert await until(pilot, lambda: f"model: 1 worker @ {scheduler}" in status(app), tries=600)
            lst = app.pos if len(app.pos.rows) > 1 else app.neg  # a list the cursor can move down in
            lst.focus()
            await pilot.pause()
            lst.cursor = 0
            before = lst.cursor  # the focused list takes the key (the rows stay put while p arrive)
            await pilot.press("p", "down")  # the UI answers while the cluster works
            assert lst.cursor == before + 1
            assert await until(pilot, lambda: app.predicting is None, tries=1200)
            rows = app.pos.rows + app.neg.rows
            assert len(rows) == N and all(RING in r.predictions for r in rows)
            expected = local_p(model_file, [r.path for r in app.session.rows])
            assert {r.path: r.predictions[RING] for r in rows} == pytest.approx(expected, abs=1e-6)
            assert any("Predicted 8 images on 1 worker @ tcp://" in n for n in notices(app))
            # a frame written by another process while following: predicted on the workers too
            await pilot.press("f")
            assert await until(pilot, lambda: app.follow_state.mode != "", tries=600)
            new = folder / "new_frame.tif"
            subprocess.run([sys.executable, "-c", WRITE, str(new)], check=True)
            assert await until(pilot, lambda: str(new) in app.session.index
                               and RING in app.session.row(str(new)).predictions, tries=1200)
            assert app.session.row(str(new)).predictions[RING] == pytest.approx(
                local_p(model_file, [str(new)])[str(new)], abs=1e-6)
            assert any(r.path == str(new) for r in app.pos.rows + app.neg.rows)
            # the connection closed under the app (a scheduler restarted): the next p connects anew
            await pilot.press("f")
            cluster.client.close()
            await pilot.press("p")
            assert await until(pilot, lambda: app.predicting is None, tries=1200)
            assert sum("Predicted 9 images on 1 worker @ tcp://" in n for n in notices(app)) == 1


async def test_an_unreachable_scheduler_is_one_notice_and_the_app_works_on(tmp_path, model_file, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_SCHEDULER_TIMEOUT", "2")
    folder = tmp_path / "data"
    write_tagged_tiffs(folder, 4, size=64)
    address = f"tcp://127.0.0.1:{free_port()}"
    cluster = Cluster(address)
    app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False, model=model_file, cluster=cluster)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: any(address in n for n in notices(app)), tries=400)
        failed = [n for n in notices(app) if address in n]
        assert len(failed) == 1 and "cannot reach the Dask scheduler" in failed[0] and "\n" not in failed[0]
        assert f"cluster unreachable: {address}" in status(app)
        await pilot.press("o")  # the app answers keys
        assert app.sort == "name"
        await pilot.press("p")  # tries again: one more notice, no prediction, no crash
        assert await until(pilot, lambda: app.predicting is None and len(
            [n for n in notices(app) if address in n]) == 2, tries=400)
        assert not any(r.predictions for r in app.session.rows)
    cluster.close()


def test_open_options_bad_input_is_one_line_before_the_screen(tmp_path, monkeypatch, capsys):
    """Without the cluster extra, a missing scheduler file, a bad --alert query: one line each, exit 1, before the
    TUI takes the terminal (scripts get it too)."""
    from tui_tagger import cli

    folder = tmp_path / "data"
    write_tagged_tiffs(folder, 2, size=64)

    def one_line(argv) -> str:
        capsys.readouterr()
        assert cli.main(argv) == 1
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert captured.out == "" and len(lines) == 1, captured.err
        return lines[0]

    missing = tmp_path / "nowhere" / "scheduler.json"
    assert str(missing) in one_line(["open", str(folder), "--scheduler", str(missing)])
    assert "local or local:N" in one_line(["open", str(folder), "--cluster", "remote:3"])
    line = one_line(["open", str(folder), "--follow", "--alert", "Ring: Isotropc and"])
    assert "--alert" in line and "Ring: Isotropc" in line
    assert "--follow" in one_line(["open", str(folder), "--alert", "Ring: Isotropic"])
    monkeypatch.setitem(sys.modules, "distributed", None)  # as without the extra
    assert 'pip install "tui-tagger[cluster]"' in one_line(["open", str(folder), "--scheduler", "tcp://127.0.0.1:1"])
    monkeypatch.setenv("TUI_TAGGER_SCHEDULER", "tcp://127.0.0.1:1")  # the environment's scheduler too
    assert 'pip install "tui-tagger[cluster]"' in one_line(["open", str(folder)])


async def test_the_live_heads_features_are_computed_on_the_cluster(tmp_path, model_file, scheduler):
    folder = tmp_path / "data"
    write_tagged_tiffs(folder, N, size=64)

    def feature_tasks(dask_scheduler) -> int:
        return sum(str(t[0]).startswith("tui-tagger-map_task") for t in dask_scheduler.transition_log)

    with Cluster(scheduler) as cluster:
        before = cluster.client.run_on_scheduler(feature_tasks)
        app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False, model=model_file, cluster=cluster)
        async with app.run_test(size=(160, 48)) as pilot:
            await ready(app, pilot)
            await pilot.press("m")  # a correction: the live head computes the folder's features
            assert await until(pilot, lambda: app.live_head is not None and app.live_head.ready, tries=1200)
            assert len(app.live_head.paths) == N
        assert cluster.client.run_on_scheduler(feature_tasks) > before  # on the workers, not here
