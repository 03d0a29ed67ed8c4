"""The sure rules laid over the network: experiment types a geometry rules out, a round beamstop measured at
full resolution (core.frame_rules, core.beamstop), and their use by predict."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tui_tagger.core.beamstop import judge, measure, open_beam
from tui_tagger.core.frame_rules import (
    PHYSICS_FLOOR,
    RULED_OUT,
    FrameCheck,
    check_frame,
    named_types,
    ruled_out_types,
)
from tui_tagger.core.geometry import Geometry

REAL = Path(__file__).resolve().parents[1] / "data" / "real-dev"
ROUND_SAXS = REAL / "xsp__latest_0077027_craw.tiff"  # transmission SAXS, round stop, q < 0.30 1/A
GRAZING = REAL / "xsp__latest_0079035_craw.tiff"  # GISAXS, header incidence 0.4 deg

PIXEL = 172e-6
CU = 1.5418e-10


def _geometry(distance_m: float, center_rc=(200.0, 200.0), shape=(400, 400), incidence=None) -> Geometry:
    return Geometry(distance_m=distance_m, wavelength_m=CU, pixel_size_m=(PIXEL, PIXEL), beam_center_px=center_rc,
                    incidence_deg=incidence).with_shape(shape)


# ------------------------------------------------------------------------------------- experiment types


def test_a_frame_that_sees_only_small_angles_is_not_wide_angle():
    assert ruled_out_types(_geometry(1.5)) == {"TWAXS", "GIWAXS"}  # q up to ~0.16 1/A


def test_a_detector_far_off_the_beam_sees_no_small_angles():
    far = _geometry(0.1, center_rc=(200.0, -600.0))  # the beam 600 pixels left of the frame
    assert ruled_out_types(far) == {"TSAXS", "GISAXS"}


def test_a_frame_spanning_small_and_wide_angles_is_left_to_the_network():
    assert ruled_out_types(_geometry(0.1)) == frozenset()  # q 0 - 2.4 1/A


def test_a_stated_grazing_angle_rules_out_transmission():
    assert ruled_out_types(_geometry(0.1, incidence=0.2)) == {"TSAXS", "TWAXS"}
    assert ruled_out_types(_geometry(1.5, incidence=0.4)) == {"TSAXS", "TWAXS", "GIWAXS"}
    # 0 is what a transmission header states; 20 deg is not a grazing angle
    assert ruled_out_types(_geometry(0.1, incidence=0.0)) == frozenset()
    assert ruled_out_types(_geometry(0.1, incidence=20.0)) == frozenset()


def test_no_geometry_rules_nothing_out():
    assert ruled_out_types(None) == frozenset()
    assert ruled_out_types(Geometry()) == frozenset()


def test_the_words_of_a_file_name_name_the_experiment():
    assert named_types("run/GIWAXS_film_th0.100_10.00s_1711351_waxs.tiff") == {"TSAXS", "TWAXS", "GISAXS"}
    assert named_types("sample3_0042_SAXS.tif") == {"TWAXS", "GIWAXS"}
    assert named_types("SafeLiMove_WAXS2_1_00002.edf") == {"TSAXS", "GISAXS"}  # a word ends at a digit
    assert named_types("GISAXS_P3HT_x0.5.cbf") == {"TSAXS", "TWAXS", "GIWAXS"}
    # whole words only; words that disagree on the angles say nothing of them; folders do not count
    assert named_types("saxslab_0077027_craw.tiff") == frozenset()
    assert named_types("pos1_saxs_waxs_merged.edf") == frozenset()
    assert named_types("gisaxs_giwaxs_0001.tif") == {"TSAXS", "TWAXS"}
    assert named_types("/data/saxs/run_0001.tif") == frozenset()
    assert named_types("sample_maxs_0001.tif") == frozenset()


def test_a_frame_named_giwaxs_is_giwaxs_where_the_network_said_transmission():
    rng = np.random.default_rng(0)
    counts = rng.poisson(20.0, (64, 64)).astype(np.int32)  # no geometry, nothing in the pixels to rule on
    found = check_frame(counts, None, Geometry(), name="/beamline/GIWAXS_image_pos1_th0.100_waxs.tiff")
    assert found.ruled_out == {"TSAXS", "TWAXS", "GISAXS"}
    p = {"TSAXS": 0.40, "TWAXS": 0.37, "GISAXS": 0.10, "GIWAXS": 0.26}
    out = found.apply(p)
    assert max(out, key=out.get) == "GIWAXS" and out["GIWAXS"] == pytest.approx(0.40)
    assert check_frame(counts, None, Geometry(), name="/beamline/pos1_0001.tiff").ruled_out == frozenset()


def test_a_geometry_that_rules_on_the_angles_wins_over_the_file_name():
    rng = np.random.default_rng(0)
    counts = rng.poisson(20.0, (400, 400)).astype(np.int32)
    far = _geometry(1.5)  # q up to ~0.16 1/A: small angles, whatever the name says
    found = check_frame(counts, None, far, name="sample_waxs_0001.tif")
    assert found.ruled_out == {"TWAXS", "GIWAXS"}
    # on the count the geometry leaves open (grazing or not), the name still speaks
    assert check_frame(counts, None, far, name="GISAXS_waxs_0001.tif").ruled_out == {"TWAXS", "GIWAXS", "TSAXS"}


def test_ruled_out_types_are_lowered_and_the_one_left_takes_the_networks_belief():
    p = {"TSAXS": 0.68, "TWAXS": 0.43, "GISAXS": 0.01, "GIWAXS": 0.04, "Horizon": 0.3}
    out = FrameCheck(ruled_out=frozenset({"TSAXS", "TWAXS", "GIWAXS"})).apply(p)
    assert out["GISAXS"] == pytest.approx(0.68)
    assert all(out[t] <= RULED_OUT for t in ("TSAXS", "TWAXS", "GIWAXS"))
    assert out["Horizon"] == 0.3 and p["TSAXS"] == 0.68  # nothing else moves; the input is not changed
    # two left: they keep their own p
    two = FrameCheck(ruled_out=frozenset({"TWAXS", "GIWAXS"})).apply(p)
    assert (two["TSAXS"], two["GISAXS"]) == (0.68, 0.01)


def test_calibrant_and_round_stop_findings():
    p = {"AgBH": 0.1, "Powder": 0.99, "Ring: Isotropic": 0.2, "LaB6": 0.3,
         "Linear beamstop": 0.96, "Circular beamstop": 0.2}
    out = FrameCheck(calibrants=(("AgBH", 1.0),), stop="round").apply(p)
    assert out["AgBH"] == out["Ring: Isotropic"] == PHYSICS_FLOOR and out["Powder"] == 0.99
    assert out["LaB6"] == 0.3  # never lowered: a mixture keeps both names
    assert out["Linear beamstop"] <= 0.05 and out["Circular beamstop"] >= 0.9
    assert not FrameCheck() and FrameCheck().apply(p) == p


def test_a_stop_or_the_open_beam_seen_on_the_frame_means_the_beam_is_on_it():
    p = {"Beam off image": 0.97, "Weak scattering": 0.8}
    for stop in ("round", "open"):
        out = FrameCheck(stop=stop).apply(p)
        assert out["Beam off image"] <= 0.05 and out["Weak scattering"] == 0.8
    assert FrameCheck().apply(p)["Beam off image"] == 0.97


# ------------------------------------------------------------------------------------------- beamstops

SIZE, CX, CY = 400, 210.0, 190.0


def _saxs(seed=0, rings=False, low_q_dark=False):
    """Counts of a small-angle decay (or rings with a dark low-q region) around (CX, CY), and its grid."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    r = np.hypot(xx + 0.5 - CX, yy + 0.5 - CY)
    if low_q_dark:  # a wide-angle pattern: nothing near the beam, bright rings further out
        img = 600 * np.exp(-0.5 * ((r - 60) / 12) ** 2) + 400 * np.exp(-0.5 * ((r - 130) / 15) ** 2) + 2
    else:
        img = 3000 * (1 + r / 15) ** -2.5 + 20
        if rings:
            img += 300 * np.exp(-0.5 * ((r - 90) / 2) ** 2)
    return img, xx + 0.5 - CX, yy + 0.5 - CY, r


