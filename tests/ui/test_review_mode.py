"""Pilot test: review in the TUI. `r` lists the questionable labels of the current tag (planted label
errors come out, on top of their list), `r` again the outliers (a planted odd frame among them), `r`
again leaves review; the same keys correct what was found."""

from __future__ import annotations

import numpy as np
import pytest

from support import arc_frame, until

from tui_tagger.core.tagfile import TagFile
from tui_tagger.ui.app import TaggerApp

Z = "Ring: Oriented z"


def _frame(kind, rng):
    if kind == "odd":  # nothing like the rest: no rings, no beam, a dark frame with one saturated block
        img = rng.poisson(2, (64, 64)).astype(np.uint16)
        img[5:15, 40:60] = 65535
        return img
    return arc_frame(kind, rng, amp=300)


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """30 tagged frames, every third with arcs along z; two labels planted wrong; one odd frame."""
    import tifffile

    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(2)
    root = tmp_path / "planted"
    root.mkdir()
    wrong = {str(root / "f03.tif"), str(root / "f10.tif")}  # a z frame tagged isotropic, and the reverse
    for i in range(31):
        kind = "odd" if i == 30 else "z" if i % 3 == 0 else "iso"
        path = root / f"f{i:02d}.tif"
        tifffile.imwrite(path, _frame(kind, rng))
        says_z = (kind == "z") != (str(path) in wrong)
        tf = TagFile.new(path.with_suffix(".xml"), path.name)
        tf.add(Z if says_z else "Ring: Isotropic", source="human")
        tf.save(fsync=False)
    return root, wrong


async def test_review_walks_planted_label_errors_then_outliers(planted):
    root, wrong = planted
    app = TaggerApp(root, tag=Z, graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await until(pilot, lambda: not app.scanning)
        before = {r.path: dict(r.predictions) for r in app.session.rows}  # no p pressed: none
        await pilot.press("r")
        assert await until(pilot, lambda: app.review_mode == "questionable")
        assert all(Z in app.session.row(path).predictions for path in wrong)  # the head's p, while shown
        listed = {r.path for r in app.pos.rows} | {r.path for r in app.neg.rows}
        assert wrong <= listed and len(listed) <= 6  # the planted errors, and not the whole folder
        assert app.pos.rows[0].path == str(root / "f10.tif")  # tagged z, looks isotropic: top of Positive
        assert app.neg.rows[0].path == str(root / "f03.tif")  # untagged, looks z: top of Negative
        assert "filter (review): 2 questionable" in str(app.status.render())
        # the same keys fix it: move f03 to Positive
        app.neg.focus()
        app.neg.select_path(str(root / "f03.tif"))
        await pilot.press("m")
        assert Z in app.session.tags(app.session.row(str(root / "f03.tif")))
        await pilot.press("r")
        assert await until(pilot, lambda: app.review_mode == "outliers")
        # review's p were for its view: the rows have their own back (user trial: 0.97 stayed 0.14)
        assert {r.path: dict(r.predictions) for r in app.session.rows} == before
        listed = {r.path for r in app.pos.rows + app.neg.rows}
        assert len(listed) == 10 and str(root / "f30.tif") in listed  # at least 10, else 2 % of the folder
        # the odd frame outranks every frame of the folder's common kind (iso); only the minority kind (z, a
        # third of the folder) may rank with it
        ranked = [path for path, _ in app.review_outliers]
        above = ranked[: ranked.index(str(root / "f30.tif"))]
        assert all(int(path[-6:-4]) % 3 == 0 for path in above)
        await pilot.press("r")
        await pilot.pause(0.1)
        assert app.review_mode is None and len(app.pos.rows) + len(app.neg.rows) == 31
