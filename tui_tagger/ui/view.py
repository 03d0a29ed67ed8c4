"""What the two lists show: the tag (``session.tag``), the filter and the sort order, kept in one place
(``ViewState``) and changed one way (``ViewMixin.set_view``: state, then the lists are rebuilt and the status
bar follows). The marks are the lists' own (``ImageList.marked``, by image): a move clears them, new p
and re-sorts do not.

Filters come from ``/`` (a tag query, else part of a name), review (``r``: the images it found) and the
analysis views (a cluster or the outliers): each is a ``ViewFilter`` with a text for the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from textual import work

from tui_tagger.core.errors import QueryError
from tui_tagger.core.query import parse_query
from tui_tagger.ui import decoding
from tui_tagger.ui.messages import NamesChecked
from tui_tagger.ui.screens.dialogs import PromptDialog
from tui_tagger.ui.screens.tag_picker import TagPicker
from tui_tagger.ui.sorted_rows import SORTS

Keep = Callable  # (row, tags) -> bool


@dataclass(frozen=True)
class ViewFilter:
    text: str = ""  # as the status bar names it
    kind: str = ""  # "tags" (a tag query), "name" (part of a name), "review", "images" (analysis)
    keep: Keep | None = None  # None: every image


NO_FILTER = ViewFilter()


@dataclass
class ViewState:
    sort: str = "p"
    filter: ViewFilter = field(default_factory=ViewFilter)


class ListView(NamedTuple):
    """What both lists show, all of it: the session's tag and the view's sort and filter."""

    tag: str
    sort: str
    filter: ViewFilter


def paths_filter(paths, label: str, kind: str = "images") -> ViewFilter:
    """Only these images (paths)."""
    keep = frozenset(paths)
    return ViewFilter(label, kind, lambda row, tags: row.path in keep)


def parse_filter(text: str, vocab) -> ViewFilter:
    """``/``'s text: a tag query, else part of a name (kind "name": ``check_names`` says whether some name
    has it)."""
    text = text.strip()
    if not text:
        return NO_FILTER
    try:
        query = parse_query(text, vocab)
    except QueryError:
        needle = text.lower()
        return ViewFilter(text, "name", lambda row, tags: needle in row.rel.lower())
    return ViewFilter(text, "tags", lambda row, tags: query.matches(tags, row.predictions))


def check_names(view_filter: ViewFilter, vocab, rows) -> str | None:
    """Why a name filter cannot be: no row's name (``rel``) has it, and it is no tag query; None when some
    name has it (a million names: ~0.1 s; in Python, as fast as a pass in C: 3.11 specializes it)."""
    needle = view_filter.text.lower()
    if any(needle in row.rel.lower() for row in rows):
        return None
    try:
        parse_query(view_filter.text, vocab)
    except QueryError as err:
        return f"Filter {view_filter.text!r}: no name contains it, and as a tag query: {err}"
    return None


class ViewMixin:
    """Tag, filter and sort for TaggerApp (``t``, ``/``, ``o``)."""

    view: ViewState
    _names_pending: ViewFilter | None = None  # a name filter whose names a worker looks through

    @property
    def sort(self) -> str:
        return self.view.sort

    @sort.setter
    def sort(self, value: str) -> None:
        self.view.sort = value

    @property
    def filter_text(self) -> str:
        return self.view.filter.text

    @property
    def filter_kind(self) -> str:
        return self.view.filter.kind

    def set_view(self, *, filter: ViewFilter | None = None, sort: str | None = None, tag: str | None = None) -> None:
        """The one way to change what the lists show; they are rebuilt (and the status bar follows). A big
        folder's lists are rebuilt in a worker: the state changes, all of it at once, when they land
        (``ListsMixin.rebuild_lists``); a change asked for meanwhile goes on from the one on its way."""
        want = self.wanted_view()
        self.rebuild_lists(ListView(want.tag if tag is None else tag, want.sort if sort is None else sort,
                                    want.filter if filter is None else filter))

    def filter_paths(self, paths, label: str) -> None:
        """Show only these images (paths) in the lists; ``label`` names the filter in the status bar.
        ``paths`` None clears the filter (as an empty / filter does)."""
        self.set_view(filter=NO_FILTER if paths is None else paths_filter(paths, label))
        self._show_selected()

    def action_pick_tag(self) -> None:
        s = self.session
        # a big folder's counts (~0.2 s at a million rows) are made in the picker's worker: it opens at once
        counts = s.counts() if len(s.rows) <= self.background_from or s.counts_known() else s.counts
        self.push_screen(TagPicker(s.vocab, counts, len(s.rows), s.tag), self._tag_picked)

    def _tag_picked(self, name: str | None) -> None:
        if not name:
            return
        self.set_view(tag=self.session.vocab.add(name).name)  # the inspect pane and the head follow it

    def action_filter(self) -> None:
        # the box opens empty: "/ then Enter" clears the filter; the one in force is named above it
        now = f"\nNow: {self.filter_text} (Enter on an empty box shows all)" if self.filter_text else ""
        self.push_screen(
            PromptDialog("Filter: a tag query (e.g. Ring: Isotropic and not Saturation) or part of a name" + now,
                         "", "empty: show all"),
            self._filtered,
        )

    def _filtered(self, text: str | None) -> None:
        if text is None:
            return
        view_filter, s = parse_filter(text, self.session.vocab), self.session
        if view_filter.kind != "name":
            self.set_view(filter=view_filter)
        elif len(s.rows) <= self.background_from:
            self._names_checked(NamesChecked(view_filter, check_names(view_filter, s.vocab, s.rows)))
        else:  # a big folder's names are looked through in a worker; the lists stay as they are meanwhile
            self._names_pending = view_filter
            self.status.update_now()
            self.names_worker(view_filter, s.vocab, s.rows)

    @work(thread=True, exclusive=True, group="names", description="name filter")
    def names_worker(self, view_filter: ViewFilter, vocab, rows: list) -> None:
        decoding.yield_to_ui()  # this thread at a lower priority: the keys first
        self.post_message(NamesChecked(view_filter, check_names(view_filter, vocab, rows)))

    def on_names_checked(self, msg: NamesChecked) -> None:
        if msg.filter is not self._names_pending:
            return  # another / since
        self._names_pending = None
        self._names_checked(msg)
        self.status.update_now()

    def _names_checked(self, msg: NamesChecked) -> None:
        if msg.error:  # neither a tag query nor part of any name: say why, keep the lists
            self.notify(msg.error, severity="warning", timeout=10, markup=False)
        else:
            self.set_view(filter=msg.filter)

    @property
    def filter_status(self) -> str | None:
        """What the filter is doing, for the status line (None: nothing)."""
        return "filter: looking through the names…" if self._names_pending is not None else None

    def action_sort(self) -> None:
        """``o``: re-sort now where new p arrived since the lists were sorted (the cursor's image stays on
        its line); else the next sort order."""
        if self.order_stale():
            if self.lists_pending() is None:  # (else the rebuild on its way sorts every row anyway)
                self.resort_lists()
            return
        sort = self.wanted_view().sort
        self.set_view(sort=SORTS[(SORTS.index(sort) + 1) % len(SORTS)])
