"""The tagging session, without Textual: rows, current tag, corrections, undo/redo, journal, save with merge.

Corrections are kept as overrides on top of the tags read from disk ("image X: tag T present/absent"),
so rows streaming in from a scan pick up corrections made or restored before they arrived, and a save
knows exactly which tags the user changed (the rest of a tag file is left as it is on disk).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from itertools import compress, repeat
from dataclasses import dataclass, field
from operator import and_, attrgetter, contains, not_
from pathlib import Path

from tui_tagger.core.errors import TaggerError
from tui_tagger.core.journal import Journal
from tui_tagger.core.text import printable
from tui_tagger.core.vocabulary import Vocabulary, decides, default_vocabulary
from tui_tagger.ui import backend
from tui_tagger.ui.sorted_rows import CHUNK, name_key, sort_key

HUMAN = "human"
ABSENT = "absent"  # a state in the undo history: the tag is not on the image


def _confirmed(source: str | None) -> bool:
    """A human's tag: files that do not say who tagged were tagged by hand."""
    return source in (HUMAN, None)


@dataclass(slots=True)
class Row:
    """One image. A million of them stay in memory: slots, and the tag and prediction dicts shared between
    rows that have the same (``intern_tags``; replaced, never edited)."""

    path: str  # image ref, as the catalog gives it
    rel: str
    name: str  # rel as shown: printable(rel)
    mtime_ns: int
    base: dict[str, str | None]  # tags on disk: name -> source
    predictions: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # the image cannot be read: why
    size: int = 0  # bytes of the file (with mtime_ns: the key of the feature cache)
    # its tag file cannot be read: why (its tags are unknown, not none; the image itself predicts and shows)
    tag_error: str | None = None

    @property
    def problem(self) -> str | None:
        """What the row shows as wrong: the image's problem, its tag file's, or both."""
        return f"{self.error}; {self.tag_error}" if self.error and self.tag_error else self.error or self.tag_error


@dataclass
class Conflict:
    path: str
    messages: list[str]  # one line per clashing tag, from merge_tags


