"""Pilot tests of a big folder's lists rebuilt in a worker (issue 20: a million frames): a tag change leaves
the lists, the tag and the cursor as they are until the new lists land, keys work meanwhile, and what
changed meanwhile (a move, new p) is in its place when they do; the cursor's image and the marks stay."""

from __future__ import annotations

import threading

import pytest
from support import RING, app_on, make_folder, names, ready, until

from tui_tagger.ui.messages import PredictionsArrived
from tui_tagger.ui.widgets.checklist import TagChecklist

TSAXS = "TSAXS"


@pytest.fixture
def forty(tmp_path):
    tagged = {f"img{i:02d}": ([RING] if i % 4 == 0 else []) + ([TSAXS] if i % 3 == 0 else []) for i in range(40)}
    return make_folder(tmp_path / "forty", n=40, tagged={k: v for k, v in tagged.items() if v})


def gated(app) -> threading.Event:
    """The worker's split waits for the returned event before it hands its lists over (a slow, big folder)."""
    gate, split = threading.Event(), app.session.split

    def slow(*args, **kw):
        out = split(*args, **kw)
        if threading.current_thread() is not threading.main_thread():
            gate.wait(20)
        return out

    app.session.split = slow
    return gate


def big_app(folder):
    app = app_on(folder)
    app.background_from = 0  # every rebuild in the worker, as on a folder of a million frames
    app.idle_resort_s = float("inf")
    app._head_enabled = False
    return app


def consistent(app) -> None:
    """Each image listed once, in the list its tags say, every list in its sort order (lookups find each)."""
    s = app.session
    for lst, positive in ((app.pos, True), (app.neg, False)):
        assert [r.path for r in lst.rows] == [r.path for r in sorted(lst.rows, key=lst.sorted.key)]
        assert all((s.tag in s.tags(r)) == positive for r in lst.rows)
        assert all(lst.sorted.index(r) is not None for r in lst.rows)
    assert sorted(r.path for r in app.pos.rows + app.neg.rows) == sorted(r.path for r in s.rows)


async def test_a_tag_change_lands_whole_with_the_cursor_and_marks_in_place(forty):
    app = big_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        app.neg.focus()
        # rows negative for both tags: img01, img02 marked, the cursor then on img05
        await pilot.press("space", "space", "down")
        assert [r.rel for r in app.neg.rows[:4]] == ["img01.tif", "img02.tif", "img03.tif", "img05.tif"]
        marked, under = set(app.neg.marked), app.neg.current.path
        gate = gated(app)
        app.set_view(tag=TSAXS)
        await pilot.pause(0.1)
        # nothing changed yet: the tag, the lists and the cursor are as the user sees them; keys work
        assert app.session.tag == RING and app.lists_pending().tag == TSAXS
        assert "listing TSAXS" in app.status._text.plain
        order = names(app.neg)
        await pilot.press("up")
        assert app.neg.current.rel == "img03.tif" and names(app.neg) == order
        await pilot.press("down")
        gate.set()
        assert await until(pilot, lambda: app.lists_pending() is None)
        assert app.session.tag == TSAXS
        pos, neg = app.session.split("p", None)
        assert names(app.pos) == [r.rel for r in pos] and names(app.neg) == [r.rel for r in neg]
        assert app.neg.current.path == under and app.neg.marked == marked
        assert "listing" not in app.status._text.plain and app.inspect.path == under
        consistent(app)
        assert bold_tags(app) == [TSAXS]  # the checklist shows the lists' tag in bold


def bold_tags(app) -> list[str]:
    checklist = app.inspect.query_one(TagChecklist)
    prompts = [checklist.get_option_at_index(i).prompt for i in range(checklist.option_count)]
    # a prompt is Textual's Content (styles with .bold) or a Rich Text (style "bold")
    return [p.plain.split(" ", 1)[1].strip() for p in prompts
            if any(span.style == "bold" or getattr(span.style, "bold", False) for span in p.spans)]


async def test_a_move_and_new_p_meanwhile_are_in_their_places_when_the_lists_land(forty):
    app = big_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        app.neg.focus()
        gate = gated(app)
        app.set_view(tag=TSAXS)
        await pilot.pause(0.1)
        # meanwhile: img01 moved to the RING positives (the tag shown), new p for every image
        moved = app.neg.current.path
        await pilot.press("m")
        assert moved in {r.path for r in app.pos.rows}
        rows = sorted(app.session.rows, key=lambda r: r.rel)
        results = [(r.path, {TSAXS: (i * 7 % 40) / 40, RING: 0.5}, None) for i, r in enumerate(rows)]
        app.predicting = (0, 40)
        app.post_message(PredictionsArrived(results, 40, "fake"))
        assert await until(pilot, lambda: app.predicting[0] == 40)
        gate.set()
        assert await until(pilot, lambda: app.lists_pending() is None)
        assert app.session.tag == TSAXS
        assert RING in app.session.tags(app.session.row(moved))  # the move was on the tag then shown
        consistent(app)  # every row where the new p put it
        rows_p = [r.predictions[TSAXS] for r in app.neg.rows]
        assert rows_p == sorted(rows_p, reverse=True)


async def test_a_second_change_meanwhile_goes_on_from_the_first(forty):
    app = big_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: app.lists_pending() is None)
        gate = gated(app)
        app.set_view(tag=TSAXS)
        app.set_view(sort="name")  # before the first landed: the tag stays TSAXS
        gate.set()
        assert await until(pilot, lambda: app.lists_pending() is None)
        assert (app.session.tag, app.sort) == (TSAXS, "name")
        assert names(app.neg) == sorted(names(app.neg))
        consistent(app)
