"""A big folder's lists, made in the lists' worker, are walked by no garbage collection (ui/gc_quiet.py: each
walk of a million references held the GIL ~60 ms, and the keys waited); review's pick of images is made with
collections off and leaves nothing frozen."""

from __future__ import annotations

import gc

import pytest
from support import app_on, make_folder, ready, until

from tui_tagger.ui import gc_quiet, review_mode
from tui_tagger.ui.gc_quiet import no_collections


@pytest.fixture(autouse=True)
def unfrozen():
    yield
    gc.unfreeze()  # what a test froze is walked again by this process's later collections
    gc.enable()


def walked(obj) -> bool:
    """A collection would walk ``obj`` (it is tracked, in one of the three generations, not frozen)."""
    return any(o is obj for o in gc.get_objects())


def test_what_is_kept_is_frozen_and_collections_come_back_on():
    with no_collections() as quiet:
        assert not gc.isenabled()
        kept = [[i] for i in range(100)]
        quiet.keep = True
    assert gc.isenabled() and not walked(kept)
    with no_collections():
        passing = [[i] for i in range(100)]
    assert gc.isenabled() and walked(passing)
    gc.disable()  # (another worker's block running): it stays off after this one
    with no_collections():
        pass
    assert not gc.isenabled()


async def test_a_big_folders_new_lists_are_walked_by_no_collection(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "data", n=12, tagged={f"img{i:02d}": ["TSAXS"] for i in range(0, 12, 3)})
    app = app_on(folder)
    app.background_from = 0  # every rebuild in the worker, as on a folder of a million frames
    app._head_enabled = False
    picked_with: list[bool] = []
    pick = review_mode.pick_images

    def noting(session):
        picked_with.append(gc.isenabled())
        return pick(session)

    monkeypatch.setattr(review_mode, "pick_images", noting)
    # the lists' worker alone, not the app's other freezes (tested below): in a long test run the process holds
    # many objects, a full collection takes over 20 ms, and its freeze (or the first screen's, run late on a
    # busy machine) would take the small folder's lists with it
    monkeypatch.setattr(gc_quiet, "SLOW_FULL_MS", 1e9)
    monkeypatch.setattr(gc_quiet, "freeze_long_lived", lambda: None)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        app.set_view(tag="Ring: Isotropic")
        assert await until(pilot, lambda: app.session.tag == "Ring: Isotropic" and app.lists_pending() is None)
        assert walked(app.neg.rows)  # a small folder's: not worth freezing (kept in cycles for good if it were)
        monkeypatch.setattr(gc_quiet, "FREEZE_FROM", 12)  # lists of this folder's 12 images count as big
        app.set_view(tag="TSAXS")
        assert await until(pilot, lambda: app.session.tag == "TSAXS" and app.lists_pending() is None)
        assert len(app.pos.rows) == 4 and len(app.neg.rows) == 8
        assert not walked(app.pos.rows) and not walked(app.neg.rows)
        await pilot.press("r")
        assert await until(pilot, lambda: picked_with and not app._review_pending)
        assert not any(picked_with) and gc.isenabled()


def test_after_a_slow_full_collection_what_it_walked_is_frozen_until_thawed(monkeypatch):
    monkeypatch.setattr(gc_quiet, "SLOW_FULL_MS", -1.0)  # every full collection counts as slow
    gc_quiet.watch_full_collections()
    gc_quiet.watch_full_collections()  # (once, however often asked)
    assert gc.callbacks.count(gc_quiet._time_full) == 1
    kept = [[i] for i in range(1000)]  # long-lived objects, as a big import leaves
    assert not gc_quiet.freeze_if_due()  # no slow collection yet: nothing frozen
    assert walked(kept)
    gc.collect()
    gc.collect()  # (the test process's own garbage gone: this one finds none)
    assert gc_quiet.freeze_if_due() and not walked(kept) and gc.get_freeze_count() >= 1000
    assert not gc_quiet.freeze_if_due()  # once per slow collection
    gc_quiet.thaw()
    assert gc.get_freeze_count() == 0 and walked(kept)


