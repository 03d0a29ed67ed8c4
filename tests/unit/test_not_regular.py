"""Nothing hangs, nothing leaks: FIFOs named like tag files or images are refused at once, HDF5 files may not
read other files' bytes, and every error is one clear line naming the file (never its contents)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tui_tagger.core.errors import ImageReadError, TagFileError
from tui_tagger.core.formats import probe_problem, read_image
from tui_tagger.core.regular import NotRegularFile, check_regular, open_regular
from tui_tagger.core.tagfile import TagFile
from tui_tagger.core.tagstore import TagStore

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
TIMEOUT = 60  # seconds: far more than a command takes; a regression fails here instead of hanging the run


def _tif(path, shape=(16, 16)):
    import tifffile

    tifffile.imwrite(path, (np.arange(np.prod(shape)).reshape(shape) % 200).astype(np.uint16))


@pytest.fixture
def fifo_folder(tmp_path):
    """x.tif, a good image whose tag file x.tag is a FIFO; y.tif, a FIFO named like an image; z.tif, tagged."""
    root = tmp_path / "run"
    root.mkdir()
    _tif(root / "x.tif")
    _tif(root / "z.tif")
    tf = TagFile.new(root / "z.xml", "z.tif")
    tf.add("Powder")
    tf.save(fsync=False)
    os.mkfifo(root / "x.tag")
    os.mkfifo(root / "y.tif")
    return root


def _cli(cwd, *argv):
    """The CLI in a child process: a read that blocks fails the test at TIMEOUT instead of hanging pytest."""
    try:
        out = subprocess.run([sys.executable, "-m", "tui_tagger", *argv], cwd=cwd, capture_output=True,
                             text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tui-tagger {' '.join(argv)} hung on a FIFO")
    return out.returncode, out.stdout, out.stderr


# --- the helper ------------------------------------------------------------------------------------------

@needs_fifo
def test_open_regular_refuses_a_fifo_without_waiting(tmp_path):
    fifo = tmp_path / "x.tag"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile) as err:
        open_regular(fifo)  # no writer: a plain open() would wait forever
    assert err.value.strerror == "not a regular file (a FIFO)" and str(err.value) == err.value.strerror
    with pytest.raises(NotRegularFile, match="a FIFO"):
        check_regular(fifo)
    with pytest.raises(IsADirectoryError):
        open_regular(tmp_path)
    (tmp_path / "ok").write_bytes(b"data")
    with open_regular(tmp_path / "ok") as fh:
        assert fh.read() == b"data" and fh.name == str(tmp_path / "ok")


def test_a_character_device_is_refused():
    if not os.path.exists(os.devnull) or os.name != "posix":
        pytest.skip("no /dev/null")
    with pytest.raises(NotRegularFile, match=r"not a regular file \(a character device\)"):
        open_regular(os.devnull)
    with pytest.raises(TagFileError, match="not a regular file"):
        TagFile.read(os.devnull)
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(os.devnull)


# --- FIFOs: core and CLI ---------------------------------------------------------------------------------

@needs_fifo
def test_core_refuses_fifo_tag_file_and_image(fifo_folder):
    with pytest.raises(TagFileError) as err:
        TagFile.read(fifo_folder / "x.tag")
    assert str(err.value) == f"{fifo_folder / 'x.tag'}: not a regular file (a FIFO)"
    with pytest.raises(ImageReadError) as err:
        read_image(fifo_folder / "y.tif")
    assert str(err.value) == f"{fifo_folder / 'y.tif'}: not a regular file (a FIFO)"
    # the FIFO counts as x.tif's tag file (its tags are unknown, nothing is written beside it)
    assert TagStore().source_for(fifo_folder / "x.tif") == fifo_folder / "x.tag"
    with pytest.raises(TagFileError, match="x.tag: not a regular file"):
        TagStore().load(fifo_folder / "x.tif")
    # a scan lists the FIFO named like an image as a bad row, without reading it
    fmt, refs, problem = probe_problem(fifo_folder / "y.tif")
    assert fmt == "tiff" and problem == f"{fifo_folder / 'y.tif'}: not a regular file (a FIFO)"


@needs_fifo
def test_catalog_scan_completes_and_marks_both_fifos(fifo_folder):
    from tui_tagger.core.catalog import Catalog

    entries = {e.rel: e for e in Catalog(fifo_folder).entries()}
    assert set(entries) == {"x.tif", "y.tif", "z.tif"}
    assert entries["x.tif"].tag_error == f"{fifo_folder / 'x.tag'}: not a regular file (a FIFO)"
    assert entries["y.tif"].error == f"{fifo_folder / 'y.tif'}: not a regular file (a FIFO)"
    assert entries["z.tif"].tags == {"Powder": "human"} and not entries["z.tif"].error


@needs_fifo
def test_cli_commands_return_promptly_naming_the_fifo(fifo_folder):
    cwd = fifo_folder.parent
    code, out, err = _cli(cwd, "tags", "run/x.tag")
    assert code == 1 and err == "tui-tagger: run/x.tag: not a regular file (a FIFO)\n"
    code, out, err = _cli(cwd, "tags", "run/x.tif", "run/y.tif", "run/z.tif")
    assert code == 1
    assert err.splitlines() == ["tui-tagger: run/x.tag: not a regular file (a FIFO)",
                                "tui-tagger: run/y.tif: not a regular file (a FIFO)"]
    assert out == "run/z.tif: Powder (human)\n"
    code, out, err = _cli(cwd, "tag", "run/x.tif", "run/x.tag", "--add", "Powder")
    assert code == 1 and err.count("x.tag: not a regular file (a FIFO)") == 2
    assert sorted(p.name for p in fifo_folder.iterdir()) == ["x.tag", "x.tif", "y.tif", "z.tif", "z.xml"]
    code, out, err = _cli(cwd, "search", "run", "Powder")
    assert code == 0 and out == "run/z.tif\n"
    assert err == "tui-tagger: run/x.tag: not a regular file (a FIFO) (not searched)\n"
    code, out, err = _cli(cwd, "export", "run", "--format", "json")
    assert code == 0, err
    rows = {os.path.basename(r["path"]): r for r in __import__("json").loads(out)}
    assert rows["x.tif"]["error"] == "run/x.tag: not a regular file (a FIFO)"
    assert rows["y.tif"]["error"] == "run/y.tif: not a regular file (a FIFO)"
    assert rows["z.tif"]["tags"] == ["Powder"]
    code, out, err = _cli(cwd, "info", "run/y.tif")
    assert code == 1 and err == "tui-tagger: run/y.tif: not a regular file (a FIFO)\n"


def test_tags_prints_a_bad_tag_files_error_once(tmp_path, monkeypatch, capsys):
    from tui_tagger.cli import main

    _tif(tmp_path / "a.tif")
    (tmp_path / "a.xml").write_text("<tag_list><oops")
    monkeypatch.chdir(tmp_path)
    assert main(["tags", "a.tif", "a.xml"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("tui-tagger: a.xml:1: not valid XML")


# --- HDF5: other files' bytes ----------------------------------------------------------------------------

SECRET = bytes(range(65, 91)) * 40  # "ABC...Z" x 40 = 1040 bytes: 32 x 32 uint8 pixels if they were read


def test_hdf5_external_storage_is_refused(tmp_path):
    import h5py

    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    path = tmp_path / "ext.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("entry/data/data", shape=(32, 32), dtype="uint8", external=[(str(secret), 0, 1024)])
    with h5py.File(path, "r") as f:  # h5py would hand the other file's bytes over as pixels
        assert f["entry/data/data"][0, :3].tolist() == [65, 66, 67]
    with pytest.raises(ImageReadError) as err:
        read_image(path)
    message = str(err.value)
    assert message.startswith(f"{path}: dataset /entry/data/data keeps its values in another file")
    assert "external storage" in message and "refused" in message and "\n" not in message
    assert "ABC" not in message


def test_hdf5_virtual_dataset_from_other_files_is_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "src.h5", "w") as f:
        f["d"] = np.ones((8, 8), np.uint16)
    layout = h5py.VirtualLayout(shape=(8, 8), dtype="uint16")
    layout[:] = h5py.VirtualSource(str(tmp_path / "src.h5"), "d", shape=(8, 8))
    path = tmp_path / "vds.h5"
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("entry/data/data", layout)
    with pytest.raises(ImageReadError, match=r"dataset /entry/data/data is a virtual dataset reading other files .*refused"):
        read_image(path)


def test_hdf5_external_link_leaving_the_folder_is_refused(tmp_path):
    import h5py

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with h5py.File(elsewhere / "private.h5", "w") as f:
        f["data"] = np.full((8, 8), 7, np.uint16)
    here = tmp_path / "here"
    here.mkdir()
    for name, target in (("abs.h5", str(elsewhere / "private.h5")), ("up.h5", "../elsewhere/private.h5"),
                         ("passwd.h5", "/etc/passwd")):
        with h5py.File(here / name, "w") as f:
            f["entry/data/data"] = h5py.ExternalLink(target, "/data")
        with pytest.raises(ImageReadError) as err:
            read_image(here / name)
        message = str(err.value)
        assert message.startswith(f"{here / name}: /entry/data/data is an external link to ")
        assert "outside this file's folder: refused" in message
        fmt, refs, _ = probe_problem(here / name)  # the scan counts nothing through the link either
        assert refs == [str(here / name)]


@needs_fifo
def test_hdf5_external_link_to_a_fifo_beside_it_is_refused(tmp_path):
    import h5py

    os.mkfifo(tmp_path / "series_data_000001.h5")
    with h5py.File(tmp_path / "series_master.h5", "w") as f:
        f["entry/data/data_000001"] = h5py.ExternalLink("series_data_000001.h5", "/entry/data/data")
    with pytest.raises(ImageReadError, match=r"external link to series_data_000001.h5: .*not a regular file \(a FIFO\)"):
        read_image(tmp_path / "series_master.h5")


# --- messages: never file contents, always plain words ---------------------------------------------------

def test_symlinked_tif_to_a_text_file_names_no_bytes_of_it(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    link = tmp_path / "x.tif"
    link.symlink_to(secret)
    with pytest.raises(ImageReadError) as err:
        read_image(link)
    message = str(err.value)
    assert message == f"{link}: named like a TIFF file but is not one (it holds text, not image data)"
    _, _, problem = probe_problem(link)
    assert problem == message
    binary = tmp_path / "blob.tif"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(200)))
    with pytest.raises(ImageReadError) as err:
        read_image(binary)
    assert str(err.value).endswith("not one (unknown magic bytes)") and "7f" not in str(err.value)
    (tmp_path / "noext").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(200)))
    with pytest.raises(ImageReadError, match=r"not an image format tui-tagger reads \(unknown magic bytes\)$"):
        read_image(tmp_path / "noext")


def test_single_pixel_row_and_column_images_say_so(tmp_path):
    _tif(tmp_path / "dot.tif", (1, 1))
    with pytest.raises(ImageReadError) as err:
        read_image(tmp_path / "dot.tif")
    assert str(err.value) == f"{tmp_path / 'dot.tif'}: holds a single pixel (shape 1x1), not an image"
    _tif(tmp_path / "row.tif", (1, 40))
    with pytest.raises(ImageReadError, match=r"holds a single row of 40 pixels \(1-D data, shape 1x40\), not a 2-D image$"):
        read_image(tmp_path / "row.tif")


def _cbf(path, shape=(32, 32)):
    from fabio.cbfimage import CbfImage

    CbfImage(data=(np.arange(np.prod(shape)).reshape(shape) % 300).astype(np.int32)).write(str(path))
    return path.read_bytes()


def _read_message(path) -> str:
    """read_image's error in a child process: a reader that loops forever fails the test, not the run."""
    code = ("import sys\nfrom tui_tagger.core.formats import read_image\n"
            "try:\n    read_image(sys.argv[1])\nexcept Exception as e:\n    print(e)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {path} never ended")
    return out.stdout.strip()


