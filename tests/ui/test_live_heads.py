"""Pilot test: the model learns from corrections while you work. After a few corrections the folder's
features come in (a worker), a head for the current tag trains, and the lists' p(tag) follow the labels;
the session's labels leave out model-only tags."""

from __future__ import annotations

import numpy as np
import pytest

from tui_tagger.core.tagfile import TagFile
from tui_tagger.ui.app import TaggerApp
from support import arc_frame, ready, until

RING = "Ring: Oriented z"


@pytest.fixture
def arcs(tmp_path, monkeypatch):
    """16 frames: every third has arcs along z; eight have tag files (4 positives, 4 negatives)."""
    import tifffile

    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    root = tmp_path / "arcs"
    root.mkdir()
    truth = {}
    for i in range(16):
        kind = "z" if i % 3 == 0 else "iso"
        path = root / f"f{i:02d}.tif"
        tifffile.imwrite(path, arc_frame(kind, rng))
        truth[str(path)] = kind == "z"
    labelled = [0, 3, 6, 9, 1, 2, 4, 5]
    for i in labelled:
        path = root / f"f{i:02d}.tif"
        tf = TagFile.new(path.with_suffix(".xml"), path.name)
        tf.add(RING if truth[str(path)] else "Ring: Isotropic", source="human")
        tf.save(fsync=False)
    # a model-only tag is no label
    tf = TagFile.new(root / "f12.xml", "f12.tif")
    tf.add(RING, source="model")
    tf.save(fsync=False)
    return root, truth




async def correct_and_learn(app, pilot, path, limit: float = 60.0) -> None:
    """Move ``path`` from Negative to Positive and back (two corrections), then wait for the head."""
    app.neg.focus()
    app.neg.select_path(str(path))
    await pilot.press("m")
    await pilot.press("u")
    for _ in range(int(limit / 0.05)):
        await pilot.pause(0.05)
        if app.head_status and app.head_status.startswith("learned"):
            break


async def test_head_learns_from_corrections_and_ranks_the_unlabelled(arcs):
    root, truth = arcs
    app = TaggerApp(root, tag=RING, graphics="none", thumbnails=False)
    app.idle_resort_s = float("inf")  # the rows move only when asked (o)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        labels = app.session.labels(RING)
        assert sum(labels.values()) == 4 and len(labels) == 8  # f12's model tag is not a label
        assert str(root / "f12.tif") not in labels
        # a correction: f10 is an isotropic frame; move it to Positive and back (two corrections)
        await correct_and_learn(app, pilot, root / "f10.tif")
        assert app.head_status.startswith("learned " + RING), app.head_status
        p = {r.path: r.predictions.get(RING) for r in app.session.rows}
        unlabelled = [path for path in p if path not in labels]
        assert all(p[path] is not None for path in unlabelled)
        z = [p[path] for path in unlabelled if truth[path]]
        iso = [p[path] for path in unlabelled if not truth[path]]
        assert min(z) > max(iso)  # the arcs the person never labelled rank above the isotropic ones
        # o re-sorts the Negative list by the new p: the most likely missed positive sits on top
        await pilot.press("o")
        assert app.sort == "p" and truth[app.neg.rows[0].path]


