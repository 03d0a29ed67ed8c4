"""Thumbnail cache: keyed by file identity, size and settings; corrupt entries are misses; size-bounded."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from tui_tagger.core.display import DisplaySettings
from tui_tagger.core.thumbcache import ThumbnailCache

S = DisplaySettings()


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "frame.tif"
    p.write_bytes(b"pretend image data")
    return p


def rgb(seed=0, shape=(32, 40)):
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_put_then_get_round_trips(tmp_path, image):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=10**7)
    assert cache.get(image, (64, 64), S) is None
    cache.put(image, (64, 64), S, rgb())
    np.testing.assert_array_equal(cache.get(image, (64, 64), S), rgb())
    # two-level hashed folders
    entry = cache.entry_path(image, (64, 64), S)
    assert entry.relative_to(tmp_path / "c").parts[:2] == (entry.stem[:2], entry.stem[2:4])


def test_default_root_is_under_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(tmp_path / "xdg"))
    assert ThumbnailCache().root == tmp_path / "xdg" / "thumbs"


def test_size_settings_and_file_changes_miss(tmp_path, image):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=10**7)
    cache.put(image, (64, 64), S, rgb())
    assert cache.get(image, (128, 128), S) is None
    assert cache.get(image, (64, 64), DisplaySettings(colormap="gray")) is None
    image.write_bytes(b"the image was reprocessed: new content")
    assert cache.get(image, (64, 64), S) is None
    assert cache.get(tmp_path / "missing.tif", (64, 64), S) is None


def test_frames_of_one_container_are_distinct(tmp_path):
    h5 = tmp_path / "scan.h5"
    h5.write_bytes(b"x")
    cache = ThumbnailCache(tmp_path / "c", max_bytes=10**7)
    cache.put(f"{h5}::/entry/data#0", (64, 64), S, rgb(0))
    cache.put(f"{h5}::/entry/data#1", (64, 64), S, rgb(1))
    np.testing.assert_array_equal(cache.get(f"{h5}::/entry/data#1", (64, 64), S), rgb(1))
    np.testing.assert_array_equal(cache.get(f"{h5}::/entry/data#0", (64, 64), S), rgb(0))


@pytest.mark.parametrize("garbage", [b"", b"not numpy at all", b"\x93NUMPY\x01\x00garbage"])
def test_corrupt_entry_is_a_miss_and_gets_replaced(tmp_path, image, garbage):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=10**7)
    cache.put(image, (64, 64), S, rgb())
    entry = cache.entry_path(image, (64, 64), S)
    entry.write_bytes(garbage)
    made = []
    out = cache.get_or_make(image, (64, 64), S, lambda: made.append(1) or rgb(5))
    assert made == [1]
    np.testing.assert_array_equal(out, rgb(5))
    np.testing.assert_array_equal(cache.get(image, (64, 64), S), rgb(5))


def test_entry_of_the_wrong_shape_is_a_miss(tmp_path, image):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=10**7)
    cache.put(image, (16, 16), S, rgb(shape=(32, 40)))  # bigger than the size it claims
    assert cache.get(image, (16, 16), S) is None


def test_get_or_make_makes_once(tmp_path, image):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=10**7)
    calls = []

    def make():
        calls.append(1)
        return rgb(2)

    for _ in range(3):
        np.testing.assert_array_equal(cache.get_or_make(image, (64, 64), S, make), rgb(2))
    assert calls == [1]


def test_size_limit_removes_least_recently_used_first(tmp_path):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=60_000)
    images = []
    for i in range(12):  # each entry is ~11.6 kB: 12 of them are over the limit
        p = tmp_path / f"img{i}.tif"
        p.write_bytes(b"%d" % i)
        images.append(p)
    for i, p in enumerate(images[:4]):
        cache.put(p, (80, 80), S, rgb(i, (62, 62)))
        entry = cache.entry_path(p, (80, 80), S)
        os.utime(entry, (1000 + i, 1000 + i))  # written long ago, in order
    for i, p in enumerate(images[4:], start=4):
        assert cache.get(images[0], (80, 80), S) is not None  # kept in use: must survive
        cache.put(p, (80, 80), S, rgb(i, (62, 62)))
    on_disk = sum(f.stat().st_size for f in (tmp_path / "c").rglob("*.npy"))
    assert on_disk <= 60_000
    assert cache.get(images[0], (80, 80), S) is not None
    assert cache.get(images[1], (80, 80), S) is None
    assert cache.get(images[-1], (80, 80), S) is not None


def test_unwritable_cache_is_silently_skipped(tmp_path, image):
    blocker = tmp_path / "c"
    blocker.write_bytes(b"a file where the cache folder should be")
    cache = ThumbnailCache(blocker, max_bytes=10**7)
    cache.put(image, (64, 64), S, rgb())
    assert cache.get(image, (64, 64), S) is None
    np.testing.assert_array_equal(cache.get_or_make(image, (64, 64), S, lambda: rgb(1)), rgb(1))


def test_concurrent_threads_share_one_cache(tmp_path):
    cache = ThumbnailCache(tmp_path / "c", max_bytes=200_000)
    paths = []
    for i in range(20):
        p = tmp_path / f"f{i}"
        p.write_bytes(b"%d" % i)
        paths.append(p)
    errors = []

    def worker(k):
        try:
            for j in range(60):
                i = (j * 7 + k) % len(paths)
                got = cache.get_or_make(paths[i], (40, 40), S, lambda i=i: rgb(i, (40, 40)))
                assert np.array_equal(got, rgb(i, (40, 40)))
        except Exception as exc:  # noqa: BLE001 - report any failure from the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(f.stat().st_size for f in (tmp_path / "c").rglob("*.npy")) <= 200_000
    assert not list((tmp_path / "c").rglob("*.tmp"))
