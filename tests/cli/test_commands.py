"""train / predict / evaluate from the command line: outputs, JSON keys, tag files, saved configs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from support import TAGS, write_tagged_tiffs
from tui_tagger import cli
from tui_tagger.core.tagstore import TagStore
from tui_tagger.model import runconfig


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(folder of tagged TIFFs, model file) from one short CLI training run."""
    base = tmp_path_factory.mktemp("trained")
    write_tagged_tiffs(base / "data", 30, size=64)
    model = base / "m.pt"
    rc = cli.main(["train", str(base / "data"), "--out", str(model), "--epochs", "2", "--size", "64",
                   "--batch", "8", "--workers", "0"])
    assert rc == 0
    return base / "data", model


def test_train_exclude_tag_leaves_it_out_and_the_config_reruns_without_it(trained, tmp_path, capsys):
    from tui_tagger.model.checkpoint import load_checkpoint

    data, _ = trained
    held = TAGS[0]
    model = tmp_path / "held.pt"
    rc = cli.main(["train", str(data), "--out", str(model), "--epochs", "1", "--size", "64", "--batch", "8",
                   "--workers", "0", "--exclude-tag", held])
    assert rc == 0
    tags = load_checkpoint(model)[1].tags
    assert held not in tags and set(tags) == {"TSAXS", *TAGS} - {held}
    config = runconfig.read(model.with_suffix(".toml"))
    assert config["train"]["exclude_tag"] == [held]
    again = tmp_path / "again.pt"
    assert cli.main(["train", "--config", str(model.with_suffix(".toml")), "--out", str(again)]) == 0
    assert held not in load_checkpoint(again)[1].tags


def test_fine_tuning_keeps_the_models_size_unless_given_and_can_raise_it(trained, tmp_path, capsys):
    from tui_tagger.model.checkpoint import load_checkpoint

    data, model = trained
    same, bigger = tmp_path / "same.pt", tmp_path / "bigger.pt"
    common = ["--epochs", "1", "--batch", "8", "--workers", "0", "--from", str(model)]
    assert cli.main(["train", str(data), "--out", str(same), *common]) == 0
    assert load_checkpoint(same)[1].preprocess["size"] == 64  # not the default 256
    assert cli.main(["train", str(data), "--out", str(bigger), "--size", "96", *common]) == 0
    info = load_checkpoint(bigger)[1]
    assert info.preprocess["size"] == 96
    assert {k: v for k, v in info.preprocess.items() if k != "size"} == {
        k: v for k, v in load_checkpoint(model)[1].preprocess.items() if k != "size"}
    capsys.readouterr()
    assert cli.main(["predict", str(data), "--model", str(bigger), "--json"]) == 0
    lines = _lines(capsys)
    assert len(lines) == 30 and all(line["error"] is None and line["probabilities"] for line in lines)
    assert cli.main(["train", str(data), "--out", str(tmp_path / "x.pt"), "--size", "20", *common]) == 1
    assert "--size" in capsys.readouterr().err


def test_new_models_mark_what_is_not_a_pixel_and_a_fine_tune_can_switch_to_it(trained, tmp_path, capsys):
    from tui_tagger.model.checkpoint import load_checkpoint

    data, model = trained
    assert load_checkpoint(model)[1].preprocess["invalid"] == -1.0  # a new model's default
    zero, back = tmp_path / "zero.pt", tmp_path / "back.pt"
    common = ["--epochs", "1", "--batch", "8", "--workers", "0"]
    assert cli.main(["train", str(data), "--out", str(zero), "--size", "64", "--invalid", "0", *common]) == 0
    assert load_checkpoint(zero)[1].preprocess["invalid"] == 0.0
    assert cli.main(["train", str(data), "--out", str(back), "--from", str(zero), "--invalid", "-1", *common]) == 0
    assert load_checkpoint(back)[1].preprocess["invalid"] == -1.0
    assert runconfig.read(back.with_suffix(".toml"))["train"]["invalid"] == -1.0
    capsys.readouterr()
    assert cli.main(["predict", str(data), "--model", str(back), "--json"]) == 0
    assert all(line["error"] is None for line in _lines(capsys))


