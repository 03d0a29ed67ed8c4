"""The Positive and Negative lists (a mixin of TaggerApp): built from the session by the view's tag,
filter and sort; rows that a correction changes move to their places without a rebuild; which list is
active and which row the inspect pane shows.

Steady lists: new p (predictions, a live head's retrain) show in the rows at once, but the rows stay where
they are until the user asks (``o``), changes the tag or filter, or rests for ``IDLE_RESORT_S``; then they
move with the cursor's image kept on its line of the screen. Marks are on images (paths), not rows.

A rebuild of more than ``BACKGROUND_FROM`` rows (a million: ~0.5 s) is split and sorted in a worker thread;
the lists, the tag and the filter stay as they are until it lands (``ListsSplit``), so keys, marks and moves
go on meanwhile on what the user sees. Rows changed meanwhile (moves, new p, rescans) are put right as it
lands; the cursor's image stays on its line and the marks on their images.
"""

from __future__ import annotations

import threading
import time
from itertools import compress
from operator import attrgetter, not_

from rich.text import Text
from textual import events, work

from tui_tagger.core.text import printable
from tui_tagger.ui import decoding, gc_quiet
from tui_tagger.ui.messages import ListsSplit, RowSelected, ThumbsReady
from tui_tagger.ui.sorted_rows import CHUNK, release, sort_key
from tui_tagger.ui.view import ListView
from tui_tagger.ui.widgets.checklist import TagChecklist
from tui_tagger.ui.widgets.image_list import ImageList

FULL_REBUILD = 5000  # more rows than this changing at once: one full rebuild is cheaper
IDLE_RESORT_S = 3.0  # no key or click for this long: rows whose p changed move to their sorted places
BACKGROUND_FROM = 50_000  # a folder of more rows than this is split and sorted in a worker thread
# rows whose p changed that a big folder's re-sort moves in place; more go to the worker's rebuild: each move
# shifts half a million references twice (a live head's 4000 new p at 1M held the UI thread 2.7 s)
MOVE_IN_PLACE_BIG = 200
_PATH = attrgetter("path")


def without(rows: list, paths: set) -> list:
    """``rows`` less those of ``paths``; in C, a slice at a time (a worker holds the GIL a few ms at most)."""
    out: list = []
    for i in range(0, len(rows), CHUNK):
        part = rows[i:i + CHUNK]
        out += compress(part, map(not_, map(paths.__contains__, map(_PATH, part))))
    return out