class Session:
    def __init__(self, root: Path, tags_dir: Path | None = None, journal: Journal | None = None):
        self.root = Path(root)
        self.tags_dir = tags_dir
        self.rows: list[Row] = []
        self.index: dict[str, int] = {}
        self.by_name = True  # rows are in name order (sorted_rows.name_key): the lists' own, no sort needed (split)
        self.vocab: Vocabulary = default_vocabulary()
        self.tag: str = ""
        # path -> {tag: present}; absent key = as on disk. A tag file's Tag instead of True: that tag back
        # exactly as it was (its source and p), where an undo takes back a saved removal
        self.overrides: dict[str, dict[str, object]] = {}
        # (path, tag) -> the Tag a save removed from the tag file, so an undo can bring it back as it was
        self.removed: dict[tuple[str, str], object] = {}
        # paths saved while the folder's re-check runs (None: none runs): what it read of them may be older
        self.saved_during_check: set[str] | None = None
        # path -> the disk tags its unsaved corrections were made against, where newer disk tags have replaced
        # the row's since (a re-check): a save merges against these, so a tag changed on both sides is still
        # a clash the user decides, not one side silently dropped
        self.merge_base: dict[str, dict[str, str | None]] = {}
        # steps of (path, tag, state before, state after): HUMAN, ABSENT or an unconfirmed source (see _state)
        self.undo_stack: list[list[tuple[str, str, str, str]]] = []
        self.redo_stack: list[list[tuple[str, str, str, str]]] = []
        self.journal = journal or Journal(root, fsync=backend.fsync_enabled())
        self.version = 0  # bumped on every change, so views know to rebuild
        # the folder's catalog once its scan is done: told about saved tag files, so its index stays current
        self.catalog = None
        # predictions made in this session (path -> {tag: p}): kept here and in the rows for sorting, not
        # written to tag files (``tui-tagger predict --write`` does that), so a save writes only corrections
        self.predicted: dict[str, dict[str, float]] = {}
        self.prediction_model: str | None = None
        self._orphans = None  # dead sessions' journals, claimed by pending_journal until restore/discard

    # ---- rows -------------------------------------------------------------------------------
    @staticmethod
    def make_rows(entries) -> list[Row]:
        """Rows for catalog entries; no session state, so a worker thread builds them (100k: ~0.1 s).
        Equal tag dicts become one shared dict (``intern_tags``): the session replaces them, never edits."""
        return [Row(e.path, e.rel, _name(e.rel), e.mtime_ns, intern_tags(e.tags), e.predictions or {},
                    e.image_error, e.size, e.tag_error) for e in entries]

    @staticmethod
    def rows_from(items) -> list[Row]:
        """Rows for ``core.catalog_rows.all_rows``' tuples (path, rel, size, mtime_ns, tags, predictions,
        error, tag_error), whose dicts are shared already; in a worker thread."""
        return [Row(path, rel, _name(rel), mtime, tags, preds, error, size, tag_error)
                for path, rel, size, mtime, tags, preds, error, tag_error in items]

    @staticmethod
    def tag_names(rows: list[Row]) -> list[str]:
        """Every tag name of these rows, in the order they first appear."""
        names: dict[str, None] = {}
        for base, _ in _bases(rows):
            names.update(dict.fromkeys(base))
        return list(names)

    def load_all(self, rows: list[Row], index: dict[str, int], names, by_name: bool = False) -> None:
        """Every row at once (the whole folder, loaded in the background after the first screen; ``names``:
        their tags; ``by_name``: they are in (rel, path) order): they replace the rows listed so far, keeping
        what this session learnt about those (its p, read errors)."""
        for old in self.rows:
            i = index.get(old.path)
            if i is not None and old.error and not rows[i].error:
                rows[i].error = old.error
        for path, probs in self.predicted.items():
            i = index.get(path)
            if i is not None:
                rows[i].predictions = probs
        for old in self.rows:  # frames a follow brought in that the index does not hold yet
            if old.path not in index:
                by_name = by_name and not (rows and name_key(old) <= name_key(rows[-1]))
                index[old.path] = len(rows)
                rows.append(old)
        self.rows, self.index, self.by_name = rows, index, by_name
        for name in names:
            self.vocab.add(name)
        self.version += 1

    def add_entries(self, entries) -> None:
        self.add_rows(self.make_rows(entries))

    def add_rows(self, rows: list[Row]) -> None:
        """Add rows, replacing those with the same path (a file that changed since the index saw it)."""
        index, listed = self.index, self.rows
        names: set[str] = set()
        for row in rows:
            names.update(row.base)
            i = index.get(row.path)
            if i is None:
                if listed and self.by_name and name_key(row) <= name_key(listed[-1]):
                    self.by_name = False
                index[row.path] = len(listed)
                listed.append(row)
            else:
                if row.path in self.overrides:
                    self.merge_base.setdefault(row.path, listed[i].base)
                if row.path in self.predicted:  # this session's p (its `p`, not on disk) stays, as in load_all
                    row.predictions = self.predicted[row.path]
                listed[i] = row
        for name in names:
            self.vocab.add(name)
        self.version += 1

    def remove_paths(self, paths) -> list[Row]:
        """Drop the rows of images gone from the folder; their corrections stay (journalled, unsaved)."""
        gone = {p for p in paths if p in self.index}
        if not gone:
            return []
        removed = [self.row(p) for p in gone]
        self.rows = [r for r in self.rows if r.path not in gone]
        self.index = {r.path: i for i, r in enumerate(self.rows)}
        self.version += 1
        return removed

    def row(self, path: str) -> Row:
        return self.rows[self.index[path]]

    def written_again(self, row: Row) -> bool:
        """Whether the image of ``row`` (read anew; listed already) was written again since its listed row was
        read: its size or time differ."""
        old = self.rows[self.index[row.path]]
        return old.mtime_ns != row.mtime_ns or old.size != row.size

    def tags(self, row: Row) -> dict[str, str | None]:
        """Tags of the row now: disk tags with this session's corrections applied."""
        ov = self.overrides.get(row.path)
        if not ov:
            return row.base
        out = dict(row.base)
        for name, present in ov.items():
            if present is not True and present is not False:  # a removed tag, back as it was
                out.setdefault(name, present.source)
            elif present and not (name in out and _confirmed(out[name])):
                out[name] = HUMAN  # added, or a model/synthetic tag a human confirmed
            elif not present:
                out.pop(name, None)
        return out

    def reviewed_rows(self, rows: list[Row]) -> list[Row]:
        """``[r for r in rows if self.reviewed(r)]``, decided once per distinct tag dict (a million rows)."""
        decided = {id(base): any(src != "model" for src in base.values()) for base, _ in _bases(rows)}
        overrides = self.overrides
        out: list[Row] = []
        for part in _chunks(rows):  # in C, a chunk at a time
            flags = map(decided.__getitem__, map(id, map(_BASE, part)))
            if overrides:
                flags = [f or r.path in overrides for f, r in zip(flags, part)]
            flags = map(and_, flags, map(not_, map(_TAG_ERROR, part)))  # unknown tags decide nothing
            out += compress(part, map(and_, flags, map(not_, map(_ERROR, part))))
        return out

    def reviewed(self, row: Row) -> bool:
        """A person (or the generator, or a file that does not say) decided on this image: a tag file with
        such tags, or a correction in this session. A tag only the model added decides nothing."""
        return not row.error and not row.tag_error and (
            row.path in self.overrides or any(src != "model" for src in row.base.values()))

    def labels(self, tag: str, paths=None) -> dict[str, bool]:
        """The labels a head learns ``tag`` from, path -> present, over the reviewed images (of ``paths``
        only, when given: the images a head has features for). A model-only tag is no label."""
        rows = self.rows if paths is None else [self.rows[self.index[p]] for p in paths if p in self.index]
        out: dict[str, bool] = {}
        for row in rows:
            if not self.reviewed(row):
                continue
            tags = self.tags(row)
            source = tags.get(tag, "absent")
            if source == "absent":
                if decides(tag, tags):  # not an experiment type on an image that names none
                    out[row.path] = False
            elif source != "model":
                out[row.path] = True
        return out

    def has(self, row: Row, tag: str | None = None) -> bool:
        return (tag or self.tag) in self.tags(row)

    _counted: tuple | None = None  # (version, counts): the last counts, while nothing changed

    def counts_known(self) -> bool:
        """``counts()`` answers from the last count: no change since (``version``)."""
        return self._counted is not None and self._counted[0] == self.version

    def counts(self) -> dict[str, int]:
        """Positive count of every tag (for the tag picker): per distinct tag dict (rows share them), then
        the corrected rows' own (a million rows: ~0.1 s, not a pass over every tag of every row; the
        picker counts a big folder in its worker, once until something changes)."""
        if self.counts_known():
            return dict(self._counted[1])
        key = self.version  # as at the start: a change meanwhile bumps the version past it
        rows = self.rows
        out: dict[str, int] = {}
        for base, n in _bases(rows):
            for name in base:
                out[name] = out.get(name, 0) + n
        index = self.index
        for path in list(self.overrides):  # (in the tag picker's worker: a correction may come meanwhile)
            row = rows[index[path]] if path in index else None
            if row is not None:
                for name in row.base:
                    out[name] -= 1
                for name in self.tags(row):
                    out[name] = out.get(name, 0) + 1
        out = {name: n for name, n in out.items() if n}
        self._counted = (key, out)
        return dict(out)

    def set_predictions(self, results, model: str) -> list[Row]:
        """Take a batch of (path, {tag: p} | None, error) results; returns the rows whose p changed."""
        self.prediction_model = model
        changed = []
        for path, probs, error in results:
            if path not in self.index:
                continue
            row = self.row(path)
            if probs is not None:  # ({}: none left, as review's p taken back from a row that had none)
                self.predicted[path] = dict(probs)
                row.predictions = dict(probs)
                changed.append(row)
            elif error and not row.error:
                row.error = error
                changed.append(row)
        if changed:
            self.version += 1
        return changed

    # ---- views ------------------------------------------------------------------------------
    def split(self, sort: str = "p", keep=None, rows=None, tag: str | None = None,
              by_name: bool = False) -> tuple[list[Row], list[Row]]:
        """(positives, negatives) for the current tag; with sort "p" likely mistakes come first. ``rows``
        and ``tag``: these (the folder being loaded in the background) instead of the session's; ``by_name``:
        they are in (rel, path) order."""
        pos, neg = [], []
        tag, overrides = tag or self.tag, self.overrides
        if rows is None:
            rows, by_name = self.rows, self.by_name
        if keep is None:  # tag in base, decided in C per row (a million rows: ~0.1 s); then the corrected rows
            flags: list[bool] = []
            for part in _chunks(rows):
                flags += map(contains, map(_BASE, part), repeat(tag))
            if overrides:
                where = self.index if rows is self.rows else {r.path: i for i, r in enumerate(rows)}
                for path in list(overrides):  # (a worker's split: the UI thread may add one meanwhile)
                    i = where.get(path)
                    if i is not None and i < len(flags):  # (and a row, after the flags were made)
                        flags[i] = tag in self.tags(rows[i])
            for part, fl in zip(_chunks(rows), _chunks(flags)):
                pos += compress(part, fl)
                neg += compress(part, map(not_, fl))
        else:
            for row in rows:
                tags = self.tags(row) if overrides and row.path in overrides else row.base
                if not keep(row, tags):
                    continue
                (pos if tag in tags else neg).append(row)
        return _sorted(pos, sort, tag, True, by_name), _sorted(neg, sort, tag, False, by_name)

    # ---- corrections ------------------------------------------------------------------------
    def _set(self, changes: list[tuple[str, str, bool | None]]) -> None:
        """Apply (path, tag, value) overrides and journal them in one write (one fsync per key press)."""
        t = round(time.time(), 3)
        for path, tag, value in changes:
            ov = self.overrides.setdefault(path, {})
            if value is None:
                ov.pop(tag, None)
            else:
                ov[tag] = value
            if not ov:
                del self.overrides[path]
        self.journal.extend([_record(p, g, v, t) for p, g, v in changes])

    # The history holds what the user saw, not overrides: (path, tag, state before, state after), a state
    # being HUMAN (ticked by a person), ABSENT, or the source of a tag no person confirmed ("model"). An
    # undo or redo asks for that state against the tag file as it is *now*, so a save in between is a
    # point in the history, not its end: undoing an add that was saved removes the tag again (unsaved).
    def _state(self, path: str, tag: str, override=None) -> str:
        if override is True or override is False:
            return HUMAN if override else ABSENT
        if override is not None:  # a removed tag, back as it was
            return HUMAN if _confirmed(override.source) else str(override.source)
        base = self.rows[self.index[path]].base if path in self.index else {}
        if tag not in base:
            return ABSENT
        return HUMAN if _confirmed(base[tag]) else str(base[tag])

    def _override_for(self, path: str, tag: str, state: str, undoing: bool = False):
        """The override that shows ``state`` over the tag file as read now (None: the file's own).
        ``undoing``: an undo or redo, which brings a tag a save removed back as it was (source, p)."""
        if state == self._state(path, tag):
            return None
        was = self.removed.get((path, tag)) if undoing and state != ABSENT else None
        if was is not None and self._state(path, tag, was) == state:
            return was
        return True if state == HUMAN else False if state == ABSENT else None

    def _now(self, path: str, tag: str) -> str:
        return self._state(path, tag, self.overrides.get(path, {}).get(tag))

    def set_tag(self, paths: list[str], tag: str, present: bool) -> int:
        """Add (present) or remove the tag on these images, as one undoable step. Returns how many changed."""
        want = HUMAN if present else ABSENT
        step = [(path, tag, self._now(path, tag), want) for path in paths if self._now(path, tag) != want]
        if step:
            # back to "as on disk" when that is what the user asks for, so saving leaves the file alone
            self._set([(path, tag, self._override_for(path, tag, want)) for path, tag, _, _ in step])
            self.undo_stack.append(step)
            self.redo_stack.clear()
            self.version += 1
        return len(step)

    def move(self, paths: list[str]) -> int:
        """Move images to the other list for the current tag (the seed's right-click)."""
        adds = [p for p in paths if not self.has(self.row(p))]
        removes = [p for p in paths if self.has(self.row(p))]
        step_count = 0
        before = len(self.undo_stack)
        step_count += self.set_tag(adds, self.tag, True)
        step_count += self.set_tag(removes, self.tag, False)
        # one key press = one undo step
        if len(self.undo_stack) - before == 2:
            second = self.undo_stack.pop()
            self.undo_stack[-1].extend(second)
        return step_count

    def _replay(self, step, forward: bool) -> list[str]:
        changes = []
        for path, tag, before, after in (step if forward else reversed(step)):
            want = after if forward else before
            value = self._override_for(path, tag, want, undoing=True)
            if value != self.overrides.get(path, {}).get(tag):  # nothing to journal where it is so already
                changes.append((path, tag, value))
        if changes:
            self._set(changes)
        self.version += 1
        return [s[0] for s in step]

    def undo(self) -> list[str]:
        if not self.undo_stack:
            return []
        step = self.undo_stack.pop()
        self.redo_stack.append(step)
        return self._replay(step, forward=False)

    def redo(self) -> list[str]:
        if not self.redo_stack:
            return []
        step = self.redo_stack.pop()
        self.undo_stack.append(step)
        return self._replay(step, forward=True)

    @property
    def dirty(self) -> list[str]:
        return list(self.overrides)

    # ---- journal ----------------------------------------------------------------------------
    def pending_journal(self) -> list[dict]:
        """The corrections of sessions on this folder that ended without saving (their journals are
        orphans: no live session holds them), less those that change nothing any more: a tag set and
        set back, or a correction already in the tag file (a save that the crash interrupted after
        writing the file). The orphans stay claimed by this session until ``restore`` or ``discard_orphans``."""
        if self._orphans is not None:
            self._orphans.release()
        self._orphans = self.journal.orphans()
        last: dict[tuple, object] = {}
        for rec in self._orphans.records:
            path, tag = rec.get("image"), rec.get("tag")
            if isinstance(path, str) and isinstance(tag, str):
                last[(path, tag)] = rec.get("present")
        disk: dict[str, dict[str, str | None] | None] = {}
        store = None
        unsaved = set()
        for (path, tag), present in last.items():
            if present is None:
                continue  # back to the file's value: nothing to restore
            if path not in disk:
                if store is None:
                    store = backend.tag_store(self.root, self.tags_dir)
                try:
                    tf = store.load(path)
                    disk[path] = {} if tf is None else {n: t.source for n, t in tf.tags.items()}
                except TaggerError:
                    disk[path] = None  # unreadable now: offer the correction, the save will say why
            tags = disk[path]
            if tags is None or (present and not (tag in tags and _confirmed(tags[tag]))) or (
                    not present and tag in tags):
                unsaved.add((path, tag))
        # the last record of each: one per correction, so the offer counts exactly what a restore applies
        lasts = {(r.get("image"), r.get("tag")): r for r in self._orphans.records}
        return [r for key, r in lasts.items() if key in unsaved]

    def live_sessions(self):
        """Other sessions open on this folder right now (their corrections are theirs, never offered)."""
        return self.journal.live_sessions()

    def restore(self, records: list[dict]) -> int:
        """Apply journal records from a session that died (``pending_journal``), as one undoable step:
        ``u`` right after a restore takes it all back (and journals that). They move into this session's
        journal, and the dead session's files go."""
        first: dict[tuple[str, str], str] = {}  # (path, tag) -> its state before the restore
        for rec in records:
            path, tag, present = rec.get("image"), rec.get("tag"), rec.get("present")
            if not isinstance(path, str) or not isinstance(tag, str):
                continue
            ov = self.overrides.setdefault(path, {})
            first.setdefault((path, tag), self._state(path, tag, ov.get(tag)))
            if present is None:
                ov.pop(tag, None)
            elif present and "source" in rec:  # a removed tag an undo brought back as it was
                source, p = rec.get("source"), rec.get("p")
                ov[tag] = backend.make_tag(tag, source if isinstance(source, str) else None,
                                           float(p) if isinstance(p, (int, float)) else None)
                self.vocab.add(tag)
            else:
                ov[tag] = bool(present)
                self.vocab.add(tag)
            if not ov:
                del self.overrides[path]
        step = [(path, tag, before, self._now(path, tag)) for (path, tag), before in first.items()]
        step = [change for change in step if change[2] != change[3]]
        if step:
            self.undo_stack.append(step)
            self.redo_stack.clear()
        if self._orphans is not None:
            self.journal.adopt(self._orphans, records)
            self._orphans = None
        self.version += 1
        return len(self.overrides)

    def discard_orphans(self) -> None:
        """Throw away the corrections of sessions that died (the restore prompt's Discard)."""
        if self._orphans is not None:
            self.journal.discard(self._orphans)
            self._orphans = None

    def discard_journal(self) -> None:
        """Throw away this session's own unsaved corrections (quit without saving)."""
        self.journal.clear()

    def _tell_catalog(self, path: str, tagfile) -> None:
        if self.catalog is None:
            return
        try:
            self.catalog.update_tags(path, tagfile)
        except Exception:  # the index is a cache: the next scan re-reads the changed tag file anyway
            self.catalog = None

    # ---- save -------------------------------------------------------------------------------
    def save(self, resolve=None) -> tuple[int, list[Conflict], list[str]]:
        """Write every corrected image's tag file; merge with changes made on disk since it was read.

        ``resolve(conflict) -> bool`` accepts the merge of a file where both sides changed a tag (else
        that image stays unsaved and journalled). Returns (files saved, conflicts left unsaved, one-line errors).
        """
        store = backend.tag_store(self.root, self.tags_dir)
        saved, left, errors = 0, [], []
        # a snapshot: corrections made while this runs (saving is a background job) stay unsaved, not lost
        for path, wanted in [(p, dict(ov)) for p, ov in list(self.overrides.items())]:
            row = self.row(path) if path in self.index else None
            if row is None:
                continue  # restored correction for an image not (yet) in the folder: keep it journalled
            try:
                tf = store.load_or_new(path)
                base = {n: backend.make_tag(n, s) for n, s in self.merge_base.get(path, row.base).items()}
                mine = {n: backend.make_tag(n, s) for n, s in self.tags(row).items()}
                theirs = {n: backend.make_tag(n, t.source) for n, t in tf.tags.items()}
                merged, clashes = backend.merge(base, mine, theirs)
                if clashes:
                    # merge_tags already chose (nothing dropped); the user confirms or keeps it unsaved
                    conflict = Conflict(path, list(clashes))
                    if not (resolve and resolve(conflict)):
                        left.append(conflict)
                        continue
                for name in [n for n in tf.tags if n not in merged]:
                    self.removed[(path, name)] = tf.tags[name]  # for an undo: the tag as it was
                    tf.remove(name)
                for name, t in merged.items():
                    old = tf.tags.get(name)
                    was = wanted.get(name)
                    if old is None and was is not True and was is not None:  # a removed tag, back as it was
                        tf.add(name, source=was.source, p=was.p)
                    elif old is None or (t.source == HUMAN and old.source != HUMAN):
                        tf.add(name, source=t.source or HUMAN)
                store.save(tf, fsync=self.journal.fsync)
            except TaggerError as err:
                errors.append(str(err))
                continue
            row.base = {n: t.source for n, t in tf.tags.items()}
            self.merge_base.pop(path, None)
            if self.overrides.get(path) == wanted:
                del self.overrides[path]
            during = self.saved_during_check
            if during is not None:
                during.add(path)
            saved += 1
            self._tell_catalog(path, tf)
        # what could not be saved stays journalled
        t = round(time.time(), 3)
        self.journal.rewrite([_record(p, g, v, t) for p, ov in self.overrides.items() for g, v in ov.items()])
        self.version += 1
        return saved, left, errors


