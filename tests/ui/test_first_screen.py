"""A million frames (issue 20, item 4): the first screen comes from a few pages of the index and is painted
while the rest of the folder loads in the background; keys work meanwhile; once loaded the lists are whole,
in their order, with what the user did meanwhile kept. The page sizes are made tiny here (``scan.PAGE``,
``scan.PAGED_FROM``) and the background load is held by a gate until the test has seen the first screen."""

from __future__ import annotations

import threading

from support import make_folder, ready, until

from tui_tagger.core.tagfile import TagFile
from tui_tagger.ui import backend, scan
from tui_tagger.ui.app import TaggerApp

RING = "Ring: Isotropic"
N = 24


def paths(lst) -> list[str]:
    return [r.path for r in lst.rows]


def held_load(monkeypatch) -> threading.Event:
    """Small pages, and the whole-folder load waits for the returned gate."""
    monkeypatch.setattr(scan, "PAGED_FROM", 1)
    monkeypatch.setattr(scan, "PAGE", 4)
    gate = threading.Event()
    load = backend.index_rows

    def held(catalog):
        gate.wait(30)
        yield from load(catalog)

    monkeypatch.setattr(backend, "index_rows", held)
    return gate


async def opened_cold(folder, **kw):
    """The lists of a first (cold) open, which fills the index: what a warm open must end with."""
    app = TaggerApp(folder, graphics="halfcell", thumbnails=False, **kw)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        return app.session.tag, paths(app.pos), paths(app.neg)


async def test_first_screen_shows_before_the_rest_loads_keys_work_and_the_lists_end_whole(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "d", n=N, tagged={f"img{i:02d}": [RING] for i in range(0, N, 3)})
    _, want_pos, want_neg = await opened_cold(folder, tag=RING)
    gate = held_load(monkeypatch)
    app = TaggerApp(folder, tag=RING, graphics="halfcell", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        assert await until(pilot, lambda: app.pos.rows and app.neg.rows)
        # the first rows of each list, in the lists' order, while the rest is held back
        assert paths(app.pos) == want_pos[:4] and paths(app.neg) == want_neg[:4]
        assert len(app.session.rows) == 8 and app.scanning
        assert not any("new here" in n.message for n in app._notifications)  # --tag found in the index
        assert await until(pilot, lambda: f"loading {N} images" in str(app.status.render()))
        # keys work meanwhile: the cursor moves, a mark, a move to the other list
        app.neg.focus()
        await pilot.press("down")
        assert app.neg.current.path == want_neg[1]
        await pilot.press("space")  # marks want_neg[1], the cursor goes on to want_neg[2]
        marked = want_neg[1]
        assert app.neg.current.path == want_neg[2]
        await pilot.press("m")  # the marked image moves to the other list
        assert marked in paths(app.pos) and marked not in paths(app.neg)
        app.neg.focus()
        await pilot.press("down")
        cursor = app.neg.current.path

        gate.set()
        assert await until(pilot, lambda: len(app.session.rows) == N and not app.loading)
        await ready(app, pilot)
        # whole and in order, the move kept; the cursor still on its image
        assert paths(app.pos) == sorted(want_pos + [marked], key=lambda p: p.rsplit("/", 1)[-1])
        assert paths(app.neg) == [p for p in want_neg if p != marked]
        assert app.neg.current.path == cursor
        assert app.session.dirty == [marked]
        await pilot.press("u")  # the move made while loading is undone like any other
        assert paths(app.neg) == want_neg and paths(app.pos) == want_pos
        app.session.discard_journal()


async def test_the_first_screen_opens_on_the_tag_most_images_have_and_a_mark_outlives_the_load(tmp_path,
                                                                                              monkeypatch):
    folder = make_folder(tmp_path / "d", n=N, tagged={f"img{i:02d}": ["TSAXS"] + ([RING] if i < 5 else [])
                                                      for i in range(0, N, 2)})
    tag, want_pos, want_neg = await opened_cold(folder)
    assert tag == "TSAXS"
    gate = held_load(monkeypatch)
    app = TaggerApp(folder, graphics="halfcell", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        assert await until(pilot, lambda: app.pos.rows)
        assert app.session.tag == "TSAXS" and paths(app.pos) == want_pos[:4]
        await pilot.press("down", "space")
        assert app.pos.marked == {want_pos[1]}
        gate.set()
        assert await until(pilot, lambda: len(app.session.rows) == N and not app.loading)
        assert paths(app.pos) == want_pos and paths(app.neg) == want_neg
        assert app.pos.marked == {want_pos[1]}  # the mark stays on its image
        assert app.pos.current.path == want_pos[2]


async def test_changes_on_disk_since_the_index_reach_the_loaded_lists(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "d", n=N, tagged={"img01": [RING]})
    await opened_cold(folder, tag=RING)
    tf = TagFile.read(folder / "img01.xml")  # the index says img01 has the tag; on disk it no longer has
    tf.remove(RING)
    tf.add("TSAXS", source="human")
    tf.save(fsync=False)
    (folder / "img05.tif").unlink()
    gate = held_load(monkeypatch)
    gate.set()
    app = TaggerApp(folder, tag=RING, graphics="halfcell", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert paths(app.pos) == []
        assert len(app.neg.rows) == N - 1 and str(folder / "img05.tif") not in app.session.index
        assert app.session.tags(app.session.row(str(folder / "img01.tif"))) == {"TSAXS": "human"}


class Recording:
    """A predictor (``model.infer``'s interface) that records the images it was asked for."""

    device = "cpu"
    preprocess: dict = {}
    tags = [RING]

    def __init__(self) -> None:
        self.asked: list[str] = []

    def predict_paths(self, paths, batch=32, workers=None, progress=None):
        for path in paths:
            self.asked.append(path)
            yield path, {RING: 0.5}, None


async def test_p_while_the_folder_still_loads_predicts_the_whole_folder(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "d", n=N, tagged={f"img{i:02d}": [RING] for i in range(0, N, 3)})
    await opened_cold(folder, tag=RING)  # the index filled: the next open is warm, its first screen paged
    gate = held_load(monkeypatch)
    recording = Recording()
    app = TaggerApp(folder, tag=RING, graphics="halfcell", thumbnails=False, predictor=lambda: recording)
    async with app.run_test(size=(160, 48)) as pilot:
        assert await until(pilot, lambda: app.pos.rows and app.neg.rows)
        assert len(app.session.rows) == 8  # the first screen's rows only
        await pilot.press("p")
        assert await until(pilot, lambda: any("once all its images are listed" in n.message
                                              for n in app._notifications))
        assert app.predicting is None and not recording.asked  # waiting, not predicting 8 of 24
        gate.set()
        assert await until(pilot, lambda: len(recording.asked) == N and app.predicting is None)
    assert sorted(recording.asked) == sorted(str(p) for p in folder.glob("*.tif"))


async def test_p_again_while_it_waits_for_the_list_cancels_it(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "d", n=N)
    await opened_cold(folder, tag=RING)
    gate = held_load(monkeypatch)
    recording = Recording()
    app = TaggerApp(folder, tag=RING, graphics="halfcell", thumbnails=False, predictor=lambda: recording)
    async with app.run_test(size=(160, 48)) as pilot:
        assert await until(pilot, lambda: app.pos.rows or app.neg.rows)
        await pilot.press("p")
        await pilot.press("p")
        assert await until(pilot, lambda: any("cancelled" in n.message for n in app._notifications))
        gate.set()
        assert await until(pilot, lambda: len(app.session.rows) == N)
        await pilot.pause(0.3)
    assert not recording.asked