def test_a_slow_collection_that_freed_much_freezes_nothing(monkeypatch):
    monkeypatch.setattr(gc_quiet, "SLOW_FULL_MS", -1.0)
    gc_quiet.watch_full_collections()
    gc.collect()
    kept = [[i] for i in range(100)]
    cycles = []
    for _ in range(len(gc.get_objects()) // 4):  # cycles, then dropped: what Textual's cached renders leave
        loop = []
        loop.append(loop)
        cycles.append(loop)
    del cycles, loop
    gc.collect()
    assert not gc_quiet.freeze_if_due()  # frozen, cycles dropped later would never be freed
    assert walked(kept) and gc.get_freeze_count() == 0


def test_at_a_long_rest_what_frozen_cycles_held_is_freed(monkeypatch):
    monkeypatch.setattr(gc_quiet, "SLOW_FULL_MS", -1.0)
    # the cap on what a rest walks is the app's: a whole test run (torch, many apps) holds over a million
    # objects, and the cap would stop the walk this test is about (CI: the full run failed here, alone it passed)
    monkeypatch.setattr(gc_quiet, "RECLAIM_MAX", 10**12)
    gc_quiet.watch_full_collections()
    holder = {"cycle": []}
    holder["cycle"].append(holder["cycle"])
    gc.collect()
    gc.collect()
    assert gc_quiet.freeze_if_due()
    import weakref

    class Node:
        pass

    node = Node()
    node.self = node
    ref = weakref.ref(node)
    gc.freeze()  # (the node frozen too, as a render frozen while cached)
    del node
    gc.collect()
    assert ref() is not None  # frozen in its cycle: not freed
    assert not gc_quiet.reclaim_at_rest(gc_quiet.RECLAIM_REST_S - 1)  # the user is still there
    assert gc_quiet.reclaim_at_rest(gc_quiet.RECLAIM_REST_S)
    assert ref() is None and gc.get_freeze_count() > 0  # freed, and the rest frozen again
    assert not gc_quiet.reclaim_at_rest(gc_quiet.RECLAIM_REST_S)  # nothing frozen since: no walk


def test_no_reclaim_where_a_walk_would_take_seconds(monkeypatch):
    monkeypatch.setattr(gc_quiet, "SLOW_FULL_MS", -1.0)
    gc_quiet.watch_full_collections()
    gc.collect()
    gc.collect()
    assert gc_quiet.freeze_if_due()
    monkeypatch.setattr(gc_quiet, "RECLAIM_MAX", gc.get_freeze_count() - 1)  # as a million frozen rows
    collections = gc.get_stats()[2]["collections"]
    assert not gc_quiet.reclaim_at_rest(gc_quiet.RECLAIM_REST_S)
    assert gc.get_stats()[2]["collections"] == collections and gc.get_freeze_count() > 0  # no walk, still frozen


async def test_a_closed_app_leaves_nothing_frozen(tmp_path):
    folder = make_folder(tmp_path / "data", n=6)
    app = app_on(folder)
    app._head_enabled = False
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        gc.collect()
        gc_quiet.freeze_if_due() or gc.freeze()  # (frozen as after a slow collection, or a big folder's rows)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0  # a test's or an embedding program's closed app goes back to the collector


def test_a_wait_within_a_quiet_block_collects_the_garbage_made_meanwhile_but_never_walks_the_block_s_objects():
    with gc_quiet.no_collections():
        made = [[i] for i in range(1000)]  # a half-done import's objects
        with gc_quiet.collections_on():  # the block waits on the user
            assert gc.isenabled() and not walked(made)  # frozen, as at the block's end
            import weakref

            class Node:
                pass

            node = Node()
            node.self = node  # a key's garbage, in a cycle
            ref = weakref.ref(node)
            del node
            gc.collect()
            assert ref() is None
        assert not gc.isenabled()
    gc_quiet.thaw()


def test_full_collections_wait_for_the_user_to_rest():
    python_s = gc.get_threshold()
    gc_quiet.full_collections_at_rest()
    try:
        full = []

        def note(phase, info):
            if phase == "start" and info["generation"] == 2:
                full.append(1)

        gc.callbacks.append(note)
        try:
            for _ in range(8):  # keys held: young and middle collections (~35), no full one of Python's
                junk = [[[] for _ in range(1000)] for _ in range(30)]
                del junk
            assert gc.get_count()[2] >= gc_quiet.FULL_EVERY and not full
            assert not gc_quiet.collect_at_rest(0.0)  # the user at work
            assert gc_quiet.collect_at_rest(gc_quiet.FULL_REST_S) and full  # a rest: one now
            assert gc.get_count()[2] == 0 and not gc_quiet.collect_at_rest(60.0)  # none due
            for _ in range(gc_quiet.FULL_LATEST):
                gc.collect(1)
            with no_collections():
                assert not gc_quiet.collect_at_rest(60.0)  # never inside a quiet block
            assert gc_quiet.collect_at_rest(0.0)  # long overdue: even while keys come
        finally:
            gc.callbacks.remove(note)
    finally:
        gc_quiet.thaw()
    assert gc.get_threshold() == python_s
