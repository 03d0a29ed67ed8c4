"""A FIFO named like a tag file or an image never hangs the viewer: the folder shows, both are marked (the
image bad, the other image's tag file), and q quits."""

from __future__ import annotations

import os

import pytest
from support import make_folder, ready

from tui_tagger.ui.app import TaggerApp

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


async def test_a_folder_with_fifo_tag_file_and_image_opens_and_quits(tmp_path):
    folder = make_folder(tmp_path / "data", n=3, tagged={"img00": ["Ring: Isotropic"]})
    os.mkfifo(folder / "img01.tag")  # img01's tag file: a read would wait for a writer forever
    os.mkfifo(folder / "ghost.tif")  # named like an image
    app = TaggerApp(folder, graphics="halfcell", tag="Ring: Isotropic")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert not app.scanning and app.scan_error is None
        rels = sorted(r.rel for r in app.pos.rows + app.neg.rows)
        assert rels == ["ghost.tif", "img00.tif", "img01.tif", "img02.tif"]
        rows = {r.rel: r for r in app.session.rows}
        # img01 itself is a good image: its tag file's problem is its row's, apart from the image's
        assert rows["img01.tif"].problem == f"{folder / 'img01.tag'}: not a regular file (a FIFO)"
        assert rows["img01.tif"].error is None and rows["img01.tif"].tag_error == rows["img01.tif"].problem
        assert rows["ghost.tif"].error == f"{folder / 'ghost.tif'}: not a regular file (a FIFO)"
        assert [r.rel for r in app.pos.rows] == ["img00.tif"] and not rows["img00.tif"].error
        await pilot.press("q")  # nothing unsaved: quits at once
    assert app.return_code == 0
