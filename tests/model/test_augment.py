"""Training augmentation stays label-safe: left-right only, never up-down; frames whose beam may be off
the detector are never shifted."""

from __future__ import annotations

import numpy as np
import torch

from tui_tagger.model.train import TrainConfig, augment


def _frames(n: int, size: int = 32) -> torch.Tensor:
    x = torch.zeros(n, 1, size, size)
    x[:, :, : size // 4, :] = 1.0  # bright top band: up-down flips would move it to the bottom
    return x


def test_no_shift_keeps_the_top_on_top_and_only_flips_left_right():
    x = _frames(16)
    x[:, :, :, :4] = 0.5  # a left-right marker
    out = augment(x, TrainConfig(shift=0.0, gamma=0.0), np.random.default_rng(0), np.ones(16, bool))
    assert torch.all(out[:, :, :8, 4:-4] == 1.0) and torch.all(out[:, :, 8:, 4:-4] == 0.0)
    flipped = [bool(torch.equal(o, x[0].flip(-1))) for o in out]
    kept = [bool(torch.equal(o, x[0])) for o in out]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_contrast_keeps_range_and_order():
    x = torch.linspace(0, 1, 32 * 32).reshape(1, 1, 32, 32).repeat(8, 1, 1, 1)
    out = augment(x, TrainConfig(flip=False, shift=0.0, gamma=0.5), np.random.default_rng(1), np.ones(8, bool))
    assert out.min() >= 0 and out.max() <= 1
    flat = out.reshape(8, -1)
    assert torch.all(flat[:, 1:] >= flat[:, :-1])  # monotonic: ring/background order survives
    assert not torch.allclose(out, x)


def test_shifts_move_only_movable_frames_and_fill_with_zero():
    x = torch.full((32, 1, 32, 32), 0.5)
    movable = np.arange(32) % 2 == 0
    out = augment(x, TrainConfig(flip=False, gamma=0.0, shift=0.25), np.random.default_rng(2), movable)
    assert torch.equal(out[~torch.from_numpy(movable)], x[~torch.from_numpy(movable)])
    moved = out[torch.from_numpy(movable)]
    assert set(torch.unique(moved).tolist()) <= {0.0, 0.5}
    assert (moved == 0).any()  # some frame was shifted: its uncovered edge reads as masked (0)


def test_augmentation_keeps_what_is_not_a_pixel_as_it_is():
    x = torch.full((8, 1, 32, 32), 0.5)
    x[:, :, :8] = -1.0  # padding
    out = augment(x, TrainConfig(flip=False, shift=0.2, gamma=0.5, invalid=-1.0), np.random.default_rng(2),
                  np.ones(8, bool))
    assert set(torch.unique(out).tolist()) <= {-1.0} | set(torch.unique(out[out >= 0]).tolist())
    assert (out >= 0).sum() > 0 and float(out.min()) == -1.0
    assert not ((out < 0) & (out > -1.0)).any()  # contrast never bends -1 into a pixel value
    shifted_in = out[:, :, -2:, :]  # rows shifted in from below the frame are filled with -1, not 0
    assert not (shifted_in == 0).any()
