"""evaluate DIR --labels FILE.csv: metrics from certain labels only (partial labels), the experiment type,
one-line warnings and errors; and the metric functions behind it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from tests.model.helpers import write_tagged_tiffs
from tui_tagger import cli
from tui_tagger.model.checkpoint import ModelInfo, save_checkpoint
from tui_tagger.model.metrics import certain_metrics, experiment_type_accuracy, worst_first, wrong_at_threshold
from tui_tagger.model.nets import create_model
from tui_tagger.model.transforms import preprocess_config

KINDS = ["TSAXS", "TWAXS", "GISAXS", "GIWAXS"]
TAGS = [*KINDS, "Ring: Isotropic", "Vertical streaks"]
N = 12


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(folder of 12 TIFFs, the first 4 in sub/, model file, {image name: {tag: p}} from predict)."""
    base = tmp_path_factory.mktemp("labels")
    data = base / "data"
    write_tagged_tiffs(data, N, size=64)  # their tag files say TSAXS on all: --labels must ignore them
    (data / "sub").mkdir()
    for i in range(4):
        (data / f"sample{i:03d}_{i % 3:04d}.tif").rename(data / "sub" / f"sample{i:03d}_{i % 3:04d}.tif")
    torch.manual_seed(3)
    model = create_model("alexnet-tagger", len(TAGS)).eval()
    with torch.no_grad():  # spread the untrained logits so the images rank differently
        model.head.weight.mul_(40.0)
    path = base / "m.pt"
    save_checkpoint(path, model, ModelInfo("alexnet-tagger", {}, TAGS, preprocess_config({"size": 64}),
                                           {"Ring: Isotropic": 0.4}), half=False)
    return data, path


def names(data):
    return sorted(str(p.relative_to(data)) for p in data.rglob("*.tif"))