def _counts(img, stop, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(np.where(stop, 0.3, img)).astype(np.int32)


def _arm(dx, dy, angle_deg, width):
    u = (math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg)))
    along = dx * u[0] + dy * u[1]
    return (np.abs(dy * u[0] - dx * u[1]) <= width / 2) & (along >= 0)


@pytest.mark.parametrize("radius, arm, angle", [(9, 4, 0), (12, 3, 135), (7, 2, 250), (20, 6, 60)])
def test_a_disc_on_an_arm_is_a_round_stop(radius, arm, angle):
    img, dx, dy, r = _saxs()
    stop = (r <= radius) | _arm(dx, dy, angle, arm)
    shadow = measure(_counts(img, stop), None, (CX, CY))
    assert shadow.kind == "round", shadow


def test_a_disc_on_a_wire_across_the_frame_is_a_round_stop():
    img, dx, dy, r = _saxs(rings=True)
    stop = (r <= 10) | _arm(dx, dy, 30, 2) | _arm(dx, dy, 210, 2)
    assert measure(_counts(img, stop), None, (CX, CY)).kind == "round"


@pytest.mark.parametrize("units", [1.0, 0.001, 1e-6])
def test_a_round_stop_is_found_in_a_frame_of_normalised_intensities(units):
    """Counts per second or per monitor count: the stop's contrast is weighed against a photon's noise in the
    frame's own units, not against one count."""
    img, dx, dy, r = _saxs()
    stop = (r <= 12) | _arm(dx, dy, 135, 3)
    frame = (_counts(img, stop) * units).astype(np.float32)
    assert check_frame(frame, None, Geometry(beam_center_px=(CY, CX))).stop == "round"


