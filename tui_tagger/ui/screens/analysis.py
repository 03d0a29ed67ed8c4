"""The analysis views (seed 004): attribute relationships, per-tag model performance, an embedding
of the images drawn in the terminal (textual-plotext), from which a k-means cluster filters the lists, and
the outliers (seed 003): isolation-forest scores of the images, with the ROC curve of those scores against
the current tag over the reviewed images (is the tag a rare, unusual-looking class?).

Everything heavy runs in thread workers on a snapshot of the session taken on the UI thread; tag names
come from files and are shown as ``rich.text.Text`` (never parsed as markup), through ``printable`` (their
control characters made visible).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from tui_tagger.core.text import printable
from tui_tagger.learn.plots import P_STATES, STATES, p_state

if TYPE_CHECKING:
    import numpy as np

TOP_TAGS = 12  # tags in the relations table
PAIRS = 8  # strongest pairs listed under it
# the point classes in the terminal (plotext colour names; same meaning as learn.plots.STATE_COLOURS)
TERM_COLOURS = {"positive": (80, 210, 80), "model-only": (255, 150, 40), "negative": (150, 150, 150),
                "p ≥ 0.8": (253, 231, 37), "p 0.5–0.8": (94, 201, 98), "p 0.2–0.5": (33, 145, 140),
                "p < 0.2": (59, 82, 139), "no p": (110, 110, 110)}


def _style(state: str) -> str:
    return "rgb({},{},{})".format(*TERM_COLOURS[state])
SELECTED = (60, 220, 235)
DOTS_MAX = 1500  # up to this many images a point is a dot (•); beyond, braille (8 points per cell)
ROC_COLOUR = (60, 220, 235)
CHANCE_COLOUR = (150, 150, 150)


@dataclass
class Snapshot:
    """What the views need from the session, copied on the UI thread (the workers never touch the session)."""

    root: Path
    tag: str
    paths: list[str]
    items: list[tuple[str, int, int]]  # (ref, size, mtime_ns) for the feature cache
    tags: list[dict]  # current tags (name -> source), unsaved corrections included
    predictions: list[dict]
    reviewed: list[bool]
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

    def labels(self) -> dict[str, bool]:
        """path -> has the current tag, over the reviewed images (as ``Session.labels``: a tag only the
        model added is no label either way)."""
        out: dict[str, bool] = {}
        for path, tags, reviewed in zip(self.paths, self.tags, self.reviewed):
            if not reviewed or not self.tag:
                continue
            src = tags.get(self.tag, "absent")
            if src == "absent":
                out[path] = False
            elif src != "model":
                out[path] = True
        return out


@dataclass
class Outliers:
    """Outlier scores of the images with features (``scores[i]`` belongs to ``paths[i]``), the ones listed
    (``top``, most unusual first) and the ROC of the scores against the current tag (None without both
    classes among the reviewed images)."""

    paths: list[str]
    scores: np.ndarray
    top: list[int]
    labels: dict[str, bool]  # the reviewed images among ``paths``: path -> has the tag
    roc: dict | None
    problems: list[str]
    source: str = "physics"  # the features scored

    @property
    def source_label(self) -> str:
        from tui_tagger.learn.features import SOURCE_LABELS

        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def positives(self) -> int:
        return sum(self.labels.values())

    @property
    def negatives(self) -> int:
        return len(self.labels) - self.positives


def outlier_analysis(paths: list[str], Z, labels: dict[str, bool], problems=(), seed: int = 0,
                     source: str = "physics") -> Outliers:
    """``learn.review.outlier_scores`` of the embedded features ``Z`` (row i: ``paths[i]``) and the ROC of
    those scores against ``labels`` (path -> has the tag; the reviewed images)."""
    import numpy as np

    from tui_tagger.learn.review import outlier_scores, roc
    from tui_tagger.ui.review_mode import outlier_count

    scores = outlier_scores(Z, seed)
    top = [int(i) for i in np.argsort(-scores, kind="stable")[: outlier_count(len(paths))]]
    known = [i for i, p in enumerate(paths) if p in labels]
    lab = {paths[i]: labels[paths[i]] for i in known}
    curve = roc(scores[known], np.array([lab[paths[i]] for i in known], dtype=bool)) if known else None
    return Outliers(list(paths), scores, top, lab, curve, list(problems), source)


def snapshot(app) -> Snapshot:
    s = app.session
    rows = [r for r in s.rows if not r.error]
    return Snapshot(
        root=Path(app.root), tag=s.tag, paths=[r.path for r in rows],
        items=[(r.path, r.size, r.mtime_ns) for r in rows],
        tags=[s.tags(r) for r in rows], predictions=[r.predictions or {} for r in rows],
        # as Session.labels: a tag file with a person's tags, or a correction in this session
        reviewed=[r.path in s.overrides or any(src != "model" for src in r.base.values()) for r in rows],
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


# ---- renderables (Text only: names from files are never markup) ---------------------------------
def _phi_style(r: float) -> str:
    if r != r:  # NaN
        return "dim"
    if r >= 0.5:
        return "bold green"
    if r >= 0.15:
        return "green"
    if r <= -0.5:
        return "bold red"
    if r <= -0.15:
        return "red"
    return "dim"


def relations_renderable(rel, width: int = 160):
    """The table of the tags (rows) against as many of them as columns as ``width`` cells hold."""
    if rel.n == 0 or not rel.tags:
        return Text("No tags in this folder yet: tag some images (m moves one to Positive), then look again.")
    table = Table(title=Text(f"Co-occurrence and correlation (phi) of the {len(rel.tags)} most frequent tags "
                             f"over {rel.n:,} images"), title_justify="left", box=None, padding=(0, 1),
                  header_style="bold")
    name_w = min(34, max(len(printable(t)) for t in rel.tags))
    # each phi column: 6 cells + gap; at least 2 (as many as there are tags: one tag, one column)
    cols = min(len(rel.tags), max(2, (width - 4 - 3 - name_w - 8) // 7))
    table.add_column("#", justify="right")
    table.add_column("tag", no_wrap=True, max_width=34, overflow="ellipsis")
    table.add_column("images", justify="right")
    for j in range(cols):
        table.add_column(str(j + 1), justify="right", min_width=5)
    for i, tag in enumerate(rel.tags):
        cells = [Text(str(i + 1)), Text(printable(tag)), Text(f"{int(rel.counts[i]):,}")]
        for j in range(cols):
            if i == j:
                cells.append(Text("·", style="dim"))
            else:
                r = float(rel.phi[i, j])
                cells.append(Text("  —" if r != r else f"{r:+.2f}", style=_phi_style(r)))
        table.add_row(*cells)
    pairs = Table(title=Text("Strongest pairs (images with both · phi)"), title_justify="left", box=None,
                  padding=(0, 1), header_style="bold")
    pairs.add_column("tags")
    pairs.add_column("both", justify="right")
    pairs.add_column("phi", justify="right")
    for a, b, co, r in rel.pairs(PAIRS):
        pairs.add_row(Text(f"{printable(a)}  &  {printable(b)}"), Text(f"{co:,}"), Text(f"{r:+.2f}", style=_phi_style(r)))
    from rich.console import Group

    more = f"columns: the first {cols} tags (a wider terminal shows more); " if cols < len(rel.tags) else ""
    legend = Text(more + "phi: +1 always together, 0 unrelated, −1 never together (counts the images' current tags, "
                  "unsaved corrections included)", style="dim")
    return Group(table, Text(""), pairs, Text(""), legend)


def performance_renderable(scores, snap: Snapshot):
    if not any(snap.predictions):
        return Text("No predictions in this session yet: press p in the main view to run the model over the "
                    "folder, then open this view (a) again.")
    if not scores:
        return Text("No image has both a prediction and a person's label: label some images (or open a labelled "
                    "folder), then look again.")
    thr = "the model's per-tag thresholds" if snap.thresholds else "0.5"
    table = Table(title=Text(f"Model performance per tag, worst first (model: {printable(snap.model or '?')}; "
                             f"precision and recall at {thr})"), title_justify="left", box=None,
                  padding=(0, 1), header_style="bold")
    for col, just in (("tag", "left"), ("labelled", "right"), ("positives", "right"), ("AP", "right"),
                      ("precision", "right"), ("recall", "right"), ("threshold", "right")):
        table.add_column(col, justify=just, no_wrap=col == "tag", max_width=40 if col == "tag" else None,
                         overflow="ellipsis")

    def score(v):
        if v is None:
            return Text("—", style="dim")
        return Text(f"{v:.3f}", style="red" if v < 0.5 else ("yellow" if v < 0.8 else "green"))

    for s in scores:
        table.add_row(Text(printable(s.tag)), Text(f"{s.n:,}"), Text(f"{s.support:,}"), score(s.ap), score(s.precision),
                      score(s.recall), Text(f"{s.threshold:.2f}"))
    from rich.console import Group

    note = Text("AP — : the labelled images hold one class only for that tag. Labels: tag files with a person's "
                "tags and this session's corrections; a tag only the model added is no label.", style="dim")
    return Group(table, Text(""), note)


def roc_note(out: Outliers, tag: str) -> Text:
    """The Outliers tab's one line above the plot: the AUC, or why there is no ROC."""
    if tag:
        tag = printable(tag)
    else:
        return Text("ROC needs a current tag (t in the main view); the outliers are listed all the same.")
    if out.roc is None:
        note = Text(f"ROC needs reviewed images with and without '{tag}' ")
        note.append(f"(reviewed: {out.positives:,} with, {out.negatives:,} without)", style="dim")
        return note
    note = Text(f"AUC {out.roc['auc']:.2f}", style="bold")
    note.append(f" of the outlier scores for '{tag}' over {len(out.labels):,} reviewed images "
                f"({out.positives:,} with, {out.negatives:,} without) ")
    note.append("· 1: the tagged are the most unusual, 0.5: chance", style="dim")
    return note