def _record(path: str, tag: str, value, t: float) -> dict:
    """A journal record of an override: present True/False/None, or a removed tag back as it was (present
    True with its source and p)."""
    if value is True or value is False or value is None:
        return {"image": path, "tag": tag, "present": value, "t": t}
    return {"image": path, "tag": tag, "present": True, "source": value.source, "p": value.p, "t": t}


def _sorted(rows: list[Row], sort: str, tag: str, positive: bool, by_name: bool) -> list[Row]:
    """``rows`` in the list's order. Rows in name order already (a million, loaded from the index) need
    sorting only where they have a p for the tag: those come first, in their order; the rest stay as they are."""
    key = sort_key(sort, tag, positive)
    if not by_name or sort not in ("p", "name"):
        rows.sort(key=key)
        return rows
    if sort == "name":
        return rows
    flags: list[bool] = []
    for part in _chunks(rows):  # in C: a million rows, ~30 ms
        flags += map(contains, map(_PREDICTIONS, part), repeat(tag))
    if not any(flags):
        return rows
    scored: list[Row] = []
    for part, fl in zip(_chunks(rows), _chunks(flags)):
        scored += compress(part, fl)
    scored.sort(key=key)
    for part, fl in zip(_chunks(rows), _chunks(flags)):
        scored += compress(part, map(not_, fl))
    return scored