def test_a_beam_centre_a_few_pixels_off_the_disc_still_finds_it():
    img, dx, dy, r = _saxs()
    stop = (np.hypot(dx - 3, dy + 2) <= 10) | _arm(dx - 3, dy + 2, 90, 4)
    assert measure(_counts(img, stop), None, (CX, CY)).kind == "round"


@pytest.mark.parametrize("width, tip", [(14, 1.0), (10, 1.3), (24, 1.0), (8, 1.3)])
def test_a_bar_is_never_a_round_stop(width, tip):
    """A bar ending at the beam, square or with the rounded tip a little wider than the bar that some
    stops have: never called round (a wrong "round" would hide a real linear stop)."""
    for angle in (0, 90, 200):
        img, dx, dy, r = _saxs()
        stop = _arm(dx, dy, angle, width) | (r <= tip * width / 2)
        assert measure(_counts(img, stop, angle), None, (CX, CY)).kind != "round"


def test_a_dim_region_around_a_bar_tip_is_not_a_disc():
    """A wide-angle pattern with no scattering near the beam: the dim region is not the stop's shadow."""
    img, dx, dy, r = _saxs(low_q_dark=True)
    stop = _arm(dx, dy, 0, 12) | (r <= 8)
    assert measure(_counts(img, stop), None, (CX, CY)).kind != "round"


def test_no_verdict_without_a_stop_a_centre_or_a_seen_shadow():
    img, dx, dy, r = _saxs()
    assert measure(_counts(img, np.zeros_like(r, bool)), None, (CX, CY)).kind is None  # the beam unblocked
    stopped = _counts(img, (r <= 10) | _arm(dx, dy, 0, 4))
    assert measure(stopped, None, None).kind is None
    assert measure(stopped, None, (-50.0, CY)).kind is None  # the beam off the frame
    masked = np.ones(stopped.shape, bool)
    masked[r <= 12] = False  # the stop masked out: nothing to measure
    assert measure(stopped, masked, (CX, CY)).kind is None
    assert measure(np.full((SIZE, SIZE), 3, np.int32), None, (CX, CY)).kind is None  # a flat frame


