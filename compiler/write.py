"""Write the planned tree to disk: only changed files, all or nothing, users' files kept.

A file under base/ or overlays/ whose first line is the generated header belongs to the
compiler: it is rewritten when its content changes and deleted when the plan no longer
has it. Any other file there belongs to the user and is never touched.

All or nothing: a file that changes gets its new content in a temporary file beside it;
then it is moved aside to a backup and the new file renamed in. A file that is new is
written in place, once (the journal names it, so an undo removes it): creating a tree of
thousands of files costs one file creation each. If any step fails or the command is
interrupted, the write is undone, so the tree is exactly the old one; if the process is
killed, the next write undoes or finishes it (journal.py).
Writers take a lock, so two compiles never write the same tree at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import stat
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from compiler import tools
from compiler.emit import HEADER_MARK
from compiler.errors import UsageError, WriteError
from compiler.files import NotRegularFileError, create_new, read_regular
from compiler.journal import (
    BACKUP_SUFFIX,
    COMMITTED,
    GENERATED_DIRS,
    STAGING,
    TEMP_SUFFIX,
    Plan,
    backup_of,
    close_journal,
    finish,
    open_journal,
    recover,
    signals_deferred,
    temp_of,
    undo,
    writer_lock,
)

Tree = dict[str, bytes]


def is_generated(data: bytes) -> bool:
    """Whether a file's first line is the generated header (`# ...` or `<!-- ... -->`)."""
    # The mark holds no line break: the data starts with it exactly when the first line does.
    return data.startswith((b"# " + HEADER_MARK.encode(), b"<!-- " + HEADER_MARK.encode()))


