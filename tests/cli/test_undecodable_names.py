"""A file name that is not UTF-8 (bytes from another system's encoding: a shell glob hands it over as it is)
is predicted like any other: only the run's configuration, a UTF-8 TOML file, cannot hold it."""

from __future__ import annotations

import json
import os

import numpy as np

from tui_tagger import cli


def test_predict_a_file_whose_name_is_not_utf8(tmp_path, capsys):
    import tifffile

    image = tmp_path / os.fsdecode(b"frame_\xff\xfe.tif")
    tifffile.imwrite(image, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    rc = cli.main(["predict", str(image), "--json", "--workers", "0"])
    out, err = capsys.readouterr()
    assert rc == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["path"] == str(image) and record["error"] is None and record["probabilities"]
    assert "configuration not saved" in err and "not valid UTF-8" in err
    assert len(err.strip().splitlines()) == 1


def test_train_on_a_folder_whose_name_is_not_utf8(tmp_path, capsys):
    from support import write_tagged_tiffs

    folder = tmp_path / os.fsdecode(b"run_\xe9t\xe9")  # Latin-1 "été"
    write_tagged_tiffs(folder, 12, size=64)
    model = tmp_path / "m.pt"
    rc = cli.main(["train", str(folder), "--out", str(model), "--epochs", "1", "--size", "64", "--batch", "8",
                   "--workers", "0"])
    err = capsys.readouterr().err
    assert rc == 0 and model.exists()
    assert "configuration not saved: a path in it is not valid UTF-8" in err