def test_generated_linear_stops_are_never_round():
    """The generator's frames, whose stop is known: a bar is never called round (and some round stops
    are found: the measure is not silent)."""
    from tui_tagger.core.synth import draw_scene, generate_frame

    kinds = {"round": [], "linear": []}
    for i in range(40):
        scene = draw_scene(4242, i, 384, None)
        counts, mask, tags, _ = generate_frame(4242, i, 384)
        shadow = measure(counts, mask, (scene.geometry.cx, scene.geometry.cy))
        if "Linear beamstop" in tags:
            kinds["linear"].append(shadow.kind)
        elif "Circular beamstop" in tags:
            kinds["round"].append(shadow.kind)
    assert kinds["linear"] and "round" not in kinds["linear"]
    assert "round" in kinds["round"]


# ------------------------------------------------------------------------------------------- real frames


def test_real_frames_from_their_headers():
    from tui_tagger.core.formats import read_image
    from tui_tagger.model.data import frame_physics

    saxs = frame_physics(str(ROUND_SAXS), read_image(ROUND_SAXS))
    assert saxs.stop == "round" and saxs.ruled_out == {"TWAXS", "GIWAXS"}
    grazing = frame_physics(str(GRAZING), read_image(GRAZING))
    assert grazing.ruled_out == {"TSAXS", "TWAXS", "GIWAXS"}


def test_predict_reads_the_file_name_of_a_frame_without_geometry(tmp_path):
    """A frame whose header says nothing (a plain TIFF) named as beamline software names WAXS frames."""
    import tifffile

    from tui_tagger.core.formats import read_image
    from tui_tagger.model.data import frame_physics

    data = np.random.default_rng(1).poisson(30.0, (128, 128)).astype(np.int32)
    named = tmp_path / "saxs" / "pos2_36_th0.100_10.00s_1711356_waxs.tiff"  # the folder's word does not count
    named.parent.mkdir()
    tifffile.imwrite(named, data)
    assert frame_physics(str(named), read_image(named)).ruled_out == {"TSAXS", "GISAXS"}


def test_predict_with_the_shipped_model_on_real_frames(tmp_path):
    """The shipped model alone reads the round stop as linear and the grating GISAXS as TSAXS; with the
    rules, predict (and so the TUI and evaluate) says what the headers and the pixels make sure."""
    from tui_tagger.model.infer import LocalPredictor
    from tui_tagger.model.locate import shipped_model_paths

    model = next((m for m in shipped_model_paths() if m.exists()), None)
    assert model is not None, "the shipped model is part of the repository"
    paths = [str(ROUND_SAXS), str(GRAZING)]
    got = {p: probs for p, probs, _ in LocalPredictor.load(model, physics=True).predict_paths(paths, 2, 0)}
    saxs, grazing = got[paths[0]], got[paths[1]]
    assert saxs["Linear beamstop"] <= 0.05 and saxs["Circular beamstop"] >= 0.9
    assert max(("TSAXS", "TWAXS", "GISAXS", "GIWAXS"), key=grazing.get) == "GISAXS"
    assert max(("TSAXS", "TWAXS", "GISAXS", "GIWAXS"), key=saxs.get) == "TSAXS"


def test_a_stated_beam_centre_well_off_the_frame_says_beam_off_image():
    img, dx, dy, r = _saxs()
    counts = _counts(img, r <= 10)
    assert check_frame(counts, None, _geometry(0.1, center_rc=(200.0, -300.0))).beam_off
    assert not check_frame(counts, None, _geometry(0.1, center_rc=(200.0, -3.0))).beam_off  # at the edge
    on = check_frame(counts, None, _geometry(1.5, center_rc=(CY, CX)))
    assert not on.beam_off and on.stop == "round"
    assert FrameCheck(beam_off=True).apply({"Beam off image": 0.2})["Beam off image"] >= 0.9