def _predicted(data, model, capsys):
    capsys.readouterr()
    assert cli.main(["predict", str(data), "--model", str(model), "--json", "--workers", "0"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return {r["path"][len(str(data)) + 1:]: r["probabilities"] for r in rows}


def _evaluate(data, model, table, capsys, *extra):
    capsys.readouterr()
    rc = cli.main(["evaluate", str(data), "--model", str(model), "--labels", str(table), "--workers", "0", *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _write(path, rows):
    path.write_text("file,tag,value\n" + "".join(f"{f},{t},{v}\n" for f, t, v in rows))
    return path


def test_partial_labels_only_certain_ones_count(setup, tmp_path, capsys):
    data, model = setup
    files = names(data)
    p = _predicted(data, model, capsys)
    ring = [1, 0, 1, 0, 1, 0, 1, 1]  # 8 of 12 images labelled for the ring; 4 not labelled at all
    chosen = files[4:]  # 4 in the folder, 4 in sub/ (named by path, or by bare name: found in sub/)
    assert sum(f.startswith("sub/") for f in chosen) == 4
    rows = [(f if i % 2 else f.split("/")[-1], "Ring: Isotropic", v) for i, (f, v) in enumerate(zip(chosen, ring))]
    rows += [(files[0], "Vertical streaks", 1)]  # one positive, no negative: no AUC
    rc, out, err = _evaluate(data, model, _write(tmp_path / "l.csv", rows), capsys, "--json")
    assert rc == 0 and err == ""
    result = json.loads(out)
    assert set(result) == {"tags", "mean_ap", "mean_auc", "auc_tags", "experiment_type", "images", "skipped"}
    assert set(result["tags"]) == {"Ring: Isotropic", "Vertical streaks"}  # tags without a label: no row
    m = result["tags"]["Ring: Isotropic"]
    assert (m["n_pos"], m["n_neg"], m["support"]) == (5, 3, 5)  # the 4 unlabelled images are not negatives
    score = [p[f]["Ring: Isotropic"] for f in chosen]
    assert m["auc"] == pytest.approx(roc_auc_score(ring, score), abs=1e-4)
    assert m["ap"] == pytest.approx(average_precision_score(ring, score), abs=1e-4)
    assert m["threshold"] == 0.4
    assert m["accuracy"] == pytest.approx(np.mean([(s >= 0.4) == bool(t) for s, t in zip(score, ring)]), abs=1e-4)
    streaks = result["tags"]["Vertical streaks"]
    assert (streaks["n_pos"], streaks["n_neg"], streaks["auc"], streaks["ap"]) == (1, 0, None, None)
    assert result["mean_auc"] == m["auc"] and result["auc_tags"] == 1  # >= 2 of each only
    assert result["images"] == 9 and result["skipped"] == 0
    assert result["experiment_type"] == {"right": 0, "total": 0, "wrong": []}


def test_experiment_type_is_the_highest_of_the_four(setup, tmp_path, capsys):
    data, model = setup
    files = names(data)
    p = _predicted(data, model, capsys)
    truth = {files[0]: "TSAXS", files[1]: "TWAXS", files[2]: "GISAXS", files[3]: "GIWAXS",
             files[4]: "GISAXS", files[5]: "TSAXS"}
    rows = [(f, t, 1) for f, t in truth.items()] + [(files[6], "GISAXS", 0), (files[0], "GISAXS", 0)]
    rc, out, err = _evaluate(data, model, _write(tmp_path / "k.csv", rows), capsys, "--json")
    assert rc == 0
    kind = json.loads(out)["experiment_type"]
    best = {f: max(KINDS, key=lambda k: p[f][k]) for f in truth}
    wrong = [f for f in truth if best[f] != truth[f]]
    assert kind["total"] == 6 and kind["right"] == 6 - len(wrong)  # files[6]: a negative only, not counted
    assert [w["image"] for w in kind["wrong"]] == wrong
    for w in kind["wrong"]:
        assert w["labels"] == [truth[w["image"]]] and w["predicted"] == best[w["image"]]
        assert w["p"] == {k: pytest.approx(p[w["image"]][k], abs=1e-4) for k in KINDS}
    rc, out, _ = _evaluate(data, model, tmp_path / "k.csv", capsys)
    assert f"experiment type (highest p of TSAXS / TWAXS / GISAXS / GIWAXS): {6 - len(wrong)}/6 right" in out
    assert all(f"{w}: labelled {truth[w]}, predicted {best[w]}" in out for w in wrong)
    assert "n_pos n_neg" in out and "mean AUC over" in out


def test_unknown_files_and_tags_warn_in_one_line_each(setup, tmp_path, capsys):
    data, model = setup
    files = names(data)
    rows = [(files[0], "TSAXS", 1), (files[1], "TSAXS", 0), ("nowhere.tif", "TSAXS", 1),
            (files[2], "Ring: isotropic", 1), (files[2], "MarCCD", 0), (files[3], "Thin film", 1)]
    table = _write(tmp_path / "u.csv", rows)
    rc, out, err = _evaluate(data, model, table, capsys, "--json")
    assert rc == 0
    lines = err.splitlines()
    assert lines == [
        f"tui-tagger: {table}:4: no image nowhere.tif under {data}",
        f"tui-tagger: {table}:5: unknown tag 'Ring: isotropic' (did you mean 'Ring: Isotropic'?)",
        "tui-tagger: 2 labelled tags the model does not give are not measured: MarCCD (1), Thin film (1)",
    ]
    assert set(json.loads(out)["tags"]) == {"TSAXS"}


@pytest.mark.parametrize("text, line", [
    ("file,label,value\n", 1), ("file,tag,value\na.tif,TSAXS,0.5\n", 2), ("file,tag,value\na.tif,TSAXS,1,2\n", 2)])
def test_a_malformed_table_is_one_error_line_naming_file_and_line(setup, tmp_path, capsys, text, line):
    data, model = setup
    table = tmp_path / "bad.csv"
    table.write_text(text)
    rc, out, err = _evaluate(data, model, table, capsys)
    assert rc == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"tui-tagger: {table}:{line}: ")


def test_unreadable_images_are_skipped_with_a_warning(setup, tmp_path, capsys):
    data, model = setup
    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in names(data)[:3]:
        (folder / f.split("/")[-1]).write_bytes((data / f).read_bytes())
    (folder / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    rows = [(f.split("/")[-1], "TSAXS", v) for f, v in zip(names(data)[:3], [1, 0, 1])] + [("broken.tif", "TSAXS", 0)]
    rc, out, err = _evaluate(folder, model, _write(tmp_path / "b.csv", rows), capsys, "--json")
    assert rc == 1  # as without --labels: some image could not be read
    assert len(err.splitlines()) == 1 and "broken.tif" in err
    result = json.loads(out)
    assert result["skipped"] == 1 and result["images"] == 3
    assert (result["tags"]["TSAXS"]["n_pos"], result["tags"]["TSAXS"]["n_neg"]) == (2, 1)


def test_labels_refuse_tags_dir_and_a_file_for_dir(setup, tmp_path, capsys):
    data, model = setup
    table = _write(tmp_path / "l.csv", [(names(data)[0], "TSAXS", 1)])
    rc, _, err = _evaluate(data, model, table, capsys, "--tags-dir", str(tmp_path))
    assert rc == 1 and "--tags-dir" in err
    rc, _, err = _evaluate(data / names(data)[0], model, table, capsys)
    assert rc == 1 and "not a folder" in err


def test_certain_metrics_ignore_labels_that_are_not_known():
    y = np.array([[1, 1], [0, 1], [1, 0], [0, 0], [1, 0]], np.float32)
    probs = np.array([[0.9, 0.2], [0.8, 0.6], [0.7, 0.1], [0.1, 0.7], [0.05, 0.4]], np.float32)
    known = np.array([[1, 1], [1, 1], [1, 0], [1, 1], [0, 0]], np.float32)
    m = certain_metrics(y, probs, ["a", "b"], {"a": 0.5, "b": 0.5}, known)
    a, b = m["tags"]["a"], m["tags"]["b"]
    assert (a["n_pos"], a["n_neg"]) == (2, 2)  # row 4 (a positive with p 0.05) is not known
    assert a["auc"] == pytest.approx(roc_auc_score([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]))
    assert a["accuracy"] == pytest.approx(0.75)
    assert (b["n_pos"], b["n_neg"], b["auc"]) == (2, 1, 0.0)  # its negative (0.7) ranks over both positives
    assert m["auc_tags"] == 1 and m["mean_auc"] == a["auc"]  # b has one certain negative only
    assert worst_first(m) == ["b", "a"]
    wrong = wrong_at_threshold(y, known, probs, ["a", "b"], 0.5, list("vwxyz"))
    assert wrong == {"a": [{"image": "w", "label": 0, "p": 0.8}],
                     "b": [{"image": "v", "label": 1, "p": 0.2}, {"image": "y", "label": 0, "p": 0.7}]}


def test_experiment_type_accuracy_counts_images_with_a_certain_positive_type():
    tags = ["GISAXS", "TSAXS", "Ring: Isotropic", "TWAXS"]  # no GIWAXS in this model: three to choose from
    y = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1]], np.float32)
    known = np.ones_like(y)
    known[4, 0] = 0  # a GISAXS label that is not certain: not counted
    probs = np.array([[0.9, 0.2, 1.0, 0.1], [0.5, 0.4, 0, 0.1], [0.1, 0.2, 0, 0.3], [0.9, 0, 0, 0],
                      [0.9, 0, 0, 0], [0.1, 0.2, 0, 0.6]], np.float32)
    result = experiment_type_accuracy(y, known, probs, tags, list("abcdef"))
    assert (result["right"], result["total"]) == (3, 4)  # f has TSAXS and TWAXS: either is right
    assert result["wrong"] == [{"image": "b", "labels": ["TSAXS"], "predicted": "GISAXS",
                                "p": {"TSAXS": 0.4, "TWAXS": 0.1, "GISAXS": 0.5}}]
