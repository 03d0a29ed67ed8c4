"""Pilot tests of steady lists (issue 20, item 2): new p show in the rows at once, but rows move only when
the user asks (o), changes the tag or filter, or rests; marks stay on the images they were put on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from support import RING, app_on, make_folder, names, ready, until

from tui_tagger.ui.messages import HeadFitted, PredictionsArrived
from tui_tagger.ui.sorted_rows import sort_key
from tui_tagger.ui.widgets.image_list import ROW_H


@pytest.fixture
def forty(tmp_path):
    return make_folder(tmp_path / "forty", n=40, tagged={f"img{i:02d}": [RING] for i in range(0, 40, 4)})


def line_text(lst, y: int) -> str:
    return "".join(s.text for s in lst.render_line(y))


def p_for(app, fn) -> list:
    """(path, {RING: p}, None) results for every image, p = fn(index in the folder)."""
    return [(r.path, {RING: fn(i)}, None) for i, r in enumerate(sorted(app.session.rows, key=lambda r: r.rel))]


def cursor_line(lst) -> int:
    """The screen line of the list's cursor row."""
    return lst.cursor * ROW_H - int(lst.scroll_y)


def steady_app(folder):
    app = app_on(folder)
    app.idle_resort_s = float("inf")  # the user never rests: only o re-sorts
    app._head_enabled = False  # the head's retrains come from the test (HeadFitted), as a worker posts them
    return app


async def test_marks_and_cursor_survive_a_live_head_retrain_and_m_moves_the_marked(forty):
    app = steady_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        await pilot.press("space", "space", "space", "space")  # the first four negatives marked, cursor on the 5th
        marked = {r.path for r in app.neg.rows[:4]}
        assert app.neg.marked == marked
        order, under = names(app.neg), app.neg.current.path
        app.live_head = SimpleNamespace(source="physics", ready=True)
        # the retrain gives every image a new p that would reorder the lists completely
        app.post_message(HeadFitted(RING, {p: (i * 7 % 40) / 40 for i, (p, _, _) in enumerate(p_for(app, float))},
                                    2, 2))
        assert await until(pilot, lambda: "learned" in (app.head_status or ""))
        assert names(app.neg) == order and app.neg.current.path == under  # nothing moved
        assert app.neg.marked == marked  # the marks stayed on their images
        assert "p=" in line_text(app.neg, 1)  # the new p show at once
        await pilot.press("m")
        assert {r.path for r in app.pos.rows} >= marked  # the four marked moved
        assert under in {r.path for r in app.neg.rows}  # the unmarked row under the cursor did not
        assert not app.neg.marked


async def test_arriving_predictions_and_p_on_marked_images_keep_marks_and_order(forty):
    class Fake:
        device, preprocess, tags = "cpu", {}, [RING]

        def predict_paths(self, paths, batch=32, workers=None, progress=None):
            for i, path in enumerate(paths):
                yield path, {RING: 0.99 - i / 100}, None

    app = steady_app(forty)
    app.predictor_factory = lambda: Fake()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        await pilot.press("down", "space", "down", "space", "down")
        marked, order, under = set(app.neg.marked), names(app.neg), app.neg.current.path
        assert len(marked) == 2
        await pilot.press("p")  # the model on the marked images
        assert await until(pilot, lambda: app.predicting is None and app.session.predicted)
        assert set(app.session.predicted) == marked
        assert app.neg.marked == marked and names(app.neg) == order and app.neg.current.path == under
        # more predictions arrive, for every image: the order still stays
        app.predicting = (0, 40)
        app.post_message(PredictionsArrived(p_for(app, lambda i: (i * 13 % 40) / 40), 40, "fake"))
        assert await until(pilot, lambda: app.predicting[0] == 40)
        assert names(app.neg) == order and app.neg.marked == marked and app.neg.current.path == under


async def test_o_resorts_with_the_cursor_image_on_its_line(forty):
    app = steady_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        await pilot.press(*["down"] * 20)  # scrolled: the cursor is mid-list
        await pilot.press("space")  # a mark, then the cursor on the next row
        marked = set(app.neg.marked)
        under, line = app.neg.current.path, cursor_line(app.neg)
        app.apply_predictions(p_for(app, lambda i: (i * 7 % 40) / 40), "fake")
        assert app.neg.current.path == under and cursor_line(app.neg) == line
        await pilot.press("o")
        assert app.sort == "p"  # o re-sorted; it did not change the sort order
        key = sort_key("p", RING, False)
        assert [key(r) for r in app.neg.rows] == sorted(key(r) for r in app.neg.rows)
        assert app.neg.marked == marked
        assert app.neg.current.path == under and cursor_line(app.neg) == line  # the row under the cursor stays
        await pilot.press("o")  # sorted already: the next sort order
        assert app.sort == "name"


async def test_an_idle_moment_resorts_and_a_tag_change_does_too(forty):
    app = steady_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        order = names(app.neg)
        app.apply_predictions(p_for(app, lambda i: (i * 7 % 40) / 40), "fake")
        assert names(app.neg) == order
        app.idle_resort_s = 0  # the user rests
        assert await until(pilot, lambda: names(app.neg) != order)
        key = sort_key("p", RING, False)
        assert [key(r) for r in app.neg.rows] == sorted(key(r) for r in app.neg.rows)


async def test_a_tick_of_another_tag_leaves_a_stale_row_where_it_is(forty):
    app = steady_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        await pilot.press("down", "down")
        app.apply_predictions(p_for(app, lambda i: (i * 7 % 40) / 40), "fake")
        order, under = names(app.neg), app.neg.current.path
        app.session.set_tag([under], "TSAXS", True)
        app.update_rows([under])
        assert names(app.neg) == order and app.neg.current.path == under
        await pilot.press("o")
        incremental = names(app.neg)
        app.rebuild_lists()
        assert names(app.neg) == incremental  # o put every row where a full sort does


async def test_a_move_in_the_other_list_leaves_the_marks_here(forty):
    app = steady_app(forty)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("space", "space")  # two positives marked
        marked = set(app.pos.marked)
        await pilot.press("tab", "m")  # a negative moved: not one of the marked images
        assert await until(pilot, lambda: len(app.session.dirty) == 1)
        assert app.pos.marked == marked
        await pilot.press("shift+tab")
        assert await until(pilot, lambda: app.focused is app.pos)
        await pilot.press("m")  # the marked ones move, and their marks go with the move
        assert await until(pilot, lambda: len(app.session.dirty) == 3)
        assert marked <= {r.path for r in app.neg.rows} and not app.pos.marked