def test_check_frame_without_geometry_judges_only_the_stop_from_its_pixels():
    img, dx, dy, r = _saxs()
    found = check_frame(_counts(img, (r <= 10) | _arm(dx, dy, 120, 4)), None, Geometry())
    assert found.stop == "round" and not (found.calibrants or found.ruled_out or found.beam_off)
    assert not check_frame(_counts(img, _arm(dx, dy, 120, 14) | (r <= 7)), None, None)  # a bar: nothing sure
    assert not check_frame(_counts(img, np.zeros_like(r, bool)), None, None)  # no stop


# ------------------------------------------------------------------------- no beam centre stated


@pytest.mark.parametrize("radius, arm, angle", [(9, 4, 0), (12, 3, 135), (7, 2, 250), (20, 6, 60), (10, 0, 0)])
def test_a_round_stop_is_found_from_the_pixels_alone(radius, arm, angle):
    img, dx, dy, r = _saxs()
    stop = (r <= radius) | (_arm(dx, dy, angle, arm) if arm else False)
    shadow = judge(_counts(img, stop), None, None)
    assert shadow.kind == "round", shadow
    assert math.dist(shadow.at, (CX, CY)) <= max(radius, 6)  # measured at the stop, not somewhere else


def test_a_stated_centre_far_from_the_stop_falls_back_to_the_pixels():
    """Headers are sometimes stale: a centre 80 px off shows no shadow there; the stop the pixels show is
    judged instead."""
    img, dx, dy, r = _saxs()
    counts = _counts(img, (r <= 10) | _arm(dx, dy, 90, 4))
    assert measure(counts, None, (CX - 80, CY)).kind is None
    assert judge(counts, None, (CX - 80, CY)).kind == "round"


@pytest.mark.parametrize("width, tip", [(14, 1.0), (10, 1.3), (24, 1.0), (8, 1.3), (5, 1.0)])
def test_a_bar_is_never_called_round_without_a_stated_centre(width, tip):
    for angle in (0, 45, 90, 200):
        img, dx, dy, r = _saxs()
        stop = _arm(dx, dy, angle, width) | (r <= tip * width / 2)
        assert judge(_counts(img, stop, angle), None, None).kind != "round"


def test_dark_patches_that_are_not_round_are_not_round_stops():
    """A readout artefact or a dead chip: a dark triangle or square in the scattering, no stop at the beam
    (the beam is unblocked): its inscribed disc has no arm, but its corners say it is not a disc."""
    img, dx, dy, r = _saxs()
    tri = (dx > 30) & (dy > -30) & (dx - 30 < dy + 30) & (dx < 60)  # a right triangle beside the beam
    square = (np.abs(dx + 50) <= 10) & (np.abs(dy - 40) <= 10)
    for patch in (tri, square):
        assert judge(_counts(img, patch), None, None).kind != "round"


def test_a_module_gap_across_the_stop_is_unknown_not_shadow():
    """A detector gap (masked) crossing the disc and running beside the arm: the disc is still seen and round;
    a bar crossed by the same gap is still never round."""
    img, dx, dy, r = _saxs()
    gap = np.ones(r.shape, bool)
    gap[int(CY) + 3 : int(CY) + 10, :] = False  # 7 rows, through the lower part of the disc
    counts = _counts(img, (r <= 12) | _arm(dx, dy, 0, 4))
    counts[~gap] = -1
    assert judge(counts, gap, (CX, CY)).kind == "round"
    assert judge(counts, gap, None).kind == "round"
    for angle in (0, 90):
        bar = _counts(img, _arm(dx, dy, angle, 12) | (r <= 8), angle)
        bar[~gap] = -1
        assert judge(bar, gap, None).kind != "round" and judge(bar, gap, (CX, CY)).kind != "round"


