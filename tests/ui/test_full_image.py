"""`z`: the selected image on the whole screen, larger than the inspect pane's; Up/Down step through the list
behind (its cursor follows); escape closes; names stay literal; an unreadable image says why."""

from __future__ import annotations

import shutil

from support import RING, app_on, make_folder, until

from tui_tagger.ui.screens.full_image import FullImageScreen


async def test_z_shows_the_image_on_the_whole_screen_and_steps_through_the_list(tmp_path):
    folder = make_folder(tmp_path / "data", n=4, tagged={f"img{i:02d}": [RING] for i in range(4)})
    shutil.move(folder / "img02.tif", folder / "img02 [bold]x[dim].tif")  # a name that looks like markup
    shutil.move(folder / "img02.xml", folder / "img02 [bold]x[dim].xml")
    app = app_on(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: len(app.pos.rows) == 4)
        assert await until(pilot, lambda: getattr(app.inspect._image_widget(), "image", None) is not None)
        inspect_px = app.inspect._image_widget().image.size
        app.pos.focus()
        await pilot.press("z")
        assert isinstance(app.screen, FullImageScreen)
        full = app.screen.query_one("#full-image")
        assert await until(pilot, lambda: full.image is not None)
        # every line of the screen but its title and note: 38 lines of half blocks, 76 pixels high
        assert full.image.size[1] == 2 * 38 and full.image.size[1] > 2 * inspect_px[1]
        title = app.screen.query_one("#full-title")
        assert str(title.render()).startswith(app.pos.current.name) and "1/4" in str(title.render())
        await pilot.press("down", "down")
        assert app.pos.cursor == 2
        assert await until(pilot, lambda: str(app.screen.query_one("#full-title").render()).startswith(
            "img02 [bold]x[dim].tif"))  # shown literally, never as markup
        assert await until(pilot, lambda: app.screen._wanted[0] == app.pos.current.path and full.image is not None)
        await pilot.press("escape")
        assert not isinstance(app.screen, FullImageScreen)
        assert app.pos.cursor == 2 and app.pos.current.name.startswith("img02")


async def test_an_unreadable_image_says_why_on_the_whole_screen(tmp_path):
    folder = make_folder(tmp_path / "data", n=2, tagged={"img00": [RING], "img01": [RING]})
    (folder / "img01.tif").write_bytes(b"II*\x00 not a TIFF after all")
    app = app_on(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await until(pilot, lambda: len(app.pos.rows) == 2)
        app.pos.focus()
        app.pos.cursor = [r.name for r in app.pos.rows].index("img01.tif")
        await pilot.press("z")
        note = app.screen.query_one("#full-note")
        assert await until(pilot, lambda: "✗" in str(note.render()) and "img01.tif" in str(note.render()))
        await pilot.press("q")  # closes the image, not the app
        assert not isinstance(app.screen, FullImageScreen) and app.is_running
