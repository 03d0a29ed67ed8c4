"""The physics check: powder calibrants (AgBH, LaB6, CeO2, Si) named from ring positions where the geometry
gives q, and only where the match is sure; the predictor raises their tags with it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tui_tagger.core.calibrant import (
    AGBH_D,
    analyse,
    calibrant_lines,
    identify,
    identify_calibrant,
)
from tui_tagger.core.geometry import Geometry

REAL = Path(__file__).resolve().parents[1] / "data" / "real-examples"
REAL_DEV = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real-dev" / "images"

PIXEL = 1e-4  # m
WAVELENGTH = 1.0  # A
SIZE = 512
CENTER = (250.3, 261.7)  # (x, y), radial's convention: 0 at the first pixel's centre


def _geometry(distance_m: float, center=CENTER, wavelength=WAVELENGTH, pixel=PIXEL) -> Geometry:
    return Geometry(distance_m=distance_m, wavelength_m=wavelength * 1e-10, pixel_size_m=(pixel, pixel),
                    beam_center_px=(center[1] + 0.5, center[0] + 0.5))


def _radius(q: float, distance_m: float, wavelength=WAVELENGTH, pixel=PIXEL) -> float:
    return distance_m * math.tan(2 * math.asin(q * wavelength / (4 * math.pi))) / pixel


def _distance_for(q: float, radius: float, wavelength=WAVELENGTH, pixel=PIXEL) -> float:
    """The distance that puts q at ``radius`` pixels."""
    return radius * pixel / math.tan(2 * math.asin(q * wavelength / (4 * math.pi)))


def _frame(radii, heights=None, sigma=1.5, seed=0, spots=False, size=SIZE, center=CENTER):
    """Counts: a small-angle decay behind a round beamstop, Gaussian rings (or, ``spots``, three small
    spots on each ring instead), Poisson noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    r = np.hypot(xx - center[0], yy - center[1])
    img = 3000 * (1 + r / 15) ** -2.5 + 4
    heights = heights if heights is not None else [400 * (1 + rr / 40) ** -1.5 for rr in radii]
    for rr, h in zip(radii, heights):
        if spots:
            for a in rng.uniform(0, 2 * math.pi, 3):
                sx, sy = center[0] + rr * math.cos(a), center[1] + rr * math.sin(a)
                img += 50 * h * np.exp(-0.5 * ((xx - sx) ** 2 + (yy - sy) ** 2) / sigma**2)
        else:
            img += h * np.exp(-0.5 * ((r - rr) / sigma) ** 2)
    counts = rng.poisson(img).astype(np.float32)
    counts[r < 8] = rng.poisson(0.5, int((r < 8).sum()))  # the beamstop's shadow
    return counts, np.ones(counts.shape, bool)


def _lamellar(d: float, orders, distance_m: float, **kw):
    return _frame([_radius(2 * math.pi * n / d, distance_m) for n in orders], **kw)


# a distance that puts AgBH's first order at 30 pixels: orders 1-15 on the frame
D_AGBH = _distance_for(2 * math.pi / AGBH_D, 30.0)


def test_lines_of_the_calibrants():
    agbh = calibrant_lines("AgBH", 0.5)
    assert [hkl for _, hkl in agbh] == ["001", "002", "003", "004"]
    assert agbh[0][0] == pytest.approx(0.107626, abs=1e-5)
    assert [hkl for _, hkl in calibrant_lines("LaB6", 5.0)][:8] == ["100", "110", "111", "200", "210", "211", "220", "221"]
    assert calibrant_lines("LaB6", 2.0)[0][0] == pytest.approx(2 * math.pi / 4.15692)
    # fcc (fluorite): h, k, l all odd or all even; diamond: and h + k + l = 4n when all even
    assert [hkl for _, hkl in calibrant_lines("CeO2", 6.0)][:6] == ["111", "200", "220", "311", "222", "400"]
    assert [hkl for _, hkl in calibrant_lines("Si", 6.0)][:6] == ["111", "220", "311", "400", "331", "422"]
    with pytest.raises(ValueError):
        calibrant_lines("NaCl", 1.0)


def test_agbh_orders_at_their_q_are_named():
    data, mask = _lamellar(AGBH_D, range(1, 9), D_AGBH)
    found = identify_calibrant(data, mask, _geometry(D_AGBH))
    assert found is not None and found.calibrant == "AgBH" and found.sure
    assert [hkl for hkl, _, _ in found.matched][:6] == ["001", "002", "003", "004", "005", "006"]
    assert found.scale == pytest.approx(1.0, abs=0.003)
    assert found.confidence >= 0.99


