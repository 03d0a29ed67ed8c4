"""Pilot tests: ``open DIR --follow`` (issue 21 part 2). Frames written into the folder by another process join
the lists and get their p from the model of ``p``; ``f`` stops and resumes following (what was written meanwhile
shows then); an ``--alert`` query gives a notice and the bell; a newest-first sort."""

from __future__ import annotations

import subprocess
import sys

from support import RING, make_folder, ready, until

from tui_tagger.ui.app import TaggerApp

WRITE = "import sys, numpy, tifffile; tifffile.imwrite(sys.argv[1], numpy.full((64, 64), 7, numpy.uint16))"


class FakePredictor:
    """A Predictor (predict_paths): p(Ring) 0.9 for frames named new*, 0.1 for the rest."""

    device = "cpu"
    tags = [RING]
    preprocess: dict = {}

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict_arrays(self, batch):
        raise NotImplementedError

    def predict_paths(self, paths, batch=32, workers=None, progress=None):
        for path in paths:
            self.seen.append(path)
            yield path, {RING: 0.9 if path.rsplit("/", 1)[-1].startswith("new") else 0.1}, None


def write_frame(path) -> None:
    """The detector: another process writes the frame and closes it."""
    subprocess.run([sys.executable, "-c", WRITE, str(path)], check=True)


def status(app) -> str:
    return str(app.status.render())


def listed(app, path) -> bool:
    return any(r.path == str(path) for r in app.pos.rows + app.neg.rows)


def predicted(app, path) -> bool:
    return str(path) in app.session.index and RING in app.session.row(str(path)).predictions


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def follow_app(folder, model) -> TaggerApp:
    """The app on ``folder`` following it, its frames predicted by ``model``."""
    return TaggerApp(folder, tag=RING, graphics="halfcell", predictor=lambda: model, follow=True)


async def until_following(app, pilot) -> None:
    """Scanned, and the follower started (its mode known)."""
    await ready(app, pilot)
    assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)


async def test_a_frame_written_by_another_process_joins_the_lists_with_its_p(folder):
    model = FakePredictor()
    app = follow_app(folder, model)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_following(app, pilot)
        app.neg.focus()
        await pilot.press("down")
        cursor_on = app.neg.current.path
        new = folder / "new_001.tif"
        write_frame(new)
        assert await until(pilot, lambda: listed(app, new) and predicted(app, new), tries=600)
        assert app.session.row(str(new)).predictions[RING] == 0.9
        assert str(new) in model.seen  # predicted by the model of p
        assert app.neg.current.path == cursor_on  # the cursor stayed on its image
        text = status(app)
        assert "following:" in text and "frames/min" in text and "backlog 0" in text
        # corrections go on as before: the new frame moves to Positive
        app.neg.select_path(str(new))
        await pilot.press("m")
        assert await until(pilot, lambda: any(r.path == str(new) for r in app.pos.rows))
        assert app.session.dirty == [str(new)]


async def test_f_stops_and_resumes_following(folder):
    model = FakePredictor()
    app = TaggerApp(folder, tag=RING, graphics="halfcell", predictor=lambda: model)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert not app.following and "following" not in status(app)
        await pilot.press("f")
        assert app.following
        assert await until(pilot, lambda: app.follow_state.mode != "", tries=600)
        first = folder / "new_a.tif"
        write_frame(first)
        assert await until(pilot, lambda: listed(app, first) and predicted(app, first), tries=600)
        await pilot.press("f")
        assert not app.following and "following" not in status(app)
        second = folder / "new_b.tif"
        write_frame(second)  # while not following: not listed...
        await pilot.pause(0.5)
        assert not listed(app, second)
        await pilot.press("f")  # ...until following again
        assert await until(pilot, lambda: listed(app, second) and predicted(app, second), tries=600)


async def test_an_alert_query_gives_a_notice_and_the_bell(folder):
    model = FakePredictor()
    app = TaggerApp(folder, tag=RING, graphics="halfcell", predictor=lambda: model, follow=True,
                    alerts=["Ring: Isotropic"])
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)
        write_frame(folder / "other.tif")  # p 0.1: no alert
        new = folder / "new_hit.tif"
        write_frame(new)
        assert await until(pilot, lambda: any("alert:" in n for n in notices(app)), tries=600)
        alert = [n for n in notices(app) if "alert:" in n]
        assert alert == ["alert: new_hit.tif: Ring: Isotropic 0.90 [Ring: Isotropic]"]
        assert bells
        # the status line is redrawn on its own tick, which a loaded machine can put after the notice
        assert await until(pilot, lambda: "last alert new_hit.tif" in status(app), tries=600)


async def test_a_burst_of_alerts_is_a_few_notices_that_count_them_all(folder):
    import re

    app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False, predictor=FakePredictor, follow=True,
                    alerts=["Ring: Isotropic"])
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)
        burst = [folder / f"new_{i:02d}.tif" for i in range(8)]
        subprocess.run([sys.executable, "-c", f"import numpy, tifffile\nfor p in {[str(p) for p in burst]}:\n"
                        "    tifffile.imwrite(p, numpy.zeros((64, 64), numpy.uint16))"], check=True)

        def told() -> tuple[int, int]:
            one = sum(n.startswith("alert:") for n in notices(app))
            more = sum(int(m.group(1)) for n in notices(app) for m in [re.match(r"(\d+) more alerts?", n)] if m)
            return one, more

        assert await until(pilot, lambda: sum(told()) == len(burst), tries=600), (told(), notices(app))
        groups = sum(bool(re.match(r"\d+ more alerts?", n)) for n in notices(app))
        # a few notices however many frames: up to 3 one by one, the rest counted (once per quiet spell)
        assert told()[0] <= 3 and groups <= 3 and 1 <= len(bells) <= 1 + groups, (notices(app), bells)


