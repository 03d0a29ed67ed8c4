"""Heads saved with the model and used by predict: `train-head` learns a tag the model never saw from
a folder's labels, `predict` then gives p for it (and `--no-heads` does not); heads of another model's
features, unreadable head files and a model folder that cannot be written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from support import run_command as _run

from tui_tagger.core.tagfile import TagFile
from tui_tagger.learn.heads import (
    Head,
    fit_embedding,
    load_model_heads,
    model_heads_dirs,
    save_model_head,
    train_head,
)
from tui_tagger.model.locate import shipped_model_paths

SHIPPED = shipped_model_paths()[0]
pytestmark = pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model in models/")
NEW = "Sample: oriented film"  # in no vocabulary and not in the model


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "models" / "mine.pt"
    path.parent.mkdir()
    shutil.copy(SHIPPED, path)
    return path


def _label_new_tag(folder) -> None:
    """NEW on every labelled frame with an oriented ring (the fixture's "z" frames)."""
    for xml in folder.glob("*.xml"):
        tf = TagFile.read(xml)
        if tf.has("Ring: Oriented z"):
            tf.add(NEW, source="human")
            tf.save(fsync=False)


def _head(tag: str, dim: int, seed: int = 0) -> Head:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, dim))
    y = (X[:, 0] > 0).astype(float)
    return train_head(tag, X, y, X_all=X)


def test_train_head_then_predict_gives_the_new_tag(folder, model, capsys):
    from tui_tagger.commands import predict, train_head as cmd

    _label_new_tag(folder)
    rc, out, err = _run(cmd, [str(folder), "--tag", NEW, "--model", str(model), "--json"], capsys)
    assert rc == 0, err
    report = json.loads(out)[NEW]
    assert (report["positives"], report["negatives"]) == (6, 12)
    assert report["path"].startswith(str(model) + ".heads/")
    assert report["cv_ap"] is not None and report["cv_ap"] > 0.9  # oriented vs isotropic rings: easy

    unlabelled = sorted(str(p) for p in folder.glob("frame_*.tif") if int(p.name[6:9]) >= 18)
    rc, out, err = _run(predict, unlabelled + ["--model", str(model), "--json"], capsys)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    p = {line["path"].rsplit("/", 1)[-1]: line["probabilities"][NEW] for line in lines}
    oriented = [v for k, v in p.items() if int(k[6:9]) % 3 == 0]
    isotropic = [v for k, v in p.items() if int(k[6:9]) % 3 != 0]
    assert len(oriented) == 2 and len(isotropic) == 4
    assert min(oriented) > 0.5 > max(isotropic)
    assert "Linear beamstop" in lines[0]["probabilities"]  # the model's own tags stay

    rc, out, _ = _run(predict, unlabelled[:1] + ["--model", str(model), "--json", "--no-heads"], capsys)
    assert rc == 0 and NEW not in json.loads(out)["probabilities"]

    # evaluate names the heads in use, and says that one measured on the labels it learnt from flatters it
    from tui_tagger.commands import evaluate

    rc, out, err = _run(evaluate, [str(folder), "--model", str(model), "--workers", "0"], capsys)
    assert f"few-label heads give the p of {NEW}" in err
    assert f"the head of {NEW} learnt from the labels of {folder}" in err
    rc, out, err = _run(evaluate, [str(folder), "--model", str(model), "--workers", "0", "--no-heads"], capsys)
    assert "head" not in err