def test_a_header_distance_off_by_one_and_a_half_percent_still_names_it():
    data, mask = _lamellar(AGBH_D, range(1, 9), D_AGBH)
    found = identify_calibrant(data, mask, _geometry(D_AGBH * 1.015))
    assert found is not None and found.calibrant == "AgBH"
    assert found.scale == pytest.approx(1 / 1.015, abs=0.004)


@pytest.mark.parametrize("d, orders, why", [
    (62.0, range(1, 9), "another lamellar spacing, 6 % off"),
    (AGBH_D * 1.035, range(1, 9), "3.5 % off: beyond the geometry's slack"),
    (2 * AGBH_D, range(1, 16), "twice AgBH's spacing: its even orders fall on AgBH's, the odd ones between"),
    (5 * AGBH_D, range(2, 40), "every fifth order of a long period falls on AgBH's orders"),
])
def test_lamellar_orders_of_another_spacing_are_not_agbh(d, orders, why):
    data, mask = _lamellar(d, orders, D_AGBH)
    a = analyse(data, mask, _geometry(D_AGBH))
    assert a.sure == [], (why, [m.describe() for m in a.sure])


def test_without_distance_no_calibrant_is_named_but_the_orders_are_reported():
    data, mask = _lamellar(AGBH_D, range(1, 9), D_AGBH)
    for geometry in (None, Geometry(wavelength_m=1e-10, pixel_size_m=(PIXEL, PIXEL))):
        assert identify(data, mask, geometry) == []
        a = analyse(data, mask, geometry, center=CENTER)
        assert a.sure == [] and "no distance" in a.note
        assert a.lamellar is not None and a.lamellar.orders[:5] == (1, 2, 3, 4, 5)
        assert a.lamellar.spacing_px == pytest.approx(_radius(2 * math.pi / AGBH_D, D_AGBH), abs=0.5)


def test_one_ring_never_names_a_calibrant():
    data, mask = _frame([_radius(2 * math.pi / AGBH_D, D_AGBH)])
    assert identify(data, mask, _geometry(D_AGBH)) == []


def test_spots_at_the_right_radii_are_not_rings():
    radii = [_radius(2 * math.pi * n / AGBH_D, D_AGBH) for n in range(1, 9)]
    data, mask = _frame(radii, spots=True)
    assert identify(data, mask, _geometry(D_AGBH)) == []


def test_the_beam_centre_is_found_or_refined():
    data, mask = _lamellar(AGBH_D, range(1, 9), D_AGBH)
    g = _geometry(D_AGBH)
    # a header centre 2 pixels off: the rings make it round again
    off = _geometry(D_AGBH, center=(CENTER[0] + 2.0, CENTER[1] - 1.5))
    a = analyse(data, mask, off)
    assert [m.calibrant for m in a.sure] == ["AgBH"]
    assert math.dist(a.center, CENTER) < 0.5
    # no centre in the header: the image's
    nocentre = Geometry(distance_m=g.distance_m, wavelength_m=g.wavelength_m, pixel_size_m=g.pixel_size_m)
    a = analyse(data, mask, nocentre)
    assert [m.calibrant for m in a.sure] == ["AgBH"] and math.dist(a.center, CENTER) < 1.0


def test_lab6_and_a_tilt_free_poni_rotation_about_the_beam():
    # LaB6 at wide angle: lines 100-211 on the frame
    lines = [q for q, _ in calibrant_lines("LaB6", 4.0)][:6]
    distance = _distance_for(lines[-1], 240.0)
    data, mask = _frame([_radius(q, distance) for q in lines], sigma=1.2)
    assert [m.calibrant for m in identify(data, mask, _geometry(distance))] == ["LaB6"]
    # the same through pyFAI's PONI parameters, turned about the beam (rot3): q is computed per pixel
    poni = Geometry(distance_m=distance, wavelength_m=1e-10, pixel_size_m=(PIXEL, PIXEL),
                    poni_m=((CENTER[1] + 0.5) * PIXEL, (CENTER[0] + 0.5) * PIXEL), rotations_rad=(0.0, 0.0, 0.4))
    assert [m.calibrant for m in identify(data, mask, poni)] == ["LaB6"]


def test_a_mixture_names_both():
    distance = _distance_for(2 * math.pi / AGBH_D, 12.0)  # AgBH's orders from 12 px, LaB6's first lines by 250 px
    agbh = [_radius(2 * math.pi * n / AGBH_D, distance) for n in range(1, 10)]
    lab6 = [_radius(q, distance) for q, _ in calibrant_lines("LaB6", 2.7)]
    data, mask = _frame(agbh + lab6, heights=[300] * len(agbh) + [40] * len(lab6), sigma=1.2)
    found = identify(data, mask, _geometry(distance))
    assert sorted(m.calibrant for m in found) == ["AgBH", "LaB6"]
    # the second calibrant's scale factor agrees with the first's: one geometry
    assert abs(found[0].scale - found[1].scale) < 0.006