def outlier_option(rank: int, score: float, path: str, label: bool | None) -> Text:
    """One line of the outlier list: rank, score, the image's label for the current tag, file name."""
    line = Text(f"{rank:>3}  {score:.3f} ", no_wrap=True, overflow="ellipsis")
    if label is None:
        line.append("·", style="dim")
    else:
        line.append("+" if label else "−", style="green" if label else "grey50")
    line.append(" ")
    line.append(printable(Path(path).name))  # a file name: controls made visible, never markup
    return line


def _progress_line(app, worker, show, what: str, then: str):
    """A features progress callback for a worker: ``show`` gets at most ~3 lines a second (and the last)."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if not worker.is_cancelled and (now - last[0] > 0.3 or done == total):
            last[0] = now
            msg = f"{what}: features {done:,}/{total:,}…" if done < total else f"{what}: {then} {total:,} images…"
            app.call_from_thread(show, msg)

    return progress


class AnalysisScreen(ModalScreen[None]):
    """Relations, Performance, Embedding and Outliers tabs over the folder open in the app."""

    is_analysis = True
    DEFAULT_CSS = """
    AnalysisScreen {
        background: $background;
    }
    AnalysisScreen #analysis {
        width: 100%;
        height: 1fr;
    }
    AnalysisScreen #analysis-title {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    AnalysisScreen TabPane {
        padding: 0 1;
    }
    AnalysisScreen #embed-plot {
        width: 1fr;
        height: 1fr;
        min-width: 30;
    }
    AnalysisScreen #embed-side {
        width: 38;
        height: 1fr;
    }
    AnalysisScreen #embed-info {
        height: auto;
        color: $foreground;
    }
    AnalysisScreen #clusters {
        height: 1fr;
        border: round $panel;
    }
    AnalysisScreen #clusters:focus {
        border: round $primary;
    }
    AnalysisScreen #outlier-note {
        height: auto;
        max-height: 2;
        color: $foreground;
    }
    AnalysisScreen #roc-plot {
        width: 1fr;
        height: 1fr;
        min-width: 30;
    }
    AnalysisScreen #outlier-side {
        width: 46;
        height: 1fr;
    }
    AnalysisScreen #outlier-side.wide {
        width: 1fr;
    }
    AnalysisScreen #outlier-info {
        height: auto;
        color: $foreground;
    }
    AnalysisScreen #outlier-list {
        height: 1fr;
        border: round $panel;
    }
    AnalysisScreen #outlier-list:focus {
        border: round $primary;
    }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("1", "tab('relations')", "Relations"),
        Binding("2", "tab('performance')", "Performance"),
        Binding("3", "tab('embedding')", "Embedding"),
        Binding("4", "tab('outliers')", "Outliers"),
        Binding("m", "method", "t-SNE / PCA / diffusion"),
        Binding("v", "colour", "Colour: tag / p"),
        Binding("x", "export", "Export PNGs"),
    ]

    def __init__(self, method: str = "tsne") -> None:
        super().__init__()
        self.method = method
        self.snap: Snapshot | None = None
        self.rel = None
        self.scores = None
        self.emb = None  # learn.embedding.Embedding of self.method, once computed
        self.tag_states: list[str] = []  # per embedded image: positive / model-only / negative
        self.p_states: list[str] = []  # per embedded image: its p(tag) bin
        self.colour_by = "tag"  # v: "tag" or "p"
        self.outliers: Outliers | None = None  # once the Outliers tab has computed them
        self._outliers_started = False
        self._features_pending = False  # an embedding worker is computing (decoding) the features
        self._outliers_waiting = False  # the Outliers tab waits for them (then reads them from the disk cache)
        self.exporting = False

    def compose(self) -> ComposeResult:
        yield Static("", id="analysis-title")
        with TabbedContent(id="analysis", initial="relations"):
            with TabPane("Relations", id="relations"):
                with VerticalScroll():
                    yield Static(Text("Counting tags…"), id="relations-body")
            with TabPane("Performance", id="performance"):
                with VerticalScroll():
                    yield Static(Text("Scoring…"), id="performance-body")
            with TabPane("Embedding", id="embedding"):
                with Horizontal():
                    yield PlotextPlot(id="embed-plot")
                    with Vertical(id="embed-side"):
                        yield Static(Text(""), id="embed-info")
                        yield OptionList(id="clusters")
            with TabPane("Outliers", id="outliers"):
                with Vertical():
                    yield Static(Text(""), id="outlier-note")
                    with Horizontal():
                        yield PlotextPlot(id="roc-plot")
                        with Vertical(id="outlier-side"):
                            yield Static(Text(""), id="outlier-info")
                            yield OptionList(id="outlier-list")
        yield Footer()

    def on_mount(self) -> None:
        self.snap = snapshot(self.app)
        title = Text(f" Analysis · {printable(str(self.snap.root))} · current tag: {printable(self.snap.tag) or '-'} · "
                     f"{len(self.snap.paths):,} images", style="bold")
        self.query_one("#analysis-title", Static).update(title)
        self.query_one("#relations-body").loading = True
        self.query_one("#performance-body").loading = True
        self.compute_tables(self.snap)
        self.start_embedding()

    # ---- tables -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="analysis-tables")
    def compute_tables(self, snap: Snapshot) -> None:
        from tui_tagger.learn.relations import performance, relations

        try:
            rel = relations(snap.tags, TOP_TAGS)
            scores = performance(zip(snap.tags, snap.predictions, snap.reviewed), snap.thresholds or None)
        except Exception as err:  # never a traceback on screen
            self.app.call_from_thread(self._tables_failed, f"analysis failed: {type(err).__name__}: {err}")
            return
        self.app.call_from_thread(self._tables_done, rel, scores)

    def _tables_done(self, rel, scores) -> None:
        if not self.is_attached:
            return  # closed meanwhile
        self.rel, self.scores = rel, scores
        for wid, body in (("#relations-body", relations_renderable(rel, self.size.width)),
                          ("#performance-body", performance_renderable(scores, self.snap))):
            w = self.query_one(wid, Static)
            w.loading = False
            w.update(body)

    def on_resize(self, event) -> None:
        if self.rel is not None:
            self.query_one("#relations-body", Static).update(relations_renderable(self.rel, event.size.width))

    def _tables_failed(self, message: str) -> None:
        if not self.is_attached:
            return  # closed meanwhile
        for wid in ("#relations-body", "#performance-body"):
            w = self.query_one(wid, Static)
            w.loading = False
            w.update(Text(printable(message)))

    # ---- embedding --------------------------------------------------------------------------
    def _cache_key(self) -> tuple:
        digest = hashlib.sha1(repr(self.snap.items).encode("utf-8", "surrogateescape")).hexdigest()
        return (self.method, digest)

    def start_embedding(self) -> None:
        snap = self.snap
        cache = getattr(self.app, "analysis_cache", None)
        if cache is None:
            cache = self.app.analysis_cache = {}
        key = self._cache_key()
        if key in cache:
            self._embedding_done(cache[key], key)
            return
        self.emb = None
        self.query_one("#embed-plot").loading = True
        self.query_one("#clusters", OptionList).clear_options()
        self._info(f"{self._method_label()}: computing features of {len(snap.items):,} images…")
        self._features_pending = True
        self.compute_embedding(list(snap.items), self.method, key)

    def _method_label(self) -> str:
        from tui_tagger.learn.embedding import LABELS

        return LABELS.get(self.method, self.method)

    @work(thread=True, exclusive=True, group="analysis-embedding")
    def compute_embedding(self, items, method: str, key) -> None:
        from textual.worker import get_current_worker

        from tui_tagger.learn.embedding import LABELS, image_embedding

        worker = get_current_worker()
        first = [True]
        shown = _progress_line(self.app, worker, self._info, LABELS[method], "mapping")

        def progress(done: int, total: int) -> None:
            if first[0]:  # the first call counts what the disk cache had: all of it, nothing to wait for
                first[0] = False
                if done == total and not worker.is_cancelled:
                    self.app.call_from_thread(self._features_in)
            shown(done, total)

        try:
            emb = image_embedding(items, method, workers=max(1, (os.cpu_count() or 2) - 1), progress=progress,
                                  model=self.app.model_file())
        except Exception as err:  # never a traceback on screen
            if not worker.is_cancelled:
                self.app.call_from_thread(self._embedding_failed, f"embedding failed: {type(err).__name__}: {err}")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._embedding_done, emb, key)

    def _show_line(self, selector: str, message: str | Text) -> None:
        """A progress / result line (plain strings literally: they may hold file names)."""
        if not self.is_attached:
            return  # closed meanwhile
        self.query_one(selector, Static).update(message if isinstance(message, Text) else Text(printable(message)))

    def _info(self, message: str | Text) -> None:
        self._show_line("#embed-info", message)

    def _features_in(self) -> None:
        """The embedding's features are all in the disk cache (they were, or its worker returned: the last
        ones are saved when ``features.compute`` returns): an Outliers tab waiting for them starts."""
        self._features_pending = False
        if self._outliers_waiting and self.is_attached:
            self._outliers_waiting = False
            self.start_outliers()

    def _embedding_failed(self, message: str) -> None:
        self._features_in()
        if not self.is_attached:
            return  # closed meanwhile
        self.query_one("#embed-plot").loading = False
        self._info(message)

    def _embedding_done(self, emb, key) -> None:
        self._features_in()
        self.app.analysis_cache[key] = emb
        if not self.is_attached or key != self._cache_key():
            return  # the method changed meanwhile
        self.emb = emb
        index = {p: i for i, p in enumerate(self.snap.paths)}
        self.tag_states = [self.snap.state(index[p]) for p in emb.paths]
        self.p_states = [p_state(self.snap.predictions[index[p]].get(self.snap.tag)) for p in emb.paths]
        self.query_one("#embed-plot").loading = False
        self._colour_info()
        options = []
        for c in range(emb.n_clusters):
            members = [i for i, k in enumerate(emb.cluster) if k == c]
            pos = sum(self.tag_states[i] == "positive" for i in members)
            mod = sum(self.tag_states[i] == "model-only" for i in members)
            label = Text(f"{c + 1:>2}  {len(members):>6,} images  ")
            label.append(f"+{pos}", style="green")
            label.append(f" ~{mod}", style="dark_orange")
            label.append(f" −{len(members) - pos - mod}", style="grey50")
            options.append(Option(label, id=str(c)))
        clusters = self.query_one("#clusters", OptionList)
        clusters.clear_options()
        clusters.add_options(options)
        clusters.border_title = Text(f"k-means clusters ({emb.n_clusters})")
        if options:
            clusters.highlighted = 0
        self.draw(0 if options else None)
        if self.query_one(TabbedContent).active == "embedding":
            clusters.focus()

    @property
    def states(self) -> list[str]:
        """Each embedded image's colour class: by tag (positive / model-only / negative) or by p bin."""
        return self.p_states if self.colour_by == "p" else self.tag_states

    @property
    def order(self) -> tuple[str, ...]:
        return P_STATES if self.colour_by == "p" else STATES

    def _colour_info(self) -> None:
        emb = self.emb
        info = Text()
        info.append(f"{self._method_label()} of {emb.source_label}\n", style="bold")
        tag = printable(self.snap.tag) or "-"
        what = f"p({tag})" if self.colour_by == "p" else tag
        info.append(f"{len(emb.paths):,} images, colour: {what}\n")
        for state in self.order:
            info.append("● ", style=_style(state))
            info.append(f"{state} {self.states.count(state):,}\n")
        if emb.problems:
            info.append(f"{len(emb.problems):,} unreadable, left out\n", style="yellow")
        info.append("↑↓ choose a cluster · enter: show it in the lists · m: map · v: colour by tag / p · x: PNGs",
                    style="dim")
        self._info(info)

    def action_colour(self) -> None:
        """v: colour the map by the current tag, or by the model's p of it (press p in the main view first)."""
        self.colour_by = "p" if self.colour_by == "tag" else "tag"
        self.query_one(TabbedContent).active = "embedding"
        if self.emb is not None:
            self._colour_info()
            self.draw()

    def draw(self, selected: int | None = None) -> None:
        plot = self.query_one("#embed-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        emb = self.emb
        if emb is None or not len(emb.paths):
            plot.refresh()
            return
        xy = emb.xy
        marker = "dot" if len(emb.paths) <= DOTS_MAX else "braille"
        states = self.states
        for state in self.order[::-1]:  # negatives (or low p) underneath
            idx = [i for i, s in enumerate(states) if s == state and emb.cluster[i] != selected]
            if idx:
                plt.scatter([float(xy[i, 0]) for i in idx], [float(xy[i, 1]) for i in idx], marker=marker,
                            color=TERM_COLOURS[state], label=state)
        if selected is not None:
            idx = [i for i, k in enumerate(emb.cluster) if k == selected]
            plt.scatter([float(xy[i, 0]) for i in idx], [float(xy[i, 1]) for i in idx], marker="●",
                        color=SELECTED, label=f"cluster {selected + 1}")
        for c in range(emb.n_clusters):
            sel = emb.cluster == c
            if sel.any():
                cx, cy = xy[sel].mean(axis=0)
                plt.text(str(c + 1), float(cx), float(cy), color="white", style="bold")
        plt.title(f"{self._method_label()} · {printable(self.snap.tag) or '-'}")
        plt.xticks([])
        plt.yticks([])
        plot.refresh()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "clusters" and event.option.id is not None and self.emb is not None:
            self.draw(int(event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "clusters" and event.option.id is not None:
            self.apply_cluster(int(event.option.id))
        elif event.option_list.id == "outlier-list" and event.option.id is not None:
            self.apply_outlier(int(event.option.id))

    def apply_cluster(self, c: int) -> None:
        """Show cluster ``c``'s images in the main lists and go back to them."""
        if self.emb is None:
            return
        members = self.emb.members(c)
        label = f"cluster {c + 1} of the {self._method_label()} map ({len(members):,} images)"
        self.dismiss(None)
        self.app.filter_paths(set(members), label)
        self.app.notify(f"Showing {label}; / then Enter with an empty filter shows all again.", markup=False)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "embedding" and self.emb is not None:
            self.query_one("#clusters", OptionList).focus()
        elif event.pane.id == "outliers":
            if not self._outliers_started:
                self.start_outliers()
            elif self.outliers is not None:
                self.query_one("#outlier-list", OptionList).focus()

    # ---- outliers ---------------------------------------------------------------------------
    def start_outliers(self) -> None:
        """Compute the outlier scores (first time the tab shows): on the live head's features when the app
        has them, else on the features of the images a live head would take (``pick_images``: reviewed
        first, at most 4000), from the disk cache where it has them."""
        from tui_tagger.ui.live_heads import pick_images

        self._outliers_started = True
        head = getattr(self.app, "live_head", None)
        head = head if head is not None and head.ready else None
        self.query_one("#roc-plot").loading = True
        self.query_one("#outlier-list", OptionList).clear_options()
        if head is None and self._features_pending:
            # the Embedding tab is decoding the same images: wait, then take its features from the cache
            self._outliers_waiting = True
            self._outlier_info("Outliers: waiting for the Embedding tab (it computes the same features)…")
            return
        rows = [] if head is not None else pick_images(self.app.session)
        items = [(r.path, r.size, r.mtime_ns) for r in rows]
        n = len(head.paths) if head is not None else len(items)
        self._outlier_info(f"Outliers: {'scoring' if head is not None else 'computing features of'} {n:,} images…")
        self.compute_outliers(items, head, self.snap.labels())

    @work(thread=True, exclusive=True, group="analysis-outliers")
    def compute_outliers(self, items, head, labels: dict[str, bool]) -> None:
        from textual.worker import get_current_worker

        from tui_tagger.ui import live_heads

        worker = get_current_worker()
        progress = _progress_line(self.app, worker, self._outlier_info, "Outliers", "scoring")

        try:
            if head is None:
                head = live_heads.load_head(items, progress, self.app.model_file())
            if not head.ready or len(head.paths) < 4:
                raise ValueError("fewer than 4 readable images")
            out = outlier_analysis(head.paths, head._Z, labels, head.problems, source=head.source)
        except Exception as err:  # never a traceback on screen
            if not worker.is_cancelled:
                self.app.call_from_thread(self._outliers_failed, f"outliers failed: {type(err).__name__}: {err}")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._outliers_done, out, head)

    def _outlier_info(self, message: str | Text) -> None:
        self._show_line("#outlier-info", message)

    def _outliers_failed(self, message: str) -> None:
        if not self.is_attached:
            return  # closed meanwhile
        self.query_one("#roc-plot").loading = False
        self._outlier_info(message)

    def _outliers_done(self, out: Outliers, head=None) -> None:
        if not self.is_attached:
            return  # closed meanwhile
        adopt = getattr(self.app, "adopt_head", None)
        if adopt is not None:
            adopt(head)
        self.outliers = out
        tag = self.snap.tag
        self.query_one("#outlier-note", Static).update(roc_note(out, tag))
        plot = self.query_one("#roc-plot", PlotextPlot)
        plot.loading = False
        plot.display = out.roc is not None
        self.query_one("#outlier-side").set_class(out.roc is None, "wide")
        self.draw_roc()
        info = Text()
        info.append("Most unusual images\n", style="bold")
        info.append(f"isolation forest on the {out.source_label}\n")
        info.append("+", style="green")
        info.append(" tagged  ")
        info.append("−", style="grey50")
        info.append(" untagged  ")
        info.append("·", style="dim")
        info.append(" not reviewed\n")
        if out.problems:
            info.append(f"{len(out.problems):,} unreadable, left out\n", style="yellow")
        info.append("enter: show these in the lists · x: PNGs", style="dim")
        self._outlier_info(info)
        listing = self.query_one("#outlier-list", OptionList)
        listing.clear_options()
        listing.add_options([Option(outlier_option(k + 1, float(out.scores[i]), out.paths[i],
                                                   out.labels.get(out.paths[i])), id=str(i))
                             for k, i in enumerate(out.top)])
        listing.border_title = Text(f"top {len(out.top):,} of {len(out.paths):,} · score")
        if out.top:
            listing.highlighted = 0
        if self.query_one(TabbedContent).active == "outliers":
            listing.focus()

    def draw_roc(self) -> None:
        plot = self.query_one("#roc-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        out = self.outliers
        if out is None or out.roc is None:
            plot.refresh()
            return
        plt.plot([0.0, 1.0], [0.0, 1.0], color=CHANCE_COLOUR, label="chance")
        plt.plot(out.roc["fpr"], out.roc["tpr"], color=ROC_COLOUR, marker="braille",
                 label=f"outlier score (AUC {out.roc['auc']:.2f})")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xlabel("false positive rate")
        plt.ylabel("true positive rate")
        plt.title(f"ROC · {printable(self.snap.tag)} · AUC {out.roc['auc']:.2f}")  # short: plotext drops a long one
        plot.refresh()

    def apply_outlier(self, i: int) -> None:
        """Show the listed outliers in the main lists, the chosen one selected, and go back to them."""
        out = self.outliers
        if out is None:
            return
        path = out.paths[i]
        listed = {out.paths[k] for k in out.top}
        label = f"top {len(listed):,} outliers (isolation forest)"
        self.dismiss(None)
        app = self.app
        app.filter_paths(listed, label)
        for lst in (app.pos, app.neg):
            if lst.select_path(path):
                lst.focus()
                app._last_list = lst
                app._show_selected()
                break
        app.notify(f"Showing the {label}, {Path(path).name} selected; / then Enter with an empty filter shows "
                   "all again.", markup=False)

    # ---- actions ----------------------------------------------------------------------------
    def action_tab(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane
        if pane == "embedding" and self.emb is not None:
            self.query_one("#clusters", OptionList).focus()
        elif pane == "outliers" and self.outliers is not None:
            self.query_one("#outlier-list", OptionList).focus()

    def action_method(self) -> None:
        from tui_tagger.learn.embedding import METHODS

        self.method = METHODS[(METHODS.index(self.method) + 1) % len(METHODS)]
        self.query_one(TabbedContent).active = "embedding"
        self.start_embedding()

    def action_close(self) -> None:
        self.workers.cancel_group(self, "analysis-embedding")
        self.workers.cancel_group(self, "analysis-outliers")
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
        self.export(self.snap, self.rel, self.scores, self.emb, list(self.states), self.outliers, self.order)

    @work(thread=True, exclusive=True, group="analysis-export")
    def export(self, snap: Snapshot, rel, scores, emb, states, outliers: Outliers | None = None,
               order: tuple[str, ...] = STATES) -> None:
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
                    f"{self._method_label()} of {emb.source_label}, coloured by "
                    f"{'p(' + str(snap.tag) + ')' if order is P_STATES else snap.tag} ({len(emb.paths)} images)",
                    order))
            if outliers is not None and outliers.roc is not None:
                written.append(plots.roc_png(
                    outliers.roc, out / "roc-outliers.png",
                    f"ROC of the outlier scores against {snap.tag}\n{len(outliers.labels)} reviewed images: "
                    f"{outliers.positives} with, {outliers.negatives} without"))
        except Exception as err:  # a read-only cache, a full disk: say so, never a traceback
            self.app.call_from_thread(self._exported, [], f"PNG export failed: {type(err).__name__}: {err}")
            return
        self.app.call_from_thread(self._exported, written, None)

    def _exported(self, written: list[Path], error: str | None) -> None:
        self.exporting = False
        self.last_export = written
        if error:
            self.app.notify(error, severity="error", timeout=10, markup=False)
            return
        names = ", ".join(p.name for p in written)
        self.app.notify(f"Wrote {names} to {written[0].parent}", timeout=10, markup=False)
