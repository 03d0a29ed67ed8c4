"""Catalog index speed: cold scan, the index alone (cached_entries: a viewer's first screen), warm verify
(full scan against the index, and the changes-only scan a viewer runs after painting), re-open after 1% of
tag files changed, and search.

Builds BENCH_N (default 100000) tiny TIFF images, each with a small tag file, in folders of 1000 under a
temp dir (BENCH_DIR to choose where), then prints timings. `BENCH_PROFILE=1` prints a cProfile of the warm
re-open.

    python benchmarks/bench_index.py
    BENCH_N=20000 python benchmarks/bench_index.py
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TAG_SETS = [
    ["TSAXS", "Ring: Isotropic", "Powder", "AgBH"],
    ["GISAXS", "Thin film", "Block-copolymer", "Peaks: Isolated", "Horizon"],
    ["GISAXS", "Thin film", "Specular rod", "Saturation"],
    ["TSAXS", "Weak scattering", "Amorphous"],
]
TAG_XML = (
    '<?xml version="1.0"?>\n<tag_list filename="{name}" type="SAXS">\n'
    '  <primary_category name="Kinds of samples">\n    <secondary_category name="type">\n{tags}'
    "    </secondary_category>\n  </primary_category>\n</tag_list>\n"
)


def tag_xml(name: str, tags: list[str]) -> bytes:
    body = "".join(f'      <tag source="human">{t}</tag>\n' for t in tags)
    return TAG_XML.format(name=name, tags=body).encode()


def build(root: Path, n: int) -> list[Path]:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((2, 2), np.uint16))
    image = buf.getvalue()
    tags = []
    for i in range(n):
        folder = root / f"scan_{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        name = f"frame_{i:06d}"
        (folder / f"{name}.tif").write_bytes(image)
        tag = folder / f"{name}.xml"
        tag.write_bytes(tag_xml(name, TAG_SETS[i % len(TAG_SETS)]))
        tags.append(tag)
    return tags


def timed(label: str, fn):
    t = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t
    print(f"{label:<44} {dt:8.3f} s")
    return result, dt


def main() -> int:
    from tui_tagger.core.catalog import Catalog

    n = int(os.environ.get("BENCH_N", "100000"))
    base = Path(tempfile.mkdtemp(prefix="bench_index_", dir=os.environ.get("BENCH_DIR")))
    os.environ["TUI_TAGGER_CACHE_DIR"] = str(base / "cache")
    root = base / "data"
    try:
        _, dt = timed(f"build {n} images + tag files", lambda: build(root, n))
        tags = sorted(root.rglob("*.xml"))

        def first_entry():
            it = Catalog(root).scan()
            entry = next(it)
            it.close()
            return entry

        # a cold scan streams: time to the first entry is what the viewer waits for
        shutil.rmtree(base / "cache", ignore_errors=True)
        timed("cold scan: first entry", first_entry)
        shutil.rmtree(base / "cache", ignore_errors=True)
        entries, cold = timed("cold scan: all entries", lambda: Catalog(root).entries())
        assert len(entries) == n, len(entries)
        cached, _ = timed("cached_entries (index only, first screen)", lambda: Catalog(root).cached_entries())
        assert len(cached) == n, len(cached)
        _, warm = timed("warm verify (new Catalog, scan all entries)", lambda: Catalog(root).entries())

        def cached_then_changes():
            cat = Catalog(root)
            cat.cached_entries()
            return cat.refresh()

        (changes, removed), _ = timed("warm: cached_entries + refresh()", cached_then_changes)
        assert not changes and not removed

        changed = tags[:: 100]
        for i, tag in enumerate(changed):
            tag.write_bytes(tag_xml(tag.stem, TAG_SETS[(i + 1) % len(TAG_SETS)] + ["Misaligned"]))
            st = tag.stat()
            os.utime(tag, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        (changes, _), _ = timed(f"1% changed: cached_entries + refresh() ({len(changed)})", cached_then_changes)
        assert len(changes) == len(changed), len(changes)
        for i, tag in enumerate(changed):  # change them again for the full re-open
            st = tag.stat()
            os.utime(tag, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        entries2, _ = timed(f"1% changed: full re-open ({len(changed)} tag files)", lambda: Catalog(root).entries())
        assert sum("Misaligned" in e.tags for e in entries2) == len(changed)

        cat = Catalog(root)
        entries3 = cat.entries()
        from tui_tagger.core.catalog import search

        hits, _ = timed("search 'GISAXS and not Saturation' (in memory)",
                        lambda: search(entries3, "GISAXS and not Saturation"))
        print(f"  {len(hits)} hits")
        print(f"per image: cold {cold / n * 1e6:.1f} us, warm {warm / n * 1e6:.1f} us")

        if os.environ.get("BENCH_PROFILE"):
            prof = cProfile.Profile()
            prof.enable()
            Catalog(root).entries()
            prof.disable()
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(18)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