async def test_newest_first_sort_puts_the_last_written_frame_on_top(folder):
    model = FakePredictor()
    app = follow_app(folder, model)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        for _ in range(12):  # o: a re-sort where new p came in, else the next sort order
            if app.sort == "newest":
                break
            await pilot.press("o")
        assert app.sort == "newest"
        assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)
        new = folder / "new_top.tif"
        write_frame(new)
        assert await until(pilot, lambda: listed(app, new), tries=600)
        assert app.neg.rows[0].path == str(new)
        assert "sort: newest" in status(app)


async def test_a_new_frame_on_top_leaves_the_cursors_image_on_its_line(tmp_path):
    """Newest first, the cursor scrolled down: the new frame goes in on top, out of view, and the image under the
    cursor stays where the eye is."""
    import os
    import time

    root = make_folder(tmp_path / "many", n=40)
    last = max(os.stat(p).st_ctime for p in root.iterdir())
    while time.time() < last + 1.5:  # the frames are older than the follower's margin: the scan's, not new
        time.sleep(0.05)
    app = TaggerApp(root, tag=RING, graphics="none", thumbnails=False, predictor=FakePredictor, follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        for _ in range(12):
            if app.sort == "newest":
                break
            await pilot.press("o")
        assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)
        app.neg.focus()
        for _ in range(25):
            await pilot.press("down")
        lst = app.neg
        image, line = lst.current.path, lst.cursor * lst.row_h - lst.scroll_y
        assert lst.scroll_y > 0
        new = root / "new_top.tif"
        write_frame(new)
        assert await until(pilot, lambda: predicted(app, new) and listed(app, new), tries=600)
        assert lst.rows[0].path == str(new)
        assert lst.current.path == image and lst.cursor * lst.row_h - lst.scroll_y == line


async def test_following_without_a_model_still_lists_the_frames(tmp_path):
    from tui_tagger.core.errors import TaggerError

    def no_model():
        raise TaggerError("no model here: /nowhere/model.pt")

    root = make_folder(tmp_path / "d", n=2)
    app = TaggerApp(root, tag=RING, graphics="none", thumbnails=False, predictor=no_model, follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        new = root / "new_x.tif"
        assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)
        write_frame(new)
        assert await until(pilot, lambda: listed(app, new), tries=600)
        assert any("following without predictions: no model here" in n for n in notices(app))


async def test_with_the_default_model_the_followed_frames_are_predicted_in_the_models_own_process(folder):
    import multiprocessing

    app = TaggerApp(folder, tag=RING, graphics="none", thumbnails=False, follow=True)  # the shipped model
    app._head_enabled = False
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.follow_state is not None and app.follow_state.mode, tries=600)
        new = folder / "new_001.tif"
        write_frame(new)
        assert await until(pilot, lambda: listed(app, new) and predicted(app, new), tries=1200)
        models = [p for p in multiprocessing.active_children() if p.name == "tui-tagger-model"]
        assert len(models) == 1 and models[0].is_alive()  # the model ran there, not in the app's process
    models[0].join(5)
    assert not models[0].is_alive()  # and it went with the following


async def test_a_frame_closed_half_written_then_whole_gets_its_thumbnail(folder):
    """A detector (or a copy) that closes a frame half-written and appends the rest: the half frame's
    thumbnail fails; once the whole frame arrives its row shows the thumbnail, not "✗ bad" (user trial)."""
    import io
    import time

    import numpy as np
    import tifffile

    from tui_tagger.ui.thumbs import FAILED

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(1).poisson(30, (64, 64)).astype(np.uint16))
    whole = buf.getvalue()
    model = FakePredictor()
    app = follow_app(folder, model)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_following(app, pilot)
        new = folder / "new_half.tif"
        new.write_bytes(whole[: len(whole) // 2])  # closed: complete as far as the follower can tell
        assert await until(pilot, lambda: listed(app, new) and app.thumbs.peek(str(new)) is FAILED, tries=600)
        time.sleep(0.02)  # a later mtime for the whole frame
        with open(new, "ab") as fh:
            fh.write(whole[len(whole) // 2:])
        thumb = lambda: app.thumbs.peek(str(new))  # noqa: E731
        assert await until(pilot, lambda: thumb() is not None and thumb() is not FAILED and thumb().size > 0,
                           tries=600)
        assert app.session.row(str(new)).error is None


async def test_at_80_columns_the_status_line_still_says_it_is_following(folder):
    model = FakePredictor()
    app = follow_app(folder, model)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_following(app, pilot)
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None and app.predict_device, tries=600)
        app.status.update_now()
        shown = str(app.status.render())
        assert "follow" in shown and "/min" in shown and "backlog" in shown, shown


async def test_a_frame_deleted_while_following_leaves_the_lists_at_once(folder, monkeypatch):
    """Not at the next look at the folder (every 30 s): the follower's event drops the row (user trial: 10-20 s)."""
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0")  # no look at the folder: only the follower's event drops it
    model = FakePredictor()
    app = follow_app(folder, model)
    async with app.run_test(size=(160, 48)) as pilot:
        await until_following(app, pilot)
        if "events" not in app.follow_state.mode:
            import pytest

            pytest.skip(f"no file system events here ({app.follow_state.mode})")
        new = folder / "new_gone.tif"
        write_frame(new)
        assert await until(pilot, lambda: listed(app, new), tries=600)
        total = len(app.session.rows)
        new.unlink()
        # the folder is never looked at again here: only the follower's event can drop the row
        assert await until(pilot, lambda: not listed(app, new) and len(app.session.rows) == total - 1, tries=600)
        assert str(new) not in app.session.index
