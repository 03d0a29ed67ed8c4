"""Read speed per format: images/s of read_image (decode to float32 + mask) on 1024x1024 uint16 frames, and,
when core.display.thumbnail exists, of read + 64x64 thumbnail.

Writes BENCH_N (default 20) frames per format (TIFF, MarCCD-like real frame copies, EDF, CBF, HDF5 gzip,
HDF5 bitshuffle-LZ4, PNG) into a temp dir (BENCH_DIR to choose where), then prints the figures.

    python benchmarks/bench_read.py
    BENCH_N=50 python benchmarks/bench_read.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tui_tagger.core.formats import read_image

SIZE = 1024
REAL_MARCCD = Path(__file__).resolve().parent.parent / "tests" / "data" / "real-examples" / "AgBH_10sec_SAXS"


def frame_data(i: int) -> np.ndarray:
    """A ring pattern with noise: compresses like detector data, unlike zeros or white noise."""
    y, x = np.mgrid[:SIZE, :SIZE]
    r = np.hypot(x - 500.0, y - 520.0)
    rng = np.random.default_rng(i)
    img = 2000 * np.exp(-r / 150) + 800 * np.exp(-((r - 300) ** 2) / 50) + rng.poisson(20, (SIZE, SIZE))
    return np.clip(img, 0, 65535).astype(np.uint16)


def write_all(folder: Path, n: int) -> dict[str, list[str]]:
    import fabio.cbfimage
    import fabio.edfimage
    import h5py
    import hdf5plugin
    import tifffile
    from PIL import Image

    out: dict[str, list[str]] = {k: [] for k in ("tiff", "marccd", "edf", "cbf", "hdf5 gzip", "hdf5 bslz4", "png")}
    for i in range(n):
        data = frame_data(i)
        base = folder / f"f{i:04d}"
        tifffile.imwrite(f"{base}.tif", data)
        out["tiff"].append(f"{base}.tif")
        if REAL_MARCCD.exists():
            shutil.copy(REAL_MARCCD, f"{base}_mccd")
            out["marccd"].append(f"{base}_mccd")
        fabio.edfimage.EdfImage(data=data).write(f"{base}.edf")
        out["edf"].append(f"{base}.edf")
        fabio.cbfimage.CbfImage(data=data.astype(np.int32)).write(f"{base}.cbf")
        out["cbf"].append(f"{base}.cbf")
        for kind, kw in (("hdf5 gzip", {"compression": "gzip"}), ("hdf5 bslz4", hdf5plugin.Bitshuffle())):
            path = f"{base}_{kind.split()[1]}.h5"
            with h5py.File(path, "w") as f:
                f.create_dataset("entry/data/data", data=data[None], chunks=(1, SIZE, SIZE), **kw)
            out[kind].append(path)
        Image.fromarray(data).save(f"{base}.png")
        out["png"].append(f"{base}.png")
    return {k: v for k, v in out.items() if v}


def rate(refs: list[str], fn) -> float:
    fn(refs[0])  # warm: imports and first-open costs are not per-image costs
    start = time.perf_counter()
    for ref in refs:
        fn(ref)
    return len(refs) / (time.perf_counter() - start)


def main() -> None:
    n = int(os.environ.get("BENCH_N", "20"))
    try:
        from tui_tagger.core.display import DisplaySettings, thumbnail
    except ImportError:
        thumbnail = None
    tmp = Path(tempfile.mkdtemp(prefix="bench_read_", dir=os.environ.get("BENCH_DIR")))
    try:
        files = write_all(tmp, n)
        print(f"{n} frames of {SIZE}x{SIZE} uint16 per format, images/s")
        print(f"{'format':<12} {'file MiB':>8} {'read':>8}" + (f" {'read+thumb':>11}" if thumbnail else ""))
        for kind, refs in files.items():
            mib = os.path.getsize(refs[0]) / 2**20
            line = f"{kind:<12} {mib:>8.2f} {rate(refs, read_image):>8.1f}"
            if thumbnail:
                settings = DisplaySettings()
                line += f" {rate(refs, lambda r: thumbnail(read_image(r), (64, 64), settings)):>11.1f}"
            print(line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
