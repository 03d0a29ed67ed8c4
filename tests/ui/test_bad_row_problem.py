"""A bad image's row says what is wrong with it: the row already names the file, so its error line shows the
problem, not the file's full path again (on a real folder's path, /data/2026/run3/..., that filled the line
and the problem was cut off)."""

from __future__ import annotations

from support import app_on, make_folder, ready


def _line(image_list, y: int) -> str:
    return "".join(seg.text for seg in image_list.render_line(y))


async def test_a_bad_rows_error_line_shows_the_problem(tmp_path):
    folder = make_folder(tmp_path / "a_rather_long_folder_name_as_beamlines_have" / "run_0042_sample_A", n=2)
    (folder / "img01.tif").write_bytes(b"")  # known bad from the first bytes: listed as bad by the scan
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        index = next(i for i, r in enumerate(app.neg.rows) if r.rel == "img01.tif")
        error_line = _line(app.neg, index * app.neg.row_h + 2)
        assert "empty file (0 bytes)" in error_line
        assert str(folder) not in error_line
