"""Per-patch anomaly scores (learn.patches): a planted bright blob is the top patch of its image, the
folder's features are cached, and the map overlays the frame."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tui_tagger.learn import patches

SIDE = 256


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """Similar frames: a ring around the centre over a noisy background (a folder of one experiment)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    out = []
    for i in range(n):
        r = np.hypot(yy - SIDE / 2 - rng.normal(0, 2), xx - SIDE / 2 - rng.normal(0, 2))
        ring = np.exp(-((r - 60 - rng.normal(0, 3)) ** 2) / 30.0)
        out.append((rng.uniform(200, 400) * ring + 20 * np.exp(-r / 40) + rng.poisson(5, (SIDE, SIDE))).astype(np.float32))
    return out


def _plant(frame: np.ndarray, y: int, x: int) -> np.ndarray:
    yy, xx = np.mgrid[: frame.shape[0], : frame.shape[1]]
    return frame + 20 * frame.max() * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 3.0**2)).astype(np.float32)


@pytest.mark.parametrize("corner", [(18, 236), (236, 20)])
def test_planted_blob_is_the_top_patch(corner):
    frames = _frames(24)
    frames[7] = _plant(frames[7], *corner)
    ref = patches.PatchReference(np.stack([patches.patch_features(f) for f in frames]))
    assert ref.per_position
    maps = [patches.patch_map(f, None, ref) for f in frames]
    want = (corner[0] * patches.GRID // SIDE, corner[1] * patches.GRID // SIDE)
    assert maps[7].top == want
    # and the planted image stands out from the folder
    assert maps[7].top_score == max(m.top_score for m in maps)
    assert maps[7].top_score > 1.5 * sorted(m.top_score for m in maps)[-2]
    heat = maps[7].to_frame()
    assert heat.shape == (SIDE, SIDE) and heat.min() >= 0 and heat.max() == 1
    assert heat[corner] == 1


def test_patch_geometry_maps_frames_of_any_size():
    for shape in [(1024, 1024), (300, 700), (67, 91), (2000, 1500)]:
        geo = patches.geometry(shape)
        ri, ci = geo.index()
        assert len(ri) == shape[0] and len(ci) == shape[1]
        assert ri[0] == 0 and ci[0] == 0 and ri[-1] == patches.GRID - 1 and ci[-1] == patches.GRID - 1
        assert np.all(np.diff(ri) >= 0) and np.all(np.diff(ci) >= 0)
        ri2, ci2 = geo.index((20, 30))
        assert len(ri2) == 20 and len(ci2) == 30
        data = np.random.default_rng(0).poisson(5, shape).astype(np.float32)
        f = patches.patch_features(data)
        assert f.shape == (patches.GRID, patches.GRID, patches.NF) and np.isfinite(f).all()


def test_few_images_pool_the_positions():
    frames = _frames(3)
    ref = patches.PatchReference(np.stack([patches.patch_features(f) for f in frames]))
    assert not ref.per_position
    pm = patches.patch_map(frames[0], None, ref)
    assert np.isfinite(pm.scores).all() and 0 <= pm.heat.min() <= pm.heat.max() <= 1


def test_folder_reference_from_files_is_cached(tmp_path):
    import tifffile

    frames = _frames(12, seed=1)
    frames[4] = _plant(frames[4], 20, 20)
    items = []
    for i, f in enumerate(frames):
        p = tmp_path / f"img{i:02d}.tif"
        tifffile.imwrite(p, f)
        st = p.stat()
        items.append((str(p), st.st_size, st.st_mtime_ns))
    cache = tmp_path / "cache"
    ref = patches.folder_reference(items, cache)
    assert ref.n == 12
    assert patches.folder_reference(items, cache) is ref  # in memory for the same listing
    patches._REFERENCES.clear()
    assert len(patches.folder_features(items, cache)) == 12  # from the disk cache now
    again = patches.folder_reference(items, cache)
    np.testing.assert_allclose(again.median, ref.median)
    pm = patches.patch_map(frames[4], None, again)
    assert pm.top == (0, 0)


def test_unreadable_images_are_left_out(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00 not really")
    import tifffile

    good = tmp_path / "good.tif"
    tifffile.imwrite(good, _frames(1)[0])
    items = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (bad, good)]
    feats = patches.folder_features(items, tmp_path / "cache")
    assert list(feats) == [1]
    with pytest.raises(ValueError):
        patches.folder_reference(items[:1], tmp_path / "cache2")


def test_no_torch():
    import subprocess

    code = "import sys, tui_tagger.learn.patches; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
