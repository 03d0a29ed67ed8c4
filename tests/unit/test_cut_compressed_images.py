"""A .bz2 / .gz frame whose compressed stream is cut short or damaged (an interrupted copy) says so, not that
the file is "named like a EDF file but is not one (unknown magic bytes)", which sends the user looking for a
mislabelled file."""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pytest

from tui_tagger.core.errors import ImageReadError
from tui_tagger.core.formats import probe_problem, read_image


@pytest.fixture
def edf_bytes(tmp_path):
    from fabio.edfimage import EdfImage

    noise = np.random.default_rng(0).integers(0, 2**16, (512, 512), dtype=np.uint16)  # one bzip2 block
    EdfImage(data=noise).write(tmp_path / "full.edf")
    return (tmp_path / "full.edf").read_bytes()


def test_a_cut_bzip2_frame_says_its_stream_is_cut(tmp_path, edf_bytes):
    packed = bz2.compress(edf_bytes)
    cut = tmp_path / "frame.edf.bz2"
    cut.write_bytes(packed[: len(packed) // 2])
    want = f"{cut}: corrupt or truncated bzip2 file: its start does not decompress"
    with pytest.raises(ImageReadError) as err:
        read_image(cut)
    assert str(err.value) == want
    assert probe_problem(cut)[2] == want


def test_a_damaged_gzip_stream_says_so(tmp_path, edf_bytes):
    """zlib's own error escaped the reader: a traceback from ``info``, the file left out of a folder's list."""
    packed = bytearray(gzip.compress(edf_bytes))
    packed[3] = 0xFF  # every header flag set: the header is misread and zlib fails on what follows
    bad = tmp_path / "frame.edf.gz"
    bad.write_bytes(bytes(packed))
    want = f"{bad}: corrupt or truncated gzip file: its start does not decompress"
    with pytest.raises(ImageReadError) as err:
        read_image(bad)
    assert str(err.value) == want
    assert probe_problem(bad) == ("edf", [str(bad)], want)
