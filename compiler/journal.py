"""Make a write of the generated tree survive any interruption, and one writer at a time.

Before a write changes anything it records its plan in `.llmgw-journal` (atomically:
a temporary file, then a rename): every target, whether it existed, and the
directories it creates. A new file is written in place (the journal names it, so an
undo removes it); a changed one is staged as `FILE.llmgw-tmp`, and its old content
moved to `FILE.llmgw-bak` before the staged file is renamed in. When every swap is done
the write creates `.llmgw-journal.committed`, its commit point, then removes backups,
the journal and the marker, in that order. A tree made from nothing (none of its
folders exists) is written into `.llmgw-stage/` instead, its folders renamed into
place before the commit point; an undo renames them back and removes the staging folder.

Whatever stops a write (an error, Ctrl-C, SIGTERM, SIGKILL, a power cut of the process),
the next write, or ``recover``, reads the journal and either undoes the write (no
marker: every backup back in place, new files and staged files removed, new
directories removed) or finishes it (marker: backups removed). Both steps are
idempotent, so a crash during recovery is recovered the same way.

The lock (`.llmgw-lock`, holding the writer's pid) is an flock: the kernel releases it
when its holder dies, so a stale lock file is simply taken over. (A process writing the
staging folder for the compile shares its lock, so it is held until both have ended.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from compiler.errors import ExternalError
from compiler.files import NotRegularFileError, create_new, read_regular

JOURNAL = ".llmgw-journal"
COMMITTED = ".llmgw-journal.committed"
LOCK = ".llmgw-lock"
TEMP_SUFFIX = ".llmgw-tmp"
BACKUP_SUFFIX = ".llmgw-bak"
# Where a tree made from nothing is written before its folders are renamed into place.
STAGING = ".llmgw-stage"
GENERATED_DIRS = ("base", "overlays", "docs", "gitops")
MAX_JOURNAL_BYTES = 256 * 1024 * 1024


def temp_of(path: Path) -> Path:
    return path.with_name(path.name + TEMP_SUFFIX)


def backup_of(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


@dataclass
class Plan:
    """What a write will do, paths relative to the root: what recovery needs to know."""

    writes: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)  # the writes that replace a file
    deletes: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)  # created, parents first
    # Top folders (base, overlays ...) written under STAGING, then renamed into place.
    staged: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Plan:
        raw = json.loads(data)
        fields = ("writes", "existed", "deletes", "directories")
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), list) and all(isinstance(p, str) for p in raw[k]) for k in fields
        ):
            raise ValueError("not a journal")
        plan = cls(*(raw[k] for k in fields))
        staged = raw.get("staged", [])  # absent from the journals of older versions
        if not isinstance(staged, list) or not all(top in GENERATED_DIRS for top in staged):
            raise ValueError("not a journal")
        plan.staged = staged
        for rel in plan.writes + plan.deletes + plan.directories:
            parts = Path(rel).parts
            if (
                not parts
                or Path(rel).is_absolute()
                or ".." in parts
                or parts[0] not in GENERATED_DIRS
            ):
                raise ValueError(f"not a generated path: {rel}")
        return plan


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (they then act as usual)."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def undo(root: Path, plan: Plan) -> None:
    """Put the tree back as it was before ``plan`` started, from any point of it."""
    existed = set(plan.existed)
    for rel in plan.writes + plan.deletes:
        target = root / rel
        remove(temp_of(target))
        if backup_of(target).exists():
            os.replace(backup_of(target), target)
        elif rel in plan.writes and rel not in existed:
            remove(target)  # a new file already renamed in
    for rel in reversed(plan.directories):
        with contextlib.suppress(OSError):
            (root / rel).rmdir()
    for top in plan.staged:
        # None of them existed when the write began (it stages only then): one in place
        # and not in the staging folder was renamed there by the write.
        if os.path.lexists(root / top) and not os.path.lexists(root / STAGING / top):
            os.replace(root / top, root / STAGING / top)
    remove_staging(root)


def finish(root: Path, plan: Plan) -> None:
    """Complete a committed ``plan``: drop backups and what deletions emptied.

    Only a replaced or deleted file has a backup; a new file is written in place and
    leaves nothing behind (a stray staged file is still swept by ``recover``)."""
    for rel in plan.existed + plan.deletes:
        remove(temp_of(root / rel))
        remove(backup_of(root / rel))
    remove_staging(root)
    for rel in sorted(plan.deletes, key=lambda r: -r.count("/")):
        directory = (root / rel).parent
        while directory != root and directory.name not in GENERATED_DIRS:
            try:
                directory.rmdir()
            except OSError:
                break
            directory = directory.parent


def remove_staging(root: Path) -> None:
    """Remove the staging folder and all in it: only a write puts anything there."""
    path = root / STAGING
    if os.path.islink(path):
        path.unlink()  # never followed
    elif os.path.lexists(path):
        shutil.rmtree(path)


def open_journal(root: Path, plan: Plan) -> None:
    """The first step of a write: its plan, on disk whole or not at all."""
    temp = root / (JOURNAL + TEMP_SUFFIX)
    remove(temp)
    create_new(temp, plan.to_json())
    os.replace(temp, root / JOURNAL)


def close_journal(root: Path) -> None:
    """The last step of a write or a recovery: the journal goes before its marker."""
    remove(root / (JOURNAL + TEMP_SUFFIX))
    remove(root / JOURNAL)
    remove(root / COMMITTED)


def leftovers(root: Path) -> list[str]:
    """What an interrupted write left behind (journal, staged and backup files)."""
    found = [
        name
        for name in (JOURNAL, COMMITTED, JOURNAL + TEMP_SUFFIX, STAGING)
        if os.path.lexists(root / name)
    ]
    for top in GENERATED_DIRS:
        if not (root / top).is_dir() or (root / top).is_symlink():
            continue
        for directory, dirnames, filenames in os.walk(root / top):
            dirnames.sort()
            found += [
                (Path(directory) / name).relative_to(root).as_posix()
                for name in sorted(filenames)
                if name.endswith((TEMP_SUFFIX, BACKUP_SUFFIX))
            ]
    return found


def recover(root: Path) -> None:
    """Undo or finish whatever write was interrupted; remove every leftover."""
    with signals_deferred():
        try:
            plan: Plan | None = Plan.from_json(read_regular(root / JOURNAL, MAX_JOURNAL_BYTES))
        except FileNotFoundError:
            plan = None
        except (OSError, ValueError, NotRegularFileError):
            plan = None  # not ours or unreadable: the leftovers below are still cleaned
        try:
            if plan is not None:
                if os.path.lexists(root / COMMITTED):
                    finish(root, plan)
                else:
                    undo(root, plan)
            # Anything else (from a crash before a journal existed, or an older
            # version): a staged file is dropped, a backup restored when its file is
            # missing, else dropped.
            for rel in leftovers(root):
                path = root / rel
                if rel.endswith(BACKUP_SUFFIX) and "/" in rel:
                    original = path.with_name(path.name.removesuffix(BACKUP_SUFFIX))
                    if not os.path.lexists(original):
                        os.replace(path, original)
                        continue
                if "/" in rel:
                    remove(path)
            remove_staging(root)
            close_journal(root)
        except OSError as exc:
            raise ExternalError(
                f"cannot recover from an interrupted compile ({exc.strerror}: "
                f"{exc.filename}); fix that, then run compile again"
            ) from None


@contextlib.contextmanager
def writer_lock(root: Path, wait: float) -> Iterator[None]:
    """Hold `.llmgw-lock` (with our pid) while inside; wait up to ``wait`` seconds for it."""
    path = root / LOCK
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            reason = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
            raise ExternalError(f"cannot take the lock {LOCK}: {reason}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if time.monotonic() >= deadline:
                raise ExternalError(
                    f"another compile (pid {holder}) is writing this tree and did not finish "
                    f"within {wait:g} s; try again when it has (lock: {LOCK})"
                ) from None
            time.sleep(0.05)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed it as we opened it: take the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        remove(path)  # removed while still held, so nobody locks a dead file
        os.close(fd)
