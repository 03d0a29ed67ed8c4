"""`tui-tagger tags` and `tui-tagger tag` on images, tag files, frame refs and broken files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tui_tagger import cli
from tui_tagger.core.tagfile import TagFile

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    for f in (DATA / "real-examples").iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "new.tif").write_bytes(b"x")
    (tmp_path / "broken.tif").write_bytes(b"x")
    (tmp_path / "broken.xml").write_bytes(b"<tag_list><tag>Powder</tag>")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_tags_json_for_images_tag_files_and_untagged(folder, capsys):
    rc, out, err = run(capsys, "tags", "--json", "AgBH_10sec_SAXS", "AgBH_10sec_SAXS.tag", "new.tif")
    assert rc == 0 and err == ""
    rows = json.loads(out)
    assert [r["path"] for r in rows] == ["AgBH_10sec_SAXS", "AgBH_10sec_SAXS.tag", "new.tif"]
    assert rows[0]["tags"] == rows[1]["tags"] and "Ring: Isotropic" in rows[0]["tags"]
    assert rows[0]["sources"]["Ring: Isotropic"] is None and rows[0]["error"] is None
    assert rows[2] == {"path": "new.tif", "tags": [], "sources": {}, "error": None, "tag_file": None}


def test_tags_reports_broken_and_missing_files_without_traceback(folder, capsys):
    rc, out, err = run(capsys, "tags", "--json", "broken.tif", "missing.tif", "AgBH_10sec_SAXS")
    assert rc == 1
    rows = json.loads(out)
    assert rows[0]["error"].startswith("broken.xml") and "not valid XML" in rows[0]["error"]
    assert "no such file" in rows[1]["error"]
    assert rows[2]["error"] is None and rows[2]["tags"]
    rc, out, err = run(capsys, "tags", "broken.tif", "AgBH_10sec_SAXS")
    assert rc == 1 and "Traceback" not in err
    assert err.startswith("tui-tagger: broken.xml") and err.count("\n") == 1
    assert out.startswith("AgBH_10sec_SAXS: TSAXS, Linear beamstop")


def test_tag_adds_and_removes_with_human_source(folder, capsys):
    rc, out, err = run(capsys, "tag", "new.tif", "AgBH_10sec_SAXS", "--add", "ring: oriented z",
                       "--add", "Powder", "--remove", "Standard")
    assert rc == 0, err
    new = TagFile.read(folder / "new.xml")
    assert new.names == ["Ring: Oriented z", "Powder"]  # canonical spelling
    assert {t.source for t in new.tags.values()} == {"human"}
    agbh = TagFile.read(folder / "AgBH_10sec_SAXS.tag")
    assert "Standard" not in agbh.names and "Ring: Oriented z" in agbh.names
    assert agbh.tags["Powder"].source is None  # already hand-tagged: left as the file had it
    assert not (folder / "AgBH_10sec_SAXS.xml").exists()
    rc, out, _ = run(capsys, "tags", "new.tif")
    assert out == "new.tif: Ring: Oriented z (human), Powder (human)\n"


def test_unknown_tag_is_kept_with_a_did_you_mean_warning(folder, capsys):
    rc, out, err = run(capsys, "tag", "new.tif", "--add", "Rng: Isotropic")
    assert rc == 0
    assert "did you mean" in err and "'Ring: Isotropic'" in err
    assert TagFile.read(folder / "new.xml").names == ["Rng: Isotropic"]


def test_tag_skips_malformed_tag_file_and_leaves_it_untouched(folder, capsys):
    before = (folder / "broken.xml").read_bytes()
    rc, out, err = run(capsys, "tag", "broken.tif", "new.tif", "--add", "Powder")
    assert rc == 1
    assert err.startswith("tui-tagger: broken.xml") and "not valid XML" in err
    assert (folder / "broken.xml").read_bytes() == before
    assert TagFile.read(folder / "new.xml").names == ["Powder"]  # the other file was still done


def test_tag_needs_something_to_do_and_an_existing_image(folder, capsys):
    rc, _, err = run(capsys, "tag", "new.tif")
    assert rc == 1 and "--add" in err
    rc, _, err = run(capsys, "tag", "typo.tif", "--add", "Powder")
    assert rc == 1 and "typo.tif: no such file" in err
    assert not (folder / "typo.xml").exists()


def test_tags_dir_keeps_tag_files_elsewhere(folder, capsys):
    rc, out, err = run(capsys, "tag", "new.tif", "AgBH_10sec_SAXS", "--add", "Thin film", "--tags-dir", "T")
    assert rc == 0, err
    assert not (folder / "new.xml").exists()
    here = folder / "T" / os.path.realpath(folder).lstrip(os.sep)  # T mirrors the absolute path
    assert TagFile.read(here / "new.xml").names == ["Thin film"]
    mirrored = TagFile.read(here / "AgBH_10sec_SAXS.tag").names
    assert "Thin film" in mirrored and "AgBH" in mirrored  # the mirror starts from the file beside the image
    assert (folder / "AgBH_10sec_SAXS.tag").read_bytes() == (DATA / "real-examples" / "AgBH_10sec_SAXS.tag").read_bytes()
    rc, out, _ = run(capsys, "tags", "--json", "new.tif", "--tags-dir", "T")
    assert json.loads(out)[0]["tags"] == ["Thin film"]


def test_tags_dir_edits_are_seen_by_search_export_and_from_any_folder(folder, capsys, monkeypatch):
    """One mirror rule for every command: `tag` run from one folder, `search`/`export`/`tags` from another."""
    (folder / "sub").mkdir()
    shutil.copy(folder / "AgBH_10sec_SAXS", folder / "sub" / "AgBH_10sec_SAXS")
    rc, _, err = run(capsys, "tag", "sub/AgBH_10sec_SAXS", "--add", "Saturation", "--tags-dir", str(folder / "T"))
    assert rc == 0, err
    monkeypatch.chdir(folder / "sub")
    for where in (".", str(folder), str(folder / "sub")):
        rc, out, err = run(capsys, "search", where, "Saturation", "--json", "--tags-dir", str(folder / "T"))
        assert rc == 0 and [os.path.basename(p) for p in json.loads(out)] == ["AgBH_10sec_SAXS"], (where, out, err)
    rc, out, _ = run(capsys, "export", ".", "--format", "json", "--tags-dir", str(folder / "T"))
    assert "Saturation" in json.loads(out)[0]["tags"]
    rc, out, _ = run(capsys, "tags", "--json", "AgBH_10sec_SAXS", "--tags-dir", str(folder / "T"))
    assert "Saturation" in json.loads(out)[0]["tags"]
    rc, _, _ = run(capsys, "search", ".", "Saturation", "--json")  # without the mirror: the untouched file beside
    assert rc == 1
