"""Where tag files live: beside the image (existing NAME.tag wins), frame refs, --tags-dir mirrors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_tagger.core import tagfile as tagfile_mod
from tui_tagger.core.errors import ImageReadError, TagFileError
from tui_tagger.core.tagfile import TagFile
from tui_tagger.core.tagstore import TagStore, image_stem

DATA = Path(__file__).parents[1] / "data"
AGBH = DATA / "real-examples" / "AgBH_10sec_SAXS"


@pytest.mark.parametrize("ref,name", [
    ("d/AgBH_10sec_SAXS", "AgBH_10sec_SAXS"),  # extensionless MarCCD
    ("d/img_001.tif", "img_001"),
    ("d/frame.edf.gz", "frame"),
    ("d/sample_0.5deg", "sample_0.5deg"),  # a dot in the name is not an extension
    ("d/layer_th0.12_SAXS", "layer_th0.12_SAXS"),
    ("d/run.h5::/entry/data/data#12", "run_12"),
    ("d/run.h5#3", "run_3"),
    ("d/run.h5::/entry/data/data", "run"),
    ("d/master.h5::/entry/data/data_000002#5", "master_data_000002_5"),
])
def test_image_stem(ref, name):
    assert image_stem(ref) == (Path("d"), name)


def test_new_tag_file_is_name_xml_beside_the_image(tmp_path):
    (tmp_path / "a.tif").write_bytes(b"x")
    store = TagStore()
    assert store.path_for(tmp_path / "a.tif") == tmp_path / "a.xml"
    assert store.load(tmp_path / "a.tif") is None
    tf = store.load_or_new(tmp_path / "a.tif")
    tf.add("Powder")
    store.save(tf, fsync=False)
    assert TagFile.read(tmp_path / "a.xml").image_name == "a.tif"
    assert store.load(tmp_path / "a.tif").names == ["Powder"]


def test_existing_tag_file_wins_and_no_second_file_is_made(tmp_path):
    img = tmp_path / AGBH.name
    img.write_bytes(AGBH.read_bytes())
    (tmp_path / (AGBH.name + ".tag")).write_bytes(AGBH.with_suffix(".tag").read_bytes())
    store = TagStore()
    assert store.path_for(img) == tmp_path / "AgBH_10sec_SAXS.tag"
    tf = store.load_or_new(img)
    assert "Ring: Isotropic" in tf.names
    tf.add("Beam streaking")
    store.save(tf, fsync=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AgBH_10sec_SAXS", "AgBH_10sec_SAXS.tag"]


def test_hdf5_frames_get_their_own_tag_files(tmp_path):
    (tmp_path / "run.h5").write_bytes(b"x")
    store = TagStore()
    for i in (0, 1):
        tf = store.load_or_new(f"{tmp_path}/run.h5::/entry/data/data#{i}")
        tf.add("Powder" if i else "Amorphous")
        store.save(tf, fsync=False)
    assert TagFile.read(tmp_path / "run_0.xml").names == ["Amorphous"]
    assert TagFile.read(tmp_path / "run_1.xml").image_name == "run.h5::/entry/data/data#1"


def test_tags_dir_mirrors_and_reads_existing_tags_beside_images(tmp_path):
    root = tmp_path / "beamtime"
    (root / "s1").mkdir(parents=True)
    img = root / "s1" / AGBH.name
    img.write_bytes(b"x")
    beside = root / "s1" / "AgBH_10sec_SAXS.tag"
    beside.write_bytes(AGBH.with_suffix(".tag").read_bytes())
    store = TagStore(tags_dir=tmp_path / "mytags", root=root)
    mirror = tmp_path / "mytags" / os.path.realpath(root).lstrip(os.sep) / "s1" / "AgBH_10sec_SAXS.tag"
    assert store.path_for(img) == mirror
    tf = store.load(img)
    assert "AgBH" in tf.names and tf.path == mirror
    tf.add("Beam streaking")
    store.save(tf, fsync=False)  # creates the folders
    assert beside.read_bytes() == AGBH.with_suffix(".tag").read_bytes()  # the original is untouched
    assert "Beam streaking" in store.load(img).names
    new_img = root / "s1" / "b.tif"
    new_img.write_bytes(b"x")
    assert store.path_for(new_img) == mirror.with_name("b.xml")
    # the same place whatever root (or none: the command line) the store is given
    for other in (TagStore(tags_dir=tmp_path / "mytags"), TagStore(tags_dir=tmp_path / "mytags", root=tmp_path)):
        assert other.path_for(img) == mirror and "Beam streaking" in other.load(img).names


def test_results_xml_is_read_and_edits_go_to_name_tag(tmp_path):
    (tmp_path / "sim.tif").write_bytes(b"x")
    results = ('<DataFile name="sim"><protocol name="tag_generated" end_timestamp="1">'
               '<result name="features.main.ring: isotropic" value="True"/></protocol></DataFile>')
    (tmp_path / "sim.xml").write_text(results)
    store = TagStore()
    tf = store.load(tmp_path / "sim.tif")
    assert tf.names == ["Ring: Isotropic"] and tf.path == tmp_path / "sim.tag"
    tf.add("Powder")
    store.save(tf, fsync=False)
    assert (tmp_path / "sim.xml").read_text() == results
    assert store.path_for(tmp_path / "sim.tif") == tmp_path / "sim.tag"
    assert set(store.load(tmp_path / "sim.tif").names) == {"Ring: Isotropic", "Powder"}


def test_read_only_folder_error_names_tags_dir(tmp_path, monkeypatch):
    (tmp_path / "a.tif").write_bytes(b"x")
    store = TagStore()
    tf = store.load_or_new(tmp_path / "a.tif")
    tf.add("Powder")
    if os.geteuid() == 0:  # root ignores permissions: simulate the refusal
        def denied(path, data, fsync=True):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(tagfile_mod, "atomic_write_bytes", denied)
    else:
        tmp_path.chmod(0o555)
    try:
        with pytest.raises(TagFileError, match="folder is read-only; use --tags-dir DIR"):
            store.save(tf, fsync=False)
    finally:
        tmp_path.chmod(0o755)
    assert not (tmp_path / "a.xml").exists()


def test_open_accepts_tag_files_and_refuses_missing_images(tmp_path):
    store = TagStore()
    assert store.open(DATA / "real-examples" / "AgBH_10sec_SAXS.tag").names[0] == "TSAXS"
    with pytest.raises(ImageReadError, match="no such file"):
        store.open(tmp_path / "typo.tif", create=True)
    assert list(tmp_path.iterdir()) == []


def test_save_merges_with_another_writer(tmp_path):
    (tmp_path / "a.tif").write_bytes(b"x")
    store = TagStore()
    first = store.load_or_new(tmp_path / "a.tif")
    second = store.load_or_new(tmp_path / "a.tif")
    first.add("Powder")
    store.save(first, fsync=False)
    second.add("Thin film")
    assert store.save(second, fsync=False) == []
    assert set(store.load(tmp_path / "a.tif").names) == {"Powder", "Thin film"}
    second.remove("Powder")
    store.save(second, fsync=False, merge=False)
    assert store.load(tmp_path / "a.tif").names == ["Thin film"]
