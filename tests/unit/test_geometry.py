"""Geometry from headers and PONI files, q computations, and `tui-tagger info`'s geometry object."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from tui_tagger.cli import main
from tui_tagger.core.geometry import (
    Geometry,
    PoniError,
    apply_poni,
    direct_beam_px,
    energy_keV,
    find_poni,
    geometry_of,
    parse_poni,
    q_at,
    q_map,
    q_range,
    read_poni,
    two_theta,
    wavelength_m,
)
from tui_tagger.core.geometry import headers

MARCCD = "real-examples/AgBH_10sec_SAXS"
REAL_DEV = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real-dev" / "images"


def q_hand(wavelength_a: float, distance: float, offset: float) -> float:
    """q of a point ``offset`` metres from the beam on a flat detector normal to it, by hand."""
    two_theta_ = math.atan(offset / distance)
    return 4 * math.pi * math.sin(two_theta_ / 2) / wavelength_a


# ---------------------------------------------------------------------------------------------- q and units


def test_energy_and_wavelength():
    assert energy_keV(1e-10) == pytest.approx(12.39842, rel=1e-6)
    assert wavelength_m(8.0478) == pytest.approx(1.5406e-10, rel=1e-4)  # Cu K-alpha1
    assert Geometry(wavelength_m=1.5418e-10).energy_keV == pytest.approx(8.0415, rel=1e-4)


def test_q_on_a_flat_detector_matches_hand_computed_values():
    g = Geometry(distance_m=1.0, wavelength_m=1e-10, pixel_size_m=(1e-4, 1e-4), beam_center_px=(50.0, 50.0))
    # 100 pixels of 100 um right of the beam: 10 mm at 1 m
    assert q_at(g, 50.0, 150.0) == pytest.approx(q_hand(1.0, 1.0, 0.01), rel=1e-12)
    assert q_at(g, 50.0, 150.0) == pytest.approx(0.0628295, rel=1e-5)
    assert q_at(g, 50.0, 50.0) == 0.0
    # a point as far from the beam as the detector is: 2theta = 45 deg
    g45 = Geometry(distance_m=0.1, wavelength_m=2e-10, pixel_size_m=(1e-3, 1e-3), beam_center_px=(0.0, 0.0))
    assert two_theta(g45, 100.0, 0.0) == pytest.approx(math.pi / 4)
    assert q_at(g45, 0.0, 100.0) == pytest.approx(4 * math.pi * math.sin(math.pi / 8) / 2.0)
    # rectangular pixels: rows and columns scale separately
    g2 = Geometry(distance_m=2.0, wavelength_m=1e-10, pixel_size_m=(2e-4, 1e-4), beam_center_px=(0.0, 0.0))
    assert q_at(g2, 30.0, 40.0) == pytest.approx(q_hand(1.0, 2.0, math.hypot(30 * 2e-4, 40 * 1e-4)))


def test_q_range_beam_inside_and_outside():
    g = Geometry(distance_m=1.0, wavelength_m=1e-10, pixel_size_m=(1e-4, 1e-4), beam_center_px=(50.0, 50.0),
                 shape=(100, 200))
    lo, hi = q_range(g)
    assert lo == 0.0
    assert hi == pytest.approx(q_hand(1.0, 1.0, 1e-4 * math.hypot(50, 150)))  # the far corner
    # the beam 20 pixels above the frame: the nearest point is straight below it on the top edge
    off = Geometry(distance_m=1.0, wavelength_m=1e-10, pixel_size_m=(1e-4, 1e-4), beam_center_px=(-20.0, 80.0))
    lo, hi = q_range(off, (100, 200))
    assert lo == pytest.approx(q_hand(1.0, 1.0, 20e-4))
    assert hi == pytest.approx(q_hand(1.0, 1.0, 1e-4 * math.hypot(120, 120)))
    # q_map agrees (pixel centres lie inside the edges)
    q = q_map(off, (100, 200))
    assert q.shape == (100, 200) and q.dtype == np.float32
    assert lo <= q.min() and q.max() <= hi
    assert q[0, 80] == pytest.approx(q_hand(1.0, 1.0, 1e-4 * math.hypot(20.5, 0.5)), rel=1e-5)  # pixel centre


def test_no_q_without_enough_geometry():
    assert q_range(Geometry(wavelength_m=1e-10, pixel_size_m=(1e-4, 1e-4), shape=(10, 10))) is None
    assert q_range(Geometry(distance_m=1.0, pixel_size_m=(1e-4, 1e-4), beam_center_px=(5, 5), shape=(10, 10))) is None
    g = Geometry(distance_m=1.0, wavelength_m=1e-10, pixel_size_m=(1e-4, 1e-4), beam_center_px=(5, 5))
    assert q_range(g) is None and q_range(g, (10, 10)) is not None  # the frame's size is needed
    # a swung detector arm: its axis is not known, so no q
    assert q_range(Geometry(distance_m=1.0, wavelength_m=1e-10, pixel_size_m=(1e-4, 1e-4), beam_center_px=(5, 5),
                            detector_2theta_deg=20.0), (10, 10)) is None


# ---------------------------------------------------------------------------------------------- PONI files

PONI_V1 = """# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis
# Calibration done at Fri Jan 10 10:00:00 2020
PixelSize1: 0.000172
PixelSize2: 0.000172
Distance: 0.2
Poni1: 0.05
Poni2: 0.04
Rot1: 0
Rot2: 0
Rot3: 0
Wavelength: 1e-10
"""

PONI_V21 = """# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis
poni_version: 2.1
Detector: Detector
Detector_config: {"pixel1": 7.5e-05, "pixel2": 0.0001, "max_shape": [400, 300], "orientation": 4}
Distance: 0.5
Poni1: 0.012
Poni2: 0.021
Rot1: 0.1
Rot2: 0.0
Rot3: 0.0
Wavelength: 1.54e-10
# Calibrant: AgBh
"""


def test_poni_v1(tmp_path):
    path = tmp_path / "v1.poni"
    path.write_text(PONI_V1)
    p = read_poni(path)
    assert (p.version, p.distance_m, p.poni1_m, p.poni2_m) == (1.0, 0.2, 0.05, 0.04)
    assert p.rotations_rad == (0.0, 0.0, 0.0) and p.wavelength_m == 1e-10
    assert p.pixel_size_m == (0.000172, 0.000172) and p.orientation is None
    g = apply_poni(Geometry(), p)
    assert g.beam_center_px == pytest.approx((0.05 / 0.000172, 0.04 / 0.000172))
    assert g.sources["distance_m"] == f"PONI {path}"


def test_poni_keys_are_case_insensitive_and_the_last_one_wins():
    p = parse_poni("DISTANCE: 1\nponi1: 0.1\nPONI2: 0.2\ndistance: 0.3\nwavelength: None\n")
    assert (p.distance_m, p.poni1_m, p.poni2_m, p.wavelength_m) == (0.3, 0.1, 0.2, None)


def test_poni_v2_1_config_orientation_and_tilt():
    p = parse_poni(PONI_V21, "cal.poni")
    assert p.version == 2.1 and p.pixel_size_m == (7.5e-05, 1e-4) and p.orientation == 4
    assert p.max_shape == (400, 300) and p.rotations_rad == (0.1, 0.0, 0.0)
    g = apply_poni(Geometry(incidence_deg=0.2, sources={"incidence_deg": "header"}), p, shape=(400, 300))
    # rot1 swings the detector about the vertical axis: the direct beam meets it L tan(rot1) from the PONI,
    # and orientation 4 counts columns from the other side
    col_detector = (0.021 - 0.5 * math.tan(0.1)) / 1e-4
    assert g.beam_center_px == pytest.approx((0.012 / 7.5e-05, 300 - col_detector))
    assert g.incidence_deg == 0.2 and g.sources["incidence_deg"] == "header"  # a PONI file has no incidence
    assert q_at(g, *g.beam_center_px) == pytest.approx(0.0, abs=1e-9)
    # rot2 tilts it about the horizontal axis: the beam moves along the rows
    p2 = parse_poni(PONI_V1.replace("Rot2: 0", "Rot2: 0.05"))
    row = (0.05 + 0.2 * math.tan(0.05)) / 0.000172
    assert direct_beam_px(apply_poni(Geometry(), p2)) == pytest.approx((row, 0.04 / 0.000172))


def test_poni_v2_named_detector_without_pixel_size_keeps_the_header_pixel_size(tmp_path):
    path = tmp_path / "named.poni"
    path.write_text('poni_version: 2\nDetector: NoSuchDetector\nDetector_config: {}\nDistance: 1.0\n'
                    'Poni1: 0.0172\nPoni2: 0.0344\nRot1: 0\nRot2: 0\nRot3: 0\n')
    p = read_poni(path)
    assert p.pixel_size_m is None and p.detector == "NoSuchDetector"
    header = Geometry(pixel_size_m=(172e-6, 172e-6), wavelength_m=1e-10, sources={"pixel_size_m": "hdr"})
    g = apply_poni(header, p)
    assert g.pixel_size_m == (172e-6, 172e-6) and g.sources["pixel_size_m"] == "hdr"
    assert g.beam_center_px == pytest.approx((100.0, 200.0)) and g.wavelength_m == 1e-10


def test_poni_v3_parallax_is_read():
    p = parse_poni(PONI_V21.replace("poni_version: 2.1", "poni_version: 3") + "Parallax: False\n")
    assert p.version == 3


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Distance: 0.1\nPoni1: abc\nPoni2: 0\n", "bad.poni:2: Poni1 is not a number: 'abc'"),
        ("Poni1: 0.1\nPoni2: 0.1\n", "bad.poni: no Distance (is this a PONI file?)"),
        ("Distance: -1\nPoni1: 0\nPoni2: 0\n", "bad.poni:1: Distance must be positive"),
        ("Distance: 1\nPoni1: 0\nPoni2: 0\nDetector_config: {pixel1: 1\n",
         "bad.poni:4: Detector_config is not valid JSON"),
        ("poni_version: 9\nDistance: 1\n", "bad.poni:1: PONI version 9 is newer"),
        ("Distance: 1\nPoni1: 0\nPoni2: 0\nWavelength: 1.54\n", "bad.poni:4: Wavelength 1.54 m is not an x-ray"),
        ("Distance: 1\nPoni1: nan\nPoni2: 0\n", "bad.poni:2: Poni1 is not a finite number"),
        ("hello world\n", "bad.poni:1: not a 'Key: value' line"),
        ('Distance: 1\nPoni1: 0\nPoni2: 0\nDetector_config: {"orientation": 7}\n',
         "bad.poni:4: detector orientation 7"),
    ],
)
def test_malformed_poni_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "bad.poni"
    path.write_text(text)
    with pytest.raises(PoniError) as err:
        read_poni(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(tmp_path / problem.split(":")[0]))
    assert problem in message


def test_poni_that_is_not_a_text_file(tmp_path):
    binary = tmp_path / "image.poni"
    binary.write_bytes(b"II*\x00" + bytes(range(256)))
    with pytest.raises(PoniError, match="binary data"):
        read_poni(binary)
    with pytest.raises(PoniError, match="is a directory"):
        read_poni(tmp_path)
    with pytest.raises(PoniError, match="no such file"):
        read_poni(tmp_path / "absent.poni")
    big = tmp_path / "big.poni"
    big.write_bytes(b"# " + b"x" * (1 << 20) + b"\n")
    with pytest.raises(PoniError, match="too large"):
        read_poni(big)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_poni_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.poni"
    os.mkfifo(fifo)
    with pytest.raises(PoniError, match="not a regular file"):
        read_poni(fifo)


def test_find_poni_needs_exactly_one(tmp_path):
    image = tmp_path / "a.tif"
    assert find_poni(image) is None
    (tmp_path / "cal.PONI").write_text(PONI_V1)
    (tmp_path / "notes.txt").write_text("x")
    assert find_poni(image) == tmp_path / "cal.PONI"
    (tmp_path / "other.poni").write_text(PONI_V1)
    assert find_poni(image) is None  # two: which one is not ours to guess
    cache: dict = {}
    assert find_poni(image, cache) is None and cache == {str(tmp_path): None}


def test_q_matches_pyfai_when_it_is_installed():
    pyFAI = pytest.importorskip("pyFAI")
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    rng = np.random.default_rng(3)
    for orientation in (1, 2, 3, 4):
        rot = tuple(rng.normal(0, 0.1, 3))
        dist, poni = float(rng.uniform(0.1, 2)), tuple(rng.uniform(0, 0.03, 2))
        det = Detector(pixel1=1e-4, pixel2=1.5e-4, max_shape=(60, 80), orientation=orientation)
        ai = AzimuthalIntegrator(dist=dist, poni1=poni[0], poni2=poni[1], rot1=rot[0], rot2=rot[1], rot3=rot[2],
                                 detector=det, wavelength=1e-10)
        g = Geometry(distance_m=dist, wavelength_m=1e-10, pixel_size_m=(1e-4, 1.5e-4), poni_m=poni,
                     rotations_rad=rot, orientation=orientation, shape=(60, 80))
        assert np.allclose(q_map(g), ai.qArray((60, 80)) / 10, rtol=1e-5, atol=1e-6), pyFAI.version


# ---------------------------------------------------------------------------------------------- headers


def test_marccd_real_example(data_dir):
    g = geometry_of(data_dir / MARCCD, auto_poni=False)
    assert g.beam_center_px == pytest.approx((512.658, 513.924))  # beam_y, beam_x
    assert g.pixel_size_m == pytest.approx((158e-6, 158e-6))
    assert g.wavelength_m == pytest.approx(1.03318e-10)
    assert g.distance_m is None and g.shape == (1024, 1024)  # marccd left xtal_to_detector at 0
    assert g.sources["beam_center_px"] == "MarCCD header (beam_x/beam_y)"
    assert q_range(g) is None  # no distance


def test_marccd_spec_comments_win_over_the_default_wavelength():
    found = headers._Found("MarCCD header")
    headers.marccd({"source_wavelength": 103318, "dataset_comments": b"phi=1;energy=15.0001;lambda=0.826554;h=0\0",
                    "xtal_to_detector": 250000, "beam_x": 1000500, "beam_y": 990000, "pixelsize_x": 79092,
                    "pixelsize_y": 79092, "nslow": 2048, "nfast": 2048}, found)
    g = found.geometry()
    assert g.wavelength_m == pytest.approx(0.826554e-10) and "lambda=" in g.sources["wavelength_m"]
    assert g.distance_m == 0.25 and g.beam_center_px == (990.0, 1000.5) and g.shape == (2048, 2048)


def test_edf_saxs_keywords(tmp_path):
    from fabio.edfimage import EdfImage

    path = tmp_path / "frame.edf"
    EdfImage(data=np.ones((30, 40), np.float32),
             header={"Center_1": "12.5", "Center_2": "1418.98", "PSize_1": "7.5e-05", "PSize_2": "7.5e-05",
                     "SampleDistance": "0.107403", "WaveLength": "1.541889e-10"}).write(str(path))
    g = geometry_of(path)
    assert g.beam_center_px == (1418.98, 12.5)  # Center_2 along rows, Center_1 along columns
    assert g.pixel_size_m == (7.5e-05, 7.5e-05) and g.distance_m == 0.107403
    assert g.wavelength_m == pytest.approx(1.541889e-10) and g.shape == (30, 40)
    assert q_range(g)[0] > 0  # beam far below the frame


def test_cbf_pilatus_mini_header(tmp_path):
    from fabio.cbfimage import CbfImage

    contents = ("# Detector: PILATUS 1M, 10-0001\r\n# Pixel_size 172e-6 m x 172e-6 m\r\n"
                "# Wavelength 1.0000 A\r\n# Detector_distance 0.50000 m\r\n# Beam_xy (20.00, 30.00) pixels\r\n")
    path = tmp_path / "frame.cbf"
    CbfImage(data=np.zeros((48, 64), np.int32), header={"_array_data.header_convention": "PILATUS_1.2",
                                                        "_array_data.header_contents": contents}).write(str(path))
    g = geometry_of(path)
    assert g.beam_center_px == (30.0, 20.0)  # Beam_xy is (x, y)
    assert (g.distance_m, g.wavelength_m, g.pixel_size_m) == (0.5, 1e-10, (172e-6, 172e-6))
    assert g.detector == "PILATUS 1M" and g.shape == (48, 64)
    assert q_range(g)[1] == pytest.approx(q_hand(1.0, 0.5, 172e-6 * math.hypot(30, 64 - 20)))


def test_pilatus_tiff_description(tmp_path):
    import tifffile

    path = tmp_path / "frame.tif"
    tifffile.imwrite(path, np.zeros((20, 30), np.int32),
                     description="# Pixel_size 172e-6 m x 172e-6 m\r\n# Wavelength 0.77012 A\r\n# Start_angle 0 deg.")
    g = geometry_of(path)
    assert g.pixel_size_m == (172e-6, 172e-6) and g.wavelength_m == pytest.approx(0.77012e-10)
    assert g.distance_m is None and g.beam_center_px is None and g.shape == (20, 30)
    assert g.sources["wavelength_m"] == "TIFF Pilatus header (Wavelength)"


def _saxslab_tiff(path, distance_mm=1050.133, angle="0.400"):
    import tifffile

    xml = ('<?xml version="1.0" ?><SAXSLABparameters><param name="detectortype">Pilatus 300K</param>'
           '<param name="pixelsize">0.172 0.172</param><param name="beamcenter_actual">35.02    21.97</param>'
           f'<param name="wavelength">1.5418</param><param name="detector_dist">{distance_mm}</param>'
           f'<param name="sample_angle1">{angle}</param></SAXSLABparameters>')
    tifffile.imwrite(path, np.ones((60, 48), np.int32), extratags=[(315, "s", 0, xml, True)])
    return path


def test_saxslab_tiff(tmp_path):
    g = geometry_of(_saxslab_tiff(tmp_path / "frame.tiff"))
    assert g.beam_center_px == (35.02, 21.97)  # "row col"
    assert g.distance_m == pytest.approx(1.050133) and g.wavelength_m == pytest.approx(1.5418e-10)
    assert g.pixel_size_m == pytest.approx((172e-6, 172e-6)) and g.incidence_deg == 0.4
    assert g.detector == "Pilatus 300K" and g.sources["incidence_deg"] == "SAXSLAB header (sample_angle1)"


def test_compressed_tiff_and_fifo(tmp_path):
    import gzip

    plain = _saxslab_tiff(tmp_path / "frame.tiff")
    (tmp_path / "frame.tiff.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert geometry_of(tmp_path / "frame.tiff.gz").distance_m == pytest.approx(1.050133)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.tif")
        fifo = tmp_path / "pipe.tif"
        assert not geometry_of(fifo)  # refused at once, never waits for a writer
        for read in (lambda p: headers.from_tiff(p, 2**20), headers.from_fabio, headers.from_hdf5):
            with pytest.raises(OSError, match="not a regular file"):
                read(fifo)


def _nexus_detector(f, fields, shape):
    """An NXentry/NXinstrument/NXdetector in the open h5py file ``f`` with ``fields`` ((name, value, units or
    None), ...) and a (1, *shape) data set linked at /entry/data/data; the instrument group."""
    import h5py

    entry = f.create_group("entry")
    entry.attrs["NX_class"] = "NXentry"
    inst = entry.create_group("instrument")
    inst.attrs["NX_class"] = "NXinstrument"
    det = inst.create_group("detector")
    det.attrs["NX_class"] = "NXdetector"
    for key, value, units in fields:
        det[key] = value
        if units:
            det[key].attrs["units"] = units
    det["data"] = np.ones((1, *shape), np.uint32)
    entry["data/data"] = h5py.SoftLink("/entry/instrument/detector/data")
    return inst


def test_nexus_detector_and_beam(tmp_path):
    import h5py

    path = tmp_path / "frame.nxs"
    with h5py.File(path, "w") as f:
        inst = _nexus_detector(f, (("distance", 1500.0, "mm"), ("x_pixel_size", 75e-6, "m"),
                                   ("y_pixel_size", 75.0, "um"), ("beam_center_x", 12.0, "pixel"),
                                   ("beam_center_y", 3.0, "mm")), (50, 60))
        mono = inst.create_group("monochromator")
        mono.attrs["NX_class"] = "NXmonochromator"
        mono["energy"] = 12.398419843320026
        mono["energy"].attrs["units"] = "keV"
    g = geometry_of(path)
    assert g.distance_m == pytest.approx(1.5) and g.pixel_size_m == pytest.approx((75e-6, 75e-6))
    assert g.beam_center_px == pytest.approx((40.0, 12.0))  # y in mm / pixel size; x already in pixels
    assert g.wavelength_m == pytest.approx(1e-10) and g.shape == (50, 60)
    assert g.sources["distance_m"] == "NeXus (NXdetector distance)"


@pytest.mark.parametrize("value, units, um", [(0.15, None, 150.0), (75e-6, None, 75.0), (75.0, "um", 75.0)])
def test_a_pixel_size_without_units_is_never_a_centimetre(tmp_path, value, units, um):
    """areaDetector NeXus files write the camera's pixel size in mm with no units (APS 9-ID/12-ID: 0.15);
    read as NeXus's default metres it was a 150 mm pixel, in the geometry and in the frame's metadata."""
    import h5py

    from tui_tagger.core.formats import read_image

    path = tmp_path / "frame.h5"
    with h5py.File(path, "w") as f:
        _nexus_detector(f, (("x_pixel_size", value, units), ("y_pixel_size", value, units)), (40, 50))
    assert geometry_of(path).pixel_size_m == pytest.approx((um * 1e-6, um * 1e-6))
    assert read_image(path).meta["pixel_size_mm"] == pytest.approx(um * 1e-3)


def test_nexus_external_links_are_not_followed(tmp_path):
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["d"] = 2.0
    path = tmp_path / "frame.h5"
    with h5py.File(path, "w") as f:
        det = f.create_group("entry/instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        f["entry"].attrs["NX_class"] = "NXentry"
        f["entry/instrument"].attrs["NX_class"] = "NXinstrument"
        det["distance"] = h5py.ExternalLink(str(other), "/d")
        f["entry/data/data"] = np.zeros((8, 8), np.int32)
    assert geometry_of(path).distance_m is None


def test_aps_12id_metadata_x_is_along_rows(tmp_path):
    import h5py

    path = tmp_path / "saxs.hdf"
    with h5py.File(path, "w") as f:
        meta = f.create_group("entry/Metadata")
        for key, value in (("SDD", 447.9), ("wavelength", 0.4428), ("pin_ccd_center_x_pixel", 93.59),
                           ("pin_ccd_center_y_pixel", -4.96), ("pin_ccd_pixel_size_x", 0.172),
                           ("pin_ccd_pixel_size_y", 0.172)):
            meta[key] = np.array([value])
        f["entry/data/data"] = np.zeros((195, 487), np.int32)
    g = geometry_of(path)
    assert g.beam_center_px == pytest.approx((93.59, -4.96)) and g.distance_m == pytest.approx(0.4479)
    assert g.wavelength_m == pytest.approx(0.4428e-10) and g.pixel_size_m == pytest.approx((172e-6, 172e-6))
    assert g.sources["beam_center_px"] == "APS 12-ID metadata (pin_ccd_center_x/y_pixel)"


def test_adsc_smv_beam_centre_is_in_the_mosflm_frame(tmp_path):
    from fabio.adscimage import AdscImage

    path = tmp_path / "frame.img"
    AdscImage(data=np.zeros((48, 64), np.uint16),
              header={"BEAM_CENTER_X": "3.0", "BEAM_CENTER_Y": "5.0", "PIXEL_SIZE": "0.1", "DISTANCE": "150.0",
                      "WAVELENGTH": "0.9795"}).write(str(path))
    g = geometry_of(path)
    assert g.beam_center_px == pytest.approx((30.0, 50.0))  # X along rows, Y along columns
    assert g.distance_m == pytest.approx(0.15) and g.wavelength_m == pytest.approx(0.9795e-10)
    assert g.pixel_size_m == pytest.approx((1e-4, 1e-4))


def test_bruker_mar345_oxford_kcd_headers():
    found = headers._Found("Bruker header")
    headers.bruker({"NROWS": "512", "NCOLS": "512", "CENTER": "260.6 240.85", "DISTANC": "8.9",
                    "DETTYPE": "CCD-PXL-L6500F 32.000000  1.600000  0.0", "WAVELEN": "0.5166 0.0 0.0",
                    "ANGLES": "0.0 -90.0 84.8 54.9"}, found)
    g = found.geometry()
    assert g.beam_center_px == pytest.approx((512 - 240.85, 260.6))  # y counted from the bottom row
    assert g.pixel_size_m == pytest.approx((0.3125e-3, 0.3125e-3)) and g.distance_m == pytest.approx(0.105)
    assert g.wavelength_m == pytest.approx(0.5166e-10) and g.detector_2theta_deg is None

    found = headers._Found("mar345 header")
    headers.mar345({"CENTER_X": "1150.000", "CENTER_Y": "1100.000", "PIXEL_LENGTH": "150", "PIXEL_HEIGHT": "150",
                    "DISTANCE": "240.000", "WAVELENGTH": "1.08000", "TWOTHETA": "0.000"}, found)
    g = found.geometry()
    assert g.beam_center_px == (1100.0, 1150.0) and g.distance_m == pytest.approx(0.24)
    assert g.pixel_size_m == pytest.approx((150e-6, 150e-6)) and g.detector_2theta_deg is None

    found = headers._Found("Oxford Diffraction header")
    headers.oxford({"Real pixel size x (mm)": 0.1198, "Real pixel size y (mm)": 0.1198, "Distance in mm": 49.83,
                    "Wavelength alpha": 0.71073, "Beam center x": 492.9, "Beam center y": 523.1, "Binning in x": 2,
                    "Binning in y": 2, "Theta start in deg": -20.0}, found)
    g = found.geometry()
    assert g.beam_center_px == pytest.approx((261.55, 246.45))  # unbinned pixels
    assert g.detector_2theta_deg == -20.0 and q_range(g, (512, 512)) is None

    found = headers._Found("KappaCCD header")
    headers.kcd({"Mode": "Binned", "pixel X-size (um)": "55.000", "pixel Y-size (um)": "55.000",
                 "Dx start": "40.000", "Alpha1": "0.709300", "Theta start": "0.000"}, found)
    g = found.geometry()
    assert g.pixel_size_m is None and g.distance_m == pytest.approx(0.04)  # binned: the size stated is the chip's


def test_defaults_and_garbage_are_left_out():
    found = headers._Found("EDF header")
    headers.edf({"SampleDistance": "0", "WaveLength": "1.54", "PSize_1": "-1", "PSize_2": "7.5e-5",
                 "Center_1": "nan", "Center_2": "3"}, found)
    assert not found.geometry()  # 1.54 m is no wavelength, a pixel of -1 m no pixel


def test_images_without_geometry(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((8, 8), np.uint8))
    assert not geometry_of(tmp_path / "plain.tif")
    (tmp_path / "junk.tif").write_bytes(b"II*\x00junk")
    assert not geometry_of(tmp_path / "junk.tif")  # corrupt: the image reader reports it, not this
    assert not geometry_of(tmp_path / "absent.cbf")


def test_poni_beside_the_image_overrides_the_header(tmp_path):
    image = _saxslab_tiff(tmp_path / "frame.tiff")
    (tmp_path / "cal.poni").write_text(PONI_V1)
    g = geometry_of(image)
    assert g.distance_m == 0.2 and g.wavelength_m == 1e-10 and g.pixel_size_m == (0.000172, 0.000172)
    assert g.beam_center_px == pytest.approx((0.05 / 0.000172, 0.04 / 0.000172))
    assert g.incidence_deg == 0.4 and g.sources["incidence_deg"].startswith("SAXSLAB")
    assert g.sources["distance_m"] == f"PONI {tmp_path / 'cal.poni'}"
    assert geometry_of(image, auto_poni=False).distance_m == pytest.approx(1.050133)


# ---------------------------------------------------------------------------------------------- info


def test_info_json_geometry(tmp_path, data_dir, capsys):
    import tifffile

    saxslab = _saxslab_tiff(tmp_path / "s.tiff")
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((8, 8), np.uint8))
    (tmp_path / "bad.tif").write_text("not a tiff")
    refs = [str(saxslab), str(tmp_path / "plain.tif"), str(tmp_path / "bad.tif"), str(data_dir / MARCCD)]
    assert main(["info", "--json", *refs]) == 1
    s, plain, bad, mar = json.loads(capsys.readouterr().out)
    geo = s["geometry"]
    assert geo["distance_m"] == 1.050133 and geo["wavelength_A"] == 1.5418
    assert geo["energy_keV"] == pytest.approx(8.0415, rel=1e-4) and geo["pixel_size_um"] == [172.0, 172.0]
    assert geo["beam_center_px"] == [35.02, 21.97] and geo["incidence_deg"] == 0.4
    assert geo["q_range_invA"][0] == 0.0
    assert geo["q_range_invA"][1] == pytest.approx(q_hand(1.5418, 1.050133, 172e-6 * math.hypot(35.02, 48 - 21.97)),
                                                   rel=1e-6)
    assert geo["sources"]["distance_m"] == "SAXSLAB header (detector_dist)"
    assert geo["sources"]["q_range_invA"] == "computed"
    assert set(geo) == {"distance_m", "wavelength_A", "energy_keV", "pixel_size_um", "beam_center_px",
                        "incidence_deg", "q_range_invA", "detector", "sources"}
    assert plain["geometry"] == {} and bad["geometry"] is None
    assert mar["geometry"]["beam_center_px"] == [512.658, 513.924] and "distance_m" not in mar["geometry"]


def test_info_text_shows_a_geometry_line(tmp_path, capsys):
    saxslab = _saxslab_tiff(tmp_path / "s\x1b[31m.tiff")
    assert main(["info", str(saxslab)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[2] == "" and "\x1b" not in out
    assert lines[3].startswith(f"geometry of {tmp_path}/s\\x1b[31m.tiff: distance 1.0501 m, wavelength 1.5418 A")
    assert lines[3].endswith("incidence 0.4 deg, q 0-0.029124 1/A [SAXSLAB header]")


def test_info_poni_option_and_auto_poni(tmp_path, capsys):
    (tmp_path / "img").mkdir()
    image = _saxslab_tiff(tmp_path / "img" / "s.tiff")
    poni = tmp_path / "cal.poni"
    poni.write_text(PONI_V1)
    assert main(["info", "--json", "--poni", str(poni), str(image)]) == 0
    geo = json.loads(capsys.readouterr().out)[0]["geometry"]
    assert geo["distance_m"] == 0.2 and geo["sources"]["distance_m"] == f"PONI {poni}"
    assert geo["incidence_deg"] == 0.4  # still the header's

    (tmp_path / "img" / "beside.poni").write_text(PONI_V21)
    assert main(["info", "--json", str(image)]) == 0
    geo = json.loads(capsys.readouterr().out)[0]["geometry"]
    assert geo["distance_m"] == 0.5 and geo["orientation"] == 4 and geo["rotations_rad"] == [0.1, 0.0, 0.0]
    assert main(["info", "--json", "--no-poni", str(image)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["geometry"]["distance_m"] == 1.050133

    (tmp_path / "img" / "second.poni").write_text(PONI_V1)  # two: neither is used, and info says so once
    assert main(["info", "--json", str(image), str(image)]) == 0
    out, err = capsys.readouterr()
    assert [r["geometry"]["distance_m"] for r in json.loads(out)] == [1.050133, 1.050133]
    assert err.count("\n") == 1 and "several .poni files" in err and "--poni FILE" in err
    assert "beside.poni" in err and "second.poni" in err and str(tmp_path / "img") in err


def test_info_malformed_poni(tmp_path, capsys):
    image = _saxslab_tiff(tmp_path / "s.tiff")
    bad = tmp_path / "x.poni"
    bad.write_text("Distance: 0.1\nPoni1: abc\n")
    assert main(["info", "--poni", str(bad), str(image)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"tui-tagger: {bad}:2: Poni1 is not a number: 'abc'\n"
    # the same file found beside the image: one warning, the headers' geometry, exit 0
    assert main(["info", "--json", str(image), str(image)]) == 0
    out, err = capsys.readouterr()
    assert err == f"tui-tagger: {bad}:2: Poni1 is not a number: 'abc' (ignored: header geometry shown)\n"
    assert [r["geometry"]["distance_m"] for r in json.loads(out)] == [1.050133, 1.050133]


# ---------------------------------------------------------------------------------------------- real frames


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="the shared real-dev frames are not here")
@pytest.mark.parametrize(
    "name, expected",
    [
        ("xsp__latest_0077026_craw.tiff", {"distance_m": 0.100133, "beam_center_px": (351.23, 214.05),
                                           "incidence_deg": 0.0}),
        ("swaxs__SafeLiMove_WAXS2_1_00002.edf", {"distance_m": 0.107403, "beam_center_px": (1418.9797, 237.0)}),
        ("matilda__SAXS.hdf", {"beam_center_px": (93.59196523, -4.96451977)}),
        ("matilda__LaB6_Normal_0042.hdf", {"beam_center_px": (272.30002604, 2831.3620551)}),
        ("fabio__run2_1_00148.cbf.gz", {"distance_m": 0.3, "beam_center_px": (1310.5, 1230.1)}),
        ("fabio__corkcont2_H_0089.mccd.gz", {"wavelength_m": 0.826554e-10}),
        ("fabio__Cr8F8140k103.0026", {"beam_center_px": (512 - 240.8500061, 260.6099854)}),
        ("ncd__i22-217330-Pilatus2M.h5", {"distance_m": None, "beam_center_px": None}),
    ],
)
def test_real_dev_frames(name, expected):
    g = geometry_of(REAL_DEV / name, auto_poni=False)
    for key, value in expected.items():
        assert getattr(g, key) == (value if value is None else pytest.approx(value)), key


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="the shared real-dev frames are not here")
def test_real_agbh_rings_fall_at_their_q():
    """The header geometry of a laboratory AgBH frame puts the calibrant's orders where they belong."""
    from tui_tagger.core.formats import read_image

    path = REAL_DEV / "xsp__latest_0077026_craw.tiff"
    frame = read_image(path)
    q = q_map(geometry_of(path, auto_poni=False), frame.data.shape)
    valid = frame.mask
    for order in (2, 3, 4):
        expected = 0.10763 * order  # silver behenate d = 58.38 A
        window = valid & (np.abs(q - expected) < 0.03)
        bins = np.linspace(expected - 0.03, expected + 0.03, 61)
        idx = np.digitize(q[window], bins)
        prof = np.array([frame.data[window][idx == i].mean() for i in range(1, len(bins))])
        peak = 0.5 * (bins[1:] + bins[:-1])[np.nanargmax(prof)]
        assert peak == pytest.approx(expected, rel=0.01), order


def test_named_detector_pixel_size_from_pyfai_when_it_is_installed(tmp_path):
    pytest.importorskip("pyFAI")
    path = tmp_path / "pilatus.poni"
    path.write_text('poni_version: 2.1\nDetector: Pilatus1M\nDetector_config: {"orientation": 3}\nDistance: 1.0\n'
                    'Poni1: 0.0172\nPoni2: 0.0344\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1e-10\n')
    p = read_poni(path)
    assert p.pixel_size_m == pytest.approx((172e-6, 172e-6)) and p.max_shape == (1043, 981)