def test_the_direct_beam_leaking_past_the_stop_is_not_lit_scattering():
    """A bright spot inside the disc (the attenuated direct beam through a thin stop, or past its edge) is
    unknown: the disc around it is still a round stop's."""
    img, dx, dy, r = _saxs()
    counts = _counts(img, (r <= 12) | _arm(dx, dy, 200, 4))
    counts[np.hypot(dx + 6, dy) <= 2] = 50_000
    assert judge(counts, None, None).kind == "round"
    assert judge(counts, None, (CX, CY)).kind == "round"


def test_generated_frames_without_a_centre_never_call_a_bar_round():
    """The generator's frames judged from their pixels alone: a bar or a frame with no stop is never called
    round, and some round stops are found."""
    from tui_tagger.core.synth import generate_frame

    kinds = {"round": [], "linear": [], "none": []}
    for i in range(40):
        counts, mask, tags, _ = generate_frame(4243, i, 384)
        kind = judge(counts, mask, None).kind
        truth = "linear" if "Linear beamstop" in tags else "round" if "Circular beamstop" in tags else "none"
        kinds[truth].append(kind)
    assert kinds["linear"] and "round" not in kinds["linear"] and "round" not in kinds["none"]
    assert "round" in kinds["round"]


# ----------------------------------------------------------------------------- the beam unblocked


def _beam(dx, dy, peak=2e6, sigma=1.5):
    return peak * np.exp(-0.5 * (dx**2 + dy**2) / sigma**2)


def test_the_direct_beam_unblocked_at_the_stated_centre_means_no_stop():
    img, dx, dy, r = _saxs()
    counts = _counts(img + _beam(dx, dy), np.zeros_like(r, bool))
    assert open_beam(counts, None, (CX, CY))
    found = check_frame(counts, None, _geometry(1.5, center_rc=(CY, CX)))
    assert found.stop == "open"
    out = found.apply({"Linear beamstop": 0.6, "Circular beamstop": 0.3, "TSAXS": 0.7})
    assert out["Linear beamstop"] <= 0.05 and out["Circular beamstop"] <= 0.05 and out["TSAXS"] == 0.7
    assert not open_beam(counts, None, None)  # a bright compact peak found in the pixels may be a Bragg spot


def test_a_beam_seen_through_or_beside_a_stop_is_not_an_open_beam():
    img, dx, dy, r = _saxs()
    beam = _beam(dx, dy)
    # a semi-transparent disc on an arm: the attenuated beam shows, the scattering around it is shaded
    disc = (r <= 10) | _arm(dx, dy, 45, 4)
    seen_through = np.random.default_rng(1).poisson(np.where(disc, 1e-3 * (img + beam), img + beam))
    assert not open_beam(seen_through, None, (CX, CY))
    # a semi-transparent bar over the beam, its tip no wider than the beam's halo: it shades only a sliver
    # of each ring around the spot
    for width in (4, 8):
        bar = _arm(dx, dy, 180, width) | (r <= 3)
        through = np.random.default_rng(width).poisson(np.where(bar, 1e-3 * (img + beam), img + beam))
        assert not open_beam(through, None, (CX, CY))
    # a flare leaking past a bar's edge: the brightest spot is beside the stop, the stated centre behind it
    bar = _arm(dx, dy, 90, 10) | (r <= 6)
    flare = _counts(img + _beam(dx - 9, dy, sigma=3.0), bar)
    assert not open_beam(flare, None, (CX, CY))
    # a bright Bragg spot away from the stated centre, the beam behind a round stop
    spot = _counts(img + _beam(dx - 60, dy + 40), (r <= 10) | _arm(dx, dy, 0, 4))
    assert not open_beam(spot, None, (CX, CY))


# ------------------------------------------------------------------------------------ soft edges


