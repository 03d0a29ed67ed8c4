"""`tui-tagger info`: the table, --json, multi-frame files and per-file errors."""

from __future__ import annotations

import json

import numpy as np

from tui_tagger.cli import main

MARCCD = "real-examples/AgBH_10sec_SAXS"


def _stack(path, frames=3):
    import h5py

    data = np.arange(frames * 16 * 20, dtype=np.int32).reshape(frames, 16, 20)
    data[:, 0, 0] = -1
    with h5py.File(path, "w") as f:
        f["entry/data/data"] = data
    return data


def test_json_lists_every_key_for_good_and_bad_files(tmp_path, data_dir, capsys):
    _stack(tmp_path / "s.h5")
    (tmp_path / "bad.tif").write_text("not a tiff")
    refs = [str(data_dir / MARCCD), str(tmp_path / "s.h5"), str(tmp_path / "bad.tif")]
    code = main(["info", "--json", *refs])
    out, err = capsys.readouterr()
    assert code == 1
    records = json.loads(out)
    assert [r["path"] for r in records] == refs
    keys = {"path", "format", "shape", "dtype", "min", "max", "masked_fraction", "units_per_photon", "error", "frames"}
    assert all(keys <= set(r) for r in records)

    mar, stack, bad = records
    assert (mar["format"], mar["shape"], mar["dtype"], mar["error"]) == ("marccd", [1024, 1024], "uint16", None)
    assert mar["min"] >= 0 and mar["max"] == 65535 and mar["masked_fraction"] == 0

    assert (stack["format"], stack["shape"], stack["dtype"], stack["frames"]) == ("hdf5", [16, 20], "int32", 3)
    assert stack["min"] == 1 and stack["max"] == 3 * 16 * 20 - 1  # over all frames, -1 flags left out
    assert stack["masked_fraction"] == 1 / (16 * 20)

    assert bad["error"].startswith(str(tmp_path / "bad.tif"))
    assert all(bad[k] is None for k in keys - {"path", "error"})
    assert str(tmp_path / "bad.tif") in err


def test_one_frame_of_a_stack_by_ref(tmp_path, capsys):
    data = _stack(tmp_path / "s.h5")
    assert main(["info", "--json", f"{tmp_path / 's.h5'}::/entry/data/data#2"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["min"] == data[2][data[2] >= 0].min() and rec["max"] == data[2].max()


def test_table_is_aligned_and_prints_names_literally(tmp_path, capsys):
    import tifffile

    odd = tmp_path / "[bold]odd name ü.tif"
    tifffile.imwrite(odd, np.full((8, 10), 7, np.uint8))
    tifffile.imwrite(tmp_path / "b.tif", np.linspace(0, 1, 80, dtype=np.float32).reshape(8, 10))
    assert main(["info", str(odd), str(tmp_path / "b.tif")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["FILE", "FORMAT", "SHAPE"]
    assert lines[1].startswith(str(odd))
    assert lines[1].index("tiff") == lines[2].index("tiff") == lines[0].index("FORMAT")
    assert "8x10" in lines[1] and "uint8" in lines[1] and "float32" in lines[2]


def test_missing_file_fails_but_others_still_print(tmp_path, data_dir, capsys):
    code = main(["info", str(tmp_path / "absent.cbf"), str(data_dir / MARCCD)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "marccd" in out
    assert err.strip() == f"tui-tagger: {tmp_path / 'absent.cbf'}: no such file"


def test_units_per_photon_are_measured_from_the_frames_noise(tmp_path, capsys):
    """Photons counted as they are, the same photons as an integrating detector's ADU (8 per photon), and a
    frame with no noise at all: about 1, about 8, and null (it cannot tell)."""
    import tifffile

    rng = np.random.default_rng(3)
    yy, xx = np.indices((400, 400))
    r = np.hypot(yy - 200, xx - 210)
    photons = rng.poisson(30 * (1 + 20 * np.exp(-r / 50)) + 300 * np.exp(-0.5 * ((r - 120) / 5) ** 2))
    tifffile.imwrite(tmp_path / "counts.tif", photons.astype(np.int32))
    tifffile.imwrite(tmp_path / "adu.tif", (8 * photons + 100).astype(np.int32))
    tifffile.imwrite(tmp_path / "flat.tif", np.full((400, 400), 7, np.int32))
    assert main(["info", "--json", *(str(tmp_path / n) for n in ("counts.tif", "adu.tif", "flat.tif"))]) == 0
    counts, adu, flat = (r["units_per_photon"] for r in json.loads(capsys.readouterr().out))
    assert 0.75 < counts < 1.33 and 6 < adu < 10.7 and flat is None
    assert main(["info", str(tmp_path / "adu.tif")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[-2:] == ["PER", "PHOTON"] and table[1].split()[-1] == f"{adu:.3g}"
