"""Undoing a saved removal brings the tag back exactly as the tag file had it (a trial: a tag whose file
gave no source came back as 'human', and a save wrote source="human")."""

from __future__ import annotations

from pathlib import Path

from tui_tagger.core.tagfile import TagFile
from tui_tagger.core.tagstore import TagStore
from tui_tagger.ui.session import Session

from support import make_folder
from test_session import entries

RING = "Ring: Isotropic"


def session_on(root: Path) -> Session:
    s = Session(root)
    s.add_entries(entries(root))
    s.tag = RING
    return s


def tag_on_disk(image: Path):
    tf = TagStore().load(image)
    return None if tf is None else tf.get(RING)


def test_undoing_a_saved_removal_of_a_tag_with_no_source_restores_it_without_one(tmp_path):
    root = make_folder(tmp_path / "d", n=2, tagged={"img00": [RING]})  # <tag> with no source=
    img = str(root / "img00.tif")
    s = session_on(root)
    assert s.tags(s.row(img)) == {RING: None}
    s.set_tag([img], RING, False)
    assert s.save()[0] == 1 and tag_on_disk(root / "img00.tif") is None
    assert s.undo() == [img]
    assert s.tags(s.row(img)) == {RING: None}  # shown as 'file', not 'human'
    assert s.save()[0] == 1
    tag = tag_on_disk(root / "img00.tif")
    assert tag is not None and tag.source is None
    assert 'source="human"' not in (root / "img00.xml").read_text()
    assert s.redo() == [img] and not s.has(s.row(img))  # and forward again


def model_tag_folder(tmp_path: Path):
    """A folder whose img01 has RING from the model (p 0.83), and a session on it."""
    root = make_folder(tmp_path / "d", n=2)
    tf = TagFile.new(root / "img01.xml", "img01.tif")
    tf.add(RING, source="model", p=0.83)
    tf.save(fsync=False)
    return root, str(root / "img01.tif"), session_on(root)


def test_undoing_a_saved_removal_of_a_model_tag_restores_its_source_and_p(tmp_path):
    root, img, s = model_tag_folder(tmp_path)
    s.set_tag([img], RING, False)
    assert s.save()[0] == 1 and tag_on_disk(root / "img01.tif") is None
    assert s.undo() == [img]
    assert s.tags(s.row(img)) == {RING: "model"}
    assert s.save()[0] == 1
    tag = tag_on_disk(root / "img01.tif")
    assert tag is not None and (tag.source, tag.p) == ("model", 0.83)
    # a person's tick on the restored tag still confirms it
    s.set_tag([img], RING, True)
    assert s.tags(s.row(img)) == {RING: "human"}


def test_a_crash_after_such_an_undo_restores_the_tag_as_it_was(tmp_path):
    root, img, s = model_tag_folder(tmp_path)
    s.set_tag([img], RING, False)
    assert s.save()[0] == 1
    s.undo()
    s.journal.close()  # the process dies with the undo unsaved
    del s

    again = session_on(root)
    again.restore(again.pending_journal())
    assert again.tags(again.row(img)) == {RING: "model"}
    assert again.save()[0] == 1
    tag = tag_on_disk(root / "img01.tif")
    assert tag is not None and (tag.source, tag.p) == ("model", 0.83)


async def test_m_s_u_s_in_the_app_leaves_a_no_source_tag_without_one(tmp_path):
    """The trial's keys: move the tag off (m), save (s), undo (u), save (s)."""
    from support import app_on, ready, until

    folder = make_folder(tmp_path / "d", n=4, tagged={"img00": [RING]})
    app = app_on(folder)
    app.idle_resort_s = float("inf")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.pos.focus()
        path = app.pos.current.path
        assert path.endswith("img00.tif")
        await pilot.press("m", "s")
        assert await until(pilot, lambda: not app.saving and not app.session.dirty)
        assert tag_on_disk(folder / "img00.tif") is None
        await pilot.press("u")
        assert await until(pilot, lambda: app.session.dirty == [path])
        await pilot.press("s")
        assert await until(pilot, lambda: not app.saving and not app.session.dirty)
    tag = tag_on_disk(folder / "img00.tif")
    assert tag is not None and tag.source is None
