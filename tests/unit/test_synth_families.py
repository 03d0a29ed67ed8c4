"""The generator's frame families beyond the classic scenes: real detectors (module gaps, strips, CCDs,
flagged pixels), beamstops of every kind, dark frames, empty cells, solution SAXS, crystals, calibrants.
Labels are checked against how each frame was built."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from tui_tagger.core.synth import SYNTH_TAGS, Diffuse, Geometry, Instrument, Scene, generate_frame, render_scene
from tui_tagger.core.synth.features import Peaks
from tui_tagger.core.synth.families import (
    CEO2_A,
    FAMILIES,
    SI_A,
    ceo2_q,
    draw_family,
    lattice_spots,
    pick_family,
    reciprocal_basis,
    si_q,
)
from tui_tagger.core.synth.instrument import DETECTORS, detector_pixels, module_grid

EXPERIMENTS = {"TSAXS", "TWAXS", "GISAXS", "GIWAXS"}
FEATURE_TAGS = {t for t in SYNTH_TAGS if t.split(":")[0] in (
    "Ring", "Halo", "Peaks", "Diffuse low-q", "Diffuse high-q", "Higher orders")} | {
    "Many rings", "Horizon", "Yoneda", "Specular rod", "Specular rod peaks", "Bragg rods", "Vertical streaks"}
STOP_TAGS = {"Linear beamstop", "Circular beamstop"}


def frames(family: str, n: int, size: int = 128, seed: int = 11):
    for i in range(n):
        yield (i, *generate_frame(seed, i, size, [family]))


def common_truths(counts, mask, tags, meta) -> None:
    """What holds for every frame of every family."""
    geo = meta["geometry"]
    assert set(tags) <= set(SYNTH_TAGS)
    assert len(set(tags) & EXPERIMENTS) == 1 and meta["experiment"] in tags
    assert counts.shape == mask.shape == (geo["height"] or geo["size"], geo["size"])
    on = 0 <= geo["cx"] <= geo["size"] - 1 and 0 <= geo["cy"] <= (geo["height"] or geo["size"]) - 1
    assert ("Beam off image" in tags) == (not on)
    assert not {"Linear beamstop", "Circular beamstop"} <= set(tags)
    if counts.dtype == np.int32:  # gaps and flagged pixels are negative, and only they
        assert ((counts < 0) == ~mask).all()


# --- the mix and determinism ------------------------------------------------------------------------

def test_the_classic_scenes_stay_the_majority_and_every_family_is_drawn():
    assert sum(FAMILIES.values()) == pytest.approx(1.0)
    assert 0.55 <= FAMILIES["classic"] <= 0.65
    picks = Counter(pick_family(3, i) for i in range(4000))
    assert 0.55 <= picks["classic"] / 4000 <= 0.65
    assert set(picks) == set(FAMILIES)


def test_a_frame_depends_on_seed_and_index_only():
    for family in FAMILIES:
        a = generate_frame(5, 2, 96, [family])
        b = generate_frame(5, 2, 96, [family])
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2] and a[3] == b[3]
        assert a[3]["family"] == family


def test_restricting_the_families_keeps_each_frame_as_it_is():
    """Frame i of a data set is the same frame whether drawn among all families or among its own."""
    for i in range(12):
        family = pick_family(9, i)
        a, b = generate_frame(9, i, 64), generate_frame(9, i, 64, [family])
        assert a[3]["family"] == family and np.array_equal(a[0], b[0]) and a[2] == b[2]


def test_unknown_families_are_refused():
    with pytest.raises(ValueError, match="unknown frame families"):
        generate_frame(0, 0, 64, ["crystals"])


# --- detectors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout,cols,rows", [("Pilatus 1M", [(487, 494)], [(195, 212), (407, 424), (619, 636), (831, 848)]),
                                              ("Eiger 4M", [(1030, 1040)], [(514, 551), (1065, 1102), (1616, 1653)])])
def test_module_gaps_at_full_size_are_where_the_real_detector_has_them(layout, cols, rows):
    h, w = detector_pixels(layout)
    assert (h, w) == {"Pilatus 1M": (1043, 981), "Eiger 4M": (2167, 2070)}[layout]
    valid = module_grid((h, w), layout)
    gap_cols = [c for c in range(w) if not valid[:, c].any()]
    gap_rows = [r for r in range(h) if not valid[r, :].any()]
    assert gap_cols == [c for a, b in cols for c in range(a, b)]
    assert gap_rows == [r for a, b in rows for r in range(a, b)]
    turned = module_grid((w, h), layout, rotated=True)
    assert np.array_equal(turned, valid.T)


def test_every_layout_keeps_gaps_at_a_small_frame():
    for layout in DETECTORS:
        h, w = detector_pixels(layout)
        shape = (128, max(round(128 * w / h), 16)) if h >= w else (max(round(128 * h / w), 16), 128)
        valid = module_grid(shape, layout)
        kind, nx, ny = DETECTORS[layout]
        assert sum(not valid[:, c].any() for c in range(shape[1])) >= nx - 1
        assert sum(not valid[r, :].any() for r in range(shape[0])) >= ny - 1
        assert valid.mean() > 0.85


def test_module_frames_mask_their_gaps_and_flag_them_as_detectors_do(tmp_path):
    from tui_tagger.core.formats import read_image
    from tui_tagger.core.synth import write_frame

    seen = Counter()
    for i, counts, mask, tags, meta in frames("detector", 40, 160):
        common_truths(counts, mask, tags, meta)
        inst = meta["instrument"]
        if inst["detector"] != "modules":
            continue
        seen[counts.dtype.name, inst["fill"]] += 1
        _, nx, ny = DETECTORS[inst["layout"]]
        assert (~mask).mean() < 0.2 and (nx * ny == 1 or (~mask).any())
        if counts.dtype == np.uint32 and inst["fill"] == "flag":
            assert (counts[~mask] == np.iinfo(np.uint32).max).all()
        if counts.dtype == np.uint32 and inst["fill"] == "zero" and not inst["n_bad"] and not inst["bad_block"]:
            assert (counts[~mask] == 0).all()
        if counts.dtype == np.int32 and (inst["n_bad"] or inst["bad_block"]):
            assert (counts == -2).any() and ((counts == -1).any() or nx * ny == 1)  # bad pixels -2, gaps -1
        if counts.dtype == np.int32 or inst["fill"] == "flag":  # a reader masks exactly these pixels
            path = write_frame(tmp_path, i, counts, tags, meta)
            frame = read_image(path)
            assert frame.data.shape == counts.shape
            sat = counts == np.iinfo(counts.dtype).max  # a saturated uint32 pixel reads as flagged too
            assert np.array_equal(frame.mask | sat, mask | sat)
    assert seen[("int32", "flag")] and sum(seen.values()) >= 8


def test_strip_detectors_are_wide_frames_and_never_grazing_incidence():
    strips = 0
    for i, counts, mask, tags, meta in frames("detector", 120, 128, seed=4):
        common_truths(counts, mask, tags, meta)
        h, w = counts.shape
        if max(h, w) / min(h, w) > 4:
            strips += 1
            assert not {"GISAXS", "GIWAXS", "Horizon", "Yoneda", "Specular rod", "Bragg rods"} & set(tags)
            assert not meta["geometry"]["grazing"]
    assert strips >= 3


def test_a_pilatus_strip_is_one_module_high():
    h, w = detector_pixels("Pilatus 300K-W")
    assert (h, w) == (195, 1475)
    valid = module_grid((34, 256), "Pilatus 300K-W")
    assert valid.all(axis=1).sum() == 0 and all(valid[:, c].all() or not valid[:, c].any() for c in range(256))
    assert sum(not valid[:, c].any() for c in range(256)) == 2  # two 7 px gaps, 1 px each at this scale


def test_non_square_frames_go_through_the_model_preprocessing():
    from tui_tagger.model.transforms import preprocess, preprocess_config

    cfg = preprocess_config({"size": 128})
    shapes = set()
    for i, counts, mask, tags, meta in frames("detector", 30, 128, seed=4):
        x = preprocess(counts, mask, cfg)
        assert x.shape == (128, 128) and np.isfinite(x).all()
        h, w = counts.shape
        shapes.add(h == w)
        if h < w / 2:  # padded above and below: the padding is 0, as masked pixels are
            pad = (w - h) // 2
            assert x[: pad * 128 // w - 1].max() == 0 and x[-(pad * 128 // w - 1):].max() == 0
    assert shapes == {True, False}


def test_ccd_frames_have_readout_offsets_and_no_gaps():
    found = 0
    for i, counts, mask, tags, meta in frames("dark", 60, 96, seed=2):
        inst = meta["instrument"]
        if not any(inst["quadrants"]):
            continue
        found += 1
        h, w = counts.shape
        q = [counts[: h // 2, : w // 2], counts[: h // 2, w // 2 :], counts[h // 2 :, : w // 2], counts[h // 2 :, w // 2 :]]
        ok = [mask[: h // 2, : w // 2], mask[: h // 2, w // 2 :], mask[h // 2 :, : w // 2], mask[h // 2 :, w // 2 :]]
        medians = [float(np.median(a[m])) for a, m in zip(q, ok)]
        expected = [inst["offset"] + v for v in inst["quadrants"]]
        noise = 3 * inst["gain"] * (inst["read_noise"] + 1) + 2
        assert all(abs(m - e) <= noise for m, e in zip(medians, expected) if e > noise)
        assert inst["detector"] != "modules"
    assert found >= 2


# --- beamstops ----------------------------------------------------------------------------------------

def stop_scene(**inst) -> Scene:
    geo = Geometry(256, 120.5, 130.5, distance_px=3000.0, wavelength=1.0)
    settings = dict(level=300.0, background=0.01)
    settings.update(inst)
    return Scene(geo, Instrument(**settings), [Diffuse(1.0, 0.01)], noise_seed=3)


def test_a_round_stop_on_an_arm_is_a_circular_beamstop():
    counts, mask, tags, meta = render_scene(stop_scene(beamstop="arm", bs_size=12.0, arm_width=4.0, bs_angle=35.0))
    assert "Circular beamstop" in tags and "Linear beamstop" not in tags
    # the arm runs from the disc to the edge at 35 degrees: dark all along it, lit beside it
    for t in (40, 80, 120):
        x, y = 120.5 + t * math.cos(math.radians(35)), 130.5 - t * math.sin(math.radians(35))
        assert counts[int(round(y)), int(round(x))] <= 2
        bx, by = x + 10 * math.sin(math.radians(35)), y + 10 * math.cos(math.radians(35))
        assert counts[int(round(by)), int(round(bx))] > 20
    # and not the other way
    x, y = 120.5 - 60 * math.cos(math.radians(35)), 130.5 + 60 * math.sin(math.radians(35))
    assert counts[int(round(y)), int(round(x))] > 20


def test_a_round_stop_on_a_wire_is_a_circular_beamstop():
    counts, _, tags, _ = render_scene(stop_scene(beamstop="wire", bs_size=10.0, arm_width=1.5, bs_angle=90.0))
    assert "Circular beamstop" in tags and "Linear beamstop" not in tags
    assert counts[10:100, 120].max() <= 2 and counts[160:250, 120].max() <= 2  # the wire crosses the frame
    assert counts[10:100, 110].min() > 5


def test_a_bar_at_any_angle_is_a_linear_beamstop():
    counts, _, tags, _ = render_scene(stop_scene(beamstop="linear", bs_size=8.0, bs_angle=-127.0))
    assert "Linear beamstop" in tags and "Circular beamstop" not in tags
    x, y = 120.5 + 80 * math.cos(math.radians(-127)), 130.5 - 80 * math.sin(math.radians(-127))
    assert counts[int(round(y)), int(round(x))] <= 2


def test_no_stop_and_the_attenuated_beam_on_the_frame():
    counts, _, tags, _ = render_scene(stop_scene(beamstop="none", beam=0.01, beam_sigma=1.0))
    assert not STOP_TAGS & set(tags) and "Beam off image" not in tags
    assert np.unravel_index(np.argmax(counts), counts.shape) in {(130, 120), (131, 120), (130, 121), (131, 121)}
    dark = stop_scene(beamstop="none", beam=0.0)
    dark.geometry = Geometry(256, 300.0, 130.5, distance_px=3000.0)
    _, _, tags, _ = render_scene(dark)
    assert "Beam off image" in tags and not STOP_TAGS & set(tags)


def test_drawn_stops_are_tagged_by_their_kind_and_only_when_on_the_frame():
    kinds = Counter()
    for family in ("detector", "solution", "crystal"):
        for i, counts, mask, tags, meta in frames(family, 40, 128, seed=6):
            common_truths(counts, mask, tags, meta)
            stop = meta["instrument"]["beamstop"]
            kinds[stop] += 1
            if stop == "linear":
                assert "Circular beamstop" not in tags
            elif stop in ("circular", "arm", "wire"):
                assert "Circular beamstop" in tags and "Linear beamstop" not in tags
            else:
                assert not STOP_TAGS & set(tags)
            if family == "solution":
                assert stop != "none" and "Beam off image" not in tags
    assert all(kinds[k] >= 3 for k in ("linear", "circular", "arm", "wire", "none"))


# --- no sample, empty cells, solutions ------------------------------------------------------------

def test_dark_frames_state_no_scattering_at_all():
    for i, counts, mask, tags, meta in frames("dark", 25, 96):
        common_truths(counts, mask, tags, meta)
        assert not FEATURE_TAGS & set(tags)
        assert tags == [meta["experiment"]]  # no feature, no stop, no exposure tag, the beam (were it on) on the frame
        assert meta["features"] == [] and meta["instrument"]["beam"] == 0
        assert meta["experiment"] in ("TSAXS", "TWAXS")


def test_empty_cells_are_weak_and_diffuse_only():
    allowed = {"Weak scattering", "Diffuse low-q: Isotropic", "Halo: Isotropic", "Beam off image", *STOP_TAGS, *EXPERIMENTS}
    diffuse = 0
    for i, counts, mask, tags, meta in frames("empty", 25, 96):
        common_truths(counts, mask, tags, meta)
        assert "Weak scattering" in tags and set(tags) <= allowed and meta["experiment"] in ("TSAXS", "TWAXS")
        diffuse += "Diffuse low-q: Isotropic" in tags
    assert diffuse >= 10


def test_solution_saxs_is_isotropic_diffuse_behind_a_stop():
    allowed = {"TSAXS", "Diffuse low-q: Isotropic", "Weak scattering", "Strong scattering", "Saturation", *STOP_TAGS}
    seen = Counter()
    for i, counts, mask, tags, meta in frames("solution", 30, 128):
        common_truths(counts, mask, tags, meta)
        assert set(tags) <= allowed and "TSAXS" in tags and STOP_TAGS & set(tags)
        seen.update(tags)
    assert seen["Diffuse low-q: Isotropic"] >= 25 and seen["Weak scattering"] and seen["Strong scattering"]


# --- crystals -------------------------------------------------------------------------------------------

def test_lattice_spots_lie_on_the_ewald_sphere():
    geo = Geometry(512, 250.0, 260.0, distance_px=400.0, wavelength=1.0)
    recip = reciprocal_basis(60.0, 70.0, 80.0, 90.0, 95.0, 90.0)
    x, y, q = lattice_spots(geo, recip, 0.5, geo.qmax)
    assert len(x) > 100
    # where a spot lands, |q| of that pixel is the length of its reciprocal lattice vector
    r = np.hypot(x - geo.cx, y - geo.cy)
    assert np.abs(geo.q_of_r(r) - q).max() < 0.01
    # and not on a few rings: no radius holds more than a few of them
    assert np.bincount(np.rint(r / 2).astype(int)).max() < 0.05 * len(r)


def test_a_mosaic_spread_records_more_of_the_lattice_on_one_frame():
    geo = Geometry(512, 250.0, 260.0, distance_px=400.0, wavelength=1.0)
    recip = reciprocal_basis(60.0, 70.0, 80.0, 90.0, 95.0, 90.0)
    sharp = lattice_spots(geo, recip, 0.2, geo.qmax)[0].size
    mosaic = lattice_spots(geo, recip, 0.2, geo.qmax, mosaic_deg=0.4)[0].size
    assert mosaic > 1.5 * sharp


def test_a_spot_under_a_pixel_keeps_its_photons_wherever_its_centre_falls():
    geo = Geometry(32, 16.0, 16.0, distance_px=100.0, wavelength=1.0)
    grids = geo.grids()
    sums, peaks = [], []
    for x in (10.0, 10.25, 10.5):
        img = Peaks([x], [12.0], [100.0], 0.3).render(geo, grids)
        sums.append(float(img.sum()))
        peaks.append(float(img.max()))
    assert max(sums) - min(sums) < 0.01 * max(sums)  # sampled at pixel centres: 100 at x=10, 25 at x=10.5
    assert min(peaks) > 0.4 * max(peaks)
    wide = Peaks([10.0], [12.0], [100.0], 3.0).render(geo, grids)
    assert float(wide.max()) == pytest.approx(100.0, rel=0.02)  # a wide spot's height is its amplitude


def test_protein_frames_show_hundreds_of_small_spots():
    """Real protein frames show hundreds to thousands of spots of a few of the detector's 2000-4000
    pixels: at 512 px a pixel or less, in lunes where the Ewald sphere cuts the lattice's planes."""
    dense = small = 0
    for i in range(24):
        scene = draw_family("crystal", np.random.default_rng(i), 512)
        spots = [f for f in scene.features if isinstance(f, Peaks)]
        dense += sum(len(f.xs) for f in spots) >= 500
        small += any(f.sigma_px < 1.0 for f in spots)
    assert dense >= 4 and small >= 8


