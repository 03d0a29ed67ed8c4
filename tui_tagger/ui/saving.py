"""Save and quit (a mixin of TaggerApp): ``s`` saves in a worker that posts ``SaveFinished``; tag files
changed on disk in ways that clash with this session's corrections are merged only when the user says so;
``q`` with unsaved corrections asks first. Whatever is not saved stays journalled.
"""

from __future__ import annotations

from textual import work

from tui_tagger.core.text import printable
from tui_tagger.ui.messages import SaveFinished
from tui_tagger.ui.screens.dialogs import ChoiceDialog
from tui_tagger.ui.words import plural


class SavingMixin:
    def action_save(self) -> None:
        if not self.session.dirty:
            self.notify("Nothing to save.")
            return
        self.save()

    def save(self, accept_merges: bool = False, then_quit: bool = False) -> None:
        self.saving = True
        self.save_worker(accept_merges, then_quit)

    @work(thread=True, exclusive=True, group="save", description="save")
    def save_worker(self, accept_merges: bool, then_quit: bool) -> None:
        try:
            saved, left, errors = self.session.save(resolve=(lambda c: True) if accept_merges else None)
        except Exception as err:  # never a traceback: what was not saved stays journalled
            saved, left, errors = 0, [], [f"save failed: {err}"]
        self.post_message(SaveFinished(saved, left, errors, then_quit))

    def on_save_finished(self, msg: SaveFinished) -> None:
        saved, left, errors, then_quit = msg.saved, msg.left, msg.errors, msg.then_quit
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
            done = f"Saved {plural(saved, 'tag file')}. " if saved else ""  # the rest went to disk: say so
            self.push_screen(
                ChoiceDialog(
                    f"{done}{plural(len(left), 'tag file was', 'tag files were')} changed on disk in ways that "
                    f"clash with yours:\n{lines}\nSave the merge (nothing is dropped), or keep "
                    f"{'it' if len(left) == 1 else 'them'} unsaved?",
                    [("merge", "Save merged"), ("keep", "Keep unsaved")], cancel="keep",
                ),
                lambda c: self.save(accept_merges=True, then_quit=then_quit) if c == "merge" else None,
            )
            return
        if saved:
            self.notify(f"Saved {plural(saved, 'tag file')}.")
        # corrections of images no longer listed (deleted meanwhile, or not found yet): the save keeps them
        # journalled; said, so that "s" and "Save and quit" are never silent
        gone = [p for p in self.session.dirty if p not in self.session.index]
        if gone:
            line = (f"{plural(len(gone), 'image')} with unsaved corrections {'is' if len(gone) == 1 else 'are'} "
                    f"not in the folder any more ({', '.join(printable(p) for p in gone[:3])}"
                    f"{', …' if len(gone) > 3 else ''}): not saved, kept in the correction journal.")
            self.notify(line, severity="warning", timeout=10)
            if then_quit:
                self.stderr_lines.append(line)
        if then_quit and all(p not in self.session.index for p in self.session.dirty):
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