def test_fine_tuning_with_a_finer_classifier_grid(trained, tmp_path, capsys):
    from tui_tagger.model.checkpoint import load_checkpoint

    data, model = trained
    finer = tmp_path / "finer.pt"
    common = ["--epochs", "1", "--batch", "8", "--workers", "0", "--from", str(model)]
    assert cli.main(["train", str(data), "--out", str(finer), "--pool", "2", *common]) == 0
    assert load_checkpoint(finer)[1].arch_config["pool"] == 2
    assert runconfig.read(finer.with_suffix(".toml"))["train"]["pool"] == 2
    again = tmp_path / "again.pt"  # a fine-tune of it keeps its grid
    assert cli.main(["train", str(data), "--out", str(again), *common[:-1], str(finer)]) == 0
    assert load_checkpoint(again)[1].arch_config["pool"] == 2
    capsys.readouterr()
    assert cli.main(["predict", str(data), "--model", str(again), "--json"]) == 0
    assert all(line["error"] is None for line in _lines(capsys))
    assert cli.main(["train", str(data), "--out", str(tmp_path / "x.pt"), "--pool", "0", *common]) == 1
    assert "--pool" in capsys.readouterr().err


def test_fine_tuning_a_wider_network_with_cell_attention(trained, tmp_path, capsys):
    from tui_tagger.model.checkpoint import load_checkpoint
    from tui_tagger.model.nets import count_parameters

    data, model = trained
    wider = tmp_path / "wider.pt"
    common = ["--epochs", "1", "--batch", "8", "--workers", "0", "--from", str(model)]
    assert cli.main(["train", str(data), "--out", str(wider), "--widths", "32,64,128,160,128", "--hidden", "640",
                     "--attention", "1", "--focal", "1", *common]) == 0
    m, info = load_checkpoint(wider)
    assert info.arch_config["widths"] == [32, 64, 128, 160, 128] and info.arch_config["hidden"] == 640
    assert info.arch_config["attention"] == 1 and len(m.mix) == 1
    assert count_parameters(m) > count_parameters(load_checkpoint(model)[0])
    saved = runconfig.read(wider.with_suffix(".toml"))["train"]
    assert saved["widths"] == [32, 64, 128, 160, 128] and saved["hidden"] == 640 and saved["focal"] == 1
    capsys.readouterr()
    assert cli.main(["predict", str(data), "--model", str(wider), "--json"]) == 0
    assert all(line["error"] is None for line in _lines(capsys))
    for bad in (["--widths", "32,64"], ["--widths", "16,64,128,128,96"], ["--hidden", "0"], ["--focal", "-1"],
                ["--attention", "-1"]):
        assert cli.main(["train", str(data), "--out", str(tmp_path / "x.pt"), *bad, *common]) == 1
        err = capsys.readouterr().err
        assert bad[0] in err and err.count("\n") == 1, err


def test_bf16_training_steps_learn_and_are_recorded(trained, tmp_path, capsys):
    from tui_tagger.model.checkpoint import load_checkpoint

    data, model = trained
    out = tmp_path / "bf16.pt"
    common = ["--epochs", "1", "--batch", "8", "--workers", "0", "--from", str(model)]
    assert cli.main(["train", str(data), "--out", str(out), "--precision", "bf16", "--lr", "1e-2", *common]) == 0
    info = load_checkpoint(out)[1]
    assert info.training["config"]["precision"] == "bf16"
    assert all(p.dtype.is_floating_point for p in load_checkpoint(out)[0].parameters())  # weights stay float
    assert runconfig.read(out.with_suffix(".toml"))["train"]["precision"] == "bf16"
    moved = [not torch_equal(a, b) for a, b in zip(load_checkpoint(model)[0].parameters(),
                                                   load_checkpoint(out)[0].parameters())]
    assert any(moved)  # the bf16 steps changed the weights
    bad = tmp_path / "bad.toml"
    bad.write_text(out.with_suffix(".toml").read_text().replace('precision = "bf16"', 'precision = "fp8"'))
    capsys.readouterr()
    assert cli.main(["train", "--config", str(bad), "--out", str(tmp_path / "x.pt")]) == 1
    err = capsys.readouterr().err
    assert "precision" in err and "fp8" in err and err.count("\n") == 1


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_train_writes_a_model_and_its_configuration(trained, capsys):
    data, model = trained
    config = runconfig.read(model.with_suffix(".toml"))
    assert config["train"]["epochs"] == 2 and config["train"]["dirs"] == [str(data.resolve())]
    assert config["preprocess"]["size"] == 64 and config["result"]["images"] == 30
    assert set(config["thresholds"]) == {"TSAXS", *TAGS}


def test_predict_json_lines(trained, tmp_path, capsys):
    data, model = trained
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 20)
    good = sorted(data.glob("*.tif"))[:2]
    rc = cli.main(["predict", *map(str, good), str(bad), "--model", str(model), "--json", "--workers", "0"])
    rows = _lines(capsys)
    assert rc == 1  # one image failed
    assert [r["path"] for r in rows] == [*map(str, good), str(bad)]
    for row in rows:
        assert set(row) == {"path", "probabilities", "error"}
    assert set(rows[0]["probabilities"]) == {"TSAXS", *TAGS} and rows[0]["error"] is None
    assert all(0.0 <= p <= 1.0 for p in rows[0]["probabilities"].values())
    assert rows[2]["probabilities"] is None and str(bad) in rows[2]["error"]


