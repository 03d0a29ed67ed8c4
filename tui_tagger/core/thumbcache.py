"""On-disk thumbnail cache: small .npy RGB arrays under a hashed two-level folder tree.

Key: the image's identity (absolute path or frame ref, file size, mtime_ns), the thumbnail size and
``DisplaySettings.key()``; an edited image or a new colour map simply misses. The cache is best effort:
an unreadable, corrupt or vanished entry is a miss (and is replaced by the next put); a read-only or
full disk makes puts no-ops. Size is bounded: the running total is estimated (one scan on the first
put, then added to), and only when it passes ``max_bytes`` are the least recently used entries
(oldest mtime; a hit touches its file) removed down to 80%. Safe for several threads and processes:
writes are atomic renames and a lock guards the running total.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tui_tagger.core.atomic import atomic_write_bytes
from tui_tagger.core.regular import open_regular

_SUFFIX = ".npy"
_TRIM_TO = 0.8  # after a trim the cache holds at most this fraction of max_bytes
_STALE_TMP_S = 3600  # temp files older than this are leftovers of a crashed writer


def _file_identity(ref: str | os.PathLike) -> tuple[str, int, int] | None:
    """(absolute ref, size, mtime_ns) of the file behind an image ref, None when it is not there.

    A ref may address a frame inside a container (``file.h5::/entry/data#3``, ``file.edf#2``): the
    file's stat is used and the whole ref kept, so frames of one file get distinct entries."""
    ref = os.fspath(ref)
    candidates = [ref]
    if "::" in ref:
        candidates.append(ref.split("::", 1)[0])
    if "#" in ref:
        candidates.append(ref.rsplit("#", 1)[0].split("::", 1)[0])
    for path in candidates:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            continue
        absolute = os.path.abspath(path) + ref[len(path):]
        return absolute, st.st_size, st.st_mtime_ns
    return None


class ThumbnailCache:
    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int | None = None):
        if root is None:
            from tui_tagger.config import cache_dir

            root = cache_dir() / "thumbs"
        if max_bytes is None:
            from tui_tagger.config import Settings

            max_bytes = Settings.from_env().thumbnail_cache_bytes
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._total: int | None = None  # estimated bytes on disk; None until the first put scans
        self.hits = 0
        self.misses = 0

    # --- keys ---------------------------------------------------------------------------------

    def entry_path(self, path: str | os.PathLike, size: tuple[int, int], settings: Any) -> Path | None:
        """Where the thumbnail of ``path`` at ``size`` with ``settings`` lives; None for a missing file."""
        ident = _file_identity(path)
        if ident is None:
            return None
        key = "\0".join([ident[0], str(ident[1]), str(ident[2]), f"{int(size[0])}x{int(size[1])}", settings.key()])
        digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / digest[:2] / digest[2:4] / (digest + _SUFFIX)

    # --- get / put ----------------------------------------------------------------------------

    def get(self, path: str | os.PathLike, size: tuple[int, int], settings: Any) -> np.ndarray | None:
        """The cached RGB thumbnail, or None (never cached, image changed since, or a bad entry)."""
        entry = self.entry_path(path, size, settings)
        rgb = self._load(entry, size) if entry is not None else None
        if rgb is None:
            self.misses += 1
            return None
        self.hits += 1
        try:
            os.utime(entry)  # "recently used" for the trim; atime is unreliable (noatime mounts)
        except OSError:
            pass
        return rgb

    def put(self, path: str | os.PathLike, size: tuple[int, int], settings: Any, rgb: np.ndarray) -> None:
        entry = self.entry_path(path, size, settings)
        if entry is None:
            return
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(rgb, dtype=np.uint8), allow_pickle=False)
        data = buf.getvalue()
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(entry, data, fsync=False)  # a lost thumbnail is just remade
        except OSError:
            return  # read-only or full cache: run without it
        self._account(len(data))

    def get_or_make(
        self, path: str | os.PathLike, size: tuple[int, int], settings: Any, make: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The cached thumbnail, or ``make()`` stored and returned. Errors from ``make`` propagate."""
        rgb = self.get(path, size, settings)
        if rgb is None:
            rgb = make()
            self.put(path, size, settings, rgb)
        return rgb

    @staticmethod
    def _load(entry: Path, size: tuple[int, int]) -> np.ndarray | None:
        try:
            with open_regular(entry) as fh:  # never waits on a FIFO put in the cache
                rgb = np.load(fh, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):  # truncated or garbage: drop it, the next put replaces it
            _unlink(entry)
            return None
        w, h = int(size[0]), int(size[1])
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] > h or rgb.shape[1] > w:
            _unlink(entry)
            return None
        return rgb

    # --- size limit ---------------------------------------------------------------------------

    def _account(self, added: int) -> None:
        with self._lock:
            if self._total is None:
                self._total = sum(size for _, size, _ in self._entries())
            else:
                self._total += added
            if self._total > self.max_bytes:
                self._total = self._trim_locked()

    def _entries(self) -> list[tuple[Path, int, float]]:
        """(path, bytes, mtime) of every cache entry; removes stale temp files on the way."""
        out = []
        now = time.time()
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                except OSError:
                    continue
                if name.endswith(_SUFFIX) and not name.startswith("."):
                    out.append((p, st.st_size, st.st_mtime))
                elif name.endswith(".tmp") and now - st.st_mtime > _STALE_TMP_S:
                    _unlink(p)
        return out

    def _trim_locked(self) -> int:
        entries = sorted(self._entries(), key=lambda e: e[2])  # least recently used first
        total = sum(size for _, size, _ in entries)
        target = self.max_bytes * _TRIM_TO
        for p, size, _ in entries:
            if total <= target:
                break
            if _unlink(p):
                total -= size
        return total

    def trim(self) -> int:
        """Trim now (normally automatic); returns the bytes left."""
        with self._lock:
            self._total = self._trim_locked()
            return self._total

    def clear(self) -> None:
        with self._lock:
            for p, _, _ in self._entries():
                _unlink(p)
            self._total = 0


def _unlink(p: Path) -> bool:
    try:
        p.unlink()
        return True
    except OSError:
        return False