def test_corrupt_and_truncated_cbf_files_say_what_is_wrong(tmp_path):
    good = _cbf(tmp_path / "good.cbf")
    start = good.index(b"\x0c\x1a\x04\xd5")
    cases = {
        "half.cbf": good[: len(good) // 2],  # fabio: AssertionError
        "header_only.cbf": good[:start],  # fabio: reads on for ever
        "no_binary.cbf": b"###CBF: VERSION 1.5\ndata_x\n" + bytes(range(256)) * 4,  # fabio: 'NoneType'...find
        "no_conversions.cbf": good.replace(b"conversions", b"cOnversions"),  # fabio: KeyError
    }
    expected = {
        "half.cbf": "truncated or corrupt CBF file (the pixel data does not match the size its header declares)",
        "header_only.cbf": "truncated CBF file: the binary data section ends before its pixel data starts",
        "no_binary.cbf": "truncated or corrupt CBF file: it has no binary data section (no pixels)",
        "no_conversions.cbf": "corrupt CBF file (its header lacks 'conversions')",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        message = _read_message(tmp_path / name)
        assert message == f"{tmp_path / name}: {expected[name]}", message
        for jargon in ("AssertionError", "NoneType", "attribute"):
            assert jargon not in message


def test_nan_exponent_reads_clearly():
    from tui_tagger.core.errors import ExpressionError
    from tui_tagger.core.expression import compile_expression

    with pytest.raises(ExpressionError) as err:
        compile_expression("img ** nan")
    assert str(err.value) == "the exponent is not a number (it works out to nan); use a number from -64 to 64"
    with pytest.raises(ExpressionError, match="the exponent is infinite"):
        compile_expression("img ** (1e12 ** 30)")


def test_nan_and_huge_numbers_in_a_tag_file_are_ignored_not_kept(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text('<tag_list filename="a.tif"><tag id="3" source="model" p="nan">Ring: Isotropic</tag>'
                    '<predictions model="m"><p name="Halo" value="1e999"/><p name="Powder" value="0.25"/></predictions>'
                    '</tag_list>')
    tf = TagFile.read(path)
    assert tf.tags["Ring: Isotropic"].p is None and tf.predictions == {"Powder": 0.25}
    tf.add("Powder", source="human")
    tf.save(fsync=False)
    assert 'p="nan"' in path.read_text()  # what tui-tagger does not understand stays as it was


# --- model files -----------------------------------------------------------------------------------------

def test_a_model_pickle_with_code_is_refused_as_unsafe(tmp_path):
    torch = pytest.importorskip("torch")
    from tui_tagger.model.checkpoint import ModelFileError, load_checkpoint

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should never run",))

    buf = io.BytesIO()
    torch.save({"magic": "tui-tagger-model", "state_dict": {}, "payload": Evil()}, buf)
    path = tmp_path / "evil.pt"
    path.write_bytes(buf.getvalue())
    with zipfile.ZipFile(path) as z:  # the pickle really asks for os.system (posix.system)
        pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
        assert b"system" in z.read(pkl)
    with pytest.raises(ModelFileError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path}: refused: contains code or objects a model file must not contain")
    assert "not safe to load" in message and "system" in message
    assert "weights_only" not in message and "damaged" not in message and "\n" not in message
    # the same for a hand-written pickle whose GLOBAL opcode names another callable
    raw = b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R."
    pickle.loads(raw.replace(b"eval", b"len").replace(b"1+1", b"abcd"))  # a valid pickle of that shape
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", raw)
        z.writestr("evil/version", "3\n")
        z.writestr("evil/byteorder", "little")
    with pytest.raises(ModelFileError, match="refused: contains code or objects") as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value)
    # protocol 4 names globals with STACK_GLOBAL, an opcode torch's safe loader does not take at all
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps(os.system, protocol=4))
        z.writestr("evil/version", "3\n")
    with pytest.raises(ModelFileError, match="refused: contains code or objects") as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value) and "damaged" not in str(err.value)
    # plain damage still reads as damage, without torch's advice either
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", b"\x80\x02}q\x00\xff\xfe")
        z.writestr("evil/version", "3\n")
    with pytest.raises(ModelFileError, match="damaged or truncated model file") as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value) and "refused" not in str(err.value)


@needs_fifo
def test_a_fifo_model_file_is_refused(tmp_path):
    pytest.importorskip("torch")
    from tui_tagger.model.checkpoint import ModelFileError, load_checkpoint

    os.mkfifo(tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match=r"not a regular file \(a FIFO\)"):
        load_checkpoint(tmp_path / "m.pt")