def test_predict_write_stores_probabilities_not_tags(trained, tmp_path, capsys):
    data, model = trained
    folder = tmp_path / "copy"
    shutil.copytree(data, folder)
    image = sorted(folder.glob("*.tif"))[0]
    before = TagStore().load(image).names
    assert cli.main(["predict", str(image), "--model", str(model), "--write", "--workers", "0"]) == 0
    after = TagStore().load(image)
    assert after.names == before and set(after.predictions) == {"TSAXS", *TAGS}
    assert after.prediction_model == "m"
    assert cli.main(["predict", str(image), "--model", str(model), "--accept-above", "0.0", "--workers", "0"]) == 0
    accepted = TagStore().load(image)
    added = [t for t in accepted.tags.values() if t.name not in before]
    assert added and all(t.source == "model" and t.p is not None for t in added)
    assert all(accepted.tags[name].source == "human" for name in before)  # human tags untouched


def test_predict_config_reruns_the_same_run(trained, tmp_path, capsys):
    data, model = trained
    saved = tmp_path / "run.toml"
    assert cli.main(["predict", str(data), "--model", str(model), "--json", "--workers", "0",
                     "--threshold", "0.4", "--config-out", str(saved)]) == 0
    first = _lines(capsys)
    assert len(first) == 30
    config = runconfig.read(saved)
    assert config["predict"]["threshold"] == 0.4 and config["predict"]["model"] == str(model.resolve())
    assert config["preprocess"]["size"] == 64 and config["run"]["device_used"] == "cpu"
    assert cli.main(["predict", "--config", str(saved), "--save-config", str(tmp_path / "again.toml")]) == 0
    assert _lines(capsys) == first  # --save-config: the old name of --config-out still works
    assert runconfig.read(tmp_path / "again.toml")["predict"] == config["predict"]


def test_predict_writes_nothing_into_the_image_folder(trained, tmp_path, capsys):
    """A read-only run leaves the data folder as it was: its configuration goes to the config folder,
    into the image folder only when --config-out names a file there, and --config reruns it."""
    from tui_tagger.config import config_dir

    data, model = trained
    folder = tmp_path / "images"
    folder.mkdir()
    for image in sorted(data.glob("*.tif"))[:3]:
        shutil.copy(image, folder / image.name)
    before = sorted(p.name for p in folder.iterdir())
    assert cli.main(["predict", str(folder), "--model", str(model), "--json", "--workers", "0"]) == 0
    first = _lines(capsys)
    assert len(first) == 3 and all(r["error"] is None for r in first)
    assert sorted(p.name for p in folder.iterdir()) == before
    saved = runconfig.default_path("predict", folder)
    assert config_dir() in saved.parents and saved.name == "predict-config.toml"
    assert runconfig.read(saved)["predict"]["paths"] == [str(folder.resolve())]
    assert runconfig.default_path("predict", data) != saved  # one per folder
    # asked for: there, and nowhere else
    asked = folder / "my-run.toml"
    saved.unlink()
    assert cli.main(["predict", str(folder), "--model", str(model), "--json", "--workers", "0",
                     "--config-out", str(asked)]) == 0
    assert _lines(capsys) == first
    assert asked.exists() and not saved.exists()
    assert runconfig.read(asked)["predict"]["model"] == str(model.resolve())
    # and it reruns from anywhere, again leaving the folder alone
    asked.rename(tmp_path / "run.toml")
    assert cli.main(["predict", "--config", str(tmp_path / "run.toml")]) == 0
    assert _lines(capsys) == first
    assert sorted(p.name for p in folder.iterdir()) == before


