"""Pilot tests of the analysis views: Relations, Performance and Embedding tabs, a cluster that filters the
lists, PNG export."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Footer, OptionList, Static, TabbedContent
from textual_plotext import PlotextPlot
from support import make_folder, ready, until

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
        # scored in the tab's worker: wait for it (under load it is still "Scoring…" when the tab shows)
        assert await until(pilot, lambda: "press p" in _text(screen.query_one("#performance-body", Static)))
        await pilot.press("3")
        assert screen.query_one(TabbedContent).active == "embedding"
        assert screen.query_one("#embed-plot", PlotextPlot).display
        await _embedded(screen, pilot)
        clusters = screen.query_one("#clusters", OptionList)
        assert clusters.option_count == screen.emb.n_clusters >= 2
        assert await until(pilot, lambda: app.focused is clusters)  # focused after the embedding is in
        await pilot.press("tab")  # the main screen's pane switch stays out of the analysis screen
        assert isinstance(app.screen, AnalysisScreen)
        clusters.focus()
        await pilot.press("down")  # the second cluster
        members = set(screen.emb.members(1))
        await pilot.press("enter")
        assert await until(pilot, lambda: not isinstance(app.screen, AnalysisScreen))  # the list's message
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
        await pilot.press("v")  # colour by the model's p(A): 0.9 for the six with A, 0.1 for the others
        assert screen.states.count("p ≥ 0.8") == 6 and screen.states.count("p < 0.2") == 6
        assert "colour: p(A)" in _text(screen.query_one("#embed-info", Static))
        await pilot.press("v")
        assert screen.states.count("positive") == 6
        await pilot.press("escape")
        assert not isinstance(app.screen, AnalysisScreen)


async def test_the_footer_shows_each_tabs_own_keys(tagged):
    from textual.widgets._footer import FooterKey

    app = TaggerApp(tagged, tag="A", graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        screen = await _open(app, pilot)

        async def footer_keys() -> set[str]:
            await pilot.pause(0.2)
            return {k.key for k in screen.query_one(Footer).query(FooterKey)}

        for tab in ("1", "2", "4"):
            await pilot.press(tab)
            assert await footer_keys() == {"escape", "x"}, tab  # no m / v: the Embedding tab's keys
        await pilot.press("1", "m")  # not this tab's key: nothing changes
        assert screen.query_one(TabbedContent).active == "relations"
        await pilot.press("3")
        assert await footer_keys() == {"escape", "m", "v", "x"}


async def test_performance_headers_are_readable_at_80_columns_and_tag_names_whole(tmp_path):
    from textual.geometry import Region

    long = "Peaks: Many/field in the image"
    folder = make_folder(tmp_path / "data", n=8, tagged={f"img{i:02d}": [long if i % 2 else "Halo"] for i in range(8)})
    app = TaggerApp(folder, tag="Halo", graphics="none", thumbnails=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.apply_predictions([(r.path, {long: 0.7, "Halo": 0.4}, None) for r in app.session.rows], "fake")
        screen = await _open(app, pilot)
        await pilot.press("2")
        body = screen.query_one("#performance-body", Static)
        assert await until(pilot, lambda: screen.scores is not None and body.size.width > 0)
        await pilot.pause(0.1)
        lines = ["".join(seg.text for seg in strip) for strip in body.render_lines(Region(0, 0, *body.size))]
        header = next(line for line in lines if line.lstrip().startswith("tag "))
        assert header.split() == ["tag", "labels", "pos", "AP", "prec", "rec", "thr"]  # none cut ('label…')
        assert any(long in line for line in lines) and any(" Halo " in line for line in lines)
        assert "prec / rec: precision / recall" in " ".join(" ".join(lines).split())  # the short headers explained


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
        await pilot.press("3", "m")  # PCA
        for _ in range(200):
            await pilot.pause(0.05)
            if screen.emb is not None and screen.emb.method == "pca":
                break
        assert screen.emb.method == "pca"


# ---- Outliers tab ------------------------------------------------------------------------------
RARE = "Rare: odd frame"
PLANTED = ("odd00.tif", "odd01.tif", "[bold]odd02.tif")  # the last a file name that would be markup


def _odd_frame(k: int, rng):
    """Nothing like the rest: no rings, no beam; a dark frame with a saturated block (placed per frame)."""
    import numpy as np

    img = rng.poisson(2, (64, 64)).astype(np.uint16)
    img[5 + 8 * k:15 + 8 * k, 36:60] = 65535
    return img


def _rare_folder(root, review_all: bool):
    """24 ordinary frames (rings, iso or arcs along z) and the 3 PLANTED odd ones tagged RARE. With
    ``review_all`` every ordinary frame has a tag file too (reviewed, without RARE); else only the odd ones
    are reviewed: one class."""
    import numpy as np
    import tifffile
    from support import arc_frame

    from tui_tagger.core.tagfile import TagFile

    rng = np.random.default_rng(3)
    root.mkdir(parents=True)
    frames = [(f"f{i:02d}.tif", arc_frame("z" if i % 3 == 0 else "iso", rng, amp=300),
               "Ring: Isotropic" if review_all else None) for i in range(24)]
    frames += [(name, _odd_frame(k, rng), RARE) for k, name in enumerate(PLANTED)]
    for name, img, tag in frames:
        path = root / name
        tifffile.imwrite(path, img)
        if tag:
            tf = TagFile.new(root / (Path(name).stem + ".xml"), name)
            tf.add(tag, source="human")
            tf.save(fsync=False)
    return root


async def _outliers(screen, pilot):
    await pilot.press("4")
    assert screen.query_one(TabbedContent).active == "outliers"
    for _ in range(400):
        await pilot.pause(0.05)
        if screen.outliers is not None:
            await pilot.pause(0.1)
            return screen.outliers
    raise AssertionError("no outliers: " + _text(screen.query_one("#outlier-info", Static)))


def _prompts(options: OptionList) -> list[str]:
    return [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]


async def test_outliers_tab_roc_of_a_rare_class(tmp_path, monkeypatch):
    from collections import Counter

    from tui_tagger.learn import features

    root = _rare_folder(tmp_path / "rare", review_all=True)
    planted = {str(root / n) for n in PLANTED}
    decoded = Counter()
    one = features._physics_one

    def counting(ref):
        decoded[ref] += 1
        return one(ref)

    monkeypatch.setattr(features, "_physics_one", counting)  # 27 images: decoded in this process
    app = TaggerApp(root, tag=RARE, graphics="none", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        screen = await _open(app, pilot)
        assert screen.outliers is None  # computed when the tab is first shown
        out = await _outliers(screen, pilot)
        # the tab waited for the Embedding tab's features (same images) instead of decoding them twice
        assert len(decoded) == 27 and max(decoded.values()) == 1
        assert (out.positives, out.negatives) == (3, 24)
        assert out.roc is not None and out.roc["auc"] > 0.95
        # the features are in: the app's live head took them (the next correction does not load them again)
        assert app.live_head is not None and set(app.live_head.paths) == set(out.paths)
        assert out.roc["fpr"][0] == 0.0 and out.roc["tpr"][-1] == 1.0
        note = _text(screen.query_one("#outlier-note", Static))
        assert f"AUC {out.roc['auc']:.2f}" in note and RARE in note
        assert screen.query_one("#roc-plot", PlotextPlot).display
        # the planted images top the list, named literally (a markup-like name too), marked +
        assert {out.paths[i] for i in out.top[:3]} == planted
        listing = screen.query_one("#outlier-list", OptionList)
        prompts = _prompts(listing)
        assert len(prompts) == len(out.top) >= 10
        assert {p.split(" + ", 1)[1] for p in prompts[:3]} == set(PLANTED)
        assert all(" − " in p for p in prompts[3:])
        assert await until(pilot, lambda: app.focused is listing)  # focused after the scores are in
        # x writes the ROC with the other figures
        await pilot.press("x")
        for _ in range(400):
            await pilot.pause(0.05)
            if not screen.exporting:
                break
        roc_png = [p for p in screen.last_export if p.name == "roc-outliers.png"]
        assert roc_png and roc_png[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # Enter: the lists show the listed outliers, the chosen one selected
        listing.highlighted = 1
        chosen = out.paths[out.top[1]]
        await pilot.press("enter")
        assert await until(pilot, lambda: not isinstance(app.screen, AnalysisScreen))  # the list's message
        shown = {r.path for r in app.pos.rows} | {r.path for r in app.neg.rows}
        assert shown == {out.paths[i] for i in out.top}
        assert app.filter_kind == "images" and "outliers" in app.filter_text
        # the chosen image's list takes the focus once the main screen is back
        assert await until(pilot, lambda: getattr(app.active_list().current, "path", None) == chosen)


async def test_outliers_tab_one_class_reviewed_says_so(tmp_path, monkeypatch):
    from tui_tagger.ui import live_heads

    root = _rare_folder(tmp_path / "rare", review_all=False)
    app = TaggerApp(root, tag=RARE, graphics="none", thumbnails=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        # the app's live head has the features already: the tab uses them, computes none
        app.live_head = live_heads.load_head([(r.path, r.size, r.mtime_ns) for r in app.session.rows])

        def no_features(*_a, **_k):
            raise AssertionError("features computed again")

        monkeypatch.setattr(live_heads, "load_head", no_features)
        screen = await _open(app, pilot)
        out = await _outliers(screen, pilot)
        assert out.roc is None and (out.positives, out.negatives) == (3, 0)
        note = _text(screen.query_one("#outlier-note", Static))
        assert len(note.strip().splitlines()) == 1
        assert f"ROC needs reviewed images with and without '{RARE}'" in note
        assert not screen.query_one("#roc-plot", PlotextPlot).display
        assert {out.paths[i] for i in out.top[:3]} == {str(root / n) for n in PLANTED}  # listed all the same
        assert screen.query_one("#outlier-list", OptionList).option_count == len(out.top)
