"""The tagging app: wiring between the session (state), the widgets and the background workers."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.widgets import Footer, SelectionList, Static

from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable
from tui_tagger.ui import actions, backend, predict
from tui_tagger.ui.analysis import AnalysisMixin, remember_thresholds
from tui_tagger.ui.heatmap import HeatmapMixin
from tui_tagger.ui.live_heads import LiveHeadsMixin
from tui_tagger.ui.review_mode import ReviewMixin
from tui_tagger.ui.runs import RunsMixin
from tui_tagger.ui.messages import EntriesArrived, InspectResized, RowMoveRequested, RowSelected, ThumbsReady
from tui_tagger.ui.screens.dialogs import ChoiceDialog, PromptDialog
from tui_tagger.ui.screens.help import HelpScreen
from tui_tagger.ui.screens.tag_picker import TagPicker
from tui_tagger.ui.session import Session, suggest_next
from tui_tagger.ui.sorted_rows import SORTS, sort_key
from tui_tagger.ui.themes import load_themes
from tui_tagger.ui.thumbs import ThumbLoader
from tui_tagger.ui.widgets.image_list import ROW_H, THUMB_W, ImageList
from tui_tagger.ui.widgets.checklist import TagChecklist
from tui_tagger.ui.widgets.inspect import InspectPane


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


class KeyFooter(Footer):
    """Textual's footer; below FOOTER_ONE_LINE columns, in two rows (every key of the contract stays visible)."""

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self.screen.has_class("-footer-2"):  # Footer.compose set one grid column per key
            self.styles.grid_size_columns = max(1, -(-self.styles.grid_size_columns // 2))


FOOTER_ONE_LINE = 142  # the footer's keys fit one line from this many columns
NARROW = 110  # below this many columns the inspect pane replaces the lists instead of sitting beside them


class TaggerApp(RunsMixin, LiveHeadsMixin, ReviewMixin, AnalysisMixin, HeatmapMixin, App):
    CSS_PATH = "app.tcss"
    TITLE = "tui-tagger"
    BINDINGS = actions.bindings()

    def __init__(self, root: Path, *, tag: str | None = None, tags_dir: Path | None = None,
                 theme: str | None = None, graphics: str = "auto", thumbnails: bool = True,
                 session: Session | None = None, predictor=None, model: str | Path | None = None) -> None:
        super().__init__()
        self.root = Path(root)
        self.model = str(model) if model else None  # --model: p, P, T, h and the live heads use it
        self.session = session or Session(self.root, tags_dir)
        self.initial_tag = tag
        self.graphics = graphics
        self.settings = backend.display_settings()
        self.sort = "p"
        self.filter_text = ""
        self.filter_kind = ""  # "tags" (a tag query) or "name" (part of a name)
        self._keep = None
        self.scanning = True
        self.verifying = False  # the lists show the index's rows; the scan checks them against the disk
        self._painted = False  # the lists have been built once
        self.saving = False
        self.scan_error: str | None = None
        self.seen: set[str] = set()
        self._refresh_pending = False  # rows arrived that the lists do not show yet
        self._next_rebuild = 0.0
        self._status_text = None
        self.predictor_factory = predictor or predict.load_predictor  # () -> a model.infer.Predictor
        self.predicting: list[int] | None = None  # [done, total] while a prediction runs
        self.predict_device = ""
        self._frame = (None, None)  # (path, Frame) of the inspected image, so a colour map change doesn't re-read
        self._shown = -1  # session.version when the inspect pane was last filled
        self._journal_state: tuple = (None, None)  # (error, moved) of the journal as last told
        self._journal_state_was_error = False
        self._journal_retry_at = 0.0
        self.stderr_lines: list[str] = []  # problems printed to stderr once the screen is gone (commands.open_cmd)
        self.keymap, keymap_problems = actions.load_keymap()
        self.set_keymap(self.keymap)
        themes, self._theme_problems = load_themes()
        self._startup_problems = self._theme_problems + keymap_problems
        for t in themes:
            self.register_theme(t)
        self.theme = theme or "beamline-dark"
        self.thumbs = (
            ThumbLoader((THUMB_W, 2 * ROW_H), self._thumb_settings(), lambda: self.post_message(ThumbsReady()))
            if thumbnails else None
        )

    # ---- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # kept as attributes: query_one searches the active screen, which is a dialog while one is open
        self.pos = ImageList(self.session, self.thumbs, id="pos", classes="image-list")
        self.neg = ImageList(self.session, self.thumbs, id="neg", classes="image-list")
        self.inspect = InspectPane(self.graphics, id="inspect")
        self.status = Static("", id="status")
        with Horizontal(id="main"):
            with Horizontal(id="lists"):
                yield self.pos
                yield self.neg
            yield self.inspect
        yield self.status
        yield KeyFooter()

    def _lists_hidden(self) -> bool:
        return self.screen.has_class("-narrow") and self.screen.has_class("-show-inspect")

    def active_list(self) -> ImageList:
        focused = self.focused
        if isinstance(focused, ImageList) and not self._lists_hidden():
            return focused
        return self._last_list if getattr(self, "_last_list", None) else self.pos

    def on_mount(self) -> None:
        for problem in self._startup_problems:
            self.notify(problem, severity="warning")
        self.pos.focus()
        self._last_list = self.pos
        self._layout(self.size.width)
        self.session.journal.start()  # other sessions on this folder see this one live from now on
        self._check_journal()
        live = self.session.live_sessions()
        if live:
            who = ", ".join(f"pid {s.pid} on {s.host}" for s in live[:3])
            self.notify(f"{plural(len(live), 'other session is', 'other sessions are')} open on this folder "
                        f"({who}): each keeps its own corrections; a save merges with what the other saved.",
                        severity="warning", timeout=12)
        records = self.session.pending_journal()
        if not records:
            self.session.discard_orphans()  # nothing, or corrections that cancel out or are saved: no question
        else:
            images = len({r.get("image") for r in records})
            self.push_screen(
                ChoiceDialog(
                    f"{plural(len(records), 'unsaved correction')} on {plural(images, 'image')} "
                    f"from an earlier session "
                    f"(it ended without saving).\nRestore them?",
                    [("restore", "Restore"), ("discard", "Discard")],
                    cancel="restore",  # Escape never loses work
                ),
                self._restore_answer,
            )
        self.scan()
        self.set_interval(0.25, self._periodic)
        self._update_status()

    def _restore_answer(self, choice: str | None) -> None:
        if choice == "discard":
            self.session.discard_orphans()
            self.notify("Discarded the unsaved corrections.")
        else:
            records = self.session.pending_journal()  # again: what another session restored meanwhile is gone
            n = self.session.restore(records)
            tags = [r.get("tag") for r in records if isinstance(r.get("tag"), str)]
            if tags and not self.initial_tag:
                # show the lists the corrections were made in (else the folder's most used tag)
                self.session.tag = max(set(tags), key=tags.count)
                self.seen.clear()
            self.notify(f"Restored corrections on {plural(n, 'image')} (unsaved: press s to save).")
        self.rebuild_lists()
        self._show_selected()

    def on_resize(self, event) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.screen.set_class(width < NARROW, "-narrow")
        two = width < FOOTER_ONE_LINE
        if two != self.screen.has_class("-footer-2"):
            self.screen.set_class(two, "-footer-2")
            for footer in self.screen.query(KeyFooter):
                footer.refresh(recompose=True)

    # ---- scan -------------------------------------------------------------------------------
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
                if now - last > 0.2 or len(batch) >= 5000:
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
        elif self.verifying and not self._refresh_pending and len(msg.rows) <= 5000:
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
            else:
                self._update_status()
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
        self._titles()
        self._update_status()

    def _remove_rows(self, paths: list[str]) -> None:
        gone = self.session.remove_paths(paths)
        if not gone or self._refresh_pending:
            return
        for lst in (self.pos, self.neg):
            lst.update_rows(gone, [])
        self._titles()
        if self.inspect.path in paths:
            self._show_selected()
        self._update_status()

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

    def _check_journal(self, retry: bool = False) -> None:
        """A journal that cannot be written is an error on screen (the corrections wait in memory and are
        retried); one that moved to the fallback folder is a warning; both said once per change."""
        journal = self.session.journal
        if retry and journal.unwritten and time.monotonic() >= self._journal_retry_at:
            self._journal_retry_at = time.monotonic() + 5.0
            journal.retry()
        state = (journal.error, journal.moved)
        if state == self._journal_state:
            return
        self._journal_state = state
        if journal.error:
            self.stderr_lines.append(journal.error)
            self.notify(f"{journal.error}. {plural(journal.unwritten, 'correction')} kept in memory and "
                        "retried; save (s) to put them in the tag files.", severity="error", timeout=20)
        elif self._journal_state_was_error:
            self.notify(f"The correction journal is written again ({journal.path.parent}).")
        elif journal.moved:
            self.stderr_lines.append(journal.moved)
            self.notify(journal.moved, severity="warning", timeout=15)
        self._journal_state_was_error = bool(journal.error)

    def _periodic(self) -> None:
        self._check_journal(retry=True)
        # while a big folder streams in, rebuilding costs O(n log n): keep it to a fifth of the UI's time
        if self._refresh_pending and time.monotonic() >= self._next_rebuild:
            self.rebuild_lists()
        self._update_status()

    # ---- lists ------------------------------------------------------------------------------
    def rebuild_lists(self) -> None:
        t0 = time.monotonic()
        self._refresh_pending = False
        self._painted = True
        pos, neg = self.session.split(self.sort, self._keep)
        tag = self.session.tag
        self.pos.set_rows(pos, sort_key(self.sort, tag, True))
        self.neg.set_rows(neg, sort_key(self.sort, tag, False))
        self._titles()
        lst = self.active_list()
        other = self.neg if lst is self.pos else self.pos
        if not lst.rows and other.rows and self.focused is lst:
            other.focus()  # a filter or tag left this list empty: the images are in the other one
        elif self.inspect.path is None:
            self._show_selected()
        self._update_status()
        self._next_rebuild = time.monotonic() + 4 * (time.monotonic() - t0)

    def update_rows(self, paths: list[str]) -> None:
        """After corrections on these images: move just their rows (a full rebuild costs O(n log n))."""
        if self._refresh_pending or len(paths) > 5000:
            self.rebuild_lists()
            return
        s = self.session
        rows = [s.row(p) for p in dict.fromkeys(paths) if p in s.index]
        new_pos, new_neg = [], []
        for row in rows:
            tags = s.tags(row)
            if self._keep is None or self._keep(row, tags):
                (new_pos if s.tag in tags else new_neg).append(row)
        self.pos.update_rows(rows, new_pos)
        self.neg.update_rows(rows, new_neg)
        self._titles()
        self._update_status()
        self.labels_changed()  # the head learns from it

    def _titles(self) -> None:
        # Text, not a str: a str title is parsed as markup, and tag names come from files
        # the count first: a long tag name is cut at the border's end, the count stays
        self.pos.border_title = Text(f"Positive ({len(self.pos.rows)}) · {printable(self.session.tag)}")
        self.neg.border_title = Text(f"Negative ({len(self.neg.rows)})")

    def _thumb_settings(self):
        return dataclasses.replace(self.settings, expression="")

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
        if self._lists_hidden():
            return  # the lists are hidden (80x24, inspect pane swapped in): a list focused now is Textual's doing
        if isinstance(event.widget, ImageList):
            self._last_list = event.widget
            self._show_selected()

    def on_inspect_resized(self, _: InspectResized) -> None:
        row = self.active_list().current
        if row is not None and row.path == self.inspect.path and not row.error:
            self.load_image(row.path, self.settings)  # the frame is cached: a re-render only

    def on_row_move_requested(self, msg: RowMoveRequested) -> None:
        self._move([msg.path])

    def _show_selected(self) -> None:
        row = self.active_list().current
        self._shown = self.session.version
        self.inspect.show_row(row, self.session.tags(row) if row else {}, self.session.vocab, self.session.tag)
        if row is not None:
            self.seen.add(row.path)
            if not row.error and self.inspect.size.width > 0:
                self.load_image(row.path, self.settings)

    @work(thread=True, exclusive=True, group="image")
    def load_image(self, path: str, settings, remember: bool = False) -> None:
        try:
            cached_path, frame = self._frame
            if cached_path != path:
                frame = backend.read_frame(path)
                self._frame = (path, frame)
            size = self.call_from_thread(self.inspect.pixel_size)
            rgb = backend.render(frame, settings, size)
            rgb, heat_note, heat_key = self.heat_overlay(path, frame, rgb)  # h: a heat map over it
        except TaggerError as err:
            if remember:  # a bad expression: say so, keep the image as it was
                self.call_from_thread(self.notify, str(err), severity="error", timeout=8)
                return
            self.call_from_thread(self._image_failed, path, str(err))
            return
        except Exception as err:
            self.call_from_thread(self._image_failed, path, f"{path}: cannot show: {err}")
            return
        from PIL import Image as PILImage

        pil = PILImage.fromarray(rgb)
        meta = {"format": frame.format, **{k: v for k, v in frame.meta.items() if not isinstance(v, (list, dict))}}
        if heat_note:
            meta = {"heat map": heat_note, **meta}
        if remember:
            self.call_from_thread(self._commit_settings, settings)
        self.call_from_thread(self._image_loaded, path, pil, meta, (path, settings.key() + heat_key, size))

    def _image_loaded(self, path, pil, meta, key=None) -> None:
        if self.inspect.path == path:
            self.inspect.show_image(pil, meta, key)

    def _image_failed(self, path: str, message: str) -> None:
        if path in self.session.index:
            self.session.row(path).error = message
            self.pos.refresh_paths({path})
            self.neg.refresh_paths({path})
        if self.inspect.path == path:
            self.inspect.show_error(message)

    def _commit_settings(self, settings) -> None:
        self.settings = settings
        if self.thumbs is not None and self._thumb_settings() != self.thumbs.settings:
            self.thumbs.set_settings(self._thumb_settings())
        self.pos.refresh()
        self.neg.refresh()
        self._update_status()

    # ---- corrections ------------------------------------------------------------------------
    def _move(self, paths: list[str]) -> None:
        if not paths or not self.session.tag:
            return
        n = self.session.move(paths)
        for lst in (self.pos, self.neg):
            if lst.marked:
                lst.marked.clear()
                lst.refresh()
        self.update_rows(paths)
        self._show_selected()
        self._check_journal()
        if n > 1:
            self.notify(f"Moved {plural(n, 'image')}.")

    def action_move(self) -> None:
        self._move(self.active_list().selection())

    def action_mark(self) -> None:
        self.active_list().toggle_mark()

    def action_next_pane(self) -> None:
        order = [self.pos, self.neg, self.inspect.query_one(TagChecklist)]
        focused = self.focused
        idx = next((i for i, w in enumerate(order) if w is focused), -1)
        nxt = order[(idx + 1) % len(order)]
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

    def on_selection_list_selection_toggled(self, event: SelectionList.SelectionToggled) -> None:
        row = self._last_list.current if getattr(self, "_last_list", None) else None
        if row is None or self.inspect._filling:
            return
        name = event.selection.value
        present = name in event.selection_list.selected
        self.session.set_tag([row.path], name, present)
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
        """The next image of this list that no human has decided on for the current tag; where the model
        has scored some, the most uncertain of those (p closest to 0.5) first."""
        lst = self.active_list()
        i = suggest_next(self.session, lst.rows, lst.cursor, self.seen)
        if i is None:
            self.notify(f"Every image in this list has been reviewed for {self.session.tag}.")
            return
        lst.focus()
        lst.cursor = i

    # ---- tag, filter, sort ------------------------------------------------------------------
    def action_pick_tag(self) -> None:
        counts = self.session.counts()
        self.push_screen(
            TagPicker(self.session.vocab, counts, len(self.session.rows), self.session.tag), self._tag_picked
        )

    def _tag_picked(self, name: str | None) -> None:
        if not name:
            return
        self.session.tag = self.session.vocab.add(name).name
        self.seen.clear()
        self.rebuild_lists()
        self._show_selected()
        self.retrain_head()  # the head of the new tag, once the features are in

    def action_filter(self) -> None:
        self.push_screen(
            PromptDialog("Filter: a tag query (e.g. Ring: Isotropic and not Saturation) or part of a name",
                         self.filter_text, "empty: show all"),
            self._filtered,
        )

    def _filtered(self, text: str | None) -> None:
        if text is None:
            return
        text = text.strip()
        if not text:
            self.filter_text = ""
            self._keep = None
        else:
            from tui_tagger.core.errors import QueryError
            from tui_tagger.core.query import parse_query

            try:
                query = parse_query(text, self.session.vocab)
                self._keep = lambda row, tags: query.matches(tags, row.predictions)
                self.filter_kind = "tags"
            except QueryError as err:
                needle = text.lower()
                if not any(needle in row.rel.lower() for row in self.session.rows):
                    # neither a tag query nor part of any name: say why, keep the lists as they were
                    self.notify(f"Filter {text!r}: no name contains it, and as a tag query: {err}",
                                severity="warning", timeout=10)
                    return
                self._keep = lambda row, tags: needle in row.rel.lower()
                self.filter_kind = "name"
            self.filter_text = text
        self.rebuild_lists()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.rebuild_lists()

    # ---- display ----------------------------------------------------------------------------
    def _apply_settings(self, **changes) -> None:
        try:
            settings = dataclasses.replace(self.settings, **changes)
        except TaggerError as err:
            self.notify(str(err), severity="error")
            return
        row = self.active_list().current
        if row is None or row.error:
            self._commit_settings(settings)
        else:
            self.load_image(row.path, settings, remember=True)

    def action_colormap(self) -> None:
        names = backend.colormap_names()
        cur = self.settings.colormap
        self._apply_settings(colormap=names[(names.index(cur) + 1) % len(names)] if cur in names else names[0])

    def action_scaling(self) -> None:
        order = ("log", "gamma", "linear")
        self._apply_settings(scaling=order[(order.index(self.settings.scaling) + 1) % 3])

    def action_expression(self) -> None:
        self.push_screen(
            PromptDialog("Image expression on img (e.g. log1p(img), img - background(img)); empty for none",
                         self.settings.expression, "img"),
            lambda text: None if text is None else self._apply_settings(expression=text.strip()),
        )

    # ---- predict ----------------------------------------------------------------------------
    def action_predict(self) -> None:
        """Run the model over the marked images (else the whole folder); ``p`` again cancels."""
        if self.predicting is not None:
            self.action_cancel()
            return
        marked = self.pos.marked | self.neg.marked
        paths = [r.path for r in self.session.rows if r.path in marked] if marked else \
            [r.path for r in self.session.rows if not r.error]
        if not paths:
            self.notify("Nothing to predict.")
            return
        self.predicting = [0, len(paths)]
        self._update_status()
        self.predict(paths)

    def action_cancel(self) -> None:
        if self.predicting is None:
            self.cancel_training()
            return
        self.workers.cancel_group(self, "predict")
        done, total = self.predicting
        self.predicting = None
        self.notify(f"Prediction cancelled after {done} of {total} images (their p stays).")
        self._update_status()

    @work(thread=True, exclusive=True, group="predict")
    def predict(self, paths: list[str]) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            opts = self.predict_options or {}
            model = self.model_file()
            if model or opts.get("device") not in (None, "auto"):
                predictor = predict.load_predictor(model, opts.get("device") or "auto")
            else:
                predictor = self.predictor_factory()
            name = predict.model_name(predictor)
            remember_thresholds(self, predictor)  # the Performance view's precision/recall
            self.call_from_thread(self._predict_started, str(getattr(predictor, "device", "?")))

            def on_batch(results, done):
                if not worker.is_cancelled:
                    self.call_from_thread(self._predictions_arrived, list(results), done, name)

            done = predict.run_batches(predictor, paths, on_batch, lambda: worker.is_cancelled,
                                       batch=opts.get("batch") or 32, workers=opts.get("workers"))
        except TaggerError as err:
            self.call_from_thread(self._predict_finished, None, str(err))
            return
        except Exception as err:  # never a traceback on screen
            self.call_from_thread(self._predict_finished, None, f"prediction failed: {type(err).__name__}: {err}")
            return
        if not worker.is_cancelled:
            self.call_from_thread(self._predict_finished, done, None)

    def _predict_started(self, device: str) -> None:
        self.predict_device = device
        self._update_status()

    def _predictions_arrived(self, results, done: int, model: str) -> None:
        if self.predicting is None:
            return  # cancelled meanwhile
        self.predicting[0] = done
        self.apply_predictions(results, model)

    def apply_predictions(self, results, model: str) -> None:
        """New p for some images (the model, a head): their rows re-sort where they belong."""
        s = self.session
        rows = [s.row(p) for p, _, _ in results if p in s.index]
        if self._refresh_pending or len(rows) > 5000:
            s.set_predictions(results, model)
            self.rebuild_lists()
        else:
            # out with the old sort keys, in with the new: the rows re-sort where they belong
            states = [lst.begin_update(rows) for lst in (self.pos, self.neg)]
            s.set_predictions(results, model)
            for lst, state in zip((self.pos, self.neg), states):
                lst.end_update(state, [r for r in rows if self._listed_in(lst, r)])
        self.inspect.update_predictions(self.active_list().current)
        self._update_status()

    def _listed_in(self, lst, row) -> bool:
        tags = self.session.tags(row)
        if self._keep is not None and not self._keep(row, tags):
            return False
        return (self.session.tag in tags) == (lst is self.pos)

    def _predict_finished(self, done: int | None, error: str | None) -> None:
        self.predicting = None
        if error:
            self.notify(error, severity="error", timeout=12)
        else:
            self.notify(f"Predicted {done} images on {self.predict_device}.")
        self._update_status()

    # ---- save, quit, help -------------------------------------------------------------------
    def action_save(self) -> None:
        if not self.session.dirty:
            self.notify("Nothing to save.")
            return
        self.save()

    @work(thread=True, exclusive=True, group="save")
    def save(self, accept_merges: bool = False, then_quit: bool = False) -> None:
        self.saving = True
        try:
            saved, left, errors = self.session.save(resolve=(lambda c: True) if accept_merges else None)
        except Exception as err:  # never a traceback: what was not saved stays journalled
            saved, left, errors = 0, [], [f"save failed: {err}"]
        self.call_from_thread(self._saved, saved, left, errors, then_quit)

    def _saved(self, saved: int, left, errors: list[str], then_quit: bool) -> None:
        self.saving = False
        self.rebuild_lists()
        if len(errors) <= 3:
            for err in errors:
                self.notify(err, severity="error", timeout=10)
        elif errors:  # one notice, not a screenful of toasts; each line also goes to stderr at exit
            # notices are one line (notify escapes newlines): the errors joined by " · "
            self.notify(f"{plural(len(errors), 'tag file')} could not be saved (they stay unsaved and "
                        "journalled; s tries again): " + " · ".join(errors[:5])
                        + (f" · … and {len(errors) - 5} more (listed on stderr at exit)" if len(errors) > 5 else ""),
                        severity="error", timeout=20)
        self.stderr_lines.extend(errors)
        if left:
            lines = "\n".join(f"{printable(c.path)}: {printable(m)}" for c in left[:6] for m in c.messages[:2])
            self.push_screen(
                ChoiceDialog(
                    f"{len(left)} tag files were changed on disk in ways that clash with yours:\n{lines}\n"
                    "Save the merge (nothing is dropped), or keep them unsaved?",
                    [("merge", "Save merged"), ("keep", "Keep unsaved")], cancel="keep",
                ),
                lambda c: self.save(accept_merges=True, then_quit=then_quit) if c == "merge" else None,
            )
            return
        if saved:
            self.notify(f"Saved {plural(saved, 'tag file')}.")
        if then_quit and not self.session.dirty:
            self.exit()

    async def action_quit(self) -> None:
        if not self.session.dirty:
            self.exit()
            return
        n = len(self.session.dirty)

        def answer(choice: str | None) -> None:
            if choice == "save":
                self.save(then_quit=True)
            elif choice == "discard":
                self.session.discard_journal()
                self.exit()

        self.push_screen(
            ChoiceDialog(f"{plural(n, 'image has', 'images have')} unsaved corrections.",
                         [("save", "Save and quit"), ("discard", "Quit without saving"), ("cancel", "Cancel")],
                         cancel="cancel"),
            answer,
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keymap))

    def call_from_thread(self, callback, *args, **kwargs):
        """A worker's result that arrives while the app shuts down is dropped (returns None): the widgets
        it would update may already be gone."""
        def guarded(*a, **k):
            if self._exit or self._closing or self._closed:
                return None
            return callback(*a, **k)

        return super().call_from_thread(guarded, *args, **kwargs)

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        """Notifications are plain text unless asked: they carry file names, tag names and errors from
        files, which Textual would otherwise parse as markup (and a stray "[/" would crash the app). They
        are one line each: every control character in them is made visible (``printable``), a newline
        in a file name included."""
        super().notify(printable(message), markup=markup, **kwargs)

    def get_system_commands(self, screen):
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours asks about unsaved corrections and shows the key
                yield command
        for a in actions.ACTIONS:
            yield SystemCommand(a.description, f"key: {actions.key_label(a, self.keymap)}",
                                getattr(self, f"action_{a.id}"))

    def _update_status(self) -> None:
        s = self.session
        text = Text()
        # one line, and the tag, filter and expression come from files or the keyboard: controls made visible
        text.append(f" {printable(s.tag) or '-'} ", style="bold")
        text.append(f" +{len(self.pos.rows)} −{len(self.neg.rows)}  of {len(s.rows)} images")
        if self.filter_text:
            text.append(f"  filter ({self.filter_kind}): {printable(self.filter_text)}")
        text.append(f"  sort: {self.sort}")
        if s.overrides:
            text.append(f"  ● {len(s.overrides)} unsaved", style="bold")
        if s.journal.unwritten:
            text.append(f"  ⚠ journal: {s.journal.unwritten} in memory only", style="bold red")
        # background jobs
        if self.verifying:
            text.append("  checking for changes…")
        elif self.scanning:
            text.append(f"  scanning… {len(s.rows):,} found")
        pending = self.thumbs.pending if self.thumbs is not None else 0
        if pending:
            text.append(f"  thumbnails… {pending} to go")
        if self.saving:
            text.append("  saving…")
        if self.predicting is not None:
            done, total = self.predicting
            text.append(f"  predicting {done:,}/{total:,} on {self.predict_device or '…'} (p/esc: stop)")
        elif self.predict_device:
            text.append(f"  model: {self.predict_device}")
        if self.training is not None:
            text.append(f"  training: {self.training} (esc: stop)")
        if self.head_status:
            text.append(f"  {printable(self.head_status)}")
        if self.settings.expression:
            text.append(f"  expr: {printable(self.settings.expression)}")
        text.append(f"  {self.settings.colormap}/{self.settings.scaling}")
        if text != self._status_text:  # one line, fixed height: no layout pass needed
            self._status_text = text
            self.status.update(text, layout=False)

    def on_unmount(self) -> None:
        if self.thumbs is not None:
            self.thumbs.stop()
        self.session.journal.close()  # never raises: a full disk at exit is no second traceback
        if self.session.journal.unwritten and self.session.overrides:
            self.stderr_lines.append(
                f"{plural(len(self.session.overrides), 'image')} with unsaved corrections could not be journalled "
                f"({self.session.journal.error}); they are lost")
