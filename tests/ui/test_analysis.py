"""Pilot tests of the analysis views: Relations, Performance and Embedding tabs, a cluster that filters the
lists, PNG export."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import OptionList, Static, TabbedContent
from textual_plotext import PlotextPlot
from uihelpers import make_folder, ready

from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.analysis import AnalysisScreen, export_dir

ODD = "[bold]odd[/bold] tag"  # a tag name that would be markup


@pytest.fixture
def tagged(tmp_path):
    # A and B always together (the even frames), C on the odd ones, a markup-like name on two
    tags = {f"img{i:02d}": (["A", "B"] if i % 2 == 0 else ["C"]) + ([ODD] if i in (1, 3) else [])
            for i in range(12)}
    return make_folder(tmp_path / "data", n=12, tagged=tags)




async def _open(app, pilot) -> AnalysisScreen:
    await pilot.press("a")
    await pilot.pause(0.1)
    screen = app.screen
    assert isinstance(screen, AnalysisScreen)
    for _ in range(100):
        await pilot.pause(0.05)
        if screen.rel is not None:
            break
    return screen


async def _embedded(screen, pilot):
    for _ in range(400):
        await pilot.pause(0.05)
        if screen.emb is not None:
            return
    raise AssertionError("no embedding")


def _text(widget: Static) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(widget.content)
    return out.getvalue()


async def test_tabs_relations_performance_and_a_cluster_filter(tagged):
    app = TaggerApp(tagged, tag="A", graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        total = len(app.pos.rows) + len(app.neg.rows)
        assert total == 12
        screen = await _open(app, pilot)
        rel = screen.rel
        i = {t: k for k, t in enumerate(rel.tags)}
        assert rel.phi[i["A"], i["B"]] > 0.99 and rel.phi[i["A"], i["C"]] < -0.99
        body = _text(screen.query_one("#relations-body", Static))
        assert "A  &  B" in body and ODD in body  # shown literally, not as markup
        await pilot.press("2")
        assert screen.query_one(TabbedContent).active == "performance"
        assert "press p" in _text(screen.query_one("#performance-body", Static))
        await pilot.press("3")
        assert screen.query_one(TabbedContent).active == "embedding"
        assert screen.query_one("#embed-plot", PlotextPlot).display
        await _embedded(screen, pilot)
        await pilot.pause(0.1)
        clusters = screen.query_one("#clusters", OptionList)
        assert clusters.option_count == screen.emb.n_clusters >= 2
        assert app.focused is clusters
        await pilot.press("tab")  # the main screen's pane switch stays out of the analysis screen
        assert isinstance(app.screen, AnalysisScreen)
        clusters.focus()
        await pilot.press("down")  # the second cluster
        members = set(screen.emb.members(1))
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, AnalysisScreen)
        shown = {r.path for r in app.pos.rows} | {r.path for r in app.neg.rows}
        assert shown == members and 0 < len(shown) < total
        assert app.filter_kind == "images" and "cluster 2" in app.filter_text
        app.filter_paths(None, "")  # clears
        await pilot.pause(0.05)
        assert len(app.pos.rows) + len(app.neg.rows) == total


async def test_performance_worst_first_and_embedding_colours(tagged):
    app = TaggerApp(tagged, tag="A", graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        # a model that knows A (and B) perfectly and guesses C backwards; C at a threshold of its own
        results = []
        for r in app.session.rows:
            tags = app.session.tags(r)
            results.append((r.path, {"A": 0.9 if "A" in tags else 0.1, "B": 0.8 if "B" in tags else 0.3,
                                     "C": 0.2 if "C" in tags else 0.7}, None))
        app.apply_predictions(results, "fake")
        app.model_thresholds = {"C": 0.65}
        screen = await _open(app, pilot)
        assert [s.tag for s in screen.scores][0] == "C"
        by = {s.tag: s for s in screen.scores}
        assert by["A"].ap == 1.0 and by["C"].threshold == 0.65 and by["C"].recall == 0.0
        await pilot.press("2")
        body = _text(screen.query_one("#performance-body", Static))
        assert body.index("C ") < body.index("A ")  # worst first on screen too
        await pilot.press("3")
        await _embedded(screen, pilot)
        assert screen.states.count("positive") == 6 and screen.states.count("negative") == 6
        await pilot.press("escape")
        assert not isinstance(app.screen, AnalysisScreen)


async def test_png_export(tagged):
    app = TaggerApp(tagged, tag="A", graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        app.apply_predictions([(r.path, {"A": 0.5}, None) for r in app.session.rows], "fake")
        screen = await _open(app, pilot)
        await _embedded(screen, pilot)
        await pilot.press("x")
        for _ in range(400):
            await pilot.pause(0.05)
            if not screen.exporting:
                break
        written = screen.last_export
        assert {p.name for p in written} == {"relations.png", "performance.png", "embedding-tsne.png"}
        for p in written:
            assert p.parent == export_dir(tagged)
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000
        assert not list(tagged.glob("*.png"))  # never into the image folder (it would be scanned as an image)
        await pilot.press("m")  # PCA
        for _ in range(200):
            await pilot.pause(0.05)
            if screen.emb is not None and screen.emb.method == "pca":
                break
        assert screen.emb.method == "pca"
