"""An image whose tag file is malformed is a good image with unknown tags: the TUI predicts it and shows it
(as ``tui-tagger predict`` does), its row and the inspect pane say what is wrong with the tag file, its tags
are no label, and the file is never rewritten (user trial: the row got no p and no image)."""

from __future__ import annotations

import hashlib

from support import RING, app_on, make_folder, ready, until
from test_predict import SlowPredictor

from tui_tagger.ui.widgets.image_list import _problem


async def test_a_malformed_tag_file_leaves_its_image_predicted_and_shown(tmp_path):
    folder = make_folder(tmp_path / "run", n=4, tagged={"img00": [RING], "img02": ["Ring: Textured"]})
    bad = folder / "img01.xml"
    bad.write_text('<tag_list filename="img01"><oops')
    before = hashlib.md5(bad.read_bytes()).hexdigest()
    predictor = SlowPredictor({f"img{i:02d}.tif": 0.1 + 0.2 * i for i in range(4)}, delay=0.0)
    app = app_on(folder, predictor=lambda: predictor)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        path = str(folder / "img01.tif")
        row = app.session.row(path)
        assert row.error is None and "not valid XML" in row.tag_error
        assert "not valid XML" in _problem(row, None)  # the row's error line says what is wrong
        assert path not in app.session.labels(RING)  # unknown tags: no label either way
        await pilot.press("p")
        assert await until(pilot, lambda: app.predicting is None and row.predictions)
        assert abs(row.predictions[RING] - 0.3) < 1e-9
        app.neg.focus()
        app.neg.select_path(path)
        app._show_selected()
        assert await until(pilot, lambda: app.inspect.shown_key is not None and app.inspect.shown_key[0] == path)
        meta = str(app.inspect._meta_text.render())
        assert "✗" in meta and "not valid XML" in meta
        await pilot.press("s")
        await pilot.pause(0.3)
    assert hashlib.md5(bad.read_bytes()).hexdigest() == before
