"""The session behind the TUI: moves, undo/redo, the journal after a crash, saving with merges."""

from __future__ import annotations

from pathlib import Path

from tui_tagger.core.catalog import Entry
from tui_tagger.core.journal import Journal
from tui_tagger.core.tagstore import TagStore
from tui_tagger.ui.session import Session

from support import make_folder, tags_on_disk

RING = "Ring: Isotropic"


def entries(root: Path) -> list[Entry]:
    store = TagStore()
    out = []
    for img in sorted(root.glob("*.tif")):
        tf = store.load(img)
        tags = {t.name: t.source for t in tf.tags.values()} if tf else {}
        out.append(Entry(str(img), img.name, img.stat().st_size, img.stat().st_mtime_ns, "tiff",
                         str(tf.path) if tf else None, tags, {}, None))
    return out


def session_on(root: Path) -> Session:
    s = Session(root)
    s.add_entries(entries(root))
    s.tag = RING
    return s


def test_move_adds_and_removes_the_tag_as_one_undoable_step(folder):
    s = session_on(folder)
    pos, neg = s.split("name")
    assert [r.rel for r in pos] == ["img00.tif", "img01.tif"]
    s.move([pos[0].path, neg[0].path])
    pos, neg = s.split("name")
    assert [r.rel for r in pos] == ["img01.tif", "img02.tif"]
    assert s.tags(s.row(str(folder / "img02.tif")))[RING] == "human"
    assert s.undo()
    assert [r.rel for r in s.split("name")[0]] == ["img00.tif", "img01.tif"]
    assert not s.dirty
    s.redo()
    assert [r.rel for r in s.split("name")[0]] == ["img01.tif", "img02.tif"]


def test_unlimited_undo_and_redo(folder):
    s = session_on(folder)
    paths = [r.path for r in s.rows]
    for p in paths:
        s.move([p])
    for _ in paths:
        assert s.undo()
    assert s.undo() == []
    assert not s.dirty
    for _ in paths:
        assert s.redo()
    assert s.redo() == []
    assert len(s.dirty) == len(paths)


def test_sort_by_p_puts_likely_mistakes_first(folder):
    s = session_on(folder)
    for r, p in zip(s.rows, [0.9, 0.2, 0.95, 0.1, 0.6, None]):
        if p is not None:
            r.predictions[RING] = p
    pos, neg = s.split("p")
    assert [r.predictions[RING] for r in pos] == [0.2, 0.9]  # lowest p first
    assert [r.predictions.get(RING) for r in neg] == [0.95, 0.6, 0.1, None]  # highest p first


def test_journal_replays_after_a_crash_then_save_clears_it(folder):
    s = session_on(folder)
    img3 = str(folder / "img03.tif")
    s.move([img3])
    s.set_tag([str(folder / "img00.tif")], "TSAXS", False)
    del s  # the process dies: nothing saved, the journal holds the corrections

    again = session_on(folder)
    records = again.pending_journal()
    assert len(records) == 2
    again.restore(records)
    assert again.has(again.row(img3))
    assert "TSAXS" not in again.tags(again.row(str(folder / "img00.tif")))
    saved, left, errors = again.save()
    assert (saved, left, errors) == (2, [], [])
    assert tags_on_disk(folder / "img03.tif") == {RING}
    assert tags_on_disk(folder / "img00.tif") == {RING}
    assert Session(folder).pending_journal() == []


def test_a_restore_is_one_undoable_step(folder):
    s = session_on(folder)
    img3, img0 = str(folder / "img03.tif"), str(folder / "img00.tif")
    s.move([img3])
    s.set_tag([img0], "TSAXS", False)
    del s

    again = session_on(folder)
    again.restore(again.pending_journal())
    assert again.has(again.row(img3)) and len(again.dirty) == 2
    assert sorted(again.undo()) == sorted([img3, img0])
    assert not again.has(again.row(img3)) and "TSAXS" in again.tags(again.row(img0)) and not again.dirty
    assert again.pending_journal() == []  # the undo is journalled too: after a crash now, nothing to restore
    again.redo()
    assert again.has(again.row(img3)) and len(again.dirty) == 2


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    j = Journal(tmp_path / "data", cache=tmp_path / "cache", fsync=False)
    j.append({"image": "a", "tag": "X", "present": True})
    j.close()
    with open(j.path, "a") as fh:
        fh.write('{"image": "b", "ta')
    assert [r["image"] for r in j.records()] == ["a"]


