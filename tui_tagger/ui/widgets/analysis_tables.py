"""The analysis views' Relations and Performance tabs: one widget each, each with its own worker over the
screen's snapshot of the session (``learn.relations``), and the tables they draw (Rich renderables; tag names
from files as ``Text``, never markup, through ``printable``).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_tagger.core.text import printable
from tui_tagger.ui.widgets.analysis_common import Computed

TOP_TAGS = 12  # tags in the relations table
PAIRS = 8  # strongest pairs listed under it


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


# the Performance table's columns: (header, header where the full ones do not fit the width)
PERFORMANCE_COLUMNS = (("tag", "tag"), ("labelled", "labels"), ("positives", "pos"), ("AP", "AP"),
                       ("precision", "prec"), ("recall", "rec"), ("threshold", "thr"))


def performance_renderable(scores, snap, width: int = 160):
    """The model's scores per tag; ``width`` cells: short headers where the full ones do not fit (80 columns
    cut them to 'label…', 'posit…'), and a tag name too long for its column wraps, never cut."""
    if not any(snap.predictions):
        return Text("No predictions in this session yet: press p in the main view to run the model over the "
                    "folder, then open this view (a) again.")
    if not scores:
        return Text("No image has both a prediction and a person's label: label some images (or open a labelled "
                    "folder), then look again.")

    def score(v):
        if v is None:
            return Text("—", style="dim")
        return Text(f"{v:.3f}", style="red" if v < 0.5 else ("yellow" if v < 0.8 else "green"))

    rows = [(Text(printable(s.tag)), Text(f"{s.n:,}"), Text(f"{s.support:,}"), score(s.ap), score(s.precision),
             score(s.recall), Text(f"{s.threshold:.2f}")) for s in scores]
    widths = [max(cell_len(row[j].plain) for row in rows) for j in range(len(PERFORMANCE_COLUMNS))]
    widths[0] = min(widths[0], 40)  # a longer name wraps rather than shorten every header
    full = sum(max(cell_len(h), w) for (h, _), w in zip(PERFORMANCE_COLUMNS, widths)) + 2 * len(widths) <= width
    thr = "the model's per-tag thresholds" if snap.thresholds else "0.5"
    table = Table(title=Text(f"Model performance per tag, worst first (model: {printable(snap.model or '?')}; "
                             f"precision and recall at {thr})"), title_justify="left", box=None,
                  padding=(0, 1), header_style="bold")
    for long, short in PERFORMANCE_COLUMNS:
        if long == "tag":
            # the only column that wraps: it gives up the room, down to a word's width
            table.add_column(long, overflow="fold", min_width=min(widths[0], 12))
        else:
            table.add_column(long if full else short, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    from rich.console import Group

    abbreviations = "" if full else ("labels: labelled images, pos: positives among them, prec / rec: precision / "
                                     "recall at thr, the threshold. ")
    note = Text(abbreviations + "AP — : the labelled images hold one class only for that tag. Labels: tag files with "
                "a person's tags and this session's corrections; a tag only the model added is no label.", style="dim")
    return Group(table, Text(""), note)


class _TableTab(VerticalScroll):
    """A tab of one table: a body (``#BODY``) filled by a worker over the snapshot."""

    WAITING = ""
    BODY = ""

    def __init__(self, snap, **kw) -> None:
        super().__init__(**kw)
        self.snap = snap
        self.result = None

    def compose(self) -> ComposeResult:
        yield Static(Text(self.WAITING), id=self.BODY)

    @property
    def body(self) -> Static:
        return self.query_one(f"#{self.BODY}", Static)

    def on_mount(self) -> None:
        self.body.loading = True
        self.compute(self.snap)

    @work(thread=True, exclusive=True, description="table")
    def compute(self, snap) -> None:
        try:
            result = self.calculate(snap)
        except Exception as err:  # never a traceback on screen
            self.post_message(Computed(None, f"analysis failed: {type(err).__name__}: {err}"))
            return
        self.post_message(Computed(result))

    def on_computed(self, msg: Computed) -> None:
        self.body.loading = False
        if msg.error:
            self.body.update(Text(printable(msg.error)))
            return
        self.result = msg.result
        self.body.update(self.renderable())

    def calculate(self, snap):
        raise NotImplementedError

    def renderable(self):
        raise NotImplementedError

    def redraw(self) -> None:
        """The screen's width changed."""
        if self.result is not None:
            self.body.update(self.renderable())


class RelationsTab(_TableTab):
    """Co-occurrence and phi of the most frequent tags; as many columns as the screen is wide."""

    WAITING = "Counting tags…"
    BODY = "relations-body"

    def calculate(self, snap):
        from tui_tagger.learn.relations import relations

        return relations(snap.tags, TOP_TAGS)

    def renderable(self):
        return relations_renderable(self.result, self.screen.size.width)


class PerformanceTab(_TableTab):
    """The model's AP, precision and recall per tag against the people's labels, worst first."""

    WAITING = "Scoring…"
    BODY = "performance-body"

    def calculate(self, snap):
        from tui_tagger.learn.relations import performance

        return performance(zip(snap.tags, snap.predictions, snap.reviewed), snap.thresholds or None)

    def renderable(self):
        # the tab's width less its padding and a scrollbar (the tab may be hidden: its own size is 0)
        return performance_renderable(self.result, self.snap, self.screen.size.width - 4)
