"""Helpers for the TUI tests: small folders of real TIFF frames with tag files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tui_tagger.core.tagfile import TagFile


def make_folder(root: Path, n: int = 6, tagged: dict[str, list[str]] | None = None) -> Path:
    """``n`` small TIFF frames img00.tif..; ``tagged`` maps a file stem to the tags of its tag file."""
    import tifffile

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    for i in range(n):
        ring = np.exp(-((np.hypot(yy - 32, xx - 32) - 8 - 2 * i) ** 2) / 4.0)
        data = (100 * ring + rng.poisson(3, (64, 64))).astype(np.uint16)
        tifffile.imwrite(root / f"img{i:02d}.tif", data)
    for stem, tags in (tagged or {}).items():
        tf = TagFile.new(root / f"{stem}.xml", f"{stem}.tif")
        for t in tags:
            tf.add(t, source=None)
        tf.save(fsync=False)
    return root


def tags_on_disk(image: Path) -> set[str]:
    from tui_tagger.core.tagstore import TagStore

    tf = TagStore().load(image)
    return set(tf.names) if tf else set()
