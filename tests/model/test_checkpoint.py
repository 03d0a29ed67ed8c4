"""Model files describe themselves, round-trip exactly (to fp16 precision), and bad files give one line."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import pytest
import torch

from tui_tagger.model.checkpoint import FORMAT_VERSION, ModelFileError, ModelInfo, load_checkpoint, save_checkpoint
from tui_tagger.model.nets import add_attention, count_parameters, create_model, regrid_pool, widen
from tui_tagger.model.transforms import preprocess_config

TAGS = ["Ring: Isotropic", "Beam streaking", "Not in the vocabulary"]


def _saved(tmp_path, **changes):
    torch.manual_seed(0)
    model = create_model("alexnet-tagger", len(TAGS)).eval()
    info = ModelInfo("alexnet-tagger", {}, TAGS, preprocess_config({"size": 64}), {"Beam streaking": 0.3},
                     {"frames": 12, "overfitting": None})
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, info)
    if changes:
        blob = torch.load(path, weights_only=True)
        blob.update(changes)
        torch.save(blob, path)
    return path, model


def test_round_trip_keeps_description_and_outputs(tmp_path):
    path, model = _saved(tmp_path)
    loaded, info = load_checkpoint(path)
    assert info.tags == TAGS and info.arch == "alexnet-tagger"
    assert info.preprocess["size"] == 64 and info.threshold("Beam streaking") == 0.3 and info.threshold("x") == 0.5
    assert info.training["frames"] == 12 and info.name == "m"
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(model(x)), torch.sigmoid(loaded(x)), atol=2e-3)  # fp16 weights
    assert not loaded.training


def test_default_model_fits_the_size_budget(tmp_path):
    model = create_model("alexnet-tagger", 98)
    assert 1e6 <= count_parameters(model) <= 3e6
    path = tmp_path / "big.pt"
    save_checkpoint(path, model, ModelInfo("alexnet-tagger", {}, [f"t{i}" for i in range(98)], preprocess_config()))
    assert path.stat().st_size <= 20e6


def _load_error(path) -> str:
    with pytest.raises(ModelFileError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_missing_file(tmp_path):
    assert "not found" in _load_error(tmp_path / "nope.pt")


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    assert "not a tui-tagger model" in _load_error(text)
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "empty" in _load_error(tmp_path / "empty.pt")
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)  # a torch file, but not ours
    assert "not a tui-tagger model" in _load_error(plain)


def test_wrong_format_version(tmp_path):
    path, _ = _saved(tmp_path, format_version=FORMAT_VERSION + 1)
    assert "upgrade" in _load_error(path)


def test_truncated(tmp_path):
    path, _ = _saved(tmp_path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        _load_error(path)


def test_damaged_member(tmp_path):
    path, _ = _saved(tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 3] if item.filename.endswith("data.pkl") else data)
    path.write_bytes(buf.getvalue())
    _load_error(path)


def test_inconsistent_weights(tmp_path):
    path, _ = _saved(tmp_path, tags=["only one"])
    assert "inconsistent" in _load_error(path)


def test_cli_reports_a_bad_model_in_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    image = tmp_path / "x.tif"
    __import__("tifffile").imwrite(image, __import__("numpy").zeros((8, 8), "uint16"))
    out = subprocess.run([sys.executable, "-m", "tui_tagger", "predict", str(image), "--model", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and str(bad) in out.stderr and "Traceback" not in out.stderr


def test_a_finer_classifier_grid_keeps_what_the_model_learnt():
    torch.manual_seed(0)
    model = create_model("alexnet-tagger", 3).eval()
    x = torch.rand(2, 1, 256, 256)
    finer, config = regrid_pool(model, "alexnet-tagger", {}, 7, 256)  # 7 = the last feature map at 256 px
    assert config == {"pool": 7} and finer.pool.output_size == 7
    with torch.no_grad():
        assert torch.allclose(model(x), finer.eval()(x), atol=1e-5)


def test_a_wider_network_computes_what_the_narrow_one_did():
    torch.manual_seed(0)
    model = create_model("alexnet-tagger", 3, {"pool": 2})
    model.train()
    for _ in range(3):  # BatchNorm running statistics away from their initial values
        model(torch.rand(4, 1, 96, 96))
    model.eval()
    x = torch.rand(2, 1, 96, 96)
    wide, config = widen(model, "alexnet-tagger", {"pool": 2}, [40, 64, 160, 150, 100], 600)
    assert config == {"pool": 2, "widths": [40, 64, 160, 150, 100], "hidden": 600}
    assert count_parameters(wide) > count_parameters(model)
    with torch.no_grad():
        assert torch.allclose(model(x), wide.eval()(x), atol=1e-5)
    # and what reads the new channels and units learns (their weights out get a gradient)
    wide.train()
    wide(torch.rand(4, 1, 96, 96)).sum().backward()
    assert wide.classifier[5].weight.grad[:, 512:].abs().sum() > 0  # new hidden units
    assert wide.classifier[2].weight.grad.reshape(600, 100, 4)[:, 96:].abs().sum() > 0  # new conv5 channels
    assert wide.features[11].weight.grad[:, 128:].abs().sum() > 0  # conv4 reading conv3's new channels


def test_widths_only_grow():
    model = create_model("alexnet-tagger", 3)
    with pytest.raises(ValueError, match="only grow"):
        widen(model, "alexnet-tagger", {}, [16, 64, 128, 128, 96])
    with pytest.raises(ValueError, match="only grow"):
        widen(model, "alexnet-tagger", {}, None, 256)
    same, config = widen(model, "alexnet-tagger", {}, None, None)
    assert same is model and config == {}


def test_cell_attention_added_to_a_trained_model_starts_as_the_identity(tmp_path):
    torch.manual_seed(0)
    model = create_model("alexnet-tagger", 3, {"pool": 3}).eval()
    x = torch.rand(2, 1, 96, 96)
    attentive, config = add_attention(model, "alexnet-tagger", {"pool": 3}, 2)
    assert config == {"pool": 3, "attention": 2} and len(attentive.mix) == 2
    with torch.no_grad():
        assert torch.allclose(model(x), attentive.eval()(x), atol=1e-6)
    # a training step moves it: the blocks' last layers get a gradient
    attentive.train()
    attentive(torch.rand(4, 1, 96, 96)).sum().backward()
    assert attentive.mix[0].attn.out_proj.weight.grad.abs().sum() > 0
    # it round-trips through a checkpoint (fp16 weights), and blocks are never removed
    with torch.no_grad():
        attentive.mix[0].attn.out_proj.weight.normal_(0, 0.1)  # as if trained: the block now matters
    attentive.eval()
    path = tmp_path / "a.pt"
    save_checkpoint(path, attentive, ModelInfo("alexnet-tagger", config, ["a", "b", "c"], preprocess_config({"size": 96})))
    loaded, info = load_checkpoint(path)
    assert info.arch_config == config
    with torch.no_grad():
        assert not torch.allclose(model(x), attentive(x), atol=1e-3)
        assert torch.allclose(loaded.float()(x), attentive(x), atol=2e-2)
    with pytest.raises(ValueError, match="cannot be removed"):
        add_attention(attentive, "alexnet-tagger", config, 1)
    with pytest.raises(ValueError, match="attention"):
        regrid_pool(attentive, "alexnet-tagger", config, 4, 96)
