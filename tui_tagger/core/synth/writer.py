"""Write synthetic frames as detector files (32-bit TIFF, some EDF) with their tag files beside them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from tui_tagger.core.atomic import atomic_write_bytes
from tui_tagger.core.errors import FileProblem


def frame_name(index: int, ext: str) -> str:
    """No experiment in the name: a name's words count as evidence of the experiment (core.frame_rules), and
    a synthetic test set must be judged on its pixels and headers, as real frames are."""
    return f"synth_{index:05d}.{ext}"


def _tiff_bytes(counts: np.ndarray, meta: dict) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, counts, description=json.dumps(meta, default=float), metadata=None)
    return buf.getvalue()


def _write_edf(path: Path, counts: np.ndarray, meta: dict) -> None:
    import fabio.edfimage

    header = {"synthetic": "tui-tagger", "experiment": meta["experiment"],
              "seed": str(meta.get("seed")), "index": str(meta.get("index"))}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fabio.edfimage.EdfImage(data=counts, header=header).write(str(tmp))
        os.replace(tmp, path)  # readers never see a half-written frame
    finally:
        tmp.unlink(missing_ok=True)


def write_frame(out: Path, index: int, counts: np.ndarray, tags: list[str], meta: dict,
                edf: bool = False) -> Path:
    """Write one frame and its tag file (NAME.xml, every tag source="synthetic"); return the image path."""
    from tui_tagger.core.tagfile import TagFile

    path = Path(out) / frame_name(index, "edf" if edf else "tif")
    try:
        if edf:
            _write_edf(path, counts, meta)
        else:
            atomic_write_bytes(path, _tiff_bytes(counts, meta), fsync=False)
    except OSError as err:
        raise FileProblem(path, f"cannot write: {err.strerror or err}") from None
    tf = TagFile.new(path.with_suffix(".xml"), path.name)
    for name in tags:
        tf.add(name, source="synthetic")
    tf.save(fsync=False)
    return path


def write_dataset(out, count: int, seed: int = 0, size: int = 256, edf_every: int = 5,
                  progress=None, families=None) -> list[Path]:
    """Write frames 0..count-1 of data set ``seed`` into ``out`` (created if missing). Every
    ``edf_every``-th frame is EDF (0: none). ``progress(i, path)`` is called after each frame.
    ``families``: the kinds of frame to draw (``families.FAMILIES``; None: all, in their shares)."""
    from . import generate_frame

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileProblem(out, f"cannot create the output folder: {err.strerror or err}") from None
    paths = []
    for i in range(count):
        counts, _mask, tags, meta = generate_frame(seed, i, size, families=families)
        edf = edf_every > 0 and i % edf_every == edf_every - 1
        paths.append(write_frame(out, i, counts, tags, meta, edf))
        if progress:
            progress(i, paths[-1])
    return paths
