"""CNN features for the few-label heads: the shipped model's penultimate layer, one vector per readable
image, a corrupt image reported (not a row of zeros), the cache reused, and `--features cnn` end to end."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from tui_tagger.model.locate import shipped_model_paths

SHIPPED = shipped_model_paths()[0]
pytestmark = pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model in models/")


def _items(folder):
    import os

    paths = sorted(str(p) for p in folder.iterdir() if p.suffix == ".tif")
    return [(p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]


def test_vectors_per_image_and_a_corrupt_one_is_a_problem(folder, tmp_path):
    from tui_tagger.learn.features import compute
    from tui_tagger.model.checkpoint import load_checkpoint

    hidden = load_checkpoint(SHIPPED)[0].head.in_features
    items = _items(folder)
    fs = compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path / "cache")
    assert fs.X.shape == (len(items) - 1, hidden) and np.isfinite(fs.X).all()
    assert len(fs.problems) == 1 and "broken.tif" in fs.problems[0]
    assert fs.X.std(axis=0).max() > 0  # the images differ, so their features do
    again = compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.X, fs.X)


def test_the_tuis_features_from_the_model_process_are_the_same_and_cached(folder, tmp_path):
    from tui_tagger.learn.features import compute
    from tui_tagger.ui.predict import ProcessEmbed

    items = _items(folder)
    here = compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path / "here")
    embed = ProcessEmbed(str(SHIPPED), workers=0)
    try:
        there = compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path / "there", embed=embed)
        assert embed.process is not None and embed.process.alive()  # the CNN ran there, not here
    finally:
        embed.close()
    assert there.refs == here.refs and there.problems == here.problems
    np.testing.assert_allclose(there.X, here.X, rtol=1e-5, atol=1e-6)
    readable = [item for item in items if item[0] in there.refs]  # (a corrupt image is tried again)
    unused = ProcessEmbed(str(SHIPPED))
    again = compute(readable, "cnn", model=str(SHIPPED), cache_dir=tmp_path / "there", embed=unused)
    assert unused.process is None  # every vector came from the cache: no process started
    np.testing.assert_array_equal(again.X, there.X)


def test_suggest_with_cnn_features(folder, tmp_path, monkeypatch, capsys):
    from tui_tagger.commands import suggest

    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(tmp_path / "cache"))
    parser = argparse.ArgumentParser()
    suggest.add_arguments(parser)
    args = parser.parse_args([str(folder), "--features", "cnn", "--model", str(SHIPPED), "--tag", "Ring: Oriented z",
                              "--count", "3", "--json"])
    assert suggest.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert 1 <= len(out) <= 3 and all(set(o) >= {"path", "score"} for o in out)


def test_heads_learn_on_cnn_features_by_default_when_a_model_is_there(monkeypatch):
    from tui_tagger.learn.features import default_source

    monkeypatch.delenv("TUI_TAGGER_HEAD_FEATURES", raising=False)
    assert default_source() == "cnn"  # torch and the shipped model are here
    monkeypatch.setenv("TUI_TAGGER_HEAD_FEATURES", "combined")
    assert default_source() == "combined"
    monkeypatch.setenv("TUI_TAGGER_HEAD_FEATURES", "physics")
    assert default_source() == "physics"
    import importlib.util

    monkeypatch.setenv("TUI_TAGGER_HEAD_FEATURES", "auto")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else object())
    assert default_source() == "physics"  # no torch: the numpy-only features


def test_features_cached_under_another_preprocessing_are_made_again(folder, tmp_path, monkeypatch):
    """A preprocessing key added since (its default applies to the same model file) changes the features:
    the cache must not hand back the ones made before it."""
    from tui_tagger.learn import features
    from tui_tagger.model import transforms

    items = _items(folder)[:2]
    calls = []

    def counting(refs, model=None):
        calls.append(list(refs))
        return [(np.ones(4, dtype=np.float32), None) for _ in refs]

    monkeypatch.setattr("tui_tagger.model.extract_features", counting)
    features._preprocessing.cache_clear()
    monkeypatch.setitem(transforms.DEFAULT_PREPROCESS, "hot", False)  # as before hot pixels were masked
    features.compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path)
    features.compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path)
    assert len(calls) == 1  # the cache serves the second run
    features._preprocessing.cache_clear()
    monkeypatch.setitem(transforms.DEFAULT_PREPROCESS, "hot", True)
    features.compute(items, "cnn", model=str(SHIPPED), cache_dir=tmp_path)
    features._preprocessing.cache_clear()
    assert len(calls) == 2 and len(calls[1]) == len(items)
