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


async def ready(app, pilot, tries: int = 200) -> None:
    """Wait for the scan to finish and the lists to be built."""
    for _ in range(tries):
        await pilot.pause(0.05)
        if not app.scanning:
            break
    await pilot.pause(0.1)


async def until(pilot, cond, tries: int = 300) -> bool:
    """Let the app run until ``cond()`` holds (True) or ``tries`` pauses have passed (False)."""
    for _ in range(tries):
        await pilot.pause(0.05)
        if cond():
            return True
    return False


def arc_frame(kind: str, rng: np.random.Generator, size: int = 64, amp: float = 50) -> np.ndarray:
    """A small frame: a ring of radius 18 around the centre, isotropic (``iso``) or arcs along z (``z``)."""
    y, x = np.mgrid[:size, :size] - size / 2 + 0.5
    r, chi = np.hypot(x, y), np.arctan2(-y, x)
    ring = np.exp(-((r - 18) ** 2) / 4)
    if kind == "z":
        ring *= np.sin(chi) ** 8
    return rng.poisson(amp * ring + 200 * np.exp(-r / 6) + 5).astype(np.uint16)
