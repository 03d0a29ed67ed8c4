"""Pilot tests: prediction in the TUI (responsive while it runs, p(tag) in the rows, cancel, no model),
the legible checklist, the tag picker's ranking and `n` next suggested."""

from __future__ import annotations

import threading
import time

from support import make_folder, names, ready

from tui_tagger.core.errors import TaggerError
from tui_tagger.core.vocabulary import default_vocabulary
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.tag_picker import rank_tags
from tui_tagger.ui.widgets.checklist import TagChecklist

RING = "Ring: Isotropic"


class SlowPredictor:
    """A Predictor (tui_tagger.model.infer's interface) that takes ``delay`` s per image. With ``gate``, it
    stops after the first image until the test sets ``gate``: a key is then surely handled mid-run, however
    loaded the machine."""

    device = "cpu"
    preprocess: dict = {}

    def __init__(self, probs: dict[str, float], delay: float = 0.05, gate: bool = False) -> None:
        self.tags = [RING]
        self.probs = probs  # file name -> p(RING)
        self.delay = delay
        self.started = threading.Event()
        self.gate = threading.Event()
        if not gate:
            self.gate.set()
        self.yielded = 0

    def predict_arrays(self, batch):
        raise NotImplementedError

    def predict_paths(self, paths, batch=32, workers=None, progress=None):
        self.started.set()
        for path in paths:
            time.sleep(self.delay)
            if self.yielded == 1:
                self.gate.wait(30)
            self.yielded += 1
            name = path.rsplit("/", 1)[-1]
            yield path, {RING: self.probs.get(name, 0.5)}, None




async def until(pilot, cond, limit=10.0):
    end = time.monotonic() + limit
    while not cond() and time.monotonic() < end:
        await pilot.pause(0.05)
    return cond()


def text_of(strip) -> str:
    return "".join(s.text for s in strip)


async def checklist_line(pilot, checklist, name: str) -> str:
    """The checklist's line for ``name`` as drawn (scrolled into view)."""
    checklist.highlighted = next(i for i in range(checklist.option_count)
                                 if checklist.get_option_at_index(i).value == name)
    await pilot.pause(0.1)
    y = checklist.highlighted - checklist.scroll_offset.y
    return text_of(checklist.render_line(y))


def status(app) -> str:
    return str(app.status.render())


PROBS = {"img00.tif": 0.9, "img01.tif": 0.2, "img02.tif": 0.7, "img03.tif": 0.1, "img04.tif": 0.45,
         "img05.tif": 0.05}


async def test_predict_keeps_ui_responsive_and_fills_p(folder):
    predictor = SlowPredictor(PROBS, delay=0.15, gate=True)
    app = TaggerApp(folder, tag=RING, graphics="halfcell", predictor=lambda: predictor)
    app.idle_resort_s = float("inf")  # the user never rests: the rows move only when asked (o)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        before_order = (names(app.pos), names(app.neg))
        await pilot.press("p")
        assert await until(pilot, lambda: predictor.started.is_set())
        assert "predicting" in status(app) and "cpu" in status(app)
        before = app.neg.cursor
        await pilot.press("down")  # handled while the model runs
        assert app.neg.cursor == before + 1
        assert predictor.yielded < len(PROBS)  # the key really came in mid-run
        predictor.gate.set()
        assert await until(pilot, lambda: app.predicting is None)
        assert "model: cpu" in status(app)
        # every row has p(tag), shown at once, but nothing moved under the user until o
        assert (names(app.pos), names(app.neg)) == before_order
        assert all(RING in r.predictions for r in app.pos.rows + app.neg.rows)
        assert "o re-sorts" in status(app)
        await pilot.press("o")
        assert app.sort == "p" and "o re-sorts" not in status(app)  # o re-sorted, the order is still by p
        # likely mistakes first: positives lowest p, negatives highest p
        assert [r.predictions[RING] for r in app.pos.rows] == [0.2, 0.9]
        assert [r.predictions[RING] for r in app.neg.rows] == [0.7, 0.45, 0.1, 0.05]
        assert "p=0.70" in "".join(s.text for s in app.neg.render_line(1))
        # kept in the session, not written: a save writes corrections only
        assert app.session.predicted and not app.session.dirty


