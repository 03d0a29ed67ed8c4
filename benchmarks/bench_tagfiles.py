"""Tag-file throughput: parse rate, and atomic write rate with and without fsync.

    python benchmarks/bench_tagfiles.py [N]      (default N=3000 small tag files in a temp folder)

Prints figures; asserts nothing. fsync figures depend entirely on the disk (tmpfs: no cost).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from tui_tagger.core.tagfile import TagFile

REAL = Path(__file__).parents[1] / "tests" / "data" / "real-examples" / "AgBH_10sec_SAXS.tag"


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<38} {n:6d} files {seconds:7.3f} s  {n / seconds:9.0f} files/s  {1e6 * seconds / n:8.1f} us/file")


def main(n: int = 3000) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-tagfiles-"))
    try:
        data = REAL.read_bytes()
        paths = [folder / f"img_{i:05d}.tag" for i in range(n)]
        for p in paths:
            p.write_bytes(data)
        print(f"{n} copies of {REAL.name} ({len(data)} bytes) in {folder}")

        t = time.perf_counter()
        files = [TagFile.read(p) for p in paths]
        rate("parse (TagFile.read)", n, time.perf_counter() - t)

        t = time.perf_counter()
        for tf in files:
            tf.add("Beam streaking")
            tf.to_bytes()
        rate("edit + serialise (to_bytes)", n, time.perf_counter() - t)

        t = time.perf_counter()
        for tf in files:
            tf.save(fsync=False)
        rate("atomic save, no fsync", n, time.perf_counter() - t)

        m = min(n, 500)
        t = time.perf_counter()
        for tf in files[:m]:
            tf.remove("Beam streaking")
            tf.save(fsync=True)
        rate("atomic save, fsync", m, time.perf_counter() - t)

        t = time.perf_counter()
        for i in range(n):
            tf = TagFile.new(folder / f"new_{i:05d}.xml", f"new_{i:05d}")
            tf.add("Ring: Isotropic", source="synthetic")
            tf.add("TSAXS", source="synthetic")
            tf.save(fsync=False)
        rate("new file with 2 tags, no fsync", n, time.perf_counter() - t)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
