"""`write_file`: one file a user asked for (schema, `build -o`, `set`, golden manifests),
written whole or not at all, never through a link, with the umask's mode, unchanged when
it already holds the text."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.errors import WriteError
from compiler.files import NotRegularFileError
from compiler.write import current_umask, write_file


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_writes_the_text_then_leaves_an_equal_file_alone(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "deep" / "er" / "out.yaml"
    assert write_file(target, "a: é\n") is True  # parents are created
    assert target.read_bytes() == "a: é\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    before = target.stat()
    assert write_file(target, "a: é\n") is False
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert write_file(target, "a: 2\n") is True
    assert target.read_text() == "a: 2\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.yaml"]  # no leftover


def test_mode_follows_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        assert current_umask() == 0o077
        assert current_umask() == 0o077  # reading it does not change it
        write_file(tmp_path / "private.yaml", "x\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "private.yaml").stat().st_mode) == 0o600


def test_a_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "out.yaml"
    link.symlink_to(victim)
    with pytest.raises(NotRegularFileError) as caught:
        write_file(link, "new\n")
    assert str(caught.value) == (
        f"{link}: is a symbolic link, not a regular file; refusing to write it"
    )
    assert victim.read_text() == "keep\n"
    assert link.is_symlink()


def test_a_directory_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.yaml").mkdir()
    with pytest.raises(
        NotRegularFileError, match="is a directory, not a regular file; refusing to write it"
    ):
        write_file(tmp_path / "out.yaml", "x\n")


def test_a_planted_temporary_file_is_not_used(tmp_path: Path) -> None:
    planted = tmp_path / "out.yaml.llmgw-tmp"
    planted.symlink_to(tmp_path / "elsewhere")
    write_file(tmp_path / "out.yaml", "x\n")
    assert (tmp_path / "out.yaml").read_text() == "x\n"
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml", "out.yaml.llmgw-tmp"]


def test_a_file_where_the_folder_should_be_is_a_write_error(tmp_path: Path) -> None:
    (tmp_path / "folder").write_text("a file\n")
    target = tmp_path / "folder" / "out.yaml"
    with pytest.raises(WriteError) as caught:
        write_file(target, "x\n")
    assert str(caught.value) == f"cannot write {target}: Not a directory"
    assert (tmp_path / "folder").read_text() == "a file\n"


def test_a_name_too_long_for_the_temporary_file_is_a_write_error(tmp_path: Path) -> None:
    # 250 characters is a valid name, the temporary file's `.NAME.XXXXXXXX.llmgw-tmp` not
    target = tmp_path / ("x" * 250)
    with pytest.raises(WriteError) as caught:
        write_file(target, "x\n")
    assert str(caught.value) == f"cannot write {target}: File name too long"
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_file_is_made_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with TMPDIR on another file system, a temporary file made there could not be
    # renamed over the target (EXDEV)
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to put TMPDIR on")
    monkeypatch.setattr(tempfile, "tempdir", str(other))
    assert write_file(tmp_path / "out.yaml", "x\n") is True
    assert (tmp_path / "out.yaml").read_text() == "x\n"


def test_the_temporary_file_is_hidden_beside_the_target_and_named_as_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a crash between the two steps can leave behind is a hidden file beside the
    target whose name says whose it is: `.NAME.<random>.llmgw-tmp` (README,
    Interruptions: the compiler's temporary files end in `.llmgw-tmp`)."""
    renamed: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        renamed.append((Path(source), Path(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.yaml"
    assert write_file(target, "x\n") is True
    ((source, to),) = renamed
    assert to == target
    assert source.parent == tmp_path
    assert source.name.startswith(".out.yaml.")
    assert source.name.endswith(".llmgw-tmp")
    assert len(source.name) > len(".out.yaml..llmgw-tmp")  # a fresh random part


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError(errno.EXDEV, "Invalid cross-device link"), "Invalid cross-device link"),
        # the temporary file vanished before the rename: removing it fails too
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), "No such file or directory"),
    ],
)
def test_a_rename_that_fails_is_a_write_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, message: str
) -> None:
    def replace(source: str | Path, target: str | Path) -> None:
        if isinstance(error, FileNotFoundError):
            Path(source).unlink()
        raise error

    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.yaml"
    with pytest.raises(WriteError) as caught:
        write_file(target, "x\n")
    assert str(caught.value) == f"cannot write {target}: {message}"
    assert list(tmp_path.iterdir()) == []