@dataclass
class Changes:
    """What writing a tree would do, path by path (paths relative to the root)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    user_files: list[str] = field(default_factory=list)

    @property
    def writes(self) -> list[str]:
        return sorted(self.created + self.updated)

    def lines(self) -> Iterator[str]:
        """One line per path, sorted by path, as `compile` reports them."""
        rows = [(p, f"  created {p}") for p in self.created]
        rows += [(p, f"  updated {p}") for p in self.updated]
        rows += [(p, f"unchanged {p}") for p in self.unchanged]
        rows += [(p, f"  deleted {p}") for p in self.deleted]
        rows += [(p, f"     kept {p} (not generated, left alone)") for p in self.user_files]
        for _path, line in sorted(rows):
            yield line


def existing_files(root: Path) -> dict[str, Path]:
    """Every regular file under the generated directories, by relative path."""
    found: dict[str, Path] = {}
    for top in GENERATED_DIRS:
        base = root / top
        if not base.is_dir() or base.is_symlink():
            continue
        for directory, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in filenames:
                path = Path(directory) / name
                if name.endswith((TEMP_SUFFIX, BACKUP_SUFFIX)):
                    continue
                found[path.relative_to(root).as_posix()] = path
    return found


def diff_tree(root: Path, tree: dict[str, bytes]) -> Changes:
    """Compare the planned tree with the disk; raise UsageError on a user file in the way."""
    changes = Changes()
    on_disk = existing_files(root)
    conflicts: list[str] = []
    checked: dict[str, tuple[str | None, str | None, bool]] = {}
    for rel, data in tree.items():
        parent = rel.rpartition("/")[0]
        if parent not in checked:  # each directory is looked at once, not once per file
            checked[parent] = (
                first_link(root, parent),
                first_non_directory(root, rel),
                os.path.lexists(root / parent),
            )
        link, blocked, parent_exists = checked[parent]
        if link is None and blocked is None and not parent_exists:
            changes.created.append(rel)  # in a folder still to make: nothing can be in the way
            continue
        target = root / rel
        if link is None and target.is_symlink():
            link = rel
        if link is not None:
            conflicts.append(
                f"{link}: is a symbolic link (to {os.readlink(root / link)}); generated files "
                "are never written through links"
            )
            continue
        if blocked is not None:
            raise WriteError(
                f"cannot write {rel}: {blocked} is a file where a directory should be; "
                "nothing was changed"
            )
        if rel not in on_disk:
            if target.exists() or target.is_symlink():
                conflicts.append(f"{rel}: exists and is not a regular file")
            else:
                changes.created.append(rel)
            continue
        current = read_file(on_disk[rel])
        if not is_generated(current):
            conflicts.append(f"{rel}: a file without the generated header is in the way")
        elif current == data:
            changes.unchanged.append(rel)
        else:
            changes.updated.append(rel)
    for rel, path in on_disk.items():
        if rel in tree:
            continue
        if path.is_symlink() or not is_generated(read_file(path)):
            changes.user_files.append(rel)
        else:
            changes.deleted.append(rel)
    if conflicts:
        raise UsageError(
            "refusing to write the generated tree:\n  "
            + "\n  ".join(conflicts)
            + "\nmove them away (or delete them) and run the command again"
        )
    return changes


def first_link(root: Path, rel: str) -> str | None:
    """The first component of ``rel`` (under ``root``) that is a symbolic link, if any."""
    parts = Path(rel).parts
    for end in range(1, len(parts) + 1):
        partial = Path(*parts[:end])
        if (root / partial).is_symlink():
            return partial.as_posix()
    return None


def first_non_directory(root: Path, rel: str) -> str | None:
    """The first parent of ``rel`` (under ``root``) that exists but is not a directory."""
    parts = Path(rel).parts
    for end in range(1, len(parts)):
        partial = root / Path(*parts[:end])
        if partial.exists() and not partial.is_dir():
            return Path(*parts[:end]).as_posix()
    return None


def read_file(path: Path) -> bytes:
    """A file under the generated directories; b"" for a link (a user's, never read).

    A FIFO, device or socket there is refused (exit 2): reading it could block forever.
    """
    try:
        return read_regular(path)
    except NotRegularFileError as exc:
        if stat.S_ISLNK(exc.mode):
            return b""
        raise
    except OSError as exc:
        raise WriteError(f"cannot read {path}: {exc.strerror}") from None


class Filesystem:
    """The filesystem operations a write uses; tests inject faults by overriding them."""

    def makedir(self, path: Path) -> None:
        path.mkdir()

    def write(self, path: Path, data: bytes) -> None:
        # No fsync per file: the rename makes each file appear whole, the journal makes
        # the tree change all or nothing, and a power cut is what git is for.
        # (fsync of thousands of files made compiling 1,000 environments 2x slower.)
        create_new(path, data)

    def replace(self, source: Path, target: Path) -> None:
        os.replace(source, target)

    def remove(self, path: Path) -> None:
        path.unlink()

    def rmdir(self, path: Path) -> None:
        path.rmdir()


def write_tree(root: Path, tree: dict[str, bytes], *, only_planned: bool = False) -> Changes:
    """Compare and write under the writers' lock, after recovering an interrupted write.

    With ``only_planned``, files the plan does not name are neither deleted nor reported.
    """
    with writer_lock(root, tools.TIMEOUT):
        recover(root)
        changes = diff_tree(root, tree)
        if only_planned:
            changes.deleted = []
            changes.user_files = []
        apply_changes(root, tree, changes)
    return changes


def write_planned(
    root: Path, plan: Callable[[Callable[[str, bytes], None] | None], Tree]
) -> Changes:
    """Plan the tree with ``plan`` and write it, as write_tree, under the writers' lock.

    Into a project with none of the generated folders yet (a fresh clone of a project
    that does not commit them, the first compile), every file is new: a child process
    creates each one in the staging folder while this one plans the next, and the
    folders are renamed into place at the end. Creating 15,000 files costs seconds of
    system time, and planning them about as much; on two cores the two now overlap.
    """
    with writer_lock(root, tools.TIMEOUT):
        recover(root)
        fresh = not any(os.path.lexists(root / top) for top in GENERATED_DIRS)
        # fork() only where nothing else runs: a thread holding a lock at the fork would
        # leave the child waiting for it forever.
        if fresh and hasattr(os, "fork") and threading.active_count() == 1:
            return write_staged(root, plan)
        tree = plan(None)
        changes = diff_tree(root, tree)
        apply_changes(root, tree, changes)
    return changes


def write_staged(
    root: Path,
    plan: Callable[[Callable[[str, bytes], None] | None], Tree],
    fs: Filesystem | None = None,
) -> Changes:
    """Write a tree made from nothing: staged by a child process as it is planned, then
    its folders renamed into place; all or nothing as apply_changes."""
    fs = fs or Filesystem()
    journal = Plan(staged=list(GENERATED_DIRS))
    staging = root / STAGING
    try:
        open_journal(root, journal)
        fs.makedir(staging)
        tree = StagingWriter(staging, fs).write(plan)
        for top in GENERATED_DIRS:
            if os.path.lexists(staging / top):
                spread_subfolders(staging / top, False)  # as any folder, once in place
                fs.replace(staging / top, root / top)
    except BaseException as exc:
        abandon(root, journal, exc)
    commit(root, journal, fs)
    return Changes(created=list(tree))


# ext2/3/4 place a new folder's inode in its parent's flex group of block groups, and a
# new file's in the first group of its folder's flex group with a free inode
# (fs/ext4/ialloc.c: find_group_orlov, find_group_other). Without a journal, creating a
# file scans past every inode of that group freed in the last 60 s (300 s while its
# inode table is unwritten): ialloc.c recently_deleted and find_inode_bit, RECENTCY_MIN
# and RECENTCY_DIRTY. A tree of 15,000 files made again right after `rm -rf base overlays`
# checked thousands of freed inodes per file: seconds of system time. The subfolders of a
# folder flagged "top of directory hierarchies" (chattr +T) are placed as the root's are,
# each in the flex group with the fewest folders (find_group_orlov): a staged top folder
# is flagged so while its environments' folders are made, which spreads them and their
# files over the disk, away from what was just deleted; the flag is cleared before the
# folder moves into place. Constants: include/uapi/linux/fs.h (/usr/include/linux/fs.h
# lines 201-202: FS_IOC_GETFLAGS _IOR('f', 1, long), FS_IOC_SETFLAGS _IOW('f', 2, long);
# line 255: FS_TOPDIR_FL), encoded as on x86-64 and arm64.
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_TOPDIR_FL = 0x00020000


def spread_subfolders(path: Path, spread: bool = True) -> bool:
    """Set (or clear) the flag "top of directory hierarchies" of the folder ``path``
    where the filesystem has it; False where it has not. A placement hint only: what is
    written is the same either way."""
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "aarch64"):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, bytes(8))[:4])[0]
        wanted = flags | FS_TOPDIR_FL if spread else flags & ~FS_TOPDIR_FL
        if wanted != flags:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", wanted) + bytes(4))
    except OSError:
        return False  # tmpfs, xfs, btrfs, overlayfs ...: no such flag
    finally:
        os.close(fd)
    return True


class StagingWriter:
    """A child process that creates files under ``staging`` as the parent sends them.

    Each file goes through a pipe as a record (path and content lengths, then both);
    an empty path ends the stream. The child reports the first error (errno, message,
    path) or success on a second pipe. It ignores SIGINT and SIGTERM: the parent decides,
    and an end of the stream without the closing record (the parent stopped or was
    killed) makes it stop writing.
    """

    def __init__(self, staging: Path, fs: Filesystem) -> None:
        self.staging = staging
        self.fs = fs

    def write(self, plan: Callable[[Callable[[str, bytes], None] | None], Tree]) -> Tree:
        """Run ``plan`` with a sink streaming every file to the child; the planned tree."""
        data_read, data_write = files_pipe()
        report_read, report_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                os.close(data_write)
                os.close(report_read)
                self.child(data_read, report_write)
                code = 0
            finally:
                os._exit(code)
        os.close(data_read)
        os.close(report_write)
        stream = os.fdopen(data_write, "wb", buffering=1 << 20)
        broken = False

        def sink(rel: str, data: bytes) -> None:
            nonlocal broken
            if broken:
                return
            path = rel.encode("utf-8")
            try:
                stream.write(struct.pack("<II", len(path), len(data)) + path)
                stream.write(data)
            except BrokenPipeError:
                broken = True  # the child stopped: its report says why

        try:
            tree = plan(sink)
            sink("", b"")
        finally:
            with signals_deferred():  # the child ends before anything is undone
                with contextlib.suppress(OSError):
                    stream.close()
                report = read_all(report_read)
                os.waitpid(pid, 0)
        outcome = json.loads(report or b"{}")
        if outcome.get("done") is not True:
            raise OSError(
                outcome.get("errno") or errno.EIO,
                outcome.get("strerror") or "the process writing the files failed",
                outcome.get("filename"),
            )
        return tree

    def child(self, data_read: int, report_write: int) -> None:
        """Create every file received; report the first error, or success."""
        made = {""}
        written: set[str] = set()
        failure: OSError | None = None
        failed = ""
        done = False
        with os.fdopen(data_read, "rb", buffering=1 << 20) as source:
            while True:
                head = source.read(8)
                if len(head) < 8:
                    break  # the parent stopped before the end
                size, length = struct.unpack("<II", head)
                rel = source.read(size).decode("utf-8")
                data = source.read(length)
                if not rel:
                    done = True
                    break
                if failure is not None:
                    continue  # read to the end: the parent never blocks on a full pipe
                try:
                    self.create(rel, data, made, written)
                except OSError as exc:
                    failure, failed = exc, rel
        if failure is not None:
            outcome: dict[str, Any] = {
                "errno": failure.errno,
                "strerror": failure.strerror,
                "filename": failed if failure.filename else None,
            }
        else:
            outcome = {"done": done}
        os.write(report_write, json.dumps(outcome).encode())
        os.close(report_write)

    def create(self, rel: str, data: bytes, made: set[str], written: set[str]) -> None:
        parent = rel.rpartition("/")[0]
        if parent not in made:
            parts = parent.split("/")
            for end in range(1, len(parts) + 1):
                folder = "/".join(parts[:end])
                if folder not in made:
                    self.fs.makedir(self.staging / folder)
                    if end == 1:
                        spread_subfolders(self.staging / folder)
                    made.add(folder)
        target = self.staging / rel
        if rel in written:  # planned again: the later content wins, as in the tree
            self.fs.write(temp_of(target), data)
            self.fs.replace(temp_of(target), target)
            return
        self.fs.write(target, data)
        written.add(rel)


# A pipe holds 64 KiB unless asked for more (pipe(7)); the parent then waited on the
# child at every flush of its 1 MiB buffer (0.5 s of a compile of 1,000 environments).
# 1 MiB is Linux's default /proc/sys/fs/pipe-max-size.
PIPE_BYTES = 1 << 20


def files_pipe() -> tuple[int, int]:
    """A pipe (read end, write end) holding PIPE_BYTES where the system allows it."""
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # a lower limit; not Linux
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return read_end, write_end


def read_all(fd: int) -> bytes:
    """Everything until the end of the pipe ``fd``, which is then closed."""
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def apply_changes(
    root: Path, tree: dict[str, bytes], changes: Changes, fs: Filesystem | None = None
) -> None:
    """Make the disk match ``changes``, all or nothing; raise WriteError on failure.

    Interrupted (Ctrl-C, SIGTERM) before its commit point, the write is undone before
    the interruption goes on; killed, the next write undoes or finishes it (journal.py).
    """
    fs = fs or Filesystem()
    if not changes.writes and not changes.deleted:
        return
    plan = Plan(writes=changes.writes, existed=sorted(changes.updated), deletes=changes.deleted)
    planned: set[str] = set()
    for rel in changes.writes:
        parent = rel.rpartition("/")[0]
        if parent in planned:  # each folder looked at once, not once per file
            continue
        for folder in reversed(Path(parent).parents[:-1]):
            if folder.as_posix() not in planned and not (root / folder).exists():
                planned.add(folder.as_posix())
                plan.directories.append(folder.as_posix())
        planned.add(parent)
        if not (root / parent).exists():
            plan.directories.append(parent)
    try:
        open_journal(root, plan)
        for rel in plan.directories:
            fs.makedir(root / rel)
        # A new file is written in place: nothing is there to keep whole, and the
        # journal lists it, so an interrupted write removes it (journal.undo). A file
        # that changes is staged beside its target, then swapped in.
        for rel in changes.created:
            fs.write(root / rel, tree[rel])
        for rel in changes.updated:
            fs.write(temp_of(root / rel), tree[rel])
        for rel in changes.updated:
            target = root / rel
            fs.replace(target, backup_of(target))
            fs.replace(temp_of(target), target)
        for rel in changes.deleted:
            fs.replace(root / rel, backup_of(root / rel))
    except BaseException as exc:
        abandon(root, plan, exc)
    commit(root, plan, fs)


def commit(root: Path, plan: Plan, fs: Filesystem) -> None:
    """The commit point of a write whose every change is in place, then the cleanup."""
    # An interruption from here waits until the write is complete.
    with signals_deferred():
        try:
            fs.write(root / COMMITTED, b"")  # the commit point
        except OSError as exc:
            abandon(root, plan, exc)
        with contextlib.suppress(OSError):  # a failure leaves what the next write removes
            finish(root, plan)
            close_journal(root)


def abandon(root: Path, plan: Plan, exc: BaseException) -> NoReturn:
    """Undo a write stopped by ``exc``, then raise it (an OSError as a WriteError)."""
    with signals_deferred():
        try:
            undo(root, plan)
        finally:
            close_journal(root)
    if not isinstance(exc, OSError):
        raise exc  # an interruption: the tree is the old one, now it may stop
    where = f": {exc.filename}" if exc.filename else ""
    raise WriteError(
        f"cannot write the generated tree ({exc.strerror or exc}{where}); nothing was changed"
    ) from None


def write_file(path: Path, text: str) -> bool:
    """Write one file the user asked for (schema, imported spec, rendered manifests)
    whole or not at all; False when it already holds ``text``.

    Never through a link: the target must be a regular file or absent, and the
    temporary file beside it gets a fresh name created exclusively (a planted
    `FILE.llmgw-tmp` is never used), then is renamed over the target.
    """
    data = text.encode("utf-8")
    try:
        if read_regular(path) == data:
            return False
    except FileNotFoundError:
        pass
    except NotRegularFileError as exc:
        raise NotRegularFileError(path, exc.mode, "write") from None
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror}") from None
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        temp = Path(name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o666 & ~current_umask())
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
    return True


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