async def test_predict_cancel_with_escape_and_p(folder):
    predictor = SlowPredictor(PROBS, delay=0.3)
    app = TaggerApp(folder, tag=RING, graphics="halfcell", predictor=lambda: predictor)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("p")
        assert await until(pilot, lambda: predictor.started.is_set())
        await pilot.press("escape")
        assert app.predicting is None and "predicting" not in status(app)
        await pilot.pause(0.8)
        assert predictor.yielded < len(PROBS)  # stopped early
        await pilot.press("p")  # again: runs; p once more: cancels
        assert app.predicting is not None
        await pilot.press("p")
        assert app.predicting is None


async def test_predict_marked_selection_only(folder):
    predictor = SlowPredictor(PROBS, delay=0.0)
    app = TaggerApp(folder, tag=RING, graphics="halfcell", predictor=lambda: predictor)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        await pilot.press("space")  # mark one negative
        marked = set(app.neg.marked)
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None)
        assert set(app.session.predicted) == marked


async def test_no_model_is_a_clear_notice(folder):
    def missing():
        raise TaggerError("no model found (looked for $TUI_TAGGER_MODEL, /x/model.pt); pass --model FILE")

    app = TaggerApp(folder, tag=RING, graphics="halfcell", predictor=missing)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None)
        await pilot.pause(0.1)
        messages = [n.message for n in app._notifications]
        assert any("no model found" in m and "model.pt" in m for m in messages)


async def test_checklist_ticks_read_as_text_with_source_and_p(tmp_path):
    folder = make_folder(tmp_path / "d", n=2, tagged={"img00": [RING]})
    app = TaggerApp(folder, tag=RING, graphics="halfcell",
                    predictor=lambda: SlowPredictor({"img00.tif": 0.83}, delay=0.0))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.sort = "name"
        app.rebuild_lists()
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None)
        app.pos.focus()
        await pilot.pause(0.2)
        checklist = app.inspect.query_one(TagChecklist)
        ring = await checklist_line(pilot, checklist, RING)
        lines = [text_of(checklist.render_line(y)) for y in range(checklist.size.height)]
        assert ring.startswith("[x] file") and "0.83" in ring  # a tag file that does not say who tagged
        assert any(line.startswith("[ ] ") and RING not in line for line in lines)
        await pilot.press("m")  # a human removes it: unticked, p stays
        await pilot.pause(0.1)
        app.neg.focus()
        app.neg.select_path(str(folder / "img00.tif"))
        # the pane shows img00 again once the focus has moved to Negative (after a refresh on a loaded machine)
        assert await until(pilot, lambda: app.focused is app.neg and app.inspect.path == str(folder / "img00.tif"))
        ring = await checklist_line(pilot, checklist, RING)
        assert ring.startswith("[ ] ") and "0.83" in ring


def test_picker_ranks_prefix_before_fuzzy_then_by_use():
    attrs = list(default_vocabulary())
    ranked = [a.name for a in rank_tags("ring", attrs, {})]
    rings = [n for n in ranked if n.lower().startswith("ring")]
    assert rings and ranked[: len(rings)] == rings  # every "Ring: ..." before substring and fuzzy matches
    assert all(n.lower().startswith("ring") or "ring" in n.lower() for n in ranked[: len(rings) + 1] if n)
    # within a tier, the tag used most in this folder first
    favourite = rings[-1]
    assert rank_tags("ring", attrs, {favourite: 10})[0].name == favourite
    # exact beats prefix
    assert rank_tags(rings[0], attrs, {rings[-1]: 99})[0].name == rings[0]


async def test_next_suggested_goes_to_most_uncertain_unreviewed(folder):
    app = TaggerApp(folder, tag=RING, graphics="halfcell",
                    predictor=lambda: SlowPredictor(PROBS, delay=0.0))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None)
        app.neg.focus()
        app.neg.cursor = 0
        # n works in the focused list, and the top row (img02) counts as seen once the pane has shown it
        assert await until(pilot, lambda: app.focused is app.neg and app.inspect.path == app.neg.rows[0].path)
        await pilot.press("n")
        assert app.neg.current.rel == "img04.tif"  # p=0.45, closest to 0.5
        await pilot.press("n")
        assert app.neg.current.rel == "img03.tif"  # then 0.1 (img02 at 0.7 was seen at the top)
        app.pos.focus()
        assert await until(pilot, lambda: app.focused is app.pos)
        await pilot.press("n")  # positives from a tag file that does not say who: a human's, reviewed
        assert any("reviewed" in n.message for n in app._notifications)
