"""Hostile input, as case folders: a clear error, the right exit code, nothing written.

tests/cases/hostile/<case>/ holds case.json ({"command": [...], optional "input": a list
of [text, times] parts encoded as Latin-1 to make the spec's bytes, optional "links":
{path: "OUTSIDE"}}), spec.yaml when there is no "input", and expected.txt, the exact
stderr. Timing and memory are measured by bench/hostile.py, not here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import CASES
from tests.helpers import read_tree, run_cli

HOSTILE = sorted(p for p in (CASES / "hostile").iterdir() if p.is_dir())


def spec_bytes(case: Path) -> bytes:
    description = json.loads((case / "case.json").read_text())
    if "input" not in description:
        return (case / "spec.yaml").read_bytes()
    return b"".join(text.encode("latin-1") * times for text, times in description["input"])


@pytest.mark.parametrize("case", HOSTILE, ids=lambda p: p.name)
def test_hostile_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    description = json.loads((case / "case.json").read_text())
    project = tmp_path / "project"
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "spec").mkdir(parents=True)
    (project / "spec" / "llmgateway.yaml").write_bytes(spec_bytes(case))
    for link, target in description.get("links", {}).items():
        (project / link).parent.mkdir(parents=True, exist_ok=True)
        (project / link).symlink_to(outside if target == "OUTSIDE" else target)
    monkeypatch.chdir(project)
    before = read_tree(project)
    result = run_cli(*description["command"])
    expected = (case / "expected.txt").read_text().replace("OUTSIDE", str(outside))
    assert (result.code, result.err) == (description.get("exit", 2), expected)
    assert "Traceback" not in result.err
    assert read_tree(project) == before, "the project changed"
    assert list(outside.iterdir()) == [], "something was written outside the project"


def test_hostile_cases_exist() -> None:
    assert len(HOSTILE) >= 10


def test_file_where_a_directory_should_be(project: Path) -> None:
    (project / "overlays").write_text("not a directory\n")
    before = read_tree(project)
    result = run_cli("compile")
    assert result.code == 3
    assert result.err.splitlines()[-1] == (
        "error: cannot write overlays/.fingerprint: overlays is a file where a "
        "directory should be; nothing was changed"
    )
    assert read_tree(project) == before
    assert not (project / "base").exists()


def test_read_only_directory(project: Path) -> None:
    assert run_cli("compile").code == 0
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    overlay = project / "overlays" / "prod"
    before = read_tree(project)
    overlay.chmod(0o555)
    probe = overlay / "probe"
    try:
        probe.touch()
    except PermissionError:
        pass
    else:
        probe.unlink()
        overlay.chmod(0o755)
        pytest.skip("running as root: a read-only mode does not stop root from writing")
    try:
        result = run_cli("compile")
    finally:
        overlay.chmod(0o755)
    assert result.code == 3
    assert "Permission denied" in result.err
    assert read_tree(project) == before


def test_nothing_is_left_behind_when_the_disk_is_full(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compiler.write import Filesystem

    real_write = Filesystem.write
    calls = {"n": 0}

    def write(self: Filesystem, path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            path.write_bytes(data[: len(data) // 2])  # a partial file, as a full disk leaves
            raise OSError(28, "No space left on device", str(path))
        real_write(self, path, data)

    monkeypatch.setattr(Filesystem, "write", write)
    result = run_cli("compile")
    assert result.code == 3
    assert "No space left on device" in result.err
    assert sorted(read_tree(project)) == ["spec/llmgateway.yaml"]
    assert not (project / "base").exists()
    shutil.rmtree(project / "spec")


def test_read_only_file_system(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root a chmod does not stop writes, so the refusal is injected as the kernel gives it."""
    from compiler.write import Filesystem

    assert run_cli("compile").code == 0
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    before = read_tree(project)

    def write(self: Filesystem, path: Path, data: bytes) -> None:
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(Filesystem, "write", write)
    result = run_cli("compile")
    assert result.code == 3
    assert result.err.splitlines()[-1] == (
        "error: cannot write the generated tree (Read-only file system: "
        "docs/environments.md.llmgw-tmp); nothing was changed"
    )
    assert read_tree(project) == before
