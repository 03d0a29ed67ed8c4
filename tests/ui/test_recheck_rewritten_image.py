"""An image file rewritten in place while the TUI is open (same name, new frame: a detector or a script writes
it again) with its tags unchanged: the folder's re-check takes the new file (its row's size and time, for the
feature cache) and its thumbnail is made again; the list showed the old picture until the TUI was reopened."""

from __future__ import annotations

import os

import numpy as np
import tifffile

from support import RING, app_on, make_folder, ready, until


async def test_a_rewritten_image_gets_a_new_thumbnail(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0.3")
    folder = make_folder(tmp_path / "run", tagged={"img00": [RING]})
    image = folder / "img00.tif"
    app = app_on(folder)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        assert await until(pilot, lambda: not app.verifying)
        path = str(image)
        assert await until(pilot, lambda: app.thumbs.peek(path) is not None)
        before = app.thumbs.peek(path).copy()
        yy, xx = np.mgrid[:64, :64]
        tifffile.imwrite(image, (1000 * (xx > 32)).astype(np.uint16))  # another frame, same name
        st = os.stat(image)
        row = lambda: app.session.row(path)  # noqa: E731
        assert await until(pilot, lambda: row().mtime_ns == st.st_mtime_ns and row().size == st.st_size)
        assert await until(pilot, lambda: app.thumbs.peek(path) is not None
                           and not np.array_equal(app.thumbs.peek(path), before))
        assert RING in app.session.tags(row())  # its tags as they were
