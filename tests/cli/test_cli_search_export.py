"""`tui-tagger search` and `tui-tagger export`: output, files written and exit codes."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from tui_tagger.cli import main

TAG_XML = '<?xml version="1.0"?>\n<tag_list filename="{name}">{tags}</tag_list>\n'


def write_tags(path, *names, source=None):
    attr = f' source="{source}"' if source else ""
    path.write_text(TAG_XML.format(name=path.stem, tags="".join(f"<tag{attr}>{n}</tag>" for n in names)))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    import tifffile

    root = tmp_path / "run"
    (root / "sub").mkdir(parents=True)
    for name in ("a.tif", "b.tif", "sub/c.tif", "d.tif"):
        tifffile.imwrite(root / name, np.zeros((4, 4), np.uint16))
    write_tags(root / "a.xml", "Ring: Isotropic", "Powder")
    write_tags(root / "b.xml", "Ring: Isotropic", "Saturation")
    write_tags(root / "sub" / "c.xml", "Thin film", "GISAXS", "Lab notebook 7", source="human")
    (root / "d.xml").write_text("<tag_list>")  # corrupt
    monkeypatch.chdir(tmp_path)
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_prints_matching_paths_as_given(folder, capsys):
    code, out, err = run(capsys, "search", "run", '"Ring: Isotropic" and not Saturation')
    assert code == 0
    assert out.splitlines() == ["run/a.tif"]
    assert "d.xml" in err and "not searched" in err  # the corrupt tag file is named, not matched


def test_search_bare_words_json_and_extra_folder_tags(folder, capsys):
    code, out, _ = run(capsys, "search", "run", "thin", "film", "and", "lab notebook 7", "--json")
    assert code == 0
    assert json.loads(out) == ["run/sub/c.tif"]


def test_search_without_matches_exits_1_like_grep(folder, capsys):
    code, out, _ = run(capsys, "search", "run", "Powder and Saturation")
    assert (code, out) == (1, "")


def test_search_errors_exit_2_with_one_line(folder, capsys):
    code, out, err = run(capsys, "search", "run", "Ring: Isotrpic")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "did you mean" in err and "Ring: Isotropic" in err
    code, _, err = run(capsys, "search", "missing", "Powder")
    assert code == 2 and "missing: no such folder" in err


def test_export_csv_has_one_column_per_folder_tag(folder, capsys):
    code, out, _ = run(capsys, "export", "run")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    header = rows[0]
    assert header[:2] == ["path", "error"]
    # vocabulary order first (G1 GISAXS ... G5 Thin film), then the folder's own tags
    assert header[2:] == ["GISAXS", "Saturation", "Ring: Isotropic", "Thin film", "Powder", "Lab notebook 7"]
    table = {r[0]: dict(zip(header, r)) for r in rows[1:]}
    assert set(table) == {"run/a.tif", "run/b.tif", "run/d.tif", "run/sub/c.tif"}
    assert table["run/a.tif"]["Powder"] == "1" and table["run/a.tif"]["Saturation"] == "0"
    assert table["run/d.tif"]["error"] and "d.xml" in table["run/d.tif"]["error"]


def test_export_json_to_file(folder, capsys, tmp_path):
    out_file = tmp_path / "table.json"
    code, out, _ = run(capsys, "export", "run", "-o", str(out_file))
    assert (code, out) == (0, "")
    rows = {r["path"]: r for r in json.loads(out_file.read_text())}
    c = rows["run/sub/c.tif"]
    assert c["tags"] == ["Thin film", "GISAXS", "Lab notebook 7"]
    assert c["sources"]["GISAXS"] == "human" and c["predictions"] == {} and c["error"] is None
    assert rows["run/d.tif"]["tags"] == [] and rows["run/d.tif"]["error"]


def test_export_to_unwritable_place_is_one_line_error(folder, capsys, tmp_path):
    code, _, err = run(capsys, "export", "run", "--format", "csv", "-o", str(tmp_path / "no" / "dir" / "t.csv"))
    assert code == 1 and err.count("\n") == 1 and "t.csv" in err
