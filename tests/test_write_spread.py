"""A tree made from nothing is spread over the disk while it is staged (write.py,
spread_subfolders): each staged top folder carries ext4's "top of directory hierarchies"
flag while its environments' folders are made, and loses it before it moves into place.

Without it, making the tree again right after deleting it cost seconds of system time on
ext4 without a journal (each new file scanned past the inodes just freed beside it); the
figures are bench/run.py's. These tests need a filesystem with inode flags (ext2/3/4 on
Linux): elsewhere they are skipped, and the tree is written the same.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.load import load_spec
from compiler.plan import plan_tree
from compiler.write import (
    Filesystem,
    StagingWriter,
    files_pipe,
    spread_subfolders,
    write_planned,
)
from tests.helpers import read_tree

# include/uapi/linux/fs.h (/usr/include/linux/fs.h:201-202, 242, 255), as x86-64 encodes them.
GETFLAGS = 0x80086601
SETFLAGS = 0x40086602
NOATIME = 0x00000080
TOPDIR = 0x00020000


def flags_of(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, GETFLAGS, bytes(8))[:4])[0])
    finally:
        os.close(fd)


def set_flags(path: Path, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, SETFLAGS, struct.pack("i", flags) + bytes(4))
    finally:
        os.close(fd)


@pytest.fixture
def flagged(tmp_path: Path) -> Path:
    """``tmp_path``, on a filesystem where a folder can be flagged a top one (else skip)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    try:
        if os.uname().machine != "x86_64":
            raise OSError("ioctl numbers of x86-64 only")
        set_flags(probe, flags_of(probe) | TOPDIR)
        assert flags_of(probe) & TOPDIR
    except OSError as exc:
        pytest.skip(f"no inode flags here: {exc}")
    probe.rmdir()
    return tmp_path


def test_a_staged_top_folder_spreads_the_folders_made_in_it(flagged: Path) -> None:
    staging = flagged / ".llmgw-stage"
    staging.mkdir()
    writer = StagingWriter(staging, Filesystem())
    made, written = {""}, set[str]()
    writer.create("overlays/dev/kustomization.yaml", b"# dev\n", made, written)
    writer.create("overlays/prod/kustomization.yaml", b"# prod\n", made, written)
    assert flags_of(staging / "overlays") & TOPDIR
    assert not flags_of(staging) & TOPDIR  # the staging folder itself is placed as before
    assert (staging / "overlays" / "prod" / "kustomization.yaml").read_bytes() == b"# prod\n"


def test_a_tree_made_from_nothing_keeps_no_placement_flag(project: Path) -> None:
    """The flag is the write's business: the folders in place carry none, as any folder."""
    if not spread_subfolders(project):  # the filesystem has no inode flags: nothing to see
        pytest.skip("no inode flags here")
    spread_subfolders(project, False)
    tree = plan_tree(load_spec("spec/llmgateway.yaml"))
    changes = write_planned(
        project, lambda sink: plan_tree(load_spec("spec/llmgateway.yaml"), sink)
    )
    assert changes.created == list(tree)
    assert {k: v for k, v in read_tree(project).items() if k != "spec/llmgateway.yaml"} == tree
    for top in ("base", "overlays", "docs"):
        assert not flags_of(project / top) & TOPDIR, top


def test_the_flag_is_set_and_cleared_alone(flagged: Path) -> None:
    folder = flagged / "overlays"
    folder.mkdir()
    set_flags(folder, flags_of(folder) | NOATIME)
    before = flags_of(folder)
    assert spread_subfolders(folder) is True
    assert flags_of(folder) == before | TOPDIR
    assert spread_subfolders(folder) is True  # already flagged: unchanged
    assert flags_of(folder) == before | TOPDIR
    assert spread_subfolders(folder, False) is True
    assert flags_of(folder) == before


def test_a_link_to_a_folder_is_never_flagged(flagged: Path) -> None:
    target = flagged / "elsewhere"
    target.mkdir()
    (flagged / "overlays").symlink_to(target)
    assert spread_subfolders(flagged / "overlays") is False
    assert not flags_of(target) & TOPDIR


def test_where_there_is_no_such_flag_nothing_is_flagged_and_the_tree_is_the_same(
    tmp_path: Path,
) -> None:
    assert spread_subfolders(tmp_path / "missing") is False
    (tmp_path / "file").write_text("")
    assert spread_subfolders(tmp_path / "file") is False
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no tmpfs at /dev/shm")
    root = Path(os.path.realpath(shm)) / f"llmgw-test-{os.getpid()}-{tmp_path.name}"
    root.mkdir()
    try:
        assert spread_subfolders(root) is False  # tmpfs has no such flag
        spec = (Path(__file__).parent.parent / "spec" / "llmgateway.yaml").read_bytes()
        (root / "spec").mkdir()
        (root / "spec" / "llmgateway.yaml").write_bytes(spec)

        def plan(sink: Callable[[str, bytes], None] | None) -> dict[str, bytes]:
            return plan_tree(load_spec(str(root / "spec" / "llmgateway.yaml")), sink)

        write_planned(root, plan)
        assert {k: v for k, v in read_tree(root).items() if not k.startswith("spec/")} == plan(None)
    finally:
        shutil.rmtree(root)


def test_the_pipe_to_the_writer_holds_a_megabyte() -> None:
    """The parent streams whole files to the staging writer without waiting on each flush."""
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("pipe sizes are Linux's")
    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < 1 << 20:
        pytest.skip("this system caps pipes below a megabyte")
    read_end, write_end = files_pipe()
    try:
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == 1 << 20
    finally:
        os.close(read_end)
        os.close(write_end)
