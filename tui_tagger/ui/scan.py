"""Streaming the folder in (a mixin of TaggerApp), in three steps of one worker thread, none on the UI's:

1. the first screen: a few paged queries of the index (the tag counts, the first rows of each list) are
   painted at once, however large the folder (``FirstScreen``; a small index skips to step 2);
2. the whole folder from the index, in compact rows (slots, one tag dict per distinct tag set), with both
   lists split and sorted here too, so the UI thread only swaps them in (``RowsLoaded``);
3. the change check, in a child process (``core.catalog_check``): only what changed since the index was
   written reaches the lists (``EntriesArrived``), its rows moved to their new places; a cold open (empty
   index) streams every entry as the walk finds them, the lists rebuilt at most every few hundred ms.

Then the folder is checked again, every ``RECHECK_S`` seconds at most and at most ``RECHECK_SHARE`` of the
time (a million frames' check takes 20-40 s: every few minutes), in a child process at a low priority: tag
files another program rewrote (``watch --write``, another session's save, a script) show in the lists
without reopening, images written or deleted meanwhile join or leave them (``FolderRechecked``). A row's
disk tags are replaced; this session's unsaved corrections stay on top of them (a save merges both).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from concurrent.futures import Future
from operator import attrgetter

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui import backend, decoding, gc_quiet
from tui_tagger.ui.messages import EntriesArrived, FirstScreen, FolderRechecked, RowsLoaded
from tui_tagger.ui.words import plural

BATCH_S = 0.2  # entries found within this long reach the lists together
BATCH_MAX = 5000  # at most this many per message; more changed rows than this: a full rebuild
PAGE = 200  # rows of each list the first screen reads from the index (a screen shows ~15)
PAGED_FROM = 20_000  # an index of fewer images loads whole at once, as fast as a page
_REL = attrgetter("rel")
# the folder looked at again (see the module doc): at most every RECHECK_S seconds ($TUI_TAGGER_RECHECK_S; 0:
# never), and at most RECHECK_SHARE of the time, in a child at nice RECHECK_NICE (the keys first)
RECHECK_S = 30.0
RECHECK_SHARE = 0.1
RECHECK_MAX_S = 600.0  # a cold open's walk (minutes at 1M) says little of how long a warm check takes
RECHECK_NICE = 10


def recheck_every() -> float:
    try:
        return float(os.environ.get("TUI_TAGGER_RECHECK_S", RECHECK_S))
    except ValueError:
        return RECHECK_S


def pick_tag(vocab, wanted: str | None, counts: dict[str, int]) -> str:
    """The tag the lists open on: ``wanted`` (``--tag``) as the vocabulary names it, else the one most
    images have, else the vocabulary's first."""
    if wanted:
        return vocab.canonical(wanted)
    return max(counts, key=counts.get) if counts else vocab.names[0]


