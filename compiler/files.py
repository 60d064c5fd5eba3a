"""Files at the edge: never follow a link, never block on a special file.

Every read of a file the user controls goes through ``read_regular``: it opens without
following a symbolic link and without blocking (a FIFO opens at once), refuses anything
that is not a regular file, and reads at most a given number of bytes whatever stat
says (`/dev/zero` has size 0). Every new file is created with ``create_new``: O_EXCL and
O_NOFOLLOW, so a planted link or a leftover is never written through.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from compiler.errors import UsageError

KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
}


def kind_of(mode: int) -> str:
    """What a file is, for messages: 'a FIFO', 'a symbolic link', 'a regular file' ..."""
    return KINDS.get(stat.S_IFMT(mode), "a regular file")


class NotRegularFileError(UsageError):
    """A path we read or write is a link, a FIFO, a device, a socket or a directory."""

    def __init__(self, path: str | Path, mode: int, doing: str = "read") -> None:
        self.path = str(path)
        self.mode = mode
        super().__init__(f"{path}: is {kind_of(mode)}, not a regular file; refusing to {doing} it")


def special_file(path: Path) -> int | None:
    """The mode of ``path`` when it exists and is not a regular file (links included)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    return None if stat.S_ISREG(mode) else mode


class FileTooLargeError(Exception):
    """A regular file whose size (from stat) is above the limit; nothing was read."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"{size} bytes")


def open_regular(path: str | Path, limit: int | None = None) -> int:
    """A descriptor of the regular file at ``path`` (see read_regular for the errors)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the last component is a symbolic link
            raise NotRegularFileError(path, stat.S_IFLNK) from None
        raise
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFileError(path, status.st_mode)
        if limit is not None and status.st_size > limit:
            raise FileTooLargeError(status.st_size)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``limit`` + 1 of them (the caller sees more
    than ``limit`` as too large: stat's size is not trusted, a file may grow or lie).

    Raises FileTooLargeError when stat already says so (before reading),
    NotRegularFileError for a link or special file, OSError as the system gives it."""
    with os.fdopen(open_regular(path, limit), "rb") as handle:
        return handle.read() if limit is None else handle.read(limit + 1)


def read_head(path: str | Path, size: int) -> bytes:
    """The first ``size`` bytes of a regular file (errors as read_regular)."""
    with os.fdopen(open_regular(path), "rb") as handle:
        return handle.read(size)


def create_new(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``; fails if anything (a link included) is there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