# ---------------------------------------------------------------------------------------------- synthetic


def _synthetic_geometry(meta) -> Geometry:
    g = meta["geometry"]
    pixel = (meta["instrument"].get("pixel_mm") or 0.1) * 1e-3
    return Geometry(distance_m=g["distance_px"] * pixel, wavelength_m=g["wavelength"] * 1e-10,
                    pixel_size_m=(pixel, pixel), beam_center_px=(g["cy"] + 0.5, g["cx"] + 0.5))


def test_synthetic_calibrant_frames_are_named_right():
    from tui_tagger.core.synth import generate_frame

    named = shown = 0
    for i in range(16):
        counts, mask, tags, meta = generate_frame(7, i, 512, families=["calibrant"])
        found = [m.calibrant for m in identify(counts, mask, _synthetic_geometry(meta))]
        assert found in ([], [meta["calibrant"]]), (i, meta["calibrant"], found)
        shown += "Powder" in tags
        named += bool(found)
    assert named >= 0.6 * shown, (named, shown)


def test_synthetic_ring_frames_of_other_samples_name_no_calibrant():
    from tui_tagger.core.synth import generate_frame

    checked = 0
    for family in ("classic", "detector"):
        for i in range(60):
            counts, mask, tags, meta = generate_frame(11, i, 512, families=[family])
            if meta["calibrant"] or not any(t.startswith("Ring") or t == "Many rings" for t in tags):
                continue
            found = identify(counts, mask, _synthetic_geometry(meta))
            assert found == [], (family, i, tags, [m.describe() for m in found])
            checked += 1
            if checked >= 30:
                return
    assert checked >= 20


# ---------------------------------------------------------------------------------------------- real frames


def test_real_agbh_example_without_distance_is_not_named():
    """The MarCCD AgBH frame's header has no distance and its centre is stale; one AgBH order (a broad ring
    at ~500 px) is on it: nothing names it (a miss, never a wrong name)."""
    from tui_tagger.core.formats import read_image
    from tui_tagger.core.geometry import geometry_of

    path = REAL / "AgBH_10sec_SAXS"
    frame = read_image(path)
    geometry = geometry_of(path, shape=frame.data.shape)
    assert geometry.distance_m is None and geometry.wavelength_m is not None
    assert identify(frame.data, frame.mask, geometry) == []
    a = analyse(frame.data, frame.mask, geometry, find_center=True)
    assert a.sure == [] and a.center is not None
    assert math.dist(a.center, (581, 861)) < 10  # the beam, not the header's stale centre (513, 512)


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="the shared real-dev frames are not here")
def test_real_dev_frames_with_a_geometry():
    from tui_tagger.core.formats import read_image
    from tui_tagger.core.geometry import geometry_of
    from tui_tagger.core.calibrant import has_q

    expected = {
        "matilda__LaB6_Normal_0042.hdf": ["LaB6"],
        "matilda__SAXS.hdf": ["AgBH", "LaB6"],  # a mixture
        "xsp__latest_0077024_craw.tiff": ["AgBH"],
        "xsp__latest_0077026_craw.tiff": ["AgBH"],
    }
    for path in sorted(REAL_DEV.iterdir()):
        if path.suffix == ".tag" or not path.is_file():
            continue
        geometry = geometry_of(path)
        if not has_q(geometry):
            continue
        frame = read_image(path)
        found = sorted(m.calibrant for m in identify(frame.data, frame.mask, geometry_of(path, shape=frame.data.shape)))
        assert found == expected.get(path.name, []), path.name


# ---------------------------------------------------------------------------------------------- prediction


def _tiny_model(tags):
    """An untrained 64 px network for tags and its ModelInfo."""
    import torch

    from tui_tagger.model.checkpoint import ModelInfo
    from tui_tagger.model.nets import create_model
    from tui_tagger.model.transforms import preprocess_config

    torch.manual_seed(0)
    return create_model("alexnet-tagger", len(tags)).eval(), ModelInfo("alexnet-tagger", {}, tags, preprocess_config({"size": 64}))


def _tiny_predictor(tags, physics=None):
    import torch

    from tui_tagger.model.infer import LocalPredictor

    return LocalPredictor(*_tiny_model(tags), torch.device("cpu"), physics=physics)