class ScanMixin:
    loading = 0  # images in the index while they load behind the first screen (the status bar says so)
    _catalog = None
    _first: Future | None = None  # steps 1 and 2, begun as the app was made (prefetch_index)
    _loaded: Future | None = None
    _scan_stopped = False
    _recheck_error: str | None = None  # the last re-check's failure, said once
    _check_t0 = 0.0  # when the first change check began (the next one waits for a share of its time)

    @work(thread=True, exclusive=True, group="scan", description="scan")
    def scan(self) -> None:
        """Paint from the index at once, load the rest, then verify against the disk (see the module)."""
        make_rows = self.session.make_rows
        batch, last, removed, catalog = [], time.monotonic(), [], None
        try:
            first, loaded, self._first, self._loaded = self._first, self._loaded, None, None
            catalog, counts, tag, known, rows = first.result() if first is not None else self._first_screen()
            self._catalog = catalog
            if rows is not None:
                self.post_message(FirstScreen(rows, tag, known, counts.images))
            if counts.images:
                done = loaded.result() if loaded is not None else self._load_all(catalog, tag, known)
                self.post_message(RowsLoaded(*done))
            if self._scan_stopped:
                return
            self._check_t0 = time.monotonic()
            for change in backend.scan_changes(catalog):
                if change.kind == "removed":
                    removed.append(change.path)
                    continue
                batch.append(change.entry)
                now = time.monotonic()
                if now - last > BATCH_S or len(batch) >= BATCH_MAX:
                    self.post_message(EntriesArrived(make_rows(batch)))
                    batch, last = [], now
        except TaggerError as err:
            self.post_message(EntriesArrived(make_rows(batch), done=True, error=str(err)))
            return
        except Exception as err:  # never a traceback on screen
            self.post_message(EntriesArrived(make_rows(batch), done=True, error=f"{self.root}: scan failed: {err}"))
            return
        self.post_message(EntriesArrived(make_rows(batch), done=True, catalog=catalog, removed=removed))

    def prefetch_index(self) -> None:
        """Called as the app is made: steps 1 and 2 in a thread of their own, step 1 while Textual starts
        (SQLite reads without holding the GIL), step 2 at a lower priority than the UI's thread (the keys
        first); the scan worker takes their results (``Future``s) and posts them."""
        self._first, self._loaded = first, loaded = Future(), Future()

        def run() -> None:
            try:
                catalog, counts, tag, known, _ = done = self._first_screen()
                first.set_result(done)
            except BaseException as err:  # the worker raises it as its own
                first.set_exception(err)
                return
            if not counts.images:
                return
            decoding.yield_to_ui()
            try:
                loaded.set_result(self._load_all(catalog, tag, known))
            except BaseException as err:
                loaded.set_exception(err)

        threading.Thread(target=run, name="index-rows", daemon=True).start()

    def _first_screen(self):
        """(catalog, its Counts, the tag to open on, the tag names known, the first screen's rows or None):
        a few queries of the index, no file system."""
        s = self.session
        catalog = backend.catalog(self.root, s.tags_dir)
        # the images per tag choose the tag to open on; with --tag (or a tag already) the count will do
        counts = backend.index_counts(catalog, per_tag=not (s.tag or self.initial_tag))
        tag, known = s.tag, counts.tags
        if not counts.images:
            return catalog, counts, tag, known, None
        if not tag:
            if not known:  # --tag: the names the index knows, to find it as the folder spells it
                known = dict.fromkeys(backend.index_tag_names(catalog), 0)
            vocab = s.vocab.copy()
            for name in known:
                vocab.add(name)
            tag = pick_tag(vocab, self.initial_tag, known)
        rows = None
        if counts.images >= PAGED_FROM:
            by_p = self.sort == "p"
            rows = s.make_rows([e for positive in (True, False)
                                for e in backend.first_rows(catalog, tag, positive, PAGE, by_p)])
        return catalog, counts, tag, known, rows

    def _load_all(self, catalog, tag: str, known: dict) -> tuple:
        """Step 2: every row of the index, compact, split and sorted for the view (``RowsLoaded``'s arguments)."""
        s = self.session
        was = gc.isenabled()
        gc.disable()  # a million new objects, none garbage: no collections walking them as they are made
        try:
            rows = s.rows_from(backend.index_rows(catalog))
            rows.sort(key=_REL)  # walk order is nearly name order: timsort's few runs
            index = {row.path: i for i, row in enumerate(rows)}
            names = s.tag_names(rows)
            sort, keep = self.sort, self.view.filter.keep
            split = s.split(sort, keep, rows=rows, tag=tag, by_name=True)
        finally:
            gc.freeze()  # none of them walked by later collections either (keys would wait for those)
            if was:
                gc.enable()
        return rows, index, names, tag, known, (tag, sort, self.view.filter), split

    def stop_scan(self) -> None:
        """The app is closing: the change check's child process stops (the index stays consistent)."""
        self._scan_stopped = True
        backend.stop_changes(self._catalog)

    def _schedule_recheck(self, took: float) -> None:
        every = recheck_every()
        if every > 0 and not self._scan_stopped:
            self.set_timer(min(max(every, took / RECHECK_SHARE), max(every, RECHECK_MAX_S)), self._start_recheck)

    def _start_recheck(self) -> None:
        if self._scan_stopped or self._catalog is None:
            return
        self.session.saved_during_check = set()
        self.recheck(self._catalog)

    @work(thread=True, exclusive=True, group="recheck", description="recheck")
    def recheck(self, catalog) -> None:
        """The folder's change check again (see the module doc); one ``FolderRechecked`` when it ends."""
        t, entries, removed, error = time.monotonic(), [], [], None
        try:
            for change in backend.scan_changes(catalog, nice=RECHECK_NICE):
                if change.kind == "removed":
                    removed.append(change.path)
                else:
                    entries.append(change.entry)
        except TaggerError as err:
            error = str(err)
        except Exception as err:  # never a traceback on screen
            error = f"{self.root}: checking the folder again failed: {err}"
        if not self._scan_stopped:
            self.post_message(FolderRechecked(self.session.make_rows(entries), removed, time.monotonic() - t, error))

    # ---- on the UI thread -------------------------------------------------------------------------
    def on_first_screen(self, msg: FirstScreen) -> None:
        s = self.session
        if s.rows:  # frames a follow brought in are there already: these join them
            s.add_rows([r for r in msg.rows if r.path not in s.index])
        else:
            s.add_rows(msg.rows)
        self.loading = msg.images
        if not s.tag:
            self._set_initial_tag(msg.tag, msg.counts)
        self.rebuild_lists()  # the first screen waits neither for the rest nor for the check
        self.call_after_refresh(gc_quiet.freeze_long_lived)  # no full collection walks the app itself

    def on_rows_loaded(self, msg: RowsLoaded) -> None:
        s = self.session
        s.load_all(msg.rows, msg.index, msg.names, by_name=True)
        self.loading = 0
        self.verifying = True
        if not s.tag:
            self._set_initial_tag(msg.tag, msg.counts)
        if msg.view == (s.tag, self.sort, self.view.filter) and not self._refresh_pending:
            pos, neg = msg.split  # split and sorted in the worker: swapped in, not rebuilt here
            self.show_rows(pos, neg)
            fixed = [s.row(p) for p in s.overrides if p in s.index]  # corrections made meanwhile
            if fixed:
                for lst in (self.pos, self.neg):
                    lst.update_rows(fixed, [r for r in fixed if self._listed_in(lst, r)])
                self._lists_changed()
        else:  # the tag, sort or filter changed while the rows loaded
            self.rebuild_lists()
        self.rows_complete()

    def on_entries_arrived(self, msg: EntriesArrived) -> None:
        s = self.session
        if self.verifying and not self._refresh_pending and len(msg.rows) <= BATCH_MAX:
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
            self.loading = 0
            self._schedule_recheck(time.monotonic() - self._check_t0)
            if msg.error:
                self.scan_error = msg.error
                self.notify(msg.error, severity="error", timeout=10)
            if not s.tag:
                self._choose_initial_tag()
            if self._refresh_pending or not self._painted:
                self.rebuild_lists()
            else:
                self.focus_the_filled_list()
            self.rows_complete()
        elif not self._painted:
            self.rebuild_lists()  # a cold open: the first screen waits not for the walk

    def on_folder_rechecked(self, msg: FolderRechecked) -> None:
        s = self.session
        saved, s.saved_during_check = s.saved_during_check or set(), None
        self._schedule_recheck(msg.took)
        if msg.error:  # the lists keep what was there; said once per new problem, tried again later
            if msg.error != self._recheck_error and msg.error != getattr(self, "scan_error", None):
                self.notify(f"Checking the folder again failed: {msg.error}. The lists show what was there; "
                            "it is tried again.", severity="warning", timeout=10)
            self._recheck_error = msg.error
            return
        self._recheck_error = None
        # a row saved meanwhile holds what was written; the check may have read the file before
        rows = [r for r in msg.rows if r.path not in saved and _differs(r, s)]
        if self.saving:  # a save under way merges the disk's changes of the images it saves, and lists them then
            rows = [r for r in rows if r.path not in s.overrides]
        # (a row with unsaved corrections is replaced too: its save merges against the tags they were made on,
        # Session.merge_base)
        removed = [p for p in msg.removed if p in s.index]
        if not rows and not removed:
            return
        rewritten = [r.path for r in rows if r.path in s.index and s.written_again(r)]
        if rewritten and self.thumbs is not None:  # the same name, a new frame: its thumbnail made again
            self.thumbs.forget(rewritten)
        if self._refresh_pending or len(rows) > BATCH_MAX:
            s.add_rows(rows)
            self.rebuild_lists()
        elif rows:
            self._replace_rows(rows)
        if removed:
            self._remove_rows(removed)
        if self.inspect.path in {r.path for r in rows}:
            self._show_selected()
        what = [plural(len(rows), "image") + " changed or new"] if rows else []
        what += [plural(len(removed), "image") + " gone"] if removed else []
        self.notify(f"On disk: {' and '.join(what)} (another program or session); the lists show "
                    f"{'it' if len(rows) + len(removed) == 1 else 'them'} now.")

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

    def _set_initial_tag(self, name: str, counts: dict[str, int]) -> None:
        vocab = self.session.vocab
        for known in counts:
            vocab.add(known)
        if name not in vocab:
            self.notify(f"tag {self.initial_tag!r} is new here (not in the vocabulary)", severity="warning")
            vocab.add(name)
        self.session.tag = name

    def _choose_initial_tag(self) -> None:
        self._set_initial_tag(pick_tag(self.session.vocab, self.initial_tag, self.session.counts()), {})


def _differs(row, session) -> bool:
    """Whether ``row`` (from the disk) says something the listed row of its image does not: tags, p, error."""
    i = session.index.get(row.path)
    if i is None:
        return True
    old = session.rows[i]
    # the p this session predicted are not on disk (Session.add_rows keeps them): not a change
    predictions = row.path not in session.predicted and old.predictions != row.predictions
    return (old.base != row.base or predictions or old.error != row.error or old.tag_error != row.tag_error
            or session.written_again(row))
