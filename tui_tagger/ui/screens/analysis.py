"""The analysis views (``a``): attribute relationships, per-tag model performance, an embedding of the
images drawn in the terminal, from which a k-means cluster filters the lists, and the outliers with the ROC
of their scores against the current tag. One widget per tab (ui/widgets/analysis_tables.py,
embedding_tab.py, outliers_tab.py), each with its own worker on a snapshot of the session taken here on the
UI thread; the computations are in ``learn/`` (relations, embedding, outliers, plots).

The screen returns the user's choice with ``dismiss``: an ``AnalysisChoice`` (images to show in the lists)
or None; the app applies it (ui/analysis.py).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from tui_tagger.core.text import printable
from tui_tagger.learn.outliers import Outliers
from tui_tagger.learn.plots import P_STATES, STATES
from tui_tagger.ui.fit import middle_ellipsis
from tui_tagger.ui.widgets.analysis_tables import PerformanceTab, RelationsTab
from tui_tagger.ui.widgets.embedding_tab import EmbeddingTab
from tui_tagger.ui.widgets.outliers_tab import OutliersTab


@dataclass
class Snapshot:
    """What the views need from the session, copied on the UI thread (the workers never touch the session)."""

    root: Path
    tag: str
    paths: list[str]
    items: list[tuple[str, int, int]]  # (ref, size, mtime_ns) for the feature cache
    tags: list[dict]  # current tags (name -> source), unsaved corrections included
    predictions: list[dict]
    reviewed: list[bool]  # Session.reviewed
    labels: dict[str, bool]  # Session.labels of the current tag: path -> has it, over the reviewed images
    model: str | None
    thresholds: dict[str, float]

    def state(self, i: int) -> str:
        """positive (a person's / the file's tag), model-only (the model's tag, or p over the threshold
        without a tag), negative."""
        src = self.tags[i].get(self.tag, "absent")
        if src != "absent":
            return "model-only" if src == "model" else "positive"
        p = self.predictions[i].get(self.tag)
        if p is not None and p >= self.thresholds.get(self.tag, 0.5):
            return "model-only"
        return "negative"


def snapshot(app) -> Snapshot:
    s = app.session
    rows = [r for r in s.rows if not r.error and not r.tag_error]  # the tags of each must be known
    paths = [r.path for r in rows]
    return Snapshot(
        root=Path(app.root), tag=s.tag, paths=paths,
        items=[(r.path, r.size, r.mtime_ns) for r in rows],
        tags=[s.tags(r) for r in rows], predictions=[r.predictions or {} for r in rows],
        reviewed=[s.reviewed(r) for r in rows], labels=s.labels(s.tag, paths) if s.tag else {},
        model=s.prediction_model, thresholds=dict(getattr(app, "model_thresholds", None) or {}),
    )


def export_dir(root: Path) -> Path:
    """Where the PNGs go: the cache dir, one folder per image folder. Never the image folder itself: a PNG
    there would be listed (and tagged) as one more image."""
    from tui_tagger.config import cache_dir

    root = Path(root).resolve()
    digest = hashlib.sha1(os.fsencode(str(root))).hexdigest()[:8]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in root.name) or "folder"
    return Path(cache_dir()) / "analysis" / f"{name}-{digest}"


@dataclass(frozen=True)
class AnalysisChoice:
    """Show ``paths`` in the main lists (the filter named ``label``), ``select`` selected when given."""

    paths: frozenset[str]
    label: str
    notice: str
    select: str | None = None


class AnalysisScreen(ModalScreen["AnalysisChoice | None"]):
    """Relations, Performance, Embedding and Outliers tabs over the folder open in the app."""

    is_analysis = True
    CSS_PATH = "analysis.tcss"
    BINDINGS = [
        # the footer fits 80 columns: the tabs' keys are in their titles ("1 Relations"), not in it
        Binding("escape,q", "close", "Close"),
        Binding("1", "tab('relations')", "Relations", show=False),
        Binding("2", "tab('performance')", "Performance", show=False),
        Binding("3", "tab('embedding')", "Embedding", show=False),
        Binding("4", "tab('outliers')", "Outliers", show=False),
        Binding("m", "method", "Map: t-SNE/PCA/diffusion", tooltip="t-SNE / PCA / diffusion map"),
        Binding("v", "colour", "Colour: tag/p"),
        Binding("x", "export", "Export PNGs"),
    ]
    TAB_ACTIONS = {"method": "embedding", "colour": "embedding"}  # a tab's own keys: shown and run there only

    def __init__(self, method: str = "tsne") -> None:
        super().__init__()
        self.method = method
        self.snap: Snapshot | None = None
        self.exporting = False
        self.last_export: list[Path] = []

    def compose(self) -> ComposeResult:
        self.snap = snapshot(self.app)
        yield Static("", id="analysis-title")
        with TabbedContent(id="analysis", initial="relations"):
            with TabPane("1 Relations", id="relations"):
                yield RelationsTab(self.snap, id="relations-tab")
            with TabPane("2 Performance", id="performance"):
                yield PerformanceTab(self.snap, id="performance-tab")
            with TabPane("3 Embedding", id="embedding"):
                yield EmbeddingTab(self.snap, self.method, id="embedding-tab")
            with TabPane("4 Outliers", id="outliers"):
                yield OutliersTab(self.snap, id="outliers-tab")
        yield Footer()

    def on_mount(self) -> None:
        self._title()

    def _title(self) -> None:
        """The header in one line at any width: the tag and the count first, the folder last, cut in the
        middle where it is long (its end names the run)."""
        head = f" Analysis · tag: {printable(self.snap.tag) or '-'} · {len(self.snap.paths):,} images · "
        width = self.query_one("#analysis-title", Static).size.width or self.size.width or 80
        folder = middle_ellipsis(printable(str(self.snap.root)), max(width - cell_len(head) - 1, 8))
        self.query_one("#analysis-title", Static).update(Text(head + folder, style="bold"))

    # ---- the tabs' results, as the tests and the export read them ---------------------------------
    @property
    def rel(self):
        return self.query_one(RelationsTab).result

    @property
    def scores(self):
        return self.query_one(PerformanceTab).result

    @property
    def emb(self):
        return self.query_one(EmbeddingTab).emb

    @property
    def states(self) -> list[str]:
        return self.query_one(EmbeddingTab).states

    @property
    def outliers(self) -> Outliers | None:
        return self.query_one(OutliersTab).outliers

    def on_resize(self, _) -> None:
        self._title()
        self.query_one(RelationsTab).redraw()
        self.query_one(PerformanceTab).redraw()

    def check_action(self, action: str, parameters: tuple) -> bool:
        """A tab's own keys are in the footer on that tab only (the Embedding tab's m and v were on all)."""
        tab = self.TAB_ACTIONS.get(action)
        if tab is None:
            return True
        tabs = self.query(TabbedContent)
        return bool(tabs) and tabs.first().active == tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # the footer shows the new tab's keys
        if event.pane.id == "embedding" and self.emb is not None:
            self.query_one("#clusters").focus()
        elif event.pane.id == "outliers":
            tab = self.query_one(OutliersTab)
            if not tab.started:
                tab.start(self.query_one(EmbeddingTab).features_pending)
            elif tab.outliers is not None:
                self.query_one("#outlier-list").focus()

    def on_embedding_tab_features_in(self, _: EmbeddingTab.FeaturesIn) -> None:
        self.query_one(OutliersTab).features_in()

    def on_embedding_tab_cluster_chosen(self, msg: EmbeddingTab.ClusterChosen) -> None:
        self.dismiss(AnalysisChoice(frozenset(msg.paths), msg.label,
                                    f"Showing {msg.label}; / then Enter (the box opens empty) shows all again."))

    def on_outliers_tab_outlier_chosen(self, msg: OutliersTab.OutlierChosen) -> None:
        self.dismiss(AnalysisChoice(
            frozenset(msg.paths), msg.label,
            f"Showing the {msg.label}, {Path(msg.path).name} selected; / then Enter (the box opens empty) shows "
            "all again.", msg.path))

    # ---- actions ----------------------------------------------------------------------------
    def action_tab(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane
        if pane == "embedding" and self.emb is not None:
            self.query_one("#clusters").focus()
        elif pane == "outliers" and self.outliers is not None:
            self.query_one("#outlier-list").focus()

    def action_method(self) -> None:
        tab = self.query_one(EmbeddingTab)
        tab.next_method()
        self.method = tab.method

    def action_colour(self) -> None:
        self.query_one(EmbeddingTab).toggle_colour()

    def action_close(self) -> None:
        for tab in (self.query_one(EmbeddingTab), self.query_one(OutliersTab)):
            self.workers.cancel_node(tab)
        self.dismiss(None)

    def action_export(self) -> None:
        if self.exporting:
            self.notify("Already writing the PNGs…")
            return
        if self.rel is None:
            self.notify("Still counting tags; try again in a moment.")
            return
        self.exporting = True
        self.notify("Writing PNGs…")
        emb_tab = self.query_one(EmbeddingTab)
        self.export(self.snap, self.rel, self.scores, self.emb, list(self.states), self.outliers, emb_tab.order,
                    emb_tab.method_label())

    @work(thread=True, exclusive=True, group="analysis-export", description="analysis export")
    def export(self, snap: Snapshot, rel, scores, emb, states, outliers: Outliers | None = None,
               order: tuple[str, ...] = STATES, method_label: str = "") -> None:
        from tui_tagger.learn import plots

        try:
            out = export_dir(snap.root)
            written = [plots.relations_png(rel, out / "relations.png")]
            if scores:
                written.append(plots.performance_png(scores, out / "performance.png",
                                                     f"Model performance per tag, worst first ({snap.model})"))
            if emb is not None and len(emb.paths):
                written.append(plots.embedding_png(
                    emb.xy, states, emb.cluster, out / f"embedding-{emb.method}.png",
                    f"{method_label} of {emb.source_label}, coloured by "
                    f"{'p(' + str(snap.tag) + ')' if order is P_STATES else snap.tag} ({len(emb.paths)} images)",
                    order))
            if outliers is not None and outliers.roc is not None:
                written.append(plots.roc_png(
                    outliers.roc, out / "roc-outliers.png",
                    f"ROC of the outlier scores against {snap.tag}\n{len(outliers.labels)} reviewed images: "
                    f"{outliers.positives} with, {outliers.negatives} without"))
        except Exception as err:  # a read-only cache, a full disk: say so, never a traceback
            self.post_message(self.Exported([], f"PNG export failed: {type(err).__name__}: {err}"))
            return
        self.post_message(self.Exported(written, None))

    class Exported(Message):
        """The PNG export wrote ``written`` (or failed: ``error``)."""

        def __init__(self, written: list[Path], error: str | None) -> None:
            super().__init__()
            self.written, self.error = written, error

    def on_analysis_screen_exported(self, msg: Exported) -> None:
        self.exporting = False
        self.last_export = msg.written
        if msg.error:
            self.app.notify(msg.error, severity="error", timeout=10, markup=False)
            return
        names = ", ".join(p.name for p in msg.written)
        self.app.notify(f"Wrote {names} to {msg.written[0].parent}", timeout=10, markup=False)
