"""A saved run (predict / train configuration) names the shipped model by a word, not by its path inside this
venv: a reinstall elsewhere (another venv, another Python) moves that path, and `--config` then failed with
"no such file"."""

from __future__ import annotations

import pytest

from tui_tagger.core.errors import TaggerError
from tui_tagger.model import locate, runconfig
from tui_tagger.ui import run_options


def shipped():
    return next(p for p in locate.shipped_model_paths() if p.exists())


def test_the_shipped_model_is_saved_as_a_word_and_read_back_as_this_install_s_file(tmp_path):
    assert locate.saved_model_name(shipped()) == locate.SHIPPED
    assert locate.resolve_model(locate.SHIPPED) == shipped()
    other = tmp_path / "mine.pt"
    other.write_bytes(b"")
    assert locate.saved_model_name(other) == str(other.resolve())  # a user's own model keeps its path
    assert locate.resolve_model(str(other)) == other


def test_a_missing_shipped_model_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(locate, "shipped_model_paths", lambda: [tmp_path / "models" / "tagger.pt"])
    with pytest.raises(TaggerError, match="shipped model is missing"):
        locate.resolve_model(locate.SHIPPED)


def test_the_dialogs_save_no_path_into_this_venv(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    predict = run_options.predict_table({"model": str(shipped()), "batch": 4}, [str(folder)], None)
    train = run_options.train_table({"init": str(shipped()), "out": str(tmp_path / "m.pt")}, folder, None)
    for kind, table in (("predict", predict), ("train", train)):
        path = tmp_path / f"{kind}.toml"
        run_options.save(kind, table, path)
        text = path.read_text()
        assert str(shipped().parent) not in text, text
    assert runconfig.read(tmp_path / "predict.toml")["predict"].get("model") is None  # = the default model
    assert runconfig.read(tmp_path / "train.toml")["train"]["init"] == locate.SHIPPED


def test_the_dialogs_show_the_shipped_model_as_a_word_and_save_it_so(tmp_path):
    # the P and T dialogs' default, where the default model is the shipped one (no $TUI_TAGGER_MODEL, no
    # model.pt in the config folder): "shipped", not a path inside the venv
    assert run_options.predict_options()[0].default == locate.SHIPPED
    init = next(o for o in run_options.train_options() if o.key == "init")
    assert init.default == locate.SHIPPED
    folder = tmp_path / "run"
    folder.mkdir()
    assert run_options.predict_table({"model": locate.SHIPPED}, [str(folder)], None)["model"] is None
    train = run_options.train_table({"init": locate.SHIPPED, "out": str(tmp_path / "m.pt")}, folder, None)
    assert train["init"] == locate.SHIPPED
    # a P run on "shipped" hands T the file in this install: T still shows the word
    init = next(o for o in run_options.train_options(str(shipped())) if o.key == "init")
    assert init.default == locate.SHIPPED
