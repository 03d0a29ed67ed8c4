"""Pilot tests of a big folder's long jobs off the UI thread (issue 20: long work never on the UI thread, a
million frames): review's start (``r``: the images picked in its worker), the tag counts (``t``: the picker
opens at once, its counts fill in) and a name filter (``/``: the names looked through in a worker). Each is
held in its worker here (a slow, big folder): keys work meanwhile, the status line or the picker says what
runs, and the result is right when it lands."""

from __future__ import annotations

import threading

import pytest
from support import RING, app_on, make_folder, names, ready, until

from tui_tagger.ui import lists, review_mode, view
from tui_tagger.ui.screens.tag_picker import TagPicker
from tui_tagger.ui.sorted_rows import sort_key

TSAXS = "TSAXS"


@pytest.fixture
def forty(tmp_path):
    tagged = {f"img{i:02d}": ([RING] if i % 4 == 0 else []) + ([TSAXS] if i % 3 == 0 else []) for i in range(40)}
    return make_folder(tmp_path / "forty", n=40, tagged={k: v for k, v in tagged.items() if v})


def big_app(folder):
    app = app_on(folder)
    app.background_from = 0  # every long job in a worker, as on a folder of a million frames
    app.idle_resort_s = float("inf")
    app._head_enabled = False
    return app


def held(fn, threads: list):
    """``fn`` that, off the UI thread, waits for the returned gate before it returns (notes its thread)."""
    gate = threading.Event()

    def slow(*args, **kw):
        out = fn(*args, **kw)
        threads.append(threading.current_thread())
        if threading.current_thread() is not threading.main_thread():
            gate.wait(20)
        return out

    return slow, gate


def status(app) -> str:
    app.status.update_now()
    return app.status._text.plain


async def test_review_picks_its_images_in_the_worker_while_keys_work(forty, monkeypatch):
    app = big_app(forty)
    threads: list = []
    slow_pick, gate = held(review_mode.pick_images, threads)
    monkeypatch.setattr(review_mode, "pick_images", slow_pick)
    seen = {}

    class Head:  # the features and the cross-validated head (learn/): what it found, given the labels
        ready = True

        def review(self, labels, outliers):
            seen["labels"] = labels
            return [(p, True, 0.05) for p in sorted(p for p, v in labels.items() if v)[:2]], []

    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        app.live_head = Head()
        app.neg.focus()
        before = names(app.neg)
        await pilot.press("r")
        assert await until(pilot, lambda: threads)
        assert threads[0] is not threading.main_thread()
        assert "review: questionable labels of Ring: Isotropic" in status(app)
        # keys work meanwhile, on the lists as they were: the cursor moves, a move is made
        await pilot.press("down")
        assert app.neg.current.rel == before[1] and names(app.neg)[:1] == before[:1]
        moved = app.neg.current.path
        await pilot.press("m")
        assert moved in {r.path for r in app.pos.rows}
        gate.set()
        assert await until(pilot, lambda: app.review_mode == "questionable" and app.lists_pending() is None)
        assert seen["labels"][moved] is True  # the labels are those after the move made meanwhile
        found = sorted(p for p, v in seen["labels"].items() if v)[:2]
        assert sorted(r.path for r in app.pos.rows + app.neg.rows) == found
        assert "review:" not in status(app) and "filter (review): 2 questionable" in status(app)


async def test_a_review_of_a_tag_left_meanwhile_is_dropped(forty, monkeypatch):
    app = big_app(forty)
    threads: list = []
    slow_pick, gate = held(review_mode.pick_images, threads)
    monkeypatch.setattr(review_mode, "pick_images", slow_pick)

    class Head:  # finds every labelled image questionable; learns nothing on the tag change
        ready, paths = True, []

        def fit(self, labels, tag):
            return None

        def review(self, labels, outliers):
            return [(p, v, 0.5) for p, v in labels.items()], []

    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        app.live_head = Head()
        await pilot.press("r")
        assert await until(pilot, lambda: threads)
        slow_split, split_gate = held(app.session.split, [])
        monkeypatch.setattr(app.session, "split", slow_split)
        app.set_view(tag=TSAXS)  # its lists held in their worker: the review's result comes first
        gate.set()
        assert await until(pilot, lambda: not app._review_pending)
        split_gate.set()
        assert await until(pilot, lambda: app.lists_pending() is None)
        await pilot.pause(0.2)
        assert app.session.tag == TSAXS and app.review_mode is None and app.filter_text == ""
        assert len(app.pos.rows) + len(app.neg.rows) == 40


