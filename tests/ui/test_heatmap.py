"""Pilot tests: h cycles the inspect image's heat map (off -> Grad-CAM of the current tag -> outlier
patches -> off), computed in a worker while the app stays responsive."""

from __future__ import annotations

import time

import numpy as np
import pytest
from support import make_folder

from tui_tagger.model.locate import shipped_model_paths
from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.heatmap import blend

RING = "Ring: Isotropic"
needs_model = pytest.mark.skipif(not shipped_model_paths()[0].exists(), reason="no shipped model in models/")


async def ready(app, pilot):
    for _ in range(100):
        await pilot.pause(0.05)
        if not app.scanning:
            break
    await pilot.pause(0.2)


async def until(pilot, cond, limit=30.0):
    end = time.monotonic() + limit
    while not cond() and time.monotonic() < end:
        await pilot.pause(0.05)
    return cond()


def meta(app) -> str:
    return str(app.inspect.query_one("#inspect-meta").render())


async def settled(app, pilot):
    """The inspect image once it stops changing (the first one is drawn before the pane has its size)."""
    last = None
    for _ in range(100):
        await pilot.pause(0.3)
        now = pixels(app)
        if now is not None and last is not None and np.array_equal(now, last):
            return now
        last = now
    raise AssertionError("the inspect image never settled")


def unblended(app):
    """The inspect image as drawn without a heat map, at the size now shown."""
    from tui_tagger.ui import backend

    now = pixels(app)
    return backend.render(app._frame[1], app.settings, (now.shape[1], now.shape[0]))


def pixels(app):
    image = app.inspect.query_one("#inspect-image").image
    return None if image is None else np.asarray(image).copy()


def test_blend_keeps_cold_pixels_and_tints_hot_ones():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    heat = np.zeros((4, 4), np.float32)
    heat[0, 0] = 1.0
    out = blend(rgb, heat)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert (out[1:, :] == 100).all() and (out[0, 1:] == 100).all()
    assert out[0, 0, 1] > 150 and out[0, 0, 0] < 100


@needs_model
async def test_h_cycles_cam_patches_off(tmp_path):
    folder = make_folder(tmp_path / "data", n=10, tagged={"img00": [RING]})
    app = TaggerApp(folder, tag=RING, graphics="halfcell", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await settled(app, pilot)
        assert "heat map" not in meta(app)
        first = app.inspect.path

        await pilot.press("h")
        assert app.heatmap_mode == "cam"
        # responsive while the model loads and the map is computed: the cursor moves at once
        await pilot.press("down")
        await pilot.pause(0.1)
        await pilot.press("up")
        assert await until(pilot, lambda: "Grad-CAM Ring: Isotropic" in meta(app)), meta(app)
        cam = await settled(app, pilot)
        assert not np.array_equal(cam, unblended(app))  # tinted where the model looks

        await pilot.press("h")
        assert app.heatmap_mode == "patches"
        assert await until(pilot, lambda: "outlier patches: top z" in meta(app)), meta(app)
        assert await until(pilot, lambda: not np.array_equal(pixels(app), cam))
        assert any("vs 10 images" in str(n.message) for n in app._notifications)

        # the next image (the other list's) gets its own map (the folder's reference is kept)
        await pilot.press("tab")
        assert await until(pilot, lambda: app.inspect.path != first and "outlier patches" in meta(app))

        await pilot.press("h")
        assert app.heatmap_mode == "off"
        assert await until(pilot, lambda: "heat map" not in meta(app))
        assert np.array_equal(await settled(app, pilot), unblended(app))


@needs_model
async def test_a_tag_the_model_does_not_know_says_so(tmp_path):
    folder = make_folder(tmp_path / "data", n=4, tagged={"img00": ["My own tag"]})
    app = TaggerApp(folder, tag="My own tag", graphics="halfcell", thumbnails=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await settled(app, pilot)
        await pilot.press("h")
        assert await until(pilot, lambda: "has no tag 'My own tag'" in meta(app)), meta(app)
        assert np.array_equal(await settled(app, pilot), unblended(app))  # no map
        assert any("has no tag" in str(n.message) for n in app._notifications)