async def test_on_cnn_features_a_head_for_a_new_tag_is_saved_with_the_model(arcs, tmp_path, monkeypatch):
    # the whole loop: corrections in the TUI -> a head on the model's features -> saved beside the model
    # -> predict gives the tag; a tag the model has itself is learnt live but never saved over it
    import shutil

    from tui_tagger.learn.heads import load_model_heads
    from tui_tagger.model.locate import shipped_model_paths

    shipped = shipped_model_paths()[0]
    if not shipped.exists():
        pytest.skip("no shipped model in models/")
    model = tmp_path / "mine.pt"
    shutil.copy(shipped, model)
    monkeypatch.setenv("TUI_TAGGER_MODEL", str(model))
    monkeypatch.setenv("TUI_TAGGER_HEAD_FEATURES", "cnn")
    root, truth = arcs
    new = "Sample: my arcs"
    for xml in root.glob("*.xml"):  # the same labels under a name no model has
        tf = TagFile.read(xml)
        if tf.has(RING) and tf.get(RING).source == "human":
            tf.add(new, source="human")
            tf.save(fsync=False)
    for tag, saved in ((RING, False), (new, True)):
        app = TaggerApp(root, tag=tag, graphics="none", thumbnails=False)
        async with app.run_test(size=(140, 44)) as pilot:
            await ready(app, pilot)
            await correct_and_learn(app, pilot, root / "f10.tif")
            assert app.head_status.startswith("learned " + tag), app.head_status
            assert ("saved with the model" in app.head_status) == saved
    heads = load_model_heads(model)
    assert [h.tag for h in heads] == [new]
    assert heads[0].info["positives"] >= 4 and heads[0].info["trained_in"] == "tui"
    from tui_tagger.model.infer import LocalPredictor

    predictor = LocalPredictor.load(model, "cpu")
    assert new in predictor.tags
    p = {path: probs[new] for path, probs, _ in predictor.predict_paths(sorted(truth), workers=0)}
    assert min(p[k] for k in p if truth[k]) > max(p[k] for k in p if not truth[k])


def test_a_large_folder_learns_from_a_bounded_sample_with_every_reviewed_image(tmp_path):
    from tui_tagger.ui.live_heads import pick_images
    from tui_tagger.ui.session import Row, Session

    s = Session(tmp_path)
    rows = [Row(f"/d/{i:05d}.tif", f"{i:05d}.tif", f"{i:05d}.tif", 0, {RING: "human"} if i % 97 == 0 else {})
            for i in range(20000)]
    s.add_rows(rows)
    picked = pick_images(s, limit=1000)
    paths = {r.path for r in picked}
    assert len(picked) == 1000 and len(paths) == 1000
    assert all(r.path in paths for r in rows if r.base)  # every reviewed image is in
    unreviewed = sorted(int(p[3:8]) for p in paths if int(p[3:8]) % 97)
    assert unreviewed[0] < 100 and unreviewed[-1] > 19000  # the rest spread over the folder
    s.journal.close()


def counted_imports(arcs, monkeypatch) -> tuple[TaggerApp, list]:
    """An app on ``arcs`` whose live head's imports (``live.prepare``) are counted, not done, and wait for a
    rest that never comes until the test says."""
    import tui_tagger.learn.live as live
    from tui_tagger.ui import live_heads

    calls = []
    monkeypatch.setattr(live, "prepare", lambda model=None: calls.append(model))
    monkeypatch.setattr(live_heads, "WARM_IDLE_S", float("inf"))
    return TaggerApp(arcs[0], tag=RING, graphics="none", thumbnails=False), calls


async def test_the_live_heads_imports_wait_for_the_user_to_rest(arcs, monkeypatch):
    """torch's import holds the GIL for 0.2-0.3 s: it is done once, while no key comes, before a correction."""
    import time

    from tui_tagger.ui import live_heads

    app, calls = counted_imports(arcs, monkeypatch)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        monkeypatch.setattr(live_heads, "WARM_IDLE_S", 5.0)
        app._head_warm_from = time.monotonic() - 60
        await pilot.press("down")  # a key just now: the user is at work
        app._warm_if_idle()
        await pilot.pause(0.2)
        assert calls == []
        app._last_input -= 60  # a minute without a key
        app._warm_if_idle()
        for _ in range(100):
            await pilot.pause(0.05)
            if calls:
                break
        app._warm_if_idle()
        await pilot.pause(0.2)
        assert calls == [None]  # once, with the session's model (None: the default)


