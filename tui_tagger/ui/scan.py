"""Streaming the folder in (a mixin of TaggerApp): the index's rows paint the first screen at once, then a
worker checks them against the disk and posts ``EntriesArrived`` with only what changed (a cold open: every
entry as the walk finds it, in batches). Rows of changed files move to their new places in the lists;
while a big folder streams in, the lists are rebuilt at most every few hundred milliseconds.
"""

from __future__ import annotations

import time

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui import backend
from tui_tagger.ui.messages import EntriesArrived

BATCH_S = 0.2  # entries found within this long reach the lists together
BATCH_MAX = 5000  # at most this many per message; more changed rows than this: a full rebuild


class ScanMixin:
    @work(thread=True, exclusive=True, group="scan")
    def scan(self) -> None:
        """Paint from the index at once, then verify against the disk: a warm open sends the index's rows
        and then only what changed; a cold one (empty index) streams every entry as the walk finds it."""
        make_rows = self.session.make_rows
        batch, last, removed, catalog = [], time.monotonic(), [], None
        try:
            catalog = backend.catalog(self.root, self.session.tags_dir)
            cached = backend.cached_entries(catalog)
            if cached:
                self.post_message(EntriesArrived(make_rows(cached), cached=True))
            entries = backend.scan_changes(catalog) if cached else catalog.scan()
            for entry in entries:
                batch.append(entry)
                now = time.monotonic()
                if now - last > BATCH_S or len(batch) >= BATCH_MAX:
                    self.post_message(EntriesArrived(make_rows(batch)))
                    batch, last = [], now
            removed = list(getattr(catalog, "removed", None) or ())
        except TaggerError as err:
            self.post_message(EntriesArrived(make_rows(batch), done=True, error=str(err)))
            return
        except Exception as err:  # never a traceback on screen
            self.post_message(EntriesArrived(make_rows(batch), done=True, error=f"{self.root}: scan failed: {err}"))
            return
        self.post_message(EntriesArrived(make_rows(batch), done=True, catalog=catalog, removed=removed))

    def on_entries_arrived(self, msg: EntriesArrived) -> None:
        s = self.session
        if msg.cached:
            self.verifying = True
            s.add_rows(msg.rows)
        elif self.verifying and not self._refresh_pending and len(msg.rows) <= BATCH_MAX:
            self._replace_rows(msg.rows)  # a few files changed since the index: move just their rows
        else:
            s.add_rows(msg.rows)
            self._refresh_pending = self._refresh_pending or bool(msg.rows)
        if msg.removed:
            self._remove_rows(msg.removed)
        if msg.catalog is not None:
            s.catalog = msg.catalog
        if not s.tag and s.rows:
            self._choose_initial_tag()
        if msg.done:
            self.scanning = self.verifying = False
            if msg.error:
                self.scan_error = msg.error
                self.notify(msg.error, severity="error", timeout=10)
            if not s.tag:
                self._choose_initial_tag()
            if self._refresh_pending or not self._painted:
                self.rebuild_lists()
        elif msg.cached or not self._painted:
            self.rebuild_lists()  # the first screen waits neither for the walk nor for the verify

    def _replace_rows(self, rows: list) -> None:
        """Rows for images already listed (changed on disk) or new: out at their old sort places, in at the
        new ones; the rest of the lists stays as it is."""
        s = self.session
        old = [s.row(r.path) for r in rows if r.path in s.index]
        states = [lst.begin_update(old) for lst in (self.pos, self.neg)]
        s.add_rows(rows)
        for lst, state in zip((self.pos, self.neg), states):
            lst.end_update(state, [r for r in rows if self._listed_in(lst, r)])
        self._lists_changed()

    def _remove_rows(self, paths: list[str]) -> None:
        gone = self.session.remove_paths(paths)
        if not gone or self._refresh_pending:
            return
        for lst in (self.pos, self.neg):
            lst.update_rows(gone, [])
        self._lists_changed()
        if self.inspect.path in paths:
            self._show_selected()

    def _choose_initial_tag(self) -> None:
        vocab = self.session.vocab
        if self.initial_tag:
            name = vocab.canonical(self.initial_tag)
            if name not in vocab:
                self.notify(f"tag {self.initial_tag!r} is new here (not in the vocabulary)", severity="warning")
                vocab.add(name)
            self.session.tag = name
        else:
            counts = self.session.counts()
            self.session.tag = max(counts, key=counts.get) if counts else vocab.names[0]
