"""Shared test helpers, one module for every test folder (tests/ is on sys.path through tests/conftest.py):
small folders of real TIFF frames with tag files, labelled frames for the model tests, and waiting on a
Pilot-driven app."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tui_tagger.core.tagfile import TagFile

RING = "Ring: Isotropic"


# ---- folders of frames -------------------------------------------------------------------------------
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


def arc_frame(kind: str, rng: np.random.Generator, size: int = 64, amp: float = 50) -> np.ndarray:
    """A small frame: a ring of radius 18 around the centre, isotropic (``iso``) or arcs along z (``z``)."""
    y, x = np.mgrid[:size, :size] - size / 2 + 0.5
    r, chi = np.hypot(x, y), np.arctan2(-y, x)
    ring = np.exp(-((r - 18) ** 2) / 4)
    if kind == "z":
        ring *= np.sin(chi) ** 8
    return rng.poisson(amp * ring + 200 * np.exp(-r / 6) + 5).astype(np.uint16)



def ring_frames_folder(root: Path) -> Path:
    """24 frames (every third with arcs along z, the rest isotropic rings), the first 18 with a tag file
    (Ring: Oriented z / Ring: Isotropic, by a human), the last six unlabelled, and one broken TIFF."""
    import tifffile

    rng = np.random.default_rng(0)
    for i in range(24):
        kind = "z" if i % 3 == 0 else "iso"
        path = root / f"frame_{i:03d}.tif"
        tifffile.imwrite(path, arc_frame(kind, rng))
        if i < 18:  # the last six have no tag file: unlabelled
            tf = TagFile.new(path.with_suffix(".xml"), path.name)
            tf.add("Ring: Oriented z" if kind == "z" else "Ring: Isotropic", source="human")
            tf.save(fsync=False)
    (root / "broken.tif").write_bytes(b"II*\x00garbage")
    return root


def run_command(module, argv: list[str], capsys) -> tuple[int, str, str]:
    """A subcommand module (tui_tagger/commands/NAME.py) run on ``argv``: (exit code, stdout, stderr)."""
    import argparse

    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    rc = module.run(parser.parse_args(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err

# ---- labelled frames for the model tests ---------------------------------------------------------------
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


# ---- a model and a Dask cluster for the cluster tests -------------------------------------------------
def spread_model_file(path: Path) -> Path:
    """An untrained 64 px model for TAGS whose logits are spread out (the frames' p differ), saved at path."""
    import torch

    from tui_tagger.model.checkpoint import ModelInfo, save_checkpoint
    from tui_tagger.model.nets import create_model
    from tui_tagger.model.transforms import preprocess_config

    torch.manual_seed(5)
    model = create_model("alexnet-tagger", len(TAGS)).eval()
    with torch.no_grad():
        model.head.weight.mul_(40.0)
    save_checkpoint(path, model, ModelInfo("alexnet-tagger", {}, TAGS, preprocess_config({"size": 64})), half=False)
    return path


def local_cluster(n_workers: int):
    """A real dask.distributed LocalCluster of worker processes, 1 thread each (CI has 2 cores): yields its
    scheduler's address and closes it after (for a module-scoped fixture)."""
    import distributed

    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def free_port() -> int:
    """A TCP port nothing listens on (for an unreachable scheduler's address)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the app under Pilot -------------------------------------------------------------------------------
def app_on(folder: Path, **kw):
    """The app on ``folder``, the Ring: Isotropic lists shown, half-cell graphics."""
    from tui_tagger.ui.app import TaggerApp

    kw.setdefault("tag", RING)
    return TaggerApp(folder, graphics="halfcell", **kw)


def names(lst) -> list[str]:
    return [r.rel for r in lst.rows]


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