_BASE, _PREDICTIONS, _ERROR, _TAG_ERROR = (attrgetter("base"), attrgetter("predictions"), attrgetter("error"),
                                           attrgetter("tag_error"))


def _chunks(rows: list) -> Iterator[list]:
    """Slices of ``rows`` for passes in C (map, compress, Counter): see sorted_rows.CHUNK."""
    return (rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK))


_EMPTY: dict = {}  # the tags of every row that has none (replaced, never edited)
_TAGS: dict[tuple, dict] = {}  # tag dicts by their items: one per distinct set of tags


def intern_tags(tags: dict) -> dict:
    """One shared dict for equal tag dicts (a million rows have a few dozen distinct sets)."""
    if not tags:
        return _EMPTY
    key = tuple(tags.items())
    hit = _TAGS.get(key)
    if hit is None:
        if len(_TAGS) > 100_000:
            _TAGS.clear()
        hit = _TAGS[key] = tags
    return hit


def _name(rel: str) -> str:
    """``printable(rel)``; the same string object when nothing needs escaping (most names)."""
    return rel if rel.isascii() and rel.isprintable() else printable(rel)


def _bases(rows: list[Row]) -> list[tuple[dict, int]]:
    """(tag dict, rows with it) per distinct tag dict of ``rows``, in the order they first appear; counted and
    found in C a slice at a time (rows share a few dozen dicts; a worker's pass holds the GIL ~1 ms at a time,
    where a pass in Python over the rows that a rare dict first appears late in handed it over ~1000 times)."""
    counts: Counter = Counter()
    found: dict[int, dict] = {}
    for part in _chunks(rows):
        bases = list(map(_BASE, part))
        ids = list(map(id, bases))
        counts.update(ids)
        found.update(zip(ids, bases))  # (a key seen before keeps its first place)
    return [(base, counts[i]) for i, base in found.items()]


def suggest_next(session: Session, rows: list[Row], cursor: int, seen: set[str]) -> int | None:
    """Index in ``rows`` of the next image to review for the session's tag: not decided by a human
    (a human source, or a correction this session) and not looked at yet; among those with a model p,
    the one closest to 0.5, else the next one after ``cursor``. One pass, no sorting: 100k rows ~50 ms."""
    tag, overrides = session.tag, session.overrides
    best, best_d, first_after, first = None, 2.0, None, None
    for i, row in enumerate(rows):
        if row.path in seen or tag in overrides.get(row.path, ()):
            continue
        if tag in row.base and _confirmed(row.base[tag]):
            continue  # a human put the tag there
        p = row.predictions.get(tag)
        if p is not None:
            d = abs(p - 0.5)
            if d < best_d and i != cursor:
                best, best_d = i, d
        elif best is None and i != cursor:
            if first is None:
                first = i
            if first_after is None and i > cursor:
                first_after = i
    if best is not None:
        return best
    return first_after if first_after is not None else first
