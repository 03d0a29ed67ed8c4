"""Open only regular files, and never wait to open one.

Tag files, images and model files are read only when they are regular files. A FIFO named ``x.tag`` or
``y.tif`` would block ``open()`` until some writer turns up (forever, in practice); a device or a socket is
no better. ``open_regular`` opens with O_NONBLOCK, so the open itself returns at once whatever the path is,
then checks the open file with fstat (no window for the path to be swapped between the check and the read)
and refuses anything but a regular file with ``NotRegularFile``: an OSError whose ``strerror`` reads
"not a regular file (a FIFO)". Reads of a regular file do not block.

Third-party readers that only take a path (fabio, h5py) get it after ``check_regular`` said it names a
regular file; those that take a file object (tifffile, Pillow) get the file ``open_regular`` opened.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)  # a terminal device never becomes our controlling terminal
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words: "a FIFO", "a character device"..."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a special file"


class NotRegularFile(OSError):
    """The path names a FIFO, device or socket: never read. ``strerror``: "not a regular file (a FIFO)"."""

    def __init__(self, path: str | os.PathLike, mode: int):
        self.kind = kind_of(mode)
        super().__init__(errno.EINVAL, f"not a regular file ({self.kind})", os.fspath(path))

    def __str__(self) -> str:
        return self.strerror


def _refuse(path: str | os.PathLike, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder", os.fspath(path))
    raise NotRegularFile(path, mode)


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """``path`` opened for binary reading, never blocking: FileNotFoundError, PermissionError... as open()
    raises them, IsADirectoryError for a folder, NotRegularFile for a FIFO, device or socket."""
    fd = os.open(path, _FLAGS)
    try:
        _refuse(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)  # a regular file: plain reads from here on
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    try:
        fh.raw.name = os.fspath(path)  # as open() names it (tifffile and Pillow read the name)
    except (AttributeError, TypeError):
        pass
    return fh


def read_regular(path: str | os.PathLike, limit: int) -> tuple[bytes, os.stat_result]:
    """(at most ``limit + 1`` bytes of the regular file ``path``, its stat): the +1 tells a caller the file
    is larger than ``limit``. ``open_regular``'s checks and errors, without a file object and reading only
    what fstat says is there (a read of ``limit + 1`` allocates that much): fast for many small files."""
    fd = os.open(path, _FLAGS)
    try:
        st = os.fstat(fd)
        _refuse(path, st.st_mode)
        want = min(st.st_size, limit) + 1  # one more: a file that grew since the fstat shows it
        chunks = []
        while want > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks), st


def check_regular(path: str | os.PathLike) -> os.stat_result:
    """The stat of ``path`` (following links) when it is a regular file; else the error open_regular gives.
    For libraries that open the path themselves: they never see a FIFO, device or socket."""
    st = os.stat(path)
    _refuse(path, st.st_mode)
    return st


def is_regular(path: str | os.PathLike) -> bool:
    """Whether ``path`` (following links) is a regular file. Never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


__all__ = ["NotRegularFile", "check_regular", "is_regular", "kind_of", "open_regular", "read_regular"]
