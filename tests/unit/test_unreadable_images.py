"""An image the user may not read (mode 000, another group's file) is listed with "permission denied", never
silently left out of a folder: predict, evaluate and the TUI would otherwise show one frame fewer and say
nothing."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from tui_tagger.core import regular
from tui_tagger.core.formats import base, probe_problem, sniff


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """ok.tif readable; locked.tif mode 000. Root reads any file, so there the read is refused as the
    kernel would refuse it for a user."""
    import tifffile

    for name in ("ok.tif", "locked.tif"):
        tifffile.imwrite(tmp_path / name, np.ones((8, 8), np.uint16))
    locked = tmp_path / "locked.tif"
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        real = regular.read_regular

        def refuse(path, limit):
            if os.path.basename(os.fspath(path)) == "locked.tif" and not os.stat(path).st_mode & 0o444:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path, limit)

        monkeypatch.setattr(base, "read_regular", refuse)
    yield tmp_path
    locked.chmod(0o644)


def test_an_unreadable_image_is_listed_with_its_problem(folder):
    locked = str(folder / "locked.tif")
    assert sniff(locked) == "tiff"
    fmt, refs, problem = probe_problem(locked)
    assert (fmt, refs, problem) == ("tiff", [locked], f"{locked}: permission denied")


def test_predicts_folder_walk_keeps_the_unreadable_image(folder):
    from tui_tagger.model.data import image_refs

    assert image_refs([folder]) == [str(folder / "locked.tif"), str(folder / "ok.tif")]


def test_the_folder_index_lists_it_as_bad(folder):
    from tui_tagger.core.catalog import Catalog

    entries = {e.rel: e for e in Catalog(folder).entries()}
    assert set(entries) == {"locked.tif", "ok.tif"}
    assert entries["locked.tif"].error == f"{folder / 'locked.tif'}: permission denied"
    assert not entries["ok.tif"].error


def test_the_index_forgets_the_problem_once_the_file_may_be_read(folder):
    """A permission is not the file's content: after chmod the file is read again, although its size and
    time (what the index keys a known problem on) did not change."""
    from tui_tagger.core.catalog import Catalog

    def entries():
        return {e.rel: e for e in Catalog(folder).entries()}

    assert entries()["locked.tif"].error
    (folder / "locked.tif").chmod(0o644)
    assert not entries()["locked.tif"].error
    assert not entries()["locked.tif"].error  # and it stays so