def test_the_cross_validated_figures_score_the_head_that_is_saved(folder, model, capsys):
    """For a tag the model has, the saved head starts from the model's p: so must every fold. A model
    made confidently wrong about the tag shows in them (a head from scratch scores 1.0 here)."""
    import torch
    from sklearn.model_selection import StratifiedKFold

    from tui_tagger.commands import train_head as cmd
    from tui_tagger.learn.folder import load_folder
    from tui_tagger.learn.heads import model_prior
    from tui_tagger.model.checkpoint import load_checkpoint, save_checkpoint

    tag = "Ring: Oriented z"
    net, info = load_checkpoint(model)
    with torch.no_grad():  # the model says the opposite, and "present" on most frames, and is sure of it
        net.head.weight[info.tags.index(tag)] *= -5
        net.head.bias[info.tags.index(tag)] += 10
    save_checkpoint(model, net, info)
    rc, out, err = _run(cmd, [str(folder), "--tag", tag, "--model", str(model), "--json"], capsys)
    assert rc == 0, err
    report = json.loads(out)[tag]
    assert (report["positives"], report["negatives"]) == (6, 12)

    data = load_folder(str(folder), None, "cnn", str(model))
    y = data.labels(tag)
    X, y = data.X[~np.isnan(y)], y[~np.isnan(y)]
    emb, prior = fit_embedding(data.X), model_prior(tag, str(model))
    right = []
    for train, test in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X, y):
        head = train_head(tag, X[train], y[train], embedding=emb, prior=prior)
        right += list((head.predict_proba(X[test]) >= 0.5) == (y[test] > 0.5))
    assert report["cv_accuracy"] == round(float(np.mean(right)), 4)
    assert report["cv_accuracy"] < 1.0  # the wrong model shows


def test_a_tag_with_one_kind_of_label_is_refused_by_name(folder, model, capsys):
    from tui_tagger.commands import train_head as cmd

    _label_new_tag(folder)
    for xml in folder.glob("*.xml"):  # every labelled frame now has NEW: nothing to contrast it with
        tf = TagFile.read(xml)
        tf.add(NEW, source="human")
        tf.save(fsync=False)
    rc, out, err = _run(cmd, [str(folder), "--tag", NEW, "--model", str(model)], capsys)
    about = [line for line in err.splitlines() if NEW in line]
    assert rc == 1 and len(about) == 1 and "not trained" in about[0] and "18 with, 0 without" in about[0]
    assert not any(d.exists() for d in model_heads_dirs(model))


def test_heads_of_another_model_and_broken_head_files_are_left_out_by_name(model):
    hidden = 512
    good = _head("Good", hidden)
    save_model_head(good, model)
    stranger = _head("Stranger", hidden)
    stranger.info = {"features": "cnn", "model_digest": "0123456789abcdef"}
    folder = model_heads_dirs(model)[0]
    stranger.save(folder / "Stranger.cnn.npz")
    (folder / "broken.cnn.npz").write_bytes(b"not a head")

    problems: list[str] = []
    heads = load_model_heads(model, problems)
    assert [h.tag for h in heads] == ["Good"]
    assert len(problems) == 2
    assert any("Stranger.cnn.npz" in p and "another model" in p for p in problems)
    assert any("broken.cnn.npz" in p for p in problems)


def test_a_model_folder_that_cannot_be_written_keeps_heads_in_the_config_dir(model):
    Head_dir = model_heads_dirs(model)[0]
    Head_dir.write_text("a file where the heads folder would go")  # so it cannot be created
    path = save_model_head(_head("Elsewhere", 512), model)
    assert path.parent == model_heads_dirs(model)[1]
    assert [h.tag for h in load_model_heads(model)] == ["Elsewhere"]


def test_predictor_adds_a_new_tag_and_replaces_a_model_tag(model):
    import torch

    from tui_tagger.model.infer import LocalPredictor

    base = LocalPredictor.load(model, "cpu", heads=False)
    x = np.random.default_rng(1).random((3, *([base.preprocess["size"]] * 2)), dtype=np.float32)
    with torch.inference_mode():
        feats = base.model.embed(torch.from_numpy(x)[:, None]).numpy()
    emb = fit_embedding(np.random.default_rng(2).normal(size=(40, feats.shape[1])))
    new = Head(NEW, emb, np.ones(emb.dim), 0.0)
    replaced = Head("GISAXS", emb, -np.ones(emb.dim), 0.5)
    both = LocalPredictor(base.model, base.info, torch.device("cpu"), [new, replaced])
    assert both.tags == list(base.info.tags) + [NEW]
    p = both.predict_arrays(x)
    np.testing.assert_allclose(p[:, -1], new.predict_proba(feats), atol=1e-4)
    col = both.tags.index("GISAXS")
    np.testing.assert_allclose(p[:, col], replaced.predict_proba(feats), atol=1e-4)
    other = both.tags.index("Linear beamstop")
    np.testing.assert_allclose(p[:, other], base.predict_arrays(x)[:, other], atol=1e-4)