def test_crystal_frames_are_a_field_of_peaks_not_rings():
    field = 0
    for i, counts, mask, tags, meta in frames("crystal", 20, 192):
        common_truths(counts, mask, tags, meta)
        assert meta["experiment"] == "TWAXS"
        assert not {"Many rings", "Ring: Spotted", "Ring: Isotropic", "Peaks: Along ring"} & set(tags)
        assert not [t for t in tags if t.startswith(("Ring:", "Higher orders"))]
        field += "Peaks: Many/field" in tags
    assert field >= 14


# --- calibrants -----------------------------------------------------------------------------------------

def test_cubic_calibrant_lines_are_the_allowed_reflections():
    ce = [round((q * CEO2_A / (2 * math.pi)) ** 2) for q, _ in ceo2_q(6.0)]
    si = [round((q * SI_A / (2 * math.pi)) ** 2) for q, _ in si_q(7.0)]
    assert ce[:8] == [3, 4, 8, 11, 12, 16, 19, 20]  # fcc: 111 200 220 311 222 400 331 420
    assert si[:7] == [3, 8, 11, 16, 19, 24, 27]  # diamond: no 200, 222, 420 (h+k+l = 4n+2)
    assert max(rel for _, rel in ceo2_q(6.0)) == 1.0


D_SPACINGS = {  # the strongest low-angle lines: d (A)
    "AgBH": [58.38, 58.38 / 2, 58.38 / 3],
    "LaB6": [4.1569, 4.1569 / math.sqrt(2), 4.1569 / math.sqrt(3)],
    "CeO2": [5.411 / math.sqrt(3), 5.411 / 2, 5.411 / math.sqrt(8)],
    "Si": [5.431 / math.sqrt(3), 5.431 / math.sqrt(8), 5.431 / math.sqrt(11)],
}


