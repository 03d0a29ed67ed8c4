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


async def test_a_row_whose_thumbnail_fails_says_it_cannot_be_read(tmp_path):
    """A file whose first bytes look right but whose pixels do not decode (cut short): the scan cannot know,
    the thumbnail finds out. Its row said only "✗ bad"; it now says so on its error line until the inspect
    pane has read the file and the row shows the problem itself."""
    from support import until

    from tui_tagger.ui.thumbs import FAILED

    folder = make_folder(tmp_path / "run", n=3)
    data = (folder / "img01.tif").read_bytes()
    (folder / "img01.tif").write_bytes(data[: len(data) // 2])
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        path = str(folder / "img01.tif")
        index = next(i for i, r in enumerate(app.neg.rows) if r.path == path)
        assert await until(pilot, lambda: app.neg.thumbs.get(path) is FAILED)
        row = app.neg.rows[index]
        lines = [_line(app.neg, index * app.neg.row_h + k) for k in range(3)]
        assert "✗ bad" in lines[0]
        assert row.error or "unreadable — select it for why" in lines[2]
