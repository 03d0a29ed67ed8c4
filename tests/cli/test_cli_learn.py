"""suggest / learning-curve / review on a tiny folder of hand-made frames with tag files."""

from __future__ import annotations

import json

import pytest
from support import ring_frames_folder
from support import run_command as _run

from tui_tagger.commands import learning_curve, review, suggest
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.tagfile import TagFile


@pytest.fixture
def folder(tmp_path):
    return ring_frames_folder(tmp_path)


def test_suggest_json_lists_unlabelled_images_best_first(folder, capsys):
    rc, out, err = _run(suggest, [str(folder), "--tag", "ring: oriented Z", "--count", "4", "--json"], capsys)
    assert rc == 0
    picks = json.loads(out)
    assert len(picks) == 4 and all(set(p) == {"path", "score"} for p in picks)
    names = [p["path"].rsplit("/", 1)[-1] for p in picks]
    assert all(int(n[6:9]) >= 18 for n in names)  # only images not labelled yet
    assert [p["score"] for p in picks] == sorted((p["score"] for p in picks), reverse=True)
    assert "broken.tif" in err  # named once, left out, not a traceback
    # a second run reads the features from the cache and gives the same answer
    rc, again, _ = _run(suggest, [str(folder), "--tag", "Ring: Oriented z", "--count", "4", "--json"], capsys)
    assert json.loads(again) == picks


def test_suggest_json_with_nothing_left_says_why_on_stderr(folder, capsys):
    """Every readable image labelled: stdout is still the (empty) JSON list, and stderr says why it is empty."""
    for i in range(18, 24):  # label the six unlabelled frames too
        path = folder / f"frame_{i:03d}.tif"
        tf = TagFile.new(path.with_suffix(".xml"), path.name)
        tf.add("Ring: Isotropic", source="human")
        tf.save(fsync=False)
    rc, out, err = _run(suggest, [str(folder), "--tag", "Ring: Oriented z", "--json"], capsys)
    assert rc == 0 and json.loads(out) == []
    assert "no image left to suggest for Ring: Oriented z" in err and "(6 present, 18 absent)" in err


def test_unknown_tag_is_one_line_with_suggestions(folder, capsys):
    with pytest.raises(TaggerError) as err:
        _run(suggest, [str(folder), "--tag", "Ring: Orientd z"], capsys)
    message = str(err.value)
    assert "unknown tag" in message and "Ring: Oriented z" in message and "\n" not in message


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(TaggerError, match="no such folder"):
        _run(suggest, [str(tmp_path / "nope"), "--tag", "Saturation"], capsys)


def test_learning_curve_json(folder, capsys):
    rc, out, _ = _run(learning_curve, [str(folder), "--tag", "Ring: Oriented z", "--json", "--step", "4",
                                       "--max-labels", "12"], capsys)
    data = json.loads(out)
    assert data["tag"] == "Ring: Oriented z"
    assert [p["labels"] for p in data["points"]] == [4, 8, 12]
    assert set(data["points"][0]) == {"labels", "accuracy", "ap", "random_accuracy", "random_ap"}


def test_learning_curve_needs_both_classes(folder, capsys):
    with pytest.raises(TaggerError, match="absent in every labelled image"):
        _run(learning_curve, [str(folder), "--tag", "Saturation"], capsys)


def test_review_json_keys_and_planted_error(folder, capsys):
    # a mislabelled frame: oriented arcs tagged isotropic
    tf = TagFile.read(folder / "frame_003.xml")
    tf.remove("Ring: Oriented z")
    tf.add("Ring: Isotropic", source="human")
    tf.save(fsync=False)
    rc, out, _ = _run(review, [str(folder), "--json", "--tag", "Ring: Oriented z", "--confidence", "0.6",
                               "--anomaly-tag", "Ring: Oriented z"], capsys)
    data = json.loads(out)
    assert set(data) == {"questionable", "outliers", "roc"}
    assert data["questionable"][0]["path"].endswith("frame_003.tif")
    assert data["questionable"][0] == {**data["questionable"][0], "tag": "Ring: Oriented z", "human": False}
    assert all(set(o) == {"path", "score"} for o in data["outliers"])
    assert 0 <= data["roc"]["auc"] <= 1


def test_review_plot_draws_the_roc_curve_and_needs_an_anomaly_tag(folder, tmp_path, capsys):
    from PIL import Image

    png = tmp_path / "out" / "roc.png"
    rc, out, err = _run(review, [str(folder), "--anomaly-tag", "Ring: Oriented z", "--plot", str(png)], capsys)
    assert rc == 0, err
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 100
    with pytest.raises(TaggerError, match="--anomaly-tag"):
        _run(review, [str(folder), "--plot", str(tmp_path / "x.png")], capsys)
