"""The image readers: every format the field writes, the validity mask, metadata, and clean errors on bad files."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

from tui_tagger.core.errors import ImageReadError
from tui_tagger.core.formats import frame_refs, parse_ref, read_image, sniff

H, W = 48, 64


def ramp(dtype, scale=1.0) -> np.ndarray:
    return ((np.arange(H * W).reshape(H, W) % 200) * scale).astype(dtype)


# --- TIFF of every depth -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "int16", "int32", "float32", "float64"])
def test_tiff_every_depth_reads_as_float32_with_the_file_dtype(tmp_path, dtype):
    import tifffile

    path = tmp_path / f"img_{dtype}.tif"
    raw = ramp(dtype, 1.5 if dtype.startswith("float") else 1)
    tifffile.imwrite(path, raw)
    frame = read_image(path)
    assert frame.format == "tiff"
    assert frame.data.dtype == np.float32 and frame.data.shape == (H, W)
    assert frame.mask.dtype == bool and frame.mask.all()
    np.testing.assert_allclose(frame.data, raw.astype(np.float32))
    assert frame.meta["dtype"] == dtype and frame.meta["shape"] == [H, W]


def test_int32_negative_pixels_are_masked_and_float_nan_inf_too(tmp_path):
    import tifffile

    raw = ramp("int32")
    raw[0, :5] = -1  # Pilatus gap
    raw[1, 0] = -2  # bad pixel
    tifffile.imwrite(tmp_path / "p.tif", raw)
    frame = read_image(tmp_path / "p.tif")
    assert not frame.mask[0, :5].any() and not frame.mask[1, 0] and frame.mask.sum() == H * W - 6
    assert frame.meta["masked_fraction"] == pytest.approx(6 / (H * W))

    f = ramp("float32")
    f[2, 2], f[3, 3] = np.nan, np.inf
    tifffile.imwrite(tmp_path / "f.tif", f)
    frame = read_image(tmp_path / "f.tif")
    assert not frame.mask[2, 2] and not frame.mask[3, 3] and frame.mask.sum() == H * W - 2


def test_uint16_tiff_65535_is_saturation_not_a_flag_but_uint32_max_is_a_flag(tmp_path):
    import tifffile

    raw = ramp("uint16")
    raw[0, :4] = 65535
    tifffile.imwrite(tmp_path / "s.tif", raw)
    frame = read_image(tmp_path / "s.tif")
    assert frame.mask.all()
    assert frame.data[0, 0] == 65535
    assert frame.meta["saturated_fraction"] == pytest.approx(4 / (H * W))

    raw32 = ramp("uint32")
    raw32[5, 5] = 2**32 - 1
    tifffile.imwrite(tmp_path / "e.tif", raw32)
    frame = read_image(tmp_path / "e.tif")
    assert not frame.mask[5, 5] and frame.mask.sum() == H * W - 1


def test_rgb_tiff_and_multipage_tiff(tmp_path):
    import tifffile

    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 1] = 100
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    frame = read_image(tmp_path / "rgb.tif")
    assert frame.data.shape == (H, W)
    np.testing.assert_allclose(frame.data, 58.7, rtol=1e-4)  # luminance of pure green 100

    stack = np.stack([ramp("uint16") + i for i in range(3)])
    tifffile.imwrite(tmp_path / "pages.tif", stack, photometric="minisblack")
    refs = frame_refs(tmp_path / "pages.tif")
    assert refs == [f"{tmp_path / 'pages.tif'}#{i}" for i in range(3)]
    assert read_image(refs[2]).data[0, 0] == 2
    assert read_image(tmp_path / "pages.tif").meta["frames"] == 3


def test_lzw_tiff_falls_back_to_pillow(tmp_path):
    from PIL import Image

    raw = ramp("uint8")
    Image.fromarray(raw).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_image(tmp_path / "lzw.tif").data, raw)


# --- MarCCD (real frames) ------------------------------------------------------------------------------

def test_real_marccd_frames_without_extension(data_dir):
    for path in sorted((data_dir / "real-examples").iterdir()):
        if path.suffix == ".tag":
            assert sniff(path) is None
            continue
        assert sniff(path) == "marccd"
        frame = read_image(path)
        assert frame.format == "marccd" and frame.data.shape == (1024, 1024)
        assert frame.meta["dtype"] == "uint16"
        assert frame.mask.all()  # 65535 is a saturated pixel, still valid
        assert 0 < frame.meta["saturated_fraction"] < 0.01
        bx, by = frame.meta["beam_center_px"]
        assert 400 < bx < 600 and 400 < by < 600
        assert frame.meta["exposure_time_s"] == pytest.approx(10.25, abs=0.05)
        assert frame.meta["wavelength_A"] == pytest.approx(1.03318)


# --- fabio formats -------------------------------------------------------------------------------------

@pytest.mark.parametrize("written, angstrom", [("1.0332e-10", 1.0332), ("1.08", 1.08)])
def test_a_headers_wavelength_in_metres_or_angstrom_is_shown_in_angstrom(tmp_path, written, angstrom):
    """EDF SAXS keywords give metres; a mar345 header (read through the same fabio path) gives A: 1.08 A was
    shown as 1.08e10 A."""
    from fabio.edfimage import EdfImage

    EdfImage(data=ramp("uint16"), header={"Wavelength": written}).write(tmp_path / "w.edf")
    assert read_image(tmp_path / "w.edf").meta["wavelength_A"] == pytest.approx(angstrom)


def test_edf_single_and_multi_frame_with_header(tmp_path):
    from fabio.edfimage import EdfImage

    EdfImage(data=ramp("uint16"), header={"ExposureTime": "2.5", "Center_1": "30.5", "Center_2": "20"}).write(
        tmp_path / "a.edf")
    frame = read_image(tmp_path / "a.edf")
    assert frame.format == "edf" and sniff(tmp_path / "a.edf") == "edf"
    np.testing.assert_array_equal(frame.data, ramp("uint16"))
    assert frame.meta["exposure_time_s"] == 2.5 and frame.meta["beam_center_px"] == [30.5, 20.0]

    multi = EdfImage(data=ramp("float32"))
    multi.append_frame(data=ramp("float32") + 7)
    multi.write(tmp_path / "m.edf")
    refs = frame_refs(tmp_path / "m.edf")
    assert len(refs) == 2
    assert read_image(refs[1]).data[0, 0] == 7
    with pytest.raises(ImageReadError, match="frame 5 out of range"):
        read_image(f"{tmp_path / 'm.edf'}#5")


def test_cbf_with_pilatus_gaps(tmp_path):
    from fabio.cbfimage import CbfImage

    raw = ramp("int32")
    raw[10, :] = -1
    CbfImage(data=raw).write(str(tmp_path / "a.cbf"))
    frame = read_image(tmp_path / "a.cbf")
    assert frame.format == "cbf" and frame.meta["dtype"] == "int32"
    assert not frame.mask[10].any() and frame.mask.sum() == H * W - W
    np.testing.assert_array_equal(frame.data[frame.mask], raw[raw >= 0])


def test_gzipped_edf(tmp_path):
    from fabio.edfimage import EdfImage

    EdfImage(data=ramp("uint16")).write(tmp_path / "a.edf")
    (tmp_path / "a.edf.gz").write_bytes(gzip.compress((tmp_path / "a.edf").read_bytes()))
    assert sniff(tmp_path / "a.edf.gz") == "edf"
    np.testing.assert_array_equal(read_image(tmp_path / "a.edf.gz").data, ramp("uint16"))


def test_truncated_edf_is_an_error_not_zero_padding(tmp_path):
    """fabio pads a short EDF data block with zeros; a truncated file must not pass for a real frame."""
    from fabio.edfimage import EdfImage

    EdfImage(data=ramp("uint16")).write(tmp_path / "a.edf")
    data = (tmp_path / "a.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[:-100])
    (tmp_path / "cut.edf.gz").write_bytes(gzip.compress(data[:-100]))
    for name in ("cut.edf", "cut.edf.gz"):
        with pytest.raises(ImageReadError, match="truncated EDF") as err:
            read_image(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path / name)) and "\n" not in str(err.value)
    multi = EdfImage(data=ramp("uint16"))
    multi.append_frame(data=ramp("uint16") + 7)
    multi.write(tmp_path / "m.edf")
    (tmp_path / "mcut.edf").write_bytes((tmp_path / "m.edf").read_bytes()[:-100])
    assert read_image(f"{tmp_path / 'mcut.edf'}#0").data[0, 0] == 0  # the whole first frame is still there
    with pytest.raises(ImageReadError, match="truncated EDF file: frame 1"):
        read_image(f"{tmp_path / 'mcut.edf'}#1")


# --- HDF5 / NeXus / Eiger ------------------------------------------------------------------------------

def _nexus_stack(path, frames=4, dtype="uint32", mask=None, compression=None):
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        det = entry.create_group("instrument/detector")
        entry["instrument"].attrs["NX_class"] = "NXinstrument"
        det.attrs["NX_class"] = "NXdetector"
        det["count_time"] = 0.5
        det["beam_center_x"] = 31.0
        det["beam_center_y"] = 22.0
        if mask is not None:
            det["pixel_mask"] = mask
        data = np.stack([ramp(dtype) + i for i in range(frames)])
        kw = {"compression": compression} if compression else {}
        det.create_dataset("data", data=data, chunks=(1, H, W), **kw)
        nxdata = entry.create_group("data")
        nxdata.attrs["NX_class"] = "NXdata"
        nxdata.attrs["signal"] = "data"
        nxdata["data"] = det["data"]  # hard link, as NeXus writers do


def test_hdf5_stack_refs_default_dataset_and_flags(tmp_path):
    path = tmp_path / "stack.h5"
    mask = np.zeros((H, W), np.uint32)
    mask[:, 0] = 1  # gap column
    _nexus_stack(path, mask=mask)
    assert sniff(path) == "hdf5"
    frame = read_image(path)
    assert frame.format == "hdf5" and frame.meta["frames"] == 4 and frame.meta["frame"] == 0
    assert not frame.mask[:, 0].any() and frame.mask[:, 1:].all()
    assert frame.meta["exposure_time_s"] == 0.5 and frame.meta["beam_center_px"] == [31.0, 22.0]
    assert read_image(f"{path}::/entry/data/data#2").data[0, 1] == 3
    assert read_image(f"{path}#3").data[0, 0] == 3
    assert read_image(f"{path}#-1").meta["frame"] == 3
    refs = frame_refs(path)
    assert len(refs) == 4 and read_image(refs[1]).data[0, 0] == 1


def test_hdf5_unsigned_max_is_an_eiger_flag(tmp_path):
    import h5py

    for dtype in ("uint16", "uint32"):
        raw = ramp(dtype)
        raw[4, 4] = np.iinfo(dtype).max
        with h5py.File(tmp_path / f"{dtype}.h5", "w") as f:
            f["entry/data/data"] = raw[None]
        frame = read_image(tmp_path / f"{dtype}.h5")
        assert not frame.mask[4, 4] and frame.mask.sum() == H * W - 1


def test_hdf5_largest_dataset_is_the_fallback(tmp_path):
    import h5py

    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["positions"] = np.zeros((100, 3))
        f["scan/images"] = np.stack([ramp("float32")] * 2)
        f["scan/small"] = np.zeros((8, 8))
    frame = read_image(tmp_path / "plain.h5")
    assert frame.meta["dataset"] == "/scan/images" and frame.meta["frames"] == 2


def test_hdf5_bitshuffle_lz4_compressed(tmp_path):
    import h5py
    import hdf5plugin

    with h5py.File(tmp_path / "bs.h5", "w") as f:
        f.create_dataset("entry/data/data", data=ramp("uint16")[None], chunks=(1, H, W), **hdf5plugin.Bitshuffle())
    np.testing.assert_array_equal(read_image(tmp_path / "bs.h5").data, ramp("uint16"))


def _eiger(tmp_path, parts=(3, 2)):
    import h5py

    master = tmp_path / "series_master.h5"
    with h5py.File(master, "w") as f:
        f["entry/instrument/detector/count_time"] = 0.1
        pixel_mask = np.zeros((H, W), np.uint32)
        pixel_mask[0, 0] = 4  # a dead pixel
        f["entry/instrument/detector/detectorSpecific/pixel_mask"] = pixel_mask
        start = 0
        for k, n in enumerate(parts, 1):
            name = f"series_data_{k:06d}.h5"
            with h5py.File(tmp_path / name, "w") as d:
                d.create_dataset("entry/data/data", data=np.stack([ramp("uint32") + start + i for i in range(n)]))
            f[f"entry/data/data_{k:06d}"] = h5py.ExternalLink(name, "/entry/data/data")
            start += n
    return master


def test_eiger_master_with_external_data_files(tmp_path, monkeypatch):
    master = _eiger(tmp_path)
    monkeypatch.chdir(tmp_path.parent)  # links resolve beside the master, not in the working folder
    frame = read_image(master)
    assert frame.meta["frames"] == 5 and frame.meta["exposure_time_s"] == 0.1
    assert not frame.mask[0, 0] and frame.mask.sum() == H * W - 1  # detectorSpecific/pixel_mask
    assert read_image(f"{master}#4").data[0, 1] == 5  # second data file, its second frame
    refs = frame_refs(master)
    assert len(refs) == 5 and read_image(refs[3]).data[0, 0] == 3


def test_eiger_master_with_a_missing_data_file_names_the_link(tmp_path):
    master = _eiger(tmp_path)
    os.remove(tmp_path / "series_data_000002.h5")
    with pytest.raises(ImageReadError, match="series_data_000002.h5") as err:
        read_image(master)
    assert str(err.value).startswith(str(master))


# --- Pillow formats ------------------------------------------------------------------------------------

def test_png_grey_16bit_and_jpeg_rgb(tmp_path):
    from PIL import Image

    raw = ramp("uint16", 300)
    Image.fromarray(raw).save(tmp_path / "a.png")
    frame = read_image(tmp_path / "a.png")
    assert frame.format == "png" and sniff(tmp_path / "a.png") == "png"
    np.testing.assert_array_equal(frame.data, raw)

    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "a.jpg")
    frame = read_image(tmp_path / "a.jpg")
    assert frame.format == "jpeg" and frame.data.shape == (H, W)
    assert abs(float(frame.data.mean()) - 0.299 * 200) < 3


def test_bytes_win_over_the_name(tmp_path):
    from PIL import Image

    Image.fromarray(ramp("uint8")).save(tmp_path / "really_png.tif", format="PNG")
    assert read_image(tmp_path / "really_png.tif").format == "png"


# --- refs and bad files --------------------------------------------------------------------------------

def test_parse_ref_keeps_existing_names_with_hash(tmp_path):
    odd = tmp_path / "run#2.tif"
    odd.write_bytes(b"")
    assert parse_ref(odd).path == odd and parse_ref(odd).index is None
    r = parse_ref("x.h5::/entry/data/data#12")
    assert (str(r.path), r.dataset, r.index) == ("x.h5", "/entry/data/data", 12)
    assert parse_ref("x.h5#3").index == 3 and parse_ref("x.h5#3").dataset is None


def _huge_tiff(path):
    """A valid little TIFF whose IFD declares 100000 x 100000 pixels."""
    import tifffile

    tifffile.imwrite(path, np.zeros((4, 4), np.uint16))
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        for name in ("ImageWidth", "ImageLength"):
            tag = tags[name]
            fmt = "<I" if tag.dtype == 4 else "<H"
            struct.pack_into(fmt, data, tag.valueoffset, 100000 if fmt == "<I" else 60000)
    path.write_bytes(bytes(data))


BAD = {
    "empty.tif": (lambda p: p.write_bytes(b""), "empty file"),
    "text.tif": (lambda p: p.write_text("hello, not an image\n"), "not one"),
    "random_noext": (lambda p: p.write_bytes(bytes(range(256)) * 4), "not an image format"),
    "notes.edf": (lambda p: p.write_text("{ just braces }"), "not one"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_give_one_line_errors_naming_the_file(tmp_path, name):
    make, words = BAD[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(ImageReadError, match=words) as err:
        read_image(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_truncated_huge_and_1d_tiffs(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "line.tif", np.arange(10, dtype=np.uint16))
    with pytest.raises(ImageReadError, match="1-D"):
        read_image(tmp_path / "line.tif")

    tifffile.imwrite(tmp_path / "full.tif", ramp("uint16"))
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    (tmp_path / "cut_header.tif").write_bytes(data[:100])
    for name in ("cut.tif", "cut_header.tif"):
        with pytest.raises(ImageReadError, match="TIFF") as err:
            read_image(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path / name))

    _huge_tiff(tmp_path / "huge.tif")
    with pytest.raises(ImageReadError, match="more than the limit"):
        read_image(tmp_path / "huge.tif")
    with pytest.raises(ImageReadError, match="more than the limit"):
        read_image(tmp_path / "full.tif", max_pixels=100)


def test_huge_declared_edf_is_refused_before_decoding(tmp_path):
    from fabio.edfimage import EdfImage

    EdfImage(data=ramp("uint16")).write(tmp_path / "a.edf")
    data = (tmp_path / "a.edf").read_bytes().replace(b"Dim_1 = 64 ", b"Dim_1 = 9999999")
    (tmp_path / "huge.edf").write_bytes(data)
    with pytest.raises(ImageReadError, match="more than the limit"):
        read_image(tmp_path / "huge.edf", max_pixels=2**24)


def test_hdf5_errors_missing_dataset_bad_index_1d_and_truncated(tmp_path):
    import h5py

    path = tmp_path / "s.h5"
    _nexus_stack(path, frames=3)
    with pytest.raises(ImageReadError, match="no dataset /entry/nothing.*entry/data/data"):
        read_image(f"{path}::/entry/nothing")
    with pytest.raises(ImageReadError, match="frame 7 out of range: the file has 3 frames"):
        read_image(f"{path}#7")
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f["x"] = np.arange(10)
        f["empty"] = np.zeros((0, 5))
    with pytest.raises(ImageReadError, match="without an image dataset"):
        read_image(tmp_path / "flat.h5")
    with pytest.raises(ImageReadError, match="1-D"):
        read_image(f"{tmp_path / 'flat.h5'}::/x")
    with pytest.raises(ImageReadError, match="no pixels"):
        read_image(f"{tmp_path / 'flat.h5'}::/empty")
    data = path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageReadError) as err:
        read_image(tmp_path / "cut.h5")
    assert str(err.value).startswith(str(tmp_path / "cut.h5"))


def test_directory_missing_file_and_fifo_never_hang(tmp_path):
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path)
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "absent.tif")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.tif")
        with pytest.raises(ImageReadError):
            read_image(tmp_path / "pipe.tif")
        assert sniff(tmp_path / "pipe.tif") is None


def test_sniff_never_raises_and_ignores_text(tmp_path):
    (tmp_path / "notes.txt").write_text("{\"json\": true}")
    assert sniff(tmp_path / "notes.txt") is None
    assert sniff(tmp_path / "absent.h5") is None
    assert frame_refs(tmp_path / "absent.h5") == [str(tmp_path / "absent.h5")]