async def test_a_correction_before_the_rest_does_the_imports_itself(arcs, monkeypatch):
    from tui_tagger.ui import live_heads

    app, calls = counted_imports(arcs, monkeypatch)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        await correct_and_learn(app, pilot, arcs[0] / "f10.tif")
        assert app.head_status.startswith("learned " + RING), app.head_status
        monkeypatch.setattr(live_heads, "WARM_IDLE_S", 0.0)
        app._warm_if_idle()
        await pilot.pause(0.3)
        assert calls == [] and app._head_warm is False


async def test_a_fits_p_applied_slice_by_slice_reach_every_row(arcs, monkeypatch):
    from tui_tagger.ui import live_heads

    from tui_tagger.learn.live import LiveHead

    monkeypatch.setattr(live_heads, "APPLY_SLICE", 3)  # 16 rows: six slices
    fits = []
    fit = LiveHead.fit
    monkeypatch.setattr(LiveHead, "fit", lambda self, *a, **kw: fits.append(fit(self, *a, **kw)) or fits[-1])
    root, _ = arcs
    app = TaggerApp(root, tag=RING, graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        await correct_and_learn(app, pilot, root / "f10.tif")
        assert app.head_status.startswith("learned " + RING), app.head_status
        want = fits[-1]
        assert len(want) == 16
        assert {path: app.session.row(path).predictions.get(RING) for path in want} == want


async def test_n_goes_to_the_image_the_live_head_suggests(arcs):
    """With the live head's features in, n asks learn.suggest (its measured strategy) for the next image to
    label, never one already labelled or shown, and goes to it in whichever list holds it."""
    root, _ = arcs
    app = TaggerApp(root, tag=RING, graphics="none", thumbnails=False)
    app.idle_resort_s = float("inf")
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        await correct_and_learn(app, pilot, root / "f10.tif")
        head = app.live_head
        assert head is not None and head.ready
        labels = app.session.labels(RING, head.paths)
        want = head.suggest(labels, RING, exclude=set(app.seen))
        assert want is not None and want not in labels and want not in app.seen
        await pilot.press("n")
        assert await until(pilot, lambda: app.focused in (app.pos, app.neg) and app.focused.current.path == want)

        # the pick in the other list: n goes there
        app.neg.focus()
        other = next(r.path for r in app.pos.rows if r.path not in app.seen)
        head.suggest = lambda labels, tag, exclude=(): other
        await pilot.press("n")
        assert await until(pilot, lambda: app.focused is app.pos and app.pos.current.path == other)

        # nothing left among the head's images: the model's p decide, in the focused list, as before
        head.suggest = lambda labels, tag, exclude=(): None
        app.neg.focus()
        await pilot.pause(0.1)
        before = app.neg.current.path
        await pilot.press("n")
        assert await until(pilot, lambda: app.focused is app.neg and app.neg.current.path != before)


async def test_corrections_short_of_a_retrain_are_learnt_once_the_keys_rest(arcs):
    """One correction, then its undo, right after: fewer than RETRAIN_EVERY since the last fit. Once the keys
    rest the head learns the labels as they are, so the p shown never stay those of an undone correction."""
    from tui_tagger.ui.live_heads import REFIT_REST_S

    root, _ = arcs
    app = TaggerApp(root, tag=RING, graphics="none", thumbnails=False)
    app.idle_resort_s = float("inf")
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        wait = int((REFIT_REST_S + 10) / 0.05)
        # m then u on f10: the features come in and the first fit may see the move (5+) before the undo
        await correct_and_learn(app, pilot, root / "f10.tif")
        assert await until(pilot, lambda: app.head_status.startswith(f"learned {RING} from 4+ 4−"),
                           tries=wait), app.head_status
        app.neg.focus()
        app.neg.select_path(str(root / "f11.tif"))  # an isotropic frame, to Positive: a 5th positive
        await pilot.press("m")
        assert await until(pilot, lambda: app.head_status.startswith(f"learned {RING} from 5+ 4−"),
                           tries=wait), app.head_status
        await pilot.press("u")
        assert await until(pilot, lambda: app.head_status.startswith(f"learned {RING} from 4+ 4−"),
                           tries=wait), app.head_status
