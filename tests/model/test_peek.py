"""A model's last layer read without torch (``model.peek.last_layer``, the live head's prior in the TUI's process):
the net's own head exactly, for every architecture; a file with code in it refused without running it, a damaged
one in one line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tui_tagger.core.errors import FileProblem
from tui_tagger.model.peek import last_layer

TAGS = ["Ring: Isotropic", "GISAXS", "Powder"]


@pytest.mark.parametrize("config", [{}, {"attention": 1}], ids=["plain", "attention"])
def test_the_last_layer_is_the_nets_head_for_every_architecture(tmp_path, config):
    torch = pytest.importorskip("torch")
    from tui_tagger.model.checkpoint import ModelInfo, load_checkpoint, save_checkpoint
    from tui_tagger.model.nets import ARCHITECTURES, create_model
    from tui_tagger.model.transforms import preprocess_config

    for arch in ARCHITECTURES:
        torch.manual_seed(0)
        path = tmp_path / f"{arch}.pt"
        save_checkpoint(path, create_model(arch, len(TAGS), config), ModelInfo(arch, config, TAGS, preprocess_config()))
        net, info = load_checkpoint(path)  # fp16 in the file: compare with what the model runs
        tags, W, b = last_layer(path)
        assert tags == info.tags
        assert np.array_equal(W, net.head.weight.detach().double().numpy())
        assert np.array_equal(b, net.head.bias.detach().double().numpy())


def test_reading_the_last_layer_imports_no_torch():
    code = ("import sys; from tui_tagger.model.locate import shipped_model_paths; "
            "from tui_tagger.learn.heads import model_prior; p = shipped_model_paths()[0]; "
            "found = p.exists() and model_prior('GISAXS', str(p)); "
            "print(found is False or found[0].shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "False"


def test_a_model_file_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import pickle

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"magic": "tui-tagger-model", "tags": TAGS, "x": Evil()}, protocol=2))
        z.writestr("evil/byteorder", "little")
    with pytest.raises(FileProblem) as err:
        last_layer(path)
    message = str(err.value)
    assert message.startswith(f"{path}: refused: contains code or objects") and "system" in message
    assert "\n" not in message and not marker.exists()


def test_a_damaged_model_file_is_one_line(tmp_path):
    path = tmp_path / "bad.pt"
    for content in (b"", b"not a zip at all", None):
        if content is None:  # a zip whose pickle stops half-way
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("m/data.pkl", b"\x80\x02}q\x00(X\x05\x00\x00\x00magic")
            content = buf.getvalue()
        path.write_bytes(content)
        with pytest.raises(FileProblem) as err:
            last_layer(path)
        assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