def test_evaluate_json_keys(trained, capsys):
    data, model = trained
    assert cli.main(["evaluate", str(data), "--model", str(model), "--json", "--workers", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"tags", "mean_ap"}
    assert set(result["tags"]) == {"TSAXS", *TAGS}
    for m in result["tags"].values():
        assert set(m) == {"support", "ap", "auc", "precision", "recall", "f1", "prevalence"}
    assert result["tags"]["TSAXS"]["prevalence"] == 1.0 and result["tags"]["TSAXS"]["ap"] is None
    ring = result["tags"]["Ring: Isotropic"]
    assert ring["support"] > 0 and 0.0 <= ring["ap"] <= 1.0 and 0.0 < ring["prevalence"] < 1.0


def _write_every_format(folder, data_dir):
    """One small frame per reader family; MarCCD is the real example."""
    import fabio.cbfimage
    import fabio.edfimage
    import h5py
    import tifffile
    from PIL import Image

    img = (np.random.default_rng(0).poisson(30, (80, 96))).astype(np.uint16)
    tifffile.imwrite(folder / "a.tif", img)
    fabio.edfimage.EdfImage(data=img.astype(np.float32)).write(str(folder / "b.edf"))
    fabio.cbfimage.CbfImage(data=img.astype(np.int32)).write(str(folder / "c.cbf"))
    with h5py.File(folder / "d.h5", "w") as fh:
        fh.create_dataset("entry/data/data", data=np.stack([img, img]))
    Image.fromarray(img).save(folder / "e.png")
    shutil.copy(data_dir / "real-examples" / "AgBH_10sec_SAXS", folder / "AgBH_10sec_SAXS")


def test_predict_reads_every_format(trained, tmp_path, capsys, data_dir):
    _, model = trained
    _write_every_format(tmp_path, data_dir)
    assert cli.main(["predict", str(tmp_path), "--model", str(model), "--json", "--workers", "1"]) == 0
    rows = _lines(capsys)
    names = sorted(r["path"].replace(str(tmp_path) + "/", "") for r in rows)
    assert [n.split("#")[0].split("::")[0] for n in names] == [
        "AgBH_10sec_SAXS", "a.tif", "b.edf", "c.cbf", "d.h5", "d.h5", "e.png"]
    assert all(r["error"] is None and len(r["probabilities"]) == 3 for r in rows)


def test_cuda_asked_for_without_a_gpu_is_one_line(trained, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    data, model = trained
    assert cli.main(["predict", str(data), "--model", str(model), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and err.count("\n") == 1


def test_bad_arguments_are_one_line_errors(trained, capsys):
    data, model = trained
    assert cli.main(["predict", str(data), "--model", str(model), "--threshold", "2"]) == 1
    assert cli.main(["predict", str(data / "nope.tif"), "--model", str(model)]) == 1
    assert cli.main(["train", str(data)]) == 1  # no --out
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("tui-tagger: ") for line in err)


def test_toml_writer_round_trips(tmp_path):
    config = {"a": {"s": 'quote " and \\ and ünï', "i": 3, "f": 0.1, "b": True, "l": [1, 2.5, "x"],
                    "Ring: Isotropic": 0.4, "none": None}}
    runconfig.write(tmp_path / "c.toml", config, "a header\nsecond line")
    back = runconfig.read(tmp_path / "c.toml")
    del config["a"]["none"]
    assert back == config


def test_train_makes_the_folder_of_out_and_refuses_one_it_cannot_write_before_training(trained, tmp_path,
                                                                                         capsys):
    """--out in a folder that does not exist yet is made (the run is not lost at the end, user trial); one that
    cannot be made is a one-line error before any training."""
    data, model = trained
    common = ["--epochs", "1", "--batch", "8", "--workers", "0", "--from", str(model)]
    nested = tmp_path / "runs" / "2026-12" / "ft.pt"
    assert cli.main(["train", str(data), "--out", str(nested), *common]) == 0
    assert nested.is_file() and nested.with_suffix(".toml").is_file()
    capsys.readouterr()
    (tmp_path / "notes.txt").write_text("a file, where a folder was meant")
    assert cli.main(["train", str(data), "--out", str(tmp_path / "notes.txt" / "m.pt"), *common]) != 0
    out, err = capsys.readouterr()
    assert "cannot write the model there" in err and len(err.strip().splitlines()) == 1
    assert "training" not in out  # refused before the run, not after it
    assert cli.main(["train", str(data), "--out", str(tmp_path), *common]) != 0
    assert "is a folder" in capsys.readouterr().err


def test_evaluate_on_tag_files_of_predictions_alone_says_there_is_nothing_to_measure(trained, tmp_path, capsys):
    """A fresh folder after ``predict --write``: tag files, but only the model's p in them. Not a table of zeros
    and exit 0 (user trial): one line, and a failing exit."""
    data, model = trained
    folder = tmp_path / "fresh"
    folder.mkdir()
    for image in sorted(data.glob("*.tif"))[:6]:
        shutil.copy(image, folder / image.name)
    assert cli.main(["predict", str(folder), "--model", str(model), "--write", "--workers", "0"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(folder), "--model", str(model), "--workers", "0"]) != 0
    out, err = capsys.readouterr()
    assert "no images a person tagged" in err and "(6 without a tag file or with the model's" in err
    assert "--labels" in err and "mean AP" not in out and len(err.strip().splitlines()) == 1
