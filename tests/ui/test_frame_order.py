"""A container's frames (an Eiger/NeXus HDF5 series, a multi-frame EDF) are listed as the detector wrote them:
frame 2 before frame 10, in name order and among the rows the model has not scored yet."""

from __future__ import annotations

import numpy as np
from support import app_on, until


async def test_the_frames_of_an_hdf5_series_are_listed_in_their_order(tmp_path):
    import h5py

    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    with h5py.File(folder / "scan_master.h5", "w") as f:
        f.create_dataset("entry/data/data", data=rng.poisson(5, (12, 32, 32)).astype(np.uint32))
    app = app_on(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await until(pilot, lambda: len(app.neg.rows) == 12)
        frames = [r.rel.rsplit("#", 1)[1] for r in app.neg.rows]
        assert frames == [str(i) for i in range(12)]  # not 0, 1, 10, 11, 2, ...
        app.neg.focus()
        await pilot.press("o")  # no p to re-sort by: the next sort order, by name
        assert await until(pilot, lambda: app.sort == "name")
        await pilot.pause(0.2)
        assert [r.rel.rsplit("#", 1)[1] for r in app.neg.rows] == [str(i) for i in range(12)]
