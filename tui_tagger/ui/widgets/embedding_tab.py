"""The analysis views' Embedding tab: the images drawn as a 2-D map of their features (t-SNE, PCA or a
diffusion map, ``learn.embedding``) in the terminal (textual-plotext), coloured by the current tag or by
its p, with k-means clusters; Enter on a cluster posts ``ClusterChosen``. Computed in the tab's worker;
maps are kept in the app's ``analysis_cache`` for the session.
"""

from __future__ import annotations

import hashlib
import os

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import OptionList, Static, TabbedContent
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from tui_tagger.core.text import printable
from tui_tagger.learn.plots import P_STATES, STATES, p_state
from tui_tagger.ui.widgets.analysis_common import Computed, Progress, progress_line, show_line

# the point classes in the terminal (plotext colour names; same meaning as learn.plots.STATE_COLOURS)
TERM_COLOURS = {"positive": (80, 210, 80), "model-only": (255, 150, 40), "negative": (150, 150, 150),
                "p ≥ 0.8": (253, 231, 37), "p 0.5–0.8": (94, 201, 98), "p 0.2–0.5": (33, 145, 140),
                "p < 0.2": (59, 82, 139), "no p": (110, 110, 110)}
SELECTED = (60, 220, 235)
DOTS_MAX = 1500  # up to this many images a point is a dot (•); beyond, braille (8 points per cell)


def _style(state: str) -> str:
    return "rgb({},{},{})".format(*TERM_COLOURS[state])


class EmbeddingTab(Horizontal):
    class FeaturesIn(Message):
        """The embedding's features are all in the disk cache (an Outliers tab waiting for them can start)."""

    class ClusterChosen(Message):
        """Enter on a cluster: show these images (``paths``) in the lists, named ``label``."""

        def __init__(self, paths: set[str], label: str) -> None:
            super().__init__()
            self.paths, self.label = paths, label

    def __init__(self, snap, method: str = "tsne", **kw) -> None:
        super().__init__(**kw)
        self.snap = snap
        self.method = method
        self.emb = None  # learn.embedding.Embedding of self.method, once computed
        self.tag_states: list[str] = []  # per embedded image: positive / model-only / negative
        self.p_states: list[str] = []  # per embedded image: its p(tag) bin
        self.colour_by = "tag"  # v: "tag" or "p"
        self.features_pending = False  # the worker is computing (decoding) the features

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="embed-plot")
        with Vertical(id="embed-side"):
            yield Static(Text(""), id="embed-info")
            yield OptionList(id="clusters")

    def on_mount(self) -> None:
        self.start()

    # ---- computing ----------------------------------------------------------------------------
    def _cache_key(self) -> tuple:
        digest = hashlib.sha1(repr(self.snap.items).encode("utf-8", "surrogateescape")).hexdigest()
        return (self.method, digest)

    def method_label(self) -> str:
        from tui_tagger.learn.embedding import LABELS

        return LABELS.get(self.method, self.method)

    def next_method(self) -> None:
        from tui_tagger.learn.embedding import METHODS

        self.method = METHODS[(METHODS.index(self.method) + 1) % len(METHODS)]
        self.start()

    def start(self) -> None:
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
        self._info(f"{self.method_label()}: computing features of {len(self.snap.items):,} images…")
        self.features_pending = True
        self.compute(list(self.snap.items), self.method, key, self.app.model_file())

    @work(thread=True, exclusive=True, group="analysis-embedding", description="embedding")
    def compute(self, items, method: str, key, model: str | None) -> None:
        from textual.worker import get_current_worker

        from tui_tagger.learn.embedding import LABELS, image_embedding

        worker = get_current_worker()
        first = [True]
        shown = progress_line(self, worker, LABELS[method], "mapping")

        def progress(done: int, total: int) -> None:
            if first[0]:  # the first call counts what the disk cache had: all of it, nothing to wait for
                first[0] = False
                if done == total and not worker.is_cancelled:
                    self.post_message(self.FeaturesIn())
            shown(done, total)

        try:
            emb = image_embedding(items, method, workers=max(1, (os.cpu_count() or 2) - 1), progress=progress,
                                  model=model)
        except Exception as err:  # never a traceback on screen
            if not worker.is_cancelled:
                self.post_message(Computed(None, f"embedding failed: {type(err).__name__}: {err}", key))
            return
        if not worker.is_cancelled:
            self.post_message(Computed(emb, None, key))

    def on_progress(self, msg: Progress) -> None:
        self._info(msg.text)

    def on_computed(self, msg: Computed) -> None:
        self._features_in()
        if msg.error:
            self.query_one("#embed-plot").loading = False
            self._info(msg.error)
        else:
            self._embedding_done(msg.result, msg.key)

    def _features_in(self) -> None:
        # the last features are saved when ``features.compute`` returns: a waiting tab reads them from the cache
        if self.features_pending:
            self.post_message(self.FeaturesIn())

    def on_embedding_tab_features_in(self, _: FeaturesIn) -> None:
        self.features_pending = False  # and on to the screen, which tells a waiting Outliers tab

    def _info(self, message: str | Text) -> None:
        show_line(self.query_one("#embed-info", Static), message)

    def _embedding_done(self, emb, key) -> None:
        self.app.analysis_cache[key] = emb
        if key != self._cache_key():
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
        if self.screen.query_one(TabbedContent).active == "embedding":
            clusters.focus()

    # ---- drawing ------------------------------------------------------------------------------
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
        info.append(f"{self.method_label()} of {emb.source_label}\n", style="bold")
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

    def toggle_colour(self) -> None:
        """v: colour the map by the current tag, or by the model's p of it (press p in the main view first)."""
        self.colour_by = "p" if self.colour_by == "tag" else "tag"
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
        plt.title(f"{self.method_label()} · {printable(self.snap.tag) or '-'}")
        plt.xticks([])
        plt.yticks([])
        plot.refresh()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None and self.emb is not None:
            self.draw(int(event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is None or self.emb is None:
            return
        c = int(event.option.id)
        members = self.emb.members(c)
        method = self.method_label()  # "t-SNE", "PCA", "diffusion map": "map" once, not "map map"
        label = f"cluster {c + 1} of the {method}{'' if method.endswith('map') else ' map'} ({len(members):,} images)"
        self.post_message(self.ClusterChosen(set(members), label))
