"""Atomic file writes: a temp file in the same folder, optional fsync, then rename."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# The temp files atomic_write_bytes makes: ".<target>.<8 random chars from mkstemp>.tmp"
_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def atomic_write_bytes(path: str | Path, data: bytes, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new one, never a mix.

    The temp file lives in the target's folder (rename is only atomic within one file system).
    With ``fsync`` the data (and the folder entry) reach the disk before this returns, so a power
    loss cannot leave an empty file; without it only a process crash is covered.
    """
    path = Path(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        try:  # keep the permissions of the file being replaced
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if fsync:
        try:
            dfd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temp(entry: os.DirEntry, before: float) -> bool:
    """Remove ``entry`` if it is a temp file of ours (``atomic_write_bytes``'s pattern) last written before
    ``before`` (the start of the session: a save a crash cut short left it; a live writer's temp is newer).
    Returns whether it was removed."""
    if not _TEMP.fullmatch(entry.name):
        return False
    try:
        if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_mtime >= before:
            return False
        os.unlink(entry.path)
        return True
    except OSError:
        return False
