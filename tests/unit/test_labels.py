"""Label tables (core.labels): reading file,tag,value CSVs, one-line errors, finding each row's image."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from tui_tagger.core.errors import FileProblem
from tui_tagger.core.labels import place_labels, read_labels


def _csv(tmp_path, text, name="labels.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _tif(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
    return path


def test_read_labels_rows_and_where(tmp_path):
    path = _csv(tmp_path, "file,tag,value\na.tif,TSAXS,1\n\na.tif,GISAXS,0\n\"b, c.tif\",Ring: Isotropic,1\n"
                          "a.tif,TSAXS,1\n")
    labels = read_labels(path)
    assert [(x.file, x.tag, x.value) for x in labels] == [
        ("a.tif", "TSAXS", 1), ("a.tif", "GISAXS", 0), ("b, c.tif", "Ring: Isotropic", 1)]  # repeat kept once
    assert labels[1].where == f"{path}:4"


def test_columns_in_any_order(tmp_path):
    labels = read_labels(_csv(tmp_path, "tag,value,file\nTSAXS,0,a.tif\n"))
    assert (labels[0].file, labels[0].tag, labels[0].value) == ("a.tif", "TSAXS", 0)


@pytest.mark.parametrize("text, line, words", [
    ("", None, "empty"),
    ("image,tag,label\na,TSAXS,1\n", 1, "header must be file,tag,value"),
    ("file,tag,value\na.tif,TSAXS,2\n", 2, "must be 0 or 1"),
    ("file,tag,value\na.tif,TSAXS,yes\n", 2, "must be 0 or 1"),
    ("file,tag,value\na.tif,TSAXS,1,extra\n", 2, "4 fields"),
    ("file,tag,value\na.tif,TSAXS\n", 2, "2 fields"),
    ("file,tag,value\n,TSAXS,1\n", 2, "no file name"),
    ("file,tag,value\na.tif,,1\n", 2, "no tag"),
    ("file,tag,value\na.tif,TSAXS,1\nb.tif,TSAXS,0\na.tif,TSAXS,0\n", 4, "is 0 here but 1 on"),
    ("file,tag,value\n\"a.tif,TSAXS,1\n", None, "not a CSV table"),
])
def test_malformed_table_is_one_line_naming_file_and_line(tmp_path, text, line, words):
    path = _csv(tmp_path, text)
    with pytest.raises(FileProblem) as err:
        read_labels(path)
    message = str(err.value)
    assert "\n" not in message and words in message
    assert message.startswith(f"{path}:{line}: " if line else str(path))


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"file,tag,value\n\xff\xfe,TSAXS,1\n")
    with pytest.raises(FileProblem, match="not UTF-8"):
        read_labels(path)
    with pytest.raises(FileProblem, match="nope.csv"):
        read_labels(tmp_path / "nope.csv")


def test_place_relative_paths_bare_names_and_problems(tmp_path):
    root = tmp_path / "dir"
    a, b = _tif(root / "a.tif"), _tif(root / "sub" / "b.tif")
    _tif(root / "x" / "twin.tif"), _tif(root / "y" / "twin.tif")
    table = _csv(tmp_path, "file,tag,value\na.tif,TSAXS,1\nsub/b.tif,TSAXS,0\nb.tif,GISAXS,1\n"
                           "twin.tif,TSAXS,1\nmissing.tif,TSAXS,1\nsub/a.tif,TSAXS,1\n")
    placed = place_labels(read_labels(table), [root])
    assert placed.labels == {str(a): {"TSAXS": 1}, str(b): {"TSAXS": 0, "GISAXS": 1}}
    assert placed.names == {str(a): "a.tif", str(b): "sub/b.tif"}
    assert placed.tags() == {"TSAXS": 2, "GISAXS": 1}
    assert len(placed.problems) == 3 and all("\n" not in p for p in placed.problems)
    twin, missing, wrong_folder = placed.problems
    assert twin.startswith(f"{table}:5: 2 images match twin.tif")
    assert missing.startswith(f"{table}:6: no image missing.tif under {root}")
    assert wrong_folder.startswith(f"{table}:7: no image sub/a.tif")  # a path is not searched for by name


def test_a_path_and_a_bare_name_that_disagree_on_one_image_is_an_error(tmp_path):
    root = tmp_path / "dir"
    _tif(root / "sub" / "b.tif")
    one = _csv(tmp_path, "file,tag,value\nsub/b.tif,TSAXS,1\n", "one.csv")
    two = _csv(tmp_path, "file,tag,value\nGISAXS_row_first.tif,GISAXS,0\nb.tif,TSAXS,0\n", "two.csv")
    with pytest.raises(FileProblem) as err:
        place_labels(read_labels(one) + read_labels(two), [root])
    assert str(err.value).startswith(f"{two}:3: b.tif: TSAXS is 0 here but 1 on {one}:2")


def test_container_labels_apply_to_each_frame_or_to_the_frame_named(tmp_path):
    import h5py

    root = tmp_path / "dir"
    root.mkdir()
    with h5py.File(root / "s.h5", "w") as fh:
        fh.create_dataset("entry/data/data", data=np.zeros((3, 8, 8), np.uint16))
    placed = place_labels(read_labels(_csv(tmp_path, "file,tag,value\ns.h5,TSAXS,1\n")), [root])
    assert len(placed.labels) == 3 and all(v == {"TSAXS": 1} for v in placed.labels.values())
    one = place_labels(read_labels(_csv(tmp_path, "file,tag,value\ns.h5::/entry/data/data#1,TSAXS,0\n")), [root])
    assert one.labels == {f"{root / 's.h5'}::/entry/data/data#1": {"TSAXS": 0}}
    assert one.names == {f"{root / 's.h5'}::/entry/data/data#1": "s.h5::/entry/data/data#1"}
