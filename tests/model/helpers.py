"""Small labelled frames for the model tests: a ring and/or a vertical streak on Poisson background."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TAGS = ["Ring: Isotropic", "Vertical streaks"]


def frame(rng: np.random.Generator, size: int, ring: bool, streak: bool) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    img = rng.poisson(20, (size, size)).astype(np.float32) + 200 * np.exp(-r / 6)
    if ring:
        img += 300 * np.exp(-((r - rng.uniform(0.2, 0.35) * size) ** 2) / 4)
    if streak:
        img[:, size // 2 - 1 : size // 2 + 1] += 500
    return img


def labelled_arrays(n: int, size: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random((n, 2)) < [0.5, 0.4]
    return [frame(rng, size, *row) for row in labels], labels.astype(np.float32)


def write_tagged_tiffs(folder: Path, n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """n uint16 TIFFs with tag files beside them (via the TagStore); returns the labels."""
    import tifffile

    from tui_tagger.core.tagstore import TagStore

    folder.mkdir(parents=True, exist_ok=True)
    images, labels = labelled_arrays(n, size, seed)
    store = TagStore()
    for i, (img, row) in enumerate(zip(images, labels)):
        path = folder / f"sample{i:03d}_{i % 3:04d}.tif"
        tifffile.imwrite(path, img.astype(np.uint16))
        tf = store.load_or_new(path)
        tf.add("TSAXS", source="human")
        for tag, on in zip(TAGS, row):
            if on:
                tf.add(tag, source="human")
        store.save(tf, fsync=False)
    return labels