def test_calibrant_rings_sit_at_their_d_spacings():
    checked = Counter()
    for i, counts, mask, tags, meta in frames("calibrant", 60, 256, seed=8):
        common_truths(counts, mask, tags, meta)
        name, geo, inst = meta["calibrant"], meta["geometry"], meta["instrument"]
        if "Powder" not in tags:
            continue
        assert "Standard" in tags and "Ring: Isotropic" in tags
        assert (name in tags) == (name in ("AgBH", "LaB6"))
        if name in ("LaB6", "CeO2", "Si"):
            assert not [t for t in tags if t.startswith("Higher orders")]
        if "Beam off image" in tags or checked[name] >= 2:
            continue
        # the real geometry: distance in mm over the frame's pixel size, wavelength from the energy
        distance_mm = geo["distance_px"] * inst["pixel_mm"]
        energy = 12.3984198 / geo["wavelength"]
        D = distance_mm / inst["pixel_mm"]
        yy, xx = np.indices(counts.shape)
        r = np.hypot(xx - geo["cx"], yy - geo["cy"])
        ok = mask & (r > 0)
        ri = np.rint(r[ok]).astype(int)
        prof = np.bincount(ri, counts[ok].astype(float)) / np.maximum(np.bincount(ri), 1)
        n_px = np.bincount(ri)
        for d in D_SPACINGS[name]:
            r0 = D * math.tan(2 * math.asin(12.3984198 / energy / (2 * d)))
            lo, hi = int(r0) - 4, int(r0) + 6
            if lo < 5 or hi >= len(prof) or n_px[lo:hi].min() < 12:
                continue  # off the frame, or too little of the ring on it to find its peak
            peak = lo + int(np.argmax(prof[lo:hi]))
            assert abs(peak - r0) <= 1.0, (i, name, d, r0, peak)
            checked[name] += 1
    assert set(checked) == {"AgBH", "LaB6", "CeO2", "Si"}


def test_new_families_cover_tags_the_model_got_wrong():
    """A mix of new-family frames: every kind of label the real-frame failures were about is there."""
    seen = Counter()
    shapes = set()
    for family in ("detector", "crystal", "calibrant", "dark", "solution"):
        for i, counts, mask, tags, meta in frames(family, 15, 96, seed=21):
            seen.update(tags)
            shapes.add(counts.shape[0] == counts.shape[1])
    for tag in ("Circular beamstop", "Linear beamstop", "Peaks: Many/field", "Powder", "Standard",
                "Diffuse low-q: Isotropic", "TSAXS", "TWAXS"):
        assert seen[tag] > 0, tag
    assert shapes == {True, False}
