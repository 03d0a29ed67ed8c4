"""Corrections (a mixin of TaggerApp): move the image (or the marked ones) to the other list, tick tags in
the checklist, undo and redo, and ``n`` for the next image no human has decided on. The session records
them (journal, undo); the lists move just the rows that changed.
"""

from __future__ import annotations

from textual.widgets import SelectionList

from tui_tagger.ui.messages import NextSuggested, RowMoveRequested
from tui_tagger.ui.session import suggest_next
from tui_tagger.ui.widgets.checklist import TagChecklist
from tui_tagger.ui.words import plural


class CorrectionsMixin:
    def _move(self, paths: list[str]) -> None:
        if not paths or not self.session.tag:
            return
        n = self.session.move(paths)
        moved = set(paths)
        for lst in (self.pos, self.neg):
            if lst.marked & moved:  # the moved images' marks go; marks on other images stay
                lst.marked -= moved
                lst.refresh()
        was = self.active_list()
        self.update_rows(paths)
        if not was.rows and was.has_focus:  # its last image moved (a filter shows a few): follow it
            other = self.neg if was is self.pos else self.pos
            if other.select_path(paths[0]):
                other.focus()
        self._show_selected()
        self._check_journal()
        if n > 1:
            self.notify(f"Moved {plural(n, 'image')}.")

    def action_move(self) -> None:
        self._move(self.active_list().selection())

    def on_row_move_requested(self, msg: RowMoveRequested) -> None:
        self._move([msg.path])

    def action_mark(self) -> None:
        self.active_list().toggle_mark()

    def on_selection_list_selection_toggled(self, event: SelectionList.SelectionToggled) -> None:
        row = self._last_list.current if self._last_list is not None else None
        if row is None or self.inspect._filling:
            return
        name = event.selection.value
        present = name in event.selection_list.selected
        self.session.set_tag([row.path], name, present)
        # who set each tag, now: a tag just ticked is a person's (else the gutter kept the old sources)
        self.inspect.query_one(TagChecklist).set_info(self.session.tags(row), row.predictions)
        self.update_rows([row.path])
        self._check_journal()

    def _after_history(self, paths: list[str], what: str) -> None:
        self._check_journal()
        if not paths:
            self.notify(f"Nothing to {what}.")
            return
        self.update_rows(paths)
        lst = self.active_list()
        if not lst.select_path(paths[0]):
            other = self.neg if lst is self.pos else self.pos
            if other.select_path(paths[0]):
                other.focus()
        self._show_selected()

    def action_undo(self) -> None:
        self._after_history(self.session.undo(), "undo")

    def action_redo(self) -> None:
        self._after_history(self.session.redo(), "redo")

    def action_next_suggested(self) -> None:
        """The next image to label for the current tag that no human has decided on and the pane has not shown:
        with the live head's features, the one ``learn.suggest`` names (in a worker: ``suggest_with_head``);
        else the next of this list, where the model has scored some the most uncertain (p closest to 0.5)."""
        head, tag = self.live_head, self.session.tag
        if head is not None and head.ready and tag:
            self.suggest_with_head(head, tag, self.session.labels(tag, head.paths), set(self.seen))
            return
        self.next_by_p()

    def next_by_p(self) -> None:
        lst = self.active_list()
        i = suggest_next(self.session, lst.rows, lst.cursor, self.seen)
        if i is None:
            self.notify(f"Every image in this list has been reviewed for {self.session.tag}.")
            return
        lst.focus()
        lst.cursor = i

    def on_next_suggested(self, msg: NextSuggested) -> None:
        if msg.tag != self.session.tag:
            return  # the tag changed meanwhile
        if msg.path is not None and msg.path not in self.seen:
            lst = self.active_list()
            for target in (lst, self.neg if lst is self.pos else self.pos):
                if target.select_path(msg.path):  # in whichever list holds it
                    target.focus()
                    return
        self.next_by_p()  # none left among the head's images, or one the view filters out
