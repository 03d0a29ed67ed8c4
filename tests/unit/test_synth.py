"""The synthetic generator: deterministic, physically placed features, tags true by construction."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from tui_tagger import cli
from tui_tagger.core.crystal import LAB6_A
from tui_tagger.core.synth import (
    SYNTH_TAGS,
    Diffuse,
    Geometry,
    Instrument,
    Peaks,
    Ring,
    Scene,
    agbh_q,
    generate_frame,
    higher_orders_tag,
    lab6_q,
    render_scene,
    write_dataset,
)
from tui_tagger.core.vocabulary import default_vocabulary

EXPERIMENTS = {"TSAXS", "TWAXS", "GISAXS", "GIWAXS"}


def radial_profile(counts: np.ndarray, geo: Geometry) -> np.ndarray:
    """Mean counts per integer radius around the beam."""
    g = geo.grids()
    r = np.rint(g.r).astype(int).ravel()
    sums = np.bincount(r, weights=counts.astype(float).ravel())
    return sums / np.maximum(np.bincount(r), 1)


def saxs_scene(*features, beamstop="circular", **inst) -> Scene:
    geo = Geometry(256, 127.5, 127.5, distance_px=3000.0, wavelength=1.0)
    settings = dict(beamstop=beamstop, bs_size=10.0, level=500.0, background=0.01)
    settings.update(inst)
    return Scene(geo, Instrument(**settings), list(features), noise_seed=1)


# --- determinism --------------------------------------------------------------------------------

def test_same_seed_and_index_give_the_same_frame():
    a, b = generate_frame(7, 3, 128), generate_frame(7, 3, 128)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[2] == b[2] and a[3] == b[3]
    assert not np.array_equal(a[0], generate_frame(7, 4, 128)[0])
    assert not np.array_equal(a[0], generate_frame(8, 3, 128)[0])


def test_a_longer_data_set_starts_with_the_shorter_one(tmp_path):
    short = write_dataset(tmp_path / "a", 3, seed=5, size=64, edf_every=0)
    long = write_dataset(tmp_path / "b", 6, seed=5, size=64, edf_every=0)
    for p, q in zip(short, long):
        assert p.name == q.name
        assert p.read_bytes() == q.read_bytes()
        assert p.with_suffix(".xml").read_bytes() == q.with_suffix(".xml").read_bytes()


# --- planted features -------------------------------------------------------------------------

def test_a_ring_sits_at_its_q_and_is_tagged():
    q0 = 0.1
    scene = saxs_scene(Ring(q0, 1.5, 1.0), Diffuse(0.05, 0.01))
    counts, mask, tags, meta = render_scene(scene)
    prof = radial_profile(counts, scene.geometry)
    r0 = scene.geometry.r_of_q(q0)
    assert abs(int(np.argmax(prof[20:120])) + 20 - r0) <= 1
    assert {"TSAXS", "Ring: Isotropic", "Circular beamstop", "Diffuse low-q: Isotropic"} <= set(tags)
    assert "Many rings" not in tags and "Beam off image" not in tags
    assert mask.all() and counts.dtype == np.uint32


def test_rings_hidden_by_the_beamstop_or_off_the_detector_are_not_tagged():
    geo = Geometry(256, 127.5, 127.5, distance_px=3000.0)
    behind = Ring(float(geo.q_of_r(5)), 1.0, 1.0)  # inside the 10 px stop
    outside = Ring(float(geo.q_of_r(400)), 1.0, 1.0)  # beyond the farthest corner (181 px)
    _, _, tags, meta = render_scene(saxs_scene(behind, outside, Diffuse(1.0, 0.01)))
    assert "Ring: Isotropic" not in tags
    assert "Diffuse low-q: Isotropic" in tags


def test_oriented_ring_is_bright_along_z_only():
    scene = saxs_scene(Ring(0.1, 1.5, 1.0, texture="oriented", axis=90.0, spread=8.0), beamstop="none")
    counts, _, tags, _ = render_scene(scene)
    r0 = int(round(scene.geometry.r_of_q(0.1)))
    c = 127
    top, side = counts[c - r0 - 1 : c - r0 + 2, c - 1 : c + 2].mean(), counts[c - 1 : c + 2, c + r0 - 1 : c + r0 + 2].mean()
    assert top > 20 * (side + 1)
    assert "Ring: Oriented z" in tags and "Ring: Isotropic" not in tags


def test_agbh_rings_follow_the_lamellar_spacing():
    geo = Geometry(256, 127.5, 127.5, distance_px=900.0)
    lines = agbh_q(geo.qmax)
    assert [round(q, 4) for q, _ in lines[:3]] == [round(2 * math.pi * n / 58.38, 4) for n in (1, 2, 3)]
    rings = [Ring(q, 1.0, 0.5 * rel, series="AgBH") for q, rel in lines]
    scene = Scene(geo, Instrument(beamstop="circular", bs_size=6.0, level=300.0), rings, calibrant="AgBH")
    counts, _, tags, _ = render_scene(scene)
    prof = radial_profile(counts, geo)
    r1 = geo.r_of_q(lines[0][0])
    assert abs(int(np.argmax(prof[10 : int(r1) + 5])) + 10 - r1) <= 1
    assert {"AgBH", "Powder", "Standard", "Ring: Isotropic"} <= set(tags)
    assert higher_orders_tag(len(lines)) in tags  # every order is visible here
    assert ("Many rings" in tags) == (len(lines) >= 6)


def test_lab6_lines_are_the_allowed_cubic_reflections():
    qs = [q for q, _ in lab6_q(6.0)]
    sums = [round((q * LAB6_A / (2 * math.pi)) ** 2) for q in qs]
    assert sums[:8] == [1, 2, 3, 4, 5, 6, 8, 9]  # 7 is not a sum of three squares
    assert qs[0] == pytest.approx(2 * math.pi / LAB6_A)  # NIST SRM 660 series


@pytest.mark.parametrize("n,tag", [(1, None), (2, "Higher orders: 2 to 3"), (5, "Higher orders: 4 to 6"),
                                   (10, "Higher orders: 7 to 10"), (11, "Higher orders: 10 to 20"),
                                   (25, "Higher orders: 20 or more")])
def test_higher_orders_buckets(n, tag):
    assert higher_orders_tag(n) == tag


def test_grazing_incidence_horizon_cuts_the_scattering():
    geo = Geometry(256, 127.5, 200.0, distance_px=6000.0, wavelength=1.0, grazing=True, alpha_i=0.15, alpha_c=0.1)
    scene = Scene(geo, Instrument(beamstop="linear", bs_size=8.0, bs_angle=-90.0, level=200.0, shadow=0.005),
                  [Diffuse(1.0, float(geo.q_of_r(15)))], noise_seed=2)
    counts, _, tags, _ = render_scene(scene)
    h = int(round(geo.horizon_row))
    assert {"GISAXS", "Horizon", "Linear beamstop"} <= set(tags)
    above, below = counts[h - 4, 20:60].mean(), counts[h + 4, 20:60].mean()
    assert above > 10 * (below + 1)


def test_saturation_is_tagged_only_when_pixels_clip():
    hot = Peaks([60.0], [60.0], [20.0], 2.0, role="hot")
    counts, _, tags, meta = render_scene(saxs_scene(hot, Diffuse(1.0, 0.01), dtype="int32"))
    assert "Saturation" in tags and "Peaks: Isolated" in tags
    assert counts[60, 60] == np.iinfo(np.int32).max and meta["saturated_px"] >= 5
    _, _, tags, _ = render_scene(saxs_scene(Diffuse(1.0, 0.01)))
    assert "Saturation" not in tags


def test_detector_gaps_are_masked():
    counts, mask, _, _ = render_scene(saxs_scene(Diffuse(1.0, 0.01), detector="pilatus", dtype="int32"))
    assert 0 < (~mask).sum() < 0.2 * mask.size
    assert (counts[~mask] == -1).all() and (counts[mask] >= 0).all()


# --- the drawn data set -----------------------------------------------------------------------

def test_synth_tags_are_vocabulary_names():
    vocab = default_vocabulary()
    assert len(SYNTH_TAGS) >= 30 and len(set(SYNTH_TAGS)) == len(SYNTH_TAGS)
    assert [t for t in SYNTH_TAGS if vocab.get(t) is None or vocab.get(t).name != t] == []


def test_every_synth_tag_has_positives_and_negatives():
    n = 300
    seen: Counter = Counter()
    for i in range(n):
        _, mask, tags, meta = generate_frame(0, i, 256)
        assert set(tags) <= set(SYNTH_TAGS)
        assert len(set(tags) & EXPERIMENTS) == 1 and meta["experiment"] in tags
        seen.update(tags)
    missing = [t for t in SYNTH_TAGS if seen[t] == 0]
    always = [t for t in SYNTH_TAGS if seen[t] == n]
    assert missing == [] and always == []


# --- files and the command --------------------------------------------------------------------

def test_written_files_are_readable_and_tagged(tmp_path):
    import fabio
    import tifffile

    from tui_tagger.core.frame_rules import named_types
    from tui_tagger.core.tagfile import TagFile

    paths = write_dataset(tmp_path, 5, seed=2, size=64)
    assert [p.suffix for p in paths] == [".tif"] * 4 + [".edf"]
    for i, p in enumerate(paths):
        counts, _, tags, meta = generate_frame(2, i, 64)
        data = tifffile.imread(p) if p.suffix == ".tif" else fabio.open(str(p)).data
        assert data.dtype in (np.uint32, np.int32) and np.array_equal(data, counts)
        assert p.name == f"synth_{i:05d}{p.suffix}"
        assert named_types(p.name) == frozenset()  # the experiment is in the tag file, never in the name
        tf = TagFile.read(p.with_suffix(".xml"))
        assert sorted(tf.names) == sorted(tags)
        assert {t.source for t in tf.tags.values()} == {"synthetic"}


def test_cli_writes_images_and_tag_files(tmp_path, capsys):
    assert cli.main(["synth", str(tmp_path / "out"), "--count", "4", "--size", "64", "--seed", "1"]) == 0
    files = sorted((tmp_path / "out").iterdir())
    assert len([f for f in files if f.suffix in (".tif", ".edf")]) == 4
    assert len([f for f in files if f.suffix == ".xml"]) == 4
    assert "wrote 4 frames" in capsys.readouterr().out


def test_cli_families_draws_only_those_kinds(tmp_path, capsys):
    from tui_tagger.core.tagfile import TagFile

    assert cli.main(["synth", str(tmp_path / "out"), "--count", "6", "--size", "64", "--families", "crystal"]) == 0
    for xml in (tmp_path / "out").glob("*.xml"):
        names = TagFile.read(xml).names
        assert any(n.startswith("Peaks:") for n in names), names  # every frame a spot lattice ...
        assert not any(n.startswith("Ring") or n == "Many rings" for n in names), names  # ... and no rings


@pytest.mark.parametrize("args,word", [(["--count", "0"], "--count"), (["--count", "-3"], "--count"),
                                       (["--size", "16"], "--size"), (["--seed", "-1"], "--seed"),
                                       (["--families", "crystal,nope"], "--families")])
def test_cli_bad_arguments_give_one_line(tmp_path, capsys, args, word):
    assert cli.main(["synth", str(tmp_path / "out"), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and word in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_file_as_output(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert cli.main(["synth", str(target), "--count", "1", "--size", "64"]) == 1
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_importing_the_generator_loads_no_file_libraries():
    code = "import sys, tui_tagger.core.synth; print(sorted({'fabio', 'tifffile', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_readme_lists_exactly_the_attributes_the_generator_tags():
    """The README's list of truthfully generated attributes is the generator's, name for name."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- synth-tags -->(.*?)<!-- /synth-tags -->", readme, re.S)
    assert block, "README.md: the synthetic-data attribute list (between <!-- synth-tags --> markers) is missing"
    listed = re.findall(r"`([^`]+)`", block.group(1))
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(SYNTH_TAGS)
    assert f"{len(SYNTH_TAGS)} attributes" in readme
