"""The correction journal as the user sees it (a mixin of TaggerApp): at start, other sessions open on the
folder and the question whether to restore an earlier session's unsaved corrections; while working, a
journal that cannot be written (an error, retried) or moved to the fallback folder (a warning), each said
once per change; at exit, what could not be journalled goes to stderr.
"""

from __future__ import annotations

import time

from tui_tagger.ui.screens.dialogs import ChoiceDialog
from tui_tagger.ui.words import plural

RETRY_S = 5.0  # a journal that cannot be written is tried again this often


class JournalMixin:
    _journal_state: tuple = (None, None)  # (error, moved) of the journal as last told
    _journal_state_was_error = False
    _journal_retry_at = 0.0

    def start_journal(self) -> None:
        """On mount: this session is live for the others from now on; say who else is; ask about orphans."""
        self.session.journal.start()
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
                    f"(it ended without saving).\nRestore {'it' if len(records) == 1 else 'them'}?",
                    [("restore", "Restore"), ("discard", "Discard")],
                    cancel="restore",  # Escape never loses work
                ),
                self._restore_answer,
            )

    def _restore_answer(self, choice: str | None) -> None:
        if choice == "discard":
            self.session.discard_orphans()
            self.notify("Discarded the unsaved corrections.")
            self.rebuild_lists()
        else:
            records = self.session.pending_journal()  # again: what another session restored meanwhile is gone
            self.session.restore(records)
            tags = [r.get("tag") for r in records if isinstance(r.get("tag"), str)]
            # show the lists the corrections were made in (else the folder's most used tag)
            most = max(set(tags), key=tags.count) if tags and not self.initial_tag else None
            images = len({r.get("image") for r in records})
            # the same counts as the question: one record per correction (pending_journal keeps the last)
            self.notify(f"Restored {plural(len(records), 'correction')} on {plural(images, 'image')} "
                        "(unsaved: press s to save).")
            self.set_view(tag=most)
        self._show_selected()

    def _check_journal(self, retry: bool = False) -> None:
        """A journal that cannot be written is an error on screen (the corrections wait in memory and are
        retried); one that moved to the fallback folder is a warning; both said once per change."""
        journal = self.session.journal
        if retry and journal.unwritten and time.monotonic() >= self._journal_retry_at:
            self._journal_retry_at = time.monotonic() + RETRY_S
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

    def close_journal(self) -> None:
        """On unmount: never raises (a full disk at exit is no second traceback)."""
        self.session.journal.close()
        if self.session.journal.unwritten and self.session.overrides:
            self.stderr_lines.append(
                f"{plural(len(self.session.overrides), 'image')} with unsaved corrections could not be journalled "
                f"({self.session.journal.error}); they are lost")
