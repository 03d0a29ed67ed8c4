"""Physics features: fixed length, finite, and they see what the tags are about."""

from __future__ import annotations

import numpy as np

from tui_tagger.learn import physics


def _ring(size=128, along="z", center=None):
    cy, cx = center or (size / 2, size / 2)
    y, x = np.mgrid[:size, :size].astype(float)
    r, chi = np.hypot(x - cx, y - cy), np.arctan2(-(y - cy), x - cx)
    weight = np.sin(chi) ** 8 if along == "z" else np.cos(chi) ** 8
    return (1000 * np.exp(-((r - 30) ** 2) / 6) * weight + 10).astype(np.float32)


def _harmonic_cos2(vec):
    start = sum(list(physics.BLOCKS.values())[:3])
    h = vec[start:start + physics.BLOCKS["harmonics"]].reshape(4, physics.N_RADII)
    return h[2]


def test_fixed_length_and_finite_for_any_frame():
    rng = np.random.default_rng(0)
    frames = [_ring(), rng.poisson(3, size=(300, 200)).astype(np.float32), np.zeros((64, 64), np.float32)]
    mask = np.ones((300, 200), bool)
    mask[100:120] = False
    for data, m in zip(frames, [None, mask, None]):
        v = physics.physics_features(data, m)
        assert v.shape == (physics.DIM,) and v.dtype == np.float32 and np.isfinite(v).all()
    assert not physics.physics_features(np.ones((8, 8)), np.zeros((8, 8), bool)).any()


def test_arc_orientation_shows_in_the_second_harmonic():
    z = _harmonic_cos2(physics.physics_features(_ring(along="z")))
    xy = _harmonic_cos2(physics.physics_features(_ring(along="xy")))
    assert z.min() < -0.5 and xy.max() > 0.5  # cos 2chi: negative at top/bottom, positive at the sides


def test_header_beam_centre_is_used():
    data = _ring(center=(40, 90))
    with_header = physics.physics_features(data, meta={"beam_center_px": [90, 40]})
    assert abs(with_header[len(physics._PERCENTILES) + 5] - 90 / 128) < 0.01