def _soft(img, stop, sigma, seed=0, transmission=None):
    """Counts behind a stop whose edge is a penumbra (a Gaussian blur of width ``sigma`` px of its map: a
    stop far from the detector, a large or divergent beam). ``transmission``: the stop's own (opaque: 1e-4)."""
    from scipy.ndimage import gaussian_filter

    t = np.full(stop.shape, 1e-4) if transmission is None else transmission
    shade = gaussian_filter(np.where(stop, 1 - t, 0.0), sigma)
    return np.random.default_rng(seed).poisson(img * (1 - shade)).astype(np.int32)


@pytest.mark.parametrize("radius, arm, angle, sigma", [(12, 3, 135, 1.5), (12, 3, 135, 2.5), (20, 6, 60, 3.5),
                                                       (10, 0, 0, 2.5), (7, 2, 250, 1.5)])
def test_a_round_stop_with_a_soft_edge_is_round(radius, arm, angle, sigma):
    img, dx, dy, r = _saxs()
    stop = (r <= radius) | (_arm(dx, dy, angle, arm) if arm else False)
    counts = _soft(img, stop, sigma)
    assert measure(counts, None, (CX, CY)).kind == "round"
    assert judge(counts, None, None).kind == "round"


def test_a_small_disc_on_a_grey_arm_under_a_wide_penumbra_is_round():
    """A real frame's kind (a Pilatus 6M, a stop far upstream): a small opaque disc, its arm as wide as the
    disc's radius and grey under the penumbra, the direct beam leaking beside the disc, the stated centre
    stale: the shadow the pixels show is judged round."""
    img, dx, dy, r = _saxs()
    stop = (r <= 9) | _arm(dx, dy, 180, 9)
    t = np.where(r <= 9, 1e-4, 0.3)  # the arm's shadow never gets darker than 30 %
    counts = _soft(img, stop, 2.5, transmission=t)
    counts[np.hypot(dx + 4, dy + 3) <= 1.5] = 40_000
    assert judge(counts, None, (CX - 100, CY)).kind == "round"


@pytest.mark.parametrize("sigma", [1.5, 2.5, 3.5, 5.0])
def test_a_bar_with_a_soft_edge_is_never_round(sigma):
    for width, tip in ((14, 1.0), (10, 1.3), (24, 1.0), (8, 1.3)):
        for angle in (0, 90, 200):
            img, dx, dy, r = _saxs()
            counts = _soft(img, _arm(dx, dy, angle, width) | (r <= tip * width / 2), sigma, angle)
            assert measure(counts, None, (CX, CY)).kind != "round", (width, tip, angle)
            assert judge(counts, None, None).kind != "round", (width, tip, angle)


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_a_dim_region_inside_a_ring_is_no_soft_edged_disc(sigma):
    """A wide-angle pattern dark near the beam, a bar's tip there: the ring's rising flank is no penumbra."""
    img, dx, dy, r = _saxs(low_q_dark=True)
    counts = _soft(img, _arm(dx, dy, 0, 12) | (r <= 8), sigma)
    assert measure(counts, None, (CX, CY)).kind != "round"


def test_generated_stops_with_soft_edges():
    """The generator's frames, every stop's edge blurred into a penumbra (the pixels around it thinned
    binomially): a bar or a frame with no stop is never called round; some round stops are found."""
    from scipy.ndimage import gaussian_filter

    from tui_tagger.core.synth import draw_scene, generate_frame
    from tui_tagger.core.synth.instrument import beamstop_map

    kinds = {"round": [], "linear": [], "none": []}
    for i in range(40):
        scene = draw_scene(4244, i, 384, None)
        counts, mask, tags, _ = generate_frame(4244, i, 384)
        lit = np.clip(1 - gaussian_filter(beamstop_map(scene.geometry, scene.instrument).astype(float), 2.5), 0, 1)
        counts = np.where(counts > 0, np.random.default_rng(i).binomial(np.maximum(counts, 0), lit), counts)
        truth = "linear" if "Linear beamstop" in tags else "round" if "Circular beamstop" in tags else "none"
        for centre in ((scene.geometry.cx, scene.geometry.cy), None):
            kinds[truth].append(judge(counts, mask, centre).kind)
    assert kinds["linear"] and "round" not in kinds["linear"] and "round" not in kinds["none"]
    assert "round" in kinds["round"]