async def test_the_tag_picker_opens_at_once_and_its_counts_fill_in(forty, monkeypatch):
    app = big_app(forty)
    threads: list = []
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        slow_counts, gate = held(app.session.counts, threads)
        monkeypatch.setattr(app.session, "counts", slow_counts)
        app.session._counted = None  # (the scan's own count for the first tag answers at once while nothing
        # has changed since, as a second t below does: here the folder's first count, as after a change)
        await pilot.press("t")
        assert await until(pilot, lambda: isinstance(app.screen, TagPicker) and threads)
        picker = app.screen
        assert threads[0] is not threading.main_thread()
        options = picker.query_one("#tag-options")
        title = picker.query_one(".dialog-title").render()
        assert "counting" in str(title)
        # keys work meanwhile: type to search, move to another tag
        await pilot.press("t", "s", "a")
        assert options.get_option_at_index(options.highlighted).id == TSAXS
        assert "+" not in options.get_option_at_index(options.highlighted).prompt.plain  # no count yet
        gate.set()
        assert await until(pilot, lambda: picker.counting is None)
        line = options.get_option_at_index(options.highlighted)
        assert line.id == TSAXS and "+14 −26" in line.prompt.plain  # 14 of img00..img39 are multiples of 3
        assert "counting" not in str(picker.query_one(".dialog-title").render())
        await pilot.press("enter")
        assert await until(pilot, lambda: app.session.tag == TSAXS and app.lists_pending() is None)
        # nothing changed since: the counts come at once, no worker
        await pilot.press("t")
        assert await until(pilot, lambda: isinstance(app.screen, TagPicker))
        assert app.screen.counting is None and app.screen.counts[TSAXS] == 14
        assert threads[1:] == [threading.main_thread()]  # read from the last count, on the UI thread
        await pilot.press("escape")
        # a move changes them: counted again, the move in them
        app.neg.focus()
        await pilot.pause(0.1)
        moved = app.neg.current.path
        await pilot.press("m")
        assert TSAXS in app.session.tags(app.session.row(moved))
        await pilot.press("t")
        assert await until(pilot, lambda: isinstance(app.screen, TagPicker) and len(threads) == 3)
        assert threads[2] is not threading.main_thread()
        assert await until(pilot, lambda: app.screen.counting is None)
        assert app.screen.counts[TSAXS] == 15
        await pilot.press("escape")


async def test_a_name_filter_is_looked_through_in_a_worker_while_keys_work(forty, monkeypatch):
    app = big_app(forty)
    threads: list = []
    slow_check, gate = held(view.check_names, threads)
    monkeypatch.setattr(view, "check_names", slow_check)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        app.neg.focus()
        before = names(app.neg)
        await pilot.press("slash", *"img1", "enter")
        assert await until(pilot, lambda: threads)
        assert threads[0] is not threading.main_thread()
        assert "filter: looking through the names" in status(app)
        await pilot.press("down")  # keys work meanwhile, on the lists as they were
        assert names(app.neg) == before and app.neg.current.rel == before[1]
        gate.set()
        assert await until(pilot, lambda: app.filter_text == "img1" and app.lists_pending() is None)
        assert sorted(names(app.pos) + names(app.neg)) == [f"img1{i}.tif" for i in range(10)]
        assert names(app.pos) == ["img12.tif", "img16.tif"]
        assert "looking through" not in status(app) and "filter (name): img1" in status(app)
        # a name no image has, and no tag query: said, and the lists stay as they are
        threads.clear()
        gate.clear()
        await pilot.press("slash", *"zz-none", "enter")
        assert await until(pilot, lambda: threads)
        gate.set()
        assert await until(pilot, lambda: app._names_pending is None)
        await pilot.pause(0.1)
        assert app.filter_text == "img1" and len(app.pos.rows) + len(app.neg.rows) == 10
        assert any("no name contains it" in str(n.message) for n in app._notifications)


async def test_a_big_folders_idle_resort_of_many_rows_lands_from_the_worker(forty, monkeypatch):
    # a live head's new p for thousands of rows at 1M: moved one by one they held the UI thread seconds
    monkeypatch.setattr(lists, "MOVE_IN_PLACE_BIG", 0)
    app = big_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        app.neg.focus()
        await pilot.press(*["down"] * 12, "space")  # a mark, the cursor on the next row
        marked, under = set(app.neg.marked), app.neg.current.path
        line = app.neg.line_of(app.neg.cursor) - int(app.neg.scroll_y)
        rows = sorted(app.session.rows, key=lambda r: r.rel)
        app.apply_predictions([(r.path, {RING: (i * 7 % 40) / 40}, None) for i, r in enumerate(rows)], "fake")
        order = names(app.neg)
        gate_threads: list = []
        slow_split, gate = held(app.session.split, gate_threads)
        monkeypatch.setattr(app.session, "split", slow_split)
        app.idle_resort_s = 0  # the user rests
        assert await until(pilot, lambda: gate_threads)
        assert names(app.neg) == order and app.lists_pending() is not None  # in the worker, the lists as they are
        await pilot.pause(0.3)
        assert len(gate_threads) == 1  # not asked again at every tick while it runs
        gate.set()
        assert await until(pilot, lambda: app.lists_pending() is None and not app.order_stale())
        key = sort_key("p", RING, False)
        assert [key(r) for r in app.neg.rows] == sorted(key(r) for r in app.neg.rows) and names(app.neg) != order
        assert app.neg.current.path == under and app.neg.marked == marked
        assert app.neg.line_of(app.neg.cursor) - int(app.neg.scroll_y) == line  # the cursor's image on its line