def _write_poni(folder: Path, distance_m: float, center=CENTER) -> None:
    (folder / "camera.poni").write_text(
        "poni_version: 2\nDetector: Detector\n"
        f'Detector_config: {{"pixel1": {PIXEL}, "pixel2": {PIXEL}}}\n'
        f"Distance: {distance_m}\nPoni1: {(center[1] + 0.5) * PIXEL}\nPoni2: {(center[0] + 0.5) * PIXEL}\n"
        f"Rot1: 0\nRot2: 0\nRot3: 0\nWavelength: {WAVELENGTH * 1e-10}\n")


@pytest.fixture
def calibrant_folder(tmp_path):
    """An AgBH frame and a frame of one broad ring, as TIFFs, with a PONI file giving their geometry."""
    import tifffile

    agbh, _ = _lamellar(AGBH_D, range(1, 9), D_AGBH)
    other, _ = _frame([120.0], sigma=8.0)
    tifffile.imwrite(tmp_path / "agbh.tif", agbh.astype(np.uint32))
    tifffile.imwrite(tmp_path / "other.tif", other.astype(np.uint32))
    _write_poni(tmp_path, D_AGBH)
    return tmp_path


TAGS = ["AgBH", "LaB6", "Powder", "Ring: Isotropic", "Vertical streaks"]


def test_predict_raises_the_calibrant_tags(calibrant_folder):
    from tui_tagger.model.infer import PHYSICS_FLOOR

    paths = [str(calibrant_folder / "agbh.tif"), str(calibrant_folder / "other.tif")]
    net = {p: probs for p, probs, _ in _tiny_predictor(TAGS, physics=False).predict_paths(paths, 2, 0)}
    both = {p: probs for p, probs, _ in _tiny_predictor(TAGS, physics=True).predict_paths(paths, 2, 0)}
    agbh, other = paths
    assert net[agbh]["AgBH"] < PHYSICS_FLOOR  # the untrained network does not know it
    for tag in ("AgBH", "Powder", "Ring: Isotropic"):
        assert both[agbh][tag] == pytest.approx(max(net[agbh][tag], PHYSICS_FLOOR))
    for tag in ("LaB6", "Vertical streaks"):  # nothing else moves, nothing is lowered
        assert both[agbh][tag] == net[agbh][tag]
    assert both[other] == net[other]
    # with decoding workers too (the check runs there)
    again = {p: probs for p, probs, _ in _tiny_predictor(TAGS, physics=True).predict_paths(paths, 1, 1)}
    assert again == both


def test_physics_off_by_environment(monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_PHYSICS", "0")
    assert _tiny_predictor(TAGS).physics is False
    monkeypatch.delenv("TUI_TAGGER_PHYSICS")
    assert _tiny_predictor(TAGS).physics is True


def test_a_broken_poni_file_leaves_the_network_alone(calibrant_folder):
    from tui_tagger.core.formats import read_image
    from tui_tagger.model.data import frame_physics

    path = calibrant_folder / "agbh.tif"
    assert frame_physics(str(path), read_image(path)).calibrants == (("AgBH", pytest.approx(1.0, abs=0.01)),)
    (calibrant_folder / "camera.poni").write_text("Distance: 0.1\nPoni1: abc\n")
    assert frame_physics(str(path), read_image(path)) is None
    (_, probs, error), = _tiny_predictor(TAGS, physics=True).predict_paths([str(path)], 1, 0)
    assert error is None and probs is not None


def test_predict_and_evaluate_take_no_physics(calibrant_folder, tmp_path_factory, monkeypatch, capsys):
    import json

    from tui_tagger import cli
    from tui_tagger.model.checkpoint import save_checkpoint

    monkeypatch.setenv("TUI_TAGGER_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("TUI_TAGGER_PHYSICS", raising=False)
    model = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(model, *_tiny_model(TAGS))
    image = str(calibrant_folder / "agbh.tif")
    out = {}
    for flag in ([], ["--no-physics"]):
        config = tmp_path_factory.mktemp("run") / "predict-config.toml"
        rc = cli.main(["predict", image, "--model", str(model), "--json", "--workers", "0", "--device", "cpu",
                       "--config-out", str(config)] + flag)
        assert rc == 0
        out[bool(flag)] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["probabilities"]
        assert ("no_physics = true" in config.read_text()) is bool(flag)
    assert out[False]["AgBH"] >= 0.97 > out[True]["AgBH"]
    from tui_tagger.core.tagstore import TagStore

    store = TagStore()
    tagfile = store.load_or_new(image)
    tagfile.add("AgBH", source="human")
    store.save(tagfile, fsync=False)
    for flag in ([], ["--no-physics"]):
        rc = cli.main(["evaluate", str(calibrant_folder), "--model", str(model), "--workers", "0", "--device", "cpu",
                       "--json"] + flag)
        assert rc == 0
        report = json.loads(capsys.readouterr().out)
        assert set(report["tags"]) >= {"AgBH"}