# ---------------------------------------------------------------- the beam seen, nothing around it


def test_the_beam_seen_on_a_frame_with_no_scattering_means_no_bar():
    """A frame with no sample (or a weak one): the direct beam at the stated centre, a faint streak beside
    it, noise elsewhere. No shadow could be seen, but an opaque bar would hide the beam: "Linear beamstop"
    is lowered, "Circular beamstop" (a semi-transparent disc lets the beam through) stays."""
    from tui_tagger.core.beamstop import beam_seen

    _, dx, dy, r = _saxs()
    weak = 0.3 + 2e5 * np.exp(-0.5 * (dx**2 + dy**2) / 2.0**2) + 20 * ((np.abs(dy) < 2) & (dx < 0) & (dx > -80))
    counts = np.random.default_rng(3).poisson(weak).astype(np.int32)
    assert beam_seen(counts, None, (CX, CY)) and not open_beam(counts, None, (CX, CY))
    found = check_frame(counts, None, _geometry(1.5, center_rc=(CY, CX)))
    assert found.stop == "beam"
    out = found.apply({"Linear beamstop": 0.6, "Circular beamstop": 0.3, "Beam off image": 0.4})
    assert out["Linear beamstop"] <= 0.05 and out["Circular beamstop"] == 0.3 and out["Beam off image"] <= 0.05
    assert not beam_seen(counts, None, None)  # a centre found in the pixels may be a Bragg spot's
    assert not beam_seen(counts, None, (CX + 40, CY))  # the stated centre away from the spot
    for odd in (np.zeros((SIZE, SIZE)), np.full((SIZE, SIZE), np.nan), np.ones((8, 8)), counts[:3]):
        assert not beam_seen(odd, None, (CX, CY))  # nothing to see: no, never an error


def test_the_beam_seen_among_scattering_is_left_to_the_stop_measures():
    """Where there is scattering a stop could shade, the beam seen is not enough: a semi-transparent bar over
    the beam shades it (open_beam and judge decide there)."""
    from tui_tagger.core.beamstop import beam_seen

    img, dx, dy, r = _saxs()
    beam = _beam(dx, dy)
    bar = _arm(dx, dy, 180, 8) | (r <= 5)
    through = np.random.default_rng(8).poisson(np.where(bar, 1e-3 * (img + beam), img + beam))
    assert not beam_seen(through, None, (CX, CY))
    assert check_frame(through, None, _geometry(1.5, center_rc=(CY, CX))).stop != "beam"


def test_a_bar_that_leaves_the_frame_near_the_beam_is_never_round():
    """A strip detector's frame, the beam 18 px from its edge and the bar running off it: the circles where
    an arm is measured leave the frame where the bar does, so its crossings there are unseen, not thin."""
    yy, xx = np.mgrid[:62, :384].astype(np.float64)
    cx, cy = 258.4, 43.3
    dx, dy = xx + 0.5 - cx, yy + 0.5 - cy
    r = np.hypot(dx, dy)
    img = 3000 * (1 + r / 15) ** -1.5 + 20
    bar = ((np.abs(dx) <= 4.75) & (dy >= 0)) | (r <= 6.2)
    counts = _counts(img, bar)
    assert measure(counts, None, (cx, cy)).kind != "round"
    assert judge(counts, None, None).kind != "round"
    # a round stop there, its thin arm seen crossing the circles (the other way): still round
    disc = (r <= 9) | ((np.abs(dx) <= 1.5) & (dy <= 0))
    assert measure(_counts(img, disc), None, (cx, cy)).kind == "round"
