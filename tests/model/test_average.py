"""tui-tagger average: the weighted mean of models fine-tuned from one another, checked on val folders."""

from __future__ import annotations

import json

import pytest
import torch

from tests.model.helpers import write_tagged_tiffs
from tui_tagger import cli
from tui_tagger.model import runconfig
from tui_tagger.model.checkpoint import load_checkpoint

COMMON = ["--batch", "8", "--workers", "0"]


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """(train folder, val folder, stage 1, stage 2 = fine-tuned from stage 1) from the CLI."""
    base = tmp_path_factory.mktemp("stages")
    write_tagged_tiffs(base / "train", 24, size=64)
    write_tagged_tiffs(base / "val", 16, size=64, seed=5)
    one, two = base / "one.pt", base / "two.pt"
    assert cli.main(["train", str(base / "train"), "--out", str(one), "--epochs", "2", "--size", "64", *COMMON]) == 0
    assert cli.main(["train", str(base / "train"), "--out", str(two), "--from", str(one), "--epochs", "1",
                     "--lr", "3e-3", *COMMON]) == 0
    return base / "train", base / "val", one, two


def _state(path):
    return load_checkpoint(path)[0].state_dict()


def test_the_mean_is_the_weighted_mean_of_the_weights(stages, tmp_path, capsys):
    _, _, one, two = stages
    out = tmp_path / "soup.pt"
    assert cli.main(["average", str(one), str(two), "--out", str(out), "--weights", "1,3"]) == 0
    a, b, m = _state(one), _state(two), _state(out)
    moved = 0
    for key, value in m.items():
        if value.is_floating_point():
            # fp16 storage: compare at its precision
            assert torch.allclose(value, (a[key] + 3 * b[key]) / 4, atol=2e-3, rtol=2e-3), key
            moved += int(not torch.allclose(a[key], b[key]))
    assert moved > 0  # the stages differ, so the mean is neither of them
    info = load_checkpoint(out)[1]
    assert [p["weight"] for p in info.training["averaged_from"]] == [1.0, 3.0]
    t1, t2 = load_checkpoint(one)[1], load_checkpoint(two)[1]
    tag = info.tags[0]
    assert info.threshold(tag) == pytest.approx((t1.threshold(tag) + 3 * t2.threshold(tag)) / 4, abs=1e-6)
    assert "wrote" in capsys.readouterr().out


def test_val_compares_the_parts_chooses_thresholds_and_the_config_reruns(stages, tmp_path, capsys):
    _, val, one, two = stages
    out = tmp_path / "soup.pt"
    capsys.readouterr()
    assert cli.main(["average", str(one), str(two), "--out", str(out), "--val", str(val), "--json", *COMMON]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"out", "mean_ap", "val_images"}
    assert report["val_images"] == 16
    assert set(report["mean_ap"]) == {str(one), str(two), "average"}
    assert all(0.0 <= v <= 1.0 for v in report["mean_ap"].values())
    info = load_checkpoint(out)[1]
    assert info.training["averaged_val"]["images"] == 16
    named = {p["path"] for p in info.training["averaged_from"]}
    assert set(info.training["averaged_val"]["mean_ap"]) == named | {"average"}  # one name for each part
    config = runconfig.read(out.with_suffix(".toml"))
    assert config["average"]["val"] == [str(val.resolve())]
    assert config["thresholds"] == pytest.approx(info.thresholds, abs=1e-4)
    again = tmp_path / "again.pt"
    assert cli.main(["average", "--config", str(out.with_suffix(".toml")), "--out", str(again)]) == 0
    for key, value in _state(again).items():
        assert torch.equal(value, _state(out)[key])
    # a prediction with the mean runs like any model's
    capsys.readouterr()
    assert cli.main(["predict", str(val), "--model", str(out), "--json", "--workers", "0"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 16 and all(line["error"] is None for line in lines)


def test_models_that_do_not_match_are_a_one_line_error_and_nothing_is_written(stages, tmp_path, capsys):
    train, _, one, two = stages
    other = tmp_path / "other.pt"  # another input size: another network
    assert cli.main(["train", str(train), "--out", str(other), "--epochs", "1", "--size", "96", *COMMON]) == 0
    capsys.readouterr()
    out = tmp_path / "soup.pt"
    assert cli.main(["average", str(one), str(other), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "other.pt" in err and "preprocessing" in err
    assert not out.exists()
    for argv, words in (
        (["average", str(one), "--out", str(out)], "two or more"),
        (["average", str(one), str(two), "--out", str(two)], "--out is one of the models"),
        (["average", str(one), str(two), "--out", str(out), "--weights", "1,x"], "--weights"),
        (["average", str(one), str(two), "--out", str(out), "--weights", "1"], "2 models"),
        (["average", str(one), str(tmp_path / "missing.pt"), "--out", str(out)], "missing.pt"),
    ):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and words in err, (argv, err)
        assert not out.exists()