class ListsMixin:
    _refresh_pending = False  # rows arrived that the lists do not show yet
    _next_rebuild = 0.0
    _painted = False  # the lists have been built once
    _last_list = None
    _last_input = 0.0  # time.monotonic() of the user's last key or click
    idle_resort_s = IDLE_RESORT_S  # tests set it (inf: only o re-sorts; 0: at the next tick)
    background_from = BACKGROUND_FROM  # tests set it (0: every rebuild in the worker)
    # the rebuild in the worker: its request number, the view it is for (None: none running), when it began,
    # and the paths whose rows changed since it began (ImageList.touched: both lists share it)
    _split_seq = 0
    _split_view: ListView | None = None
    _split_began = 0.0
    _touched: set | None = None

    def shown_view(self) -> ListView:
        """What the lists show now (a rebuild in the worker changes it when it lands)."""
        return ListView(self.session.tag, self.view.sort, self.view.filter)

    def wanted_view(self) -> ListView:
        """What the lists will show: the view a rebuild in the worker is for, else the shown one."""
        return self._split_view or self.shown_view()

    def lists_pending(self) -> ListView | None:
        """The view the lists are being rebuilt for in the worker (None: none; the status bar says so)."""
        return self._split_view

    def rebuild_lists(self, view: ListView | None = None) -> None:
        """Both lists built again for ``view`` (default: the wanted one): here for a small folder, in a worker
        for a big one (the lists stay as they are until it lands, see the module)."""
        view = view or self.wanted_view()
        self._split_seq += 1  # a rebuild running in the worker is superseded
        self._split_began = time.monotonic()
        if len(self.session.rows) <= self.background_from:
            self._split_view = None
            self._set_touched(None)
            changed = self._adopt_view(view)
            self.show_rows(*self.session.split(view.sort, view.filter.keep))
            self._view_landed(changed)
            return
        self._refresh_pending = False  # the worker takes every row there is now; later ones set it again
        self._split_view = view
        self._set_touched(set())
        s = self.session
        self.split_lists(self._split_seq, view, s.rows, s.by_name)
        self.status.update_now()

    @work(thread=True, exclusive=True, group="lists", description="lists")  # (not a repr of 1M rows)
    def split_lists(self, seq: int, view: ListView, rows: list, by_name: bool) -> None:
        """Both lists for ``view`` (a worker thread: ~0.5 s at a million rows, in slices that hold the GIL a few
        ms each), less the rows changed meanwhile (the UI inserts those where they belong now)."""
        decoding.yield_to_ui()  # this thread at a lower priority: the keys first
        pos = neg = None
        with gc_quiet.no_collections() as quiet:  # lists of a million: never walked by a collection
            for _ in range(3):  # the UI thread changes rows meanwhile: a pass that trips on it is run again
                try:
                    pos, neg = self.session.split(view.sort, view.filter.keep, rows=rows, tag=view.tag,
                                                  by_name=by_name)
                    quiet.keep = len(pos) + len(neg) >= gc_quiet.FREEZE_FROM
                    break
                except (RuntimeError, IndexError, KeyError):
                    continue
        touched = set(self._touched or ())  # a copy, taken in one step (the UI thread adds to it)
        if pos is not None and touched:
            pos, neg = without(pos, touched), without(neg, touched)
        self.post_message(ListsSplit(seq, view, rows, pos, neg, touched))

    def on_lists_split(self, msg: ListsSplit) -> None:
        if msg.seq != self._split_seq or not self.screen_stack:
            return  # superseded by a newer rebuild (or the app is closing)
        view, touched = msg.view, self._touched or set()
        self._split_view = None
        self._set_touched(None)
        s = self.session
        if msg.pos is None or msg.rows is not s.rows:  # the rows were replaced meanwhile (loaded, removed)
            self.rebuild_lists(view)
            return
        late = touched - msg.touched  # changed after the worker looked: out too
        pos, neg = (without(msg.pos, late), without(msg.neg, late)) if late else (msg.pos, msg.neg)
        marks = [(lst, set(lst.marked)) for lst in (self.pos, self.neg)]
        old = [self.pos.rows, self.neg.rows]
        changed = self._adopt_view(view)
        self.show_rows(pos, neg, caught_up=False)
        # the lists replaced are freed in a thread, a slice at a time (a million references: ~10 ms here)
        threading.Thread(target=lambda: [release(rows) for rows in old], name="release", daemon=True).start()
        fixed = [s.row(p) for p in touched if p in s.index]  # in at their places for the view now
        for lst, marked in marks:
            if fixed:
                lst.update_rows([], [r for r in fixed if self._listed_in(lst, r)])
            lst.marked = {p for p in marked if lst.listed(p)}  # a mark stays where its image is listed
        if fixed:
            self._lists_changed()
        self._view_landed(changed)

    def _set_touched(self, touched: set | None) -> None:
        self._touched = self.pos.touched = self.neg.touched = touched

    def _adopt_view(self, view: ListView) -> bool:
        """The state says ``view`` from now on; True when the tag changed."""
        changed = view.tag != self.session.tag
        self.session.tag, self.view.sort, self.view.filter = view.tag, view.sort, view.filter
        if changed:
            self.seen.clear()
        return changed

    def _view_landed(self, tag_changed: bool) -> None:
        self._next_rebuild = time.monotonic() + 4 * (time.monotonic() - self._split_began)
        if tag_changed:
            self._show_selected()
            self.retrain_head()  # the head of the new tag, once the features are in

    def show_rows(self, pos: list, neg: list, caught_up: bool = True) -> None:
        """The lists show these rows (split and sorted for the session's tag and the view); the cursor stays
        on its image, marks on theirs. ``caught_up``: every row there is now is in them."""
        if caught_up:
            self._refresh_pending = False
        self._painted = True
        tag = self.session.tag
        self.pos.set_rows(pos, sort_key(self.sort, tag, True))
        self.neg.set_rows(neg, sort_key(self.sort, tag, False))
        self._lists_changed()
        if not self.focus_the_filled_list() and self.inspect.path is None:
            self._show_selected()

    def focus_the_filled_list(self) -> bool:
        """A filter or tag left the focused list empty: the images are in the other one, focus goes there.
        Not while the scan streams in (the next rows may fill it; the focus would jump under the user)."""
        lst = self.active_list()
        other = self.neg if lst is self.pos else self.pos
        if self.scanning or lst.rows or not other.rows or self.focused is not lst:
            return False
        other.focus()
        return True

    def rebuild_if_due(self) -> None:
        # while a big folder streams in, rebuilding costs O(n log n): keep it to a fifth of the time
        if self._refresh_pending and self._split_view is None and time.monotonic() >= self._next_rebuild:
            self.rebuild_lists()
        self.resort_if_idle()

    def update_rows(self, paths: list[str]) -> None:
        """After corrections on these images: move just their rows (a full rebuild costs O(n log n))."""
        if self._refresh_pending or len(paths) > FULL_REBUILD:
            self.rebuild_lists()
            return
        s = self.session
        keep = self.view.filter.keep
        rows = [s.row(p) for p in dict.fromkeys(paths) if p in s.index]
        new_pos, new_neg = [], []
        for row in rows:
            tags = s.tags(row)
            if keep is None or keep(row, tags):
                (new_pos if s.tag in tags else new_neg).append(row)
        self.pos.update_rows(rows, new_pos)
        self.neg.update_rows(rows, new_neg)
        self._lists_changed()
        self.labels_changed()  # the head learns from it

    def apply_predictions(self, results, model: str) -> None:
        """New p for some images (the model, a head): shown at once in their rows, which stay where they
        are (the lists do not move under the user); ``o``, a new tag or filter, or an idle moment re-sorts."""
        s = self.session
        rows = [s.row(p) for p, _, _ in results if p in s.index]
        if self._touched is not None:  # a rebuild in the worker may have sorted them by their old p
            self._touched.update(r.path for r in rows)
        listed = {lst: [r for r in rows if self._listed_in(lst, r)] for lst in (self.pos, self.neg)}
        for lst, mine in listed.items():
            lst.freeze(mine)  # they stay listed by the keys they have now
        s.set_predictions(results, model)
        paths = {r.path for r in rows}
        for lst, mine in listed.items():
            lst.settle(mine)
            lst.refresh_paths(paths)
        self._lists_changed()
        self.inspect.update_predictions(self.active_list().current)

    # ---- re-sorting: when the user asks (o), or after an idle moment -------------------------------
    def order_stale(self) -> bool:
        """Some row's p changed since the lists were sorted (``o`` or an idle moment re-sorts)."""
        return self.pos.stale or self.neg.stale

    def resort_lists(self) -> bool:
        """Rows whose p changed go to their places; the cursor's image stays on its line. True if one moved."""
        moving = len(self.pos.sorted.frozen) + len(self.neg.sorted.frozen)
        big = len(self.session.rows) > self.background_from
        if self._refresh_pending or moving > (MOVE_IN_PLACE_BIG if big else FULL_REBUILD):
            self.rebuild_lists()  # keeps the cursor's image on its line, too (a big folder's: in the worker)
            return True
        moved = [lst.resort() for lst in (self.pos, self.neg)]
        if any(moved):
            self._lists_changed()
        return any(moved)

    def note_input(self) -> None:
        self._last_input = time.monotonic()

    def resort_if_idle(self) -> None:
        """After IDLE_RESORT_S without a key or a click, the lists catch up with their p."""
        if self._split_view is not None:
            return  # the rebuild on its way sorts every row
        stack = self.screen_stack
        if stack and getattr(stack[-1], "holds_list_order", False):
            return  # z: the user steps through the list in its order (a re-sort skipped or repeated images)
        if time.monotonic() - self._last_input >= self.idle_resort_s and (self.pos.sorted.frozen or self.neg.sorted.frozen):
            self.resort_lists()

    async def on_event(self, event) -> None:
        # any key or click is the user at work: the lists do not re-sort by themselves until they rest
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.note_input()
        await super().on_event(event)

    def _listed_in(self, lst, row) -> bool:
        tags = self.session.tags(row)
        keep = self.view.filter.keep
        if keep is not None and not keep(row, tags):
            return False
        return (self.session.tag in tags) == (lst is self.pos)

    def _lists_changed(self) -> None:
        """The lists' titles and the status bar follow the rows."""
        # Text, not a str: a str title is parsed as markup, and tag names come from files
        # the count first: a long tag name is cut at the border's end, the count stays
        self.pos.border_title = Text(f"Positive ({len(self.pos.rows)}) · {printable(self.session.tag)}")
        self.neg.border_title = Text(f"Negative ({len(self.neg.rows)})")
        self.status.update_now()

    # ---- which list, which row ------------------------------------------------------------------
    def _lists_hidden(self) -> bool:
        return self.screen.has_class("-narrow") and self.screen.has_class("-show-inspect")

    def active_list(self) -> ImageList:
        focused = self.focused
        if isinstance(focused, ImageList) and not self._lists_hidden():
            return focused
        return self._last_list if self._last_list is not None else self.pos

    def on_thumbs_ready(self, _: ThumbsReady) -> None:
        fresh = self.thumbs.take_fresh() if self.thumbs is not None else set()
        if fresh:
            self.pos.refresh_paths(fresh)
            self.neg.refresh_paths(fresh)

    def on_row_selected(self, msg: RowSelected) -> None:
        if not self.screen_stack:  # a cursor message still queued while the app shuts down
            return
        if msg.control is not self.active_list() and msg.control is not self._last_list:
            return
        if msg.path is not None and msg.path == self.inspect.path and self._shown == self.session.version:
            return  # already shown as it is (a move shows its image itself)
        self._show_selected()

    def on_descendant_focus(self, event) -> None:
        if not self.screen_stack or self._lists_hidden():  # (a focus still queued while the app shuts down)
            return  # the lists are hidden (80x24, inspect pane swapped in): a list focused now is Textual's doing
        if isinstance(event.widget, ImageList):
            self._last_list = event.widget
            self._show_selected()

    def action_next_pane(self) -> None:
        self._step_pane(1)

    def action_prev_pane(self) -> None:
        self._step_pane(-1)

    def _step_pane(self, step: int) -> None:
        if self.screen is not self.screen_stack[0]:  # a dialog: tab is the next field or button there
            self.screen.focus_next() if step > 0 else self.screen.focus_previous()
            return
        order = [self.pos, self.neg, self.inspect.query_one(TagChecklist)]
        focused = self.focused
        idx = next((i for i, w in enumerate(order) if w is focused), -1 if step > 0 else 0)
        nxt = order[(idx + step) % len(order)]
        showing = self.screen.has_class("-show-inspect")
        self.screen.set_class(nxt is order[2], "-show-inspect")
        if showing != (nxt is order[2]):
            # at 80x24 the pane was display: none, and a hidden widget takes no focus: focus it once it is
            # shown. Hiding the lists moves Textual's focus to some list meanwhile (on_descendant_focus
            # ignores that), so the list we left stays the inspected one.
            def swapped() -> None:
                nxt.focus()
                self._show_selected()

            self.call_after_refresh(swapped)
        else:
            nxt.focus()