def test_save_merges_with_changes_made_on_disk_meanwhile(folder):
    s = session_on(folder)
    s.move([str(folder / "img01.tif")])  # remove RING here
    # another tool adds a tag to the same file meanwhile
    store = TagStore()
    tf = store.load(folder / "img01.tif")
    tf.add("Powder", source="human")
    store.save(tf, fsync=False)
    saved, left, errors = s.save()
    assert saved == 1 and not left and not errors
    assert tags_on_disk(folder / "img01.tif") == {"Powder"}


def test_clashing_change_is_asked_about_not_overwritten(folder):
    s = session_on(folder)
    img = folder / "img00.tif"
    s.set_tag([str(img)], "TSAXS", False)  # removed here
    store = TagStore()
    tf = store.load(img)
    tf.add("TSAXS", source="model", p=0.7)  # changed on disk
    store.save(tf, fsync=False)
    saved, left, errors = s.save()
    assert saved == 0 and len(left) == 1 and "TSAXS" in left[0].messages[0]
    assert s.dirty  # still unsaved and journalled
    assert {r["image"] for r in s.journal.records()} == {str(img)}
    other = Session(folder)
    assert other.pending_journal() == [] and len(other.live_sessions()) == 1  # alive: not offered to others
    saved, left, errors = s.save(resolve=lambda c: True)
    assert saved == 1 and "TSAXS" in tags_on_disk(img)  # the merge keeps the disk's change


def test_new_tag_file_is_written_for_an_untagged_image(tmp_path):
    root = make_folder(tmp_path / "d", n=2)
    s = session_on(root)
    s.move([str(root / "img01.tif")])
    assert s.save()[0] == 1
    assert tags_on_disk(root / "img01.tif") == {RING}


def test_undo_goes_back_past_a_save_and_journals_exactly_what_is_unsaved(folder):
    s = session_on(folder)
    img3, img4 = str(folder / "img03.tif"), str(folder / "img04.tif")
    s.move([img3])
    s.move([img4])
    assert s.save()[0] == 2 and not s.dirty
    assert tags_on_disk(folder / "img04.tif") == {RING}
    # a save is a point in the history, not its end: the undo takes the saved move back (unsaved now)
    assert s.undo() == [img4]
    assert not s.has(s.row(img4)) and s.dirty == [img4]
    assert s.undo() == [img3]
    assert not s.has(s.row(img3)) and sorted(s.dirty) == sorted([img3, img4])
    assert s.redo() == [img3]  # back to the saved state: nothing unsaved for img3
    assert s.has(s.row(img3)) and s.dirty == [img4]
    del s  # the process dies with one unsaved correction (img4's move, undone after the save)

    again = session_on(folder)
    records = again.pending_journal()
    assert [(r["image"], r["present"]) for r in records] == [(img4, False)]  # one offered, no phantom
    again.restore(records)
    assert again.dirty == [img4] and not again.has(again.row(img4))
    assert again.save() == (1, [], [])
    assert tags_on_disk(folder / "img04.tif") == set() and tags_on_disk(folder / "img03.tif") == {RING}


def test_toggling_one_tag_twice_is_offered_as_one_correction(folder):
    s = session_on(folder)
    img3 = str(folder / "img03.tif")
    s.move([img3])
    s.move([img3])
    s.move([img3])
    del s

    again = session_on(folder)
    records = again.pending_journal()
    assert len(records) == 1 and records[0]["present"] is True
