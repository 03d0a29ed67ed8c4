"""The analysis views' Outliers tab: the most unusual images by an isolation forest on their features
(``learn.outliers``), with the ROC of the scores against the current tag over the reviewed images (is the
tag a rare, unusual-looking class?). Computed in the tab's worker the first time the tab shows, on the
live head's features when the app has them; Enter posts ``OutlierChosen``.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import OptionList, Static, TabbedContent
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from tui_tagger.core.text import printable
from tui_tagger.learn.outliers import Outliers, outlier_analysis
from tui_tagger.ui.fit import middle_ellipsis
from tui_tagger.ui.widgets.analysis_common import Computed, Progress, progress_line, show_line

ROC_COLOUR = (60, 220, 235)
CHANCE_COLOUR = (150, 150, 150)


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


def outlier_option(rank: int, score: float, path: str, label: bool | None, width: int = 0) -> Text:
    """One line of the outlier list: rank, score, the image's label for the current tag, file name; in
    ``width`` cells (when known) with the name cut in the middle: its end is the frame number."""
    line = Text(f"{rank:>3}  {score:.3f} ", no_wrap=True, overflow="ellipsis")
    if label is None:
        line.append("·", style="dim")
    else:
        line.append("+" if label else "−", style="green" if label else "grey50")
    line.append(" ")
    name = printable(Path(path).name)  # a file name: controls made visible, never markup
    line.append(middle_ellipsis(name, width - line.cell_len) if width > line.cell_len else name)
    return line


class OutliersTab(Vertical):
    class OutlierChosen(Message):
        """Enter on an outlier: show the listed ones (``paths``) in the lists, ``path`` selected."""

        def __init__(self, paths: set[str], label: str, path: str) -> None:
            super().__init__()
            self.paths, self.label, self.path = paths, label, path

    def __init__(self, snap, **kw) -> None:
        super().__init__(**kw)
        self.snap = snap
        self.outliers: Outliers | None = None  # once computed
        self.started = False
        self.waiting = False  # for the Embedding tab's features (then read from the disk cache)

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="outlier-note")
        with Horizontal():
            yield PlotextPlot(id="roc-plot")
            with Vertical(id="outlier-side"):
                yield Static(Text(""), id="outlier-info")
                yield OptionList(id="outlier-list")

    def start(self, features_pending: bool = False) -> None:
        """Compute the outlier scores: on the live head's features when the app has them, else on the features
        of the images a live head would take (``pick_images``: reviewed first, at most 4000), from the disk
        cache where it has them. ``features_pending``: the Embedding tab is decoding the same images: wait
        for it (``features_in``)."""
        self.started = True
        head = getattr(self.app, "live_head", None)
        head = head if head is not None and head.ready else None
        self.query_one("#roc-plot").loading = True
        self.query_one("#outlier-list", OptionList).clear_options()
        if head is None and features_pending:
            self.waiting = True
            self._info("Outliers: waiting for the Embedding tab (it computes the same features)…")
            return
        if head is not None:
            self._info(f"Outliers: scoring {len(head.paths):,} images…")
        else:
            self._info("Outliers: computing the features of the images a live head would take…")
        # the images are picked in the worker (a million rows: ~0.5 s the keys would wait for)
        self.compute(None if head is not None else self.app.session, head, self.snap.labels, self.app.model_file())

    def features_in(self) -> None:
        if self.waiting:
            self.waiting = False
            self.start()

    @work(thread=True, exclusive=True, group="analysis-outliers", description="outliers")
    def compute(self, session, head, labels: dict[str, bool], model: str | None) -> None:
        """``session``: the features of its ``pick_images`` (when ``head`` is None)."""
        from textual.worker import get_current_worker

        from tui_tagger.ui import live_heads

        worker = get_current_worker()
        progress = progress_line(self, worker, "Outliers", "scoring")
        try:
            if head is None:
                items = [(r.path, r.size, r.mtime_ns) for r in live_heads.pick_images(session)]
                head = live_heads.load_head(items, progress, model)
            if not head.ready or len(head.paths) < 4:
                raise ValueError("fewer than 4 readable images")
            out = outlier_analysis(head.paths, head._Z, labels, head.problems, source=head.source)
        except Exception as err:  # never a traceback on screen
            if not worker.is_cancelled:
                self.post_message(Computed(None, f"outliers failed: {type(err).__name__}: {err}"))
            return
        if not worker.is_cancelled:
            self.post_message(Computed(out, extra=head))

    def on_progress(self, msg: Progress) -> None:
        self._info(msg.text)

    def _info(self, message: str | Text) -> None:
        show_line(self.query_one("#outlier-info", Static), message)

    def on_computed(self, msg: Computed) -> None:
        if msg.error:
            self.query_one("#roc-plot").loading = False
            self._info(msg.error)
            return
        adopt = getattr(self.app, "adopt_head", None)
        if adopt is not None:
            adopt(msg.extra)  # the live head takes the features (the next correction loads none)
        out = self.outliers = msg.result
        self.query_one("#outlier-note", Static).update(roc_note(out, self.snap.tag))
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
        self._info(info)
        listing = self.query_one("#outlier-list", OptionList)
        listing.clear_options()
        # the list wraps a long name, cutting its frame number off its line: cut it in the middle instead
        width = (listing.scrollable_content_region.width
                 - listing.get_component_styles("option-list--option").padding.width)
        listing.add_options([Option(outlier_option(k + 1, float(out.scores[i]), out.paths[i],
                                                   out.labels.get(out.paths[i]), width), id=str(i))
                             for k, i in enumerate(out.top)])
        listing.border_title = Text(f"top {len(out.top):,} of {len(out.paths):,} · score")
        if out.top:
            listing.highlighted = 0
        if self.screen.query_one(TabbedContent).active == "outliers":
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

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        out = self.outliers
        if out is None or event.option.id is None:
            return
        listed = {out.paths[k] for k in out.top}
        label = f"top {len(listed):,} outliers (isolation forest)"
        self.post_message(self.OutlierChosen(listed, label, out.paths[int(event.option.id)]))
