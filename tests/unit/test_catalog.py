"""The catalog: which files a scan lists, with which tags, and how the index cache keeps up with changes."""

from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest

from tui_tagger.core import tagfile as tagfile_mod
from tui_tagger.core.catalog import Catalog, index_path
from tui_tagger.core.errors import FileProblem

TAG_XML = """<?xml version="1.0"?>
<tag_list filename="{name}">
  <primary_category name="Kinds of samples">
    <secondary_category name="type">{tags}</secondary_category>
  </primary_category>
</tag_list>
"""


def write_tags(path, *names):
    tags = "".join(f"<tag>{n}</tag>" for n in names)
    path.write_text(TAG_XML.format(name=path.stem, tags=tags))


def write_tiff(path, value=1):
    import tifffile

    tifffile.imwrite(path, np.full((8, 8), value, np.uint16))


def bump(path):
    """Change the mtime for sure (some file systems keep coarse timestamps)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def rels(entries):
    return [e.rel for e in entries]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "data"
    (root / "b").mkdir(parents=True)
    write_tiff(root / "a1.tif")
    write_tags(root / "a1.xml", "Powder", "Ordered")
    write_tiff(root / "a2.tif")  # no tag file
    write_tiff(root / "b" / "c1.tif")
    write_tags(root / "b" / "c1.xml", "Thin film")
    (root / "b" / "NOTES").write_text("not an image: sniffed once, then known from the index")
    return root


def test_finds_extensionless_marccd_with_tags_and_skips_non_images(tmp_path, data_dir):
    root = tmp_path / "run"
    shutil.copytree(data_dir / "real-examples", root)
    (root / "notes.txt").write_text("beamline log")
    (root / "README").write_text("no extension, not an image")
    (root / "random_bytes").write_bytes(os.urandom(3000))
    (root / ".hidden").mkdir()
    write_tiff(root / ".hidden" / "x.tif")
    for partial in ("y.tif.part", "y.tif.filepart", "y.tif~"):  # still being copied; a backup
        write_tiff(root / partial)
    entries = Catalog(root).entries()
    assert rels(entries) == ["AgBH_10sec_SAXS", "layer_no_nxtal_1000_0480min_th007_spot1_10sec_SAXS"]
    agbh = entries[0]
    assert agbh.format == "marccd"
    assert agbh.tag_path == str(root / "AgBH_10sec_SAXS.tag")
    assert {"AgBH", "Ring: Isotropic", "Standard"} <= set(agbh.tags)
    assert agbh.error is None


def test_sorted_per_folder_and_paths_keep_the_root_as_given(tree, monkeypatch):
    monkeypatch.chdir(tree.parent)
    entries = Catalog("data").entries()
    assert rels(entries) == ["a1.tif", "a2.tif", "b/c1.tif"]
    assert [e.path for e in entries] == ["data/a1.tif", "data/a2.tif", os.path.join("data", "b", "c1.tif")]
    assert entries[0].tags == {"Powder": None, "Ordered": None}
    assert entries[1].tags == {} and entries[1].tag_path is None


def test_corrupt_tag_file_is_listed_with_its_error(tree):
    (tree / "a2.xml").write_text("<tag_list><tag>Powder</tag>")  # truncated
    entry = Catalog(tree).entries()[1]
    assert entry.rel == "a2.tif"
    assert entry.tags == {}
    assert entry.error and "a2.xml" in entry.error and entry.tag_error == entry.error


def test_warm_scan_parses_and_sniffs_nothing(tree, monkeypatch):
    first = Catalog(tree).entries()

    def fail(*args, **kwargs):
        raise AssertionError("a warm scan must not open unchanged files")

    import tui_tagger.core.formats as formats

    monkeypatch.setattr(tagfile_mod.TagFile, "read", classmethod(fail))
    monkeypatch.setattr(formats, "probe", fail)
    monkeypatch.setattr(formats, "probe_problem", fail)
    assert Catalog(tree).entries() == first


def test_changed_added_and_deleted_files_are_picked_up(tree):
    Catalog(tree).entries()
    write_tags(tree / "a1.xml", "Amorphous")
    bump(tree / "a1.xml")
    write_tags(tree / "a2.tag", "Saturation")  # a new tag file for an untagged image
    (tree / "b" / "c1.tif").unlink()
    write_tiff(tree / "b" / "c2.tif")
    entries = Catalog(tree).entries()
    assert rels(entries) == ["a1.tif", "a2.tif", "b/c2.tif"]
    assert entries[0].tags == {"Amorphous": None}
    assert entries[1].tags == {"Saturation": None}
    (tree / "a2.tag").unlink()
    assert Catalog(tree).entries()[1].tags == {}


def test_corrupt_or_old_index_is_rebuilt_silently(tree):
    Catalog(tree).entries()
    db = index_path(tree, None, None)
    assert db.exists()
    db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{db}{suffix}"):
            os.unlink(f"{db}{suffix}")
    assert rels(Catalog(tree).entries()) == ["a1.tif", "a2.tif", "b/c1.tif"]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version=1")
    assert rels(Catalog(tree).entries()) == ["a1.tif", "a2.tif", "b/c1.tif"]


def test_unwritable_cache_dir_still_scans(tree, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cat = Catalog(tree, cache_dir=blocker)
    assert rels(cat.entries()) == ["a1.tif", "a2.tif", "b/c1.tif"]
    assert not cat.db.persistent


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileProblem, match="no such folder"):
        Catalog(tmp_path / "nope")


def test_tags_dir_mirror_wins_over_tags_beside(tree, tmp_path):
    mirror = tmp_path / "tags"
    here = mirror / os.path.realpath(tree).lstrip(os.sep)  # the mirror holds the folder's absolute path
    (here / "b").mkdir(parents=True)
    write_tags(here / "b" / "c1.xml", "Grating")
    entries = Catalog(tree, tags_dir=mirror).entries()
    assert entries[0].tags == {"Powder": None, "Ordered": None}  # still read beside
    assert entries[2].tags == {"Grating": None}
    assert entries[2].tag_path == str(here / "b" / "c1.xml")
    # the parent folder, opened with the same --tags-dir, finds the same mirrored tag file
    parent = {e.path: e for e in Catalog(tree.parent, tags_dir=mirror).entries()}
    assert parent[str(tree / entries[2].rel)].tags == {"Grating": None}


def test_update_tags_after_a_save_needs_no_rescan_parse(tree, monkeypatch):
    cat = Catalog(tree)
    entry = cat.entries()[1]
    tf = tagfile_mod.TagFile.new(tree / "a2.xml", "a2.tif")
    tf.add("Misaligned")
    tf.save(fsync=False)
    updated = cat.update_tags(entry.path, tf)
    assert updated.tags == {"Misaligned": "human"}
    monkeypatch.setattr(tagfile_mod.TagFile, "read", classmethod(lambda *a: pytest.fail("re-parsed")))
    assert Catalog(tree).entries()[1].tags == {"Misaligned": "human"}


def test_mark_error_is_kept_until_the_image_changes(tree):
    cat = Catalog(tree)
    entry = cat.entries()[0]
    cat.mark_error(entry.path, f"{entry.path}: truncated TIFF")
    again = Catalog(tree).entries()[0]
    assert again.error == f"{entry.path}: truncated TIFF"
    assert again.tags == {"Powder": None, "Ordered": None}  # tags still shown
    write_tiff(tree / "a1.tif", value=7)
    bump(tree / "a1.tif")
    assert Catalog(tree).entries()[0].error is None


def test_empty_and_mislabelled_images_are_listed_as_corrupt_until_fixed(tree):
    (tree / "empty.tif").write_bytes(b"")
    (tree / "notes.tif").write_text("a text file named like an image\n")
    by_rel = {e.rel: e for e in Catalog(tree).entries()}
    assert by_rel["empty.tif"].error == f"{tree / 'empty.tif'}: empty file (0 bytes)"
    assert by_rel["notes.tif"].error.startswith(f"{tree / 'notes.tif'}: named like a TIFF file but is not one")
    assert by_rel["a1.tif"].error is None
    cached = {e.rel: e for e in Catalog(tree).cached_entries()}  # the index remembers, for the first screen
    assert cached["empty.tif"].error == by_rel["empty.tif"].error
    write_tiff(tree / "empty.tif")
    bump(tree / "empty.tif")
    assert {e.rel: e for e in Catalog(tree).entries()}["empty.tif"].error is None


def test_multi_frame_container_one_entry_per_frame_opened_once(tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    root = tmp_path / "stack"
    root.mkdir()
    with h5py.File(root / "scan.h5", "w") as f:
        f.create_dataset("entry/data/data", data=np.zeros((3, 8, 8), np.uint16))
    entries = Catalog(root).entries()
    assert len(entries) == 3
    assert len({e.path for e in entries}) == 3
    assert all(e.path.startswith(str(root / "scan.h5")) and e.format == "hdf5" for e in entries)
    import tui_tagger.core.formats as formats

    monkeypatch.setattr(formats, "probe_problem", lambda *a: pytest.fail("container reopened"))
    assert Catalog(root).entries() == entries


def test_stopping_a_scan_early_keeps_the_index_consistent(tree):
    it = Catalog(tree).scan()
    first = next(it)
    it.close()  # the viewer quit before the cold scan ended
    assert first.rel == "a1.tif"
    assert rels(Catalog(tree).entries()) == ["a1.tif", "a2.tif", "b/c1.tif"]


def test_search_uses_folder_tags_as_known_names(tree):
    write_tags(tree / "a2.xml", "Beamline 11-BM")
    cat = Catalog(tree)
    assert rels(cat.search("beamline 11-bm or Thin film")) == ["a2.tif", "b/c1.tif"]
    assert rels(cat.search("not *")) == []


def test_search_does_not_match_images_whose_tag_file_is_unreadable(tree):
    (tree / "a2.xml").write_text("")
    assert rels(Catalog(tree).search("not Powder")) == ["b/c1.tif"]


def test_cached_entries_need_no_file_system_and_match_the_scan(tree, monkeypatch):
    (tree / "b" / "d").mkdir()
    write_tiff(tree / "b" / "d" / "e.tif")
    write_tiff(tree / "b-side.tif")  # '-' sorts before '/': the walk's order is per folder, not per string
    assert Catalog(tree).cached_entries() == []  # nothing indexed yet
    scanned = Catalog(tree).entries()
    assert rels(scanned) == ["a1.tif", "a2.tif", "b/c1.tif", "b/d/e.tif", "b-side.tif"]

    def no_fs(*args, **kwargs):
        raise AssertionError("cached_entries must not touch the file system")

    cat = Catalog(tree)
    cat.db  # opening the index itself may stat its folder
    with monkeypatch.context() as m:
        m.setattr(os, "scandir", no_fs)
        m.setattr(os, "stat", no_fs)
        cached = cat.cached_entries()
    assert cached == scanned


def test_changes_only_scan_yields_what_differs_and_lists_removed(tree):
    Catalog(tree).entries()
    cat = Catalog(tree)
    cached = cat.cached_entries()
    write_tags(tree / "a2.xml", "Saturation")  # tags for an untagged image
    write_tags(tree / "a1.xml", "Amorphous")
    bump(tree / "a1.xml")
    (tree / "b" / "c1.tif").unlink()
    write_tiff(tree / "b" / "c0.tif")
    changed, removed = cat.refresh()
    assert rels(changed) == ["a1.tif", "a2.tif", "b/c0.tif"]
    assert changed[0].tags == {"Amorphous": None} and changed[1].tags == {"Saturation": None}
    assert removed == [str(tree / "b" / "c1.tif")]
    assert cat.refresh() == ([], [])  # nothing changed since
    unchanged = Catalog(tree)
    before = unchanged.cached_entries()
    assert list(unchanged.scan(changes_only=True)) == []
    assert [unchanged.get(e.path) for e in before] == before  # the same Entry objects, kept
    assert cached[2].rel == "b/c1.tif"


def test_single_frames_are_listed_without_a_decoder_and_stacks_per_frame(tmp_path, monkeypatch):
    import dataclasses

    import fabio
    import tifffile
    from PIL import Image

    import tui_tagger.core.formats as formats

    root = tmp_path / "mixed"
    root.mkdir()
    write_tiff(root / "one.tif")
    tifffile.imwrite(root / "big.tif", np.zeros((8, 8), np.uint16), bigtiff=True)
    tifffile.imwrite(root / "motorola.tif", np.zeros((8, 8), ">u2"), byteorder=">")
    Image.fromarray(np.zeros((300, 300), np.uint8)).save(root / "pil.tif")  # IFD after the pixels
    fabio.edfimage.EdfImage(data=np.zeros((6, 5), np.float32)).write(str(root / "one.edf"))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "one.png")
    singles = Catalog(root, cache_dir=tmp_path / "c1")
    monkeypatch.setattr(formats, "FORMATS", [dataclasses.replace(f, refs=lambda p: pytest.fail(f"opened {p}"))
                                             for f in formats.FORMATS])
    assert [(e.rel, e.format) for e in singles.entries()] == [
        ("big.tif", "tiff"), ("motorola.tif", "tiff"), ("one.edf", "edf"), ("one.png", "png"),
        ("one.tif", "tiff"), ("pil.tif", "tiff")]
    monkeypatch.undo()

    stacks = tmp_path / "stacks"
    stacks.mkdir()
    pages = [Image.fromarray(np.full((300, 300), i, np.uint8)) for i in range(3)]
    pages[0].save(stacks / "pages.tif", save_all=True, append_images=pages[1:])
    edf = fabio.edfimage.EdfImage(data=np.zeros((6, 5), np.uint16))
    edf.append_frame(data=np.ones((6, 5), np.uint16))
    edf.write(str(stacks / "two.edf"))
    assert [e.path for e in Catalog(stacks).entries()] == [
        *(f"{stacks / 'pages.tif'}#{i}" for i in range(3)), *(f"{stacks / 'two.edf'}#{i}" for i in range(2))]
