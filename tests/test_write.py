"""All or nothing: a write that fails at any step leaves the old tree, and no leftovers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.errors import WriteError
from compiler.load import load_spec
from compiler.plan import plan_tree
from compiler.write import Filesystem, StagingWriter, apply_changes, diff_tree, write_planned
from tests.helpers import read_tree, run_cli


class FailingFilesystem(Filesystem):
    """Counts every filesystem operation and fails the one numbered ``fail_at``."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0

    def step(self) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(28, "No space left on device")

    def makedir(self, path: Path) -> None:
        self.step()
        super().makedir(path)

    def write(self, path: Path, data: bytes) -> None:
        self.step()
        super().write(path, data)

    def replace(self, source: Path, target: Path) -> None:
        self.step()
        super().replace(source, target)


def changed_spec(project: Path) -> None:
    """An edit that creates, updates and deletes files (dev gone, TLS off, staging added)."""
    spec = project / "spec" / "llmgateway.yaml"
    text = spec.read_text().replace("  dev:\n", "  dev:\n    enabled: false\n")
    text = text.replace("      enabled: true\n", "      enabled: false\n")
    text += "  staging:\n    namespace: llmgateway-staging\n    domain: staging.chrislee.local\n"
    spec.write_text(text)


def test_every_failing_step_leaves_the_old_tree(project: Path) -> None:
    assert run_cli("compile").code == 0
    changed_spec(project)
    before = read_tree(project)
    tree = plan_tree(load_spec("spec/llmgateway.yaml"))
    changes = diff_tree(project, tree)
    assert changes.created
    assert changes.updated
    assert changes.deleted
    counter = FailingFilesystem(fail_at=0)
    apply_changes(project, tree, changes, counter)
    total = counter.calls
    assert read_tree(project) != before
    # Put the old tree back, then fail at each step in turn.
    for rel in read_tree(project):
        if rel not in before:
            (project / rel).unlink()
    for rel, data in before.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_bytes(data)
    for empty in sorted(project.rglob("*"), key=lambda p: -len(p.parts)):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()
    assert read_tree(project) == before
    assert total > 10
    for fail_at in range(1, total + 1):
        with pytest.raises(WriteError, match="No space left on device"):
            apply_changes(project, tree, diff_tree(project, tree), FailingFilesystem(fail_at))
        assert read_tree(project) == before, f"tree changed when step {fail_at} failed"
        leftovers = [p for p in project.rglob("*") if p.name.endswith((".llmgw-tmp", ".llmgw-bak"))]
        assert leftovers == [], f"step {fail_at} left {leftovers}"
        assert not (project / "overlays" / "staging").exists()


def test_compile_failure_exits_3_and_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("compile").code == 0
    changed_spec(project)
    before = read_tree(project)

    def fail(self: Filesystem, source: Path, target: Path) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(Filesystem, "replace", fail)
    result = run_cli("compile")
    assert result.code == 3
    assert result.err.splitlines()[-1] == (
        "error: cannot write the generated tree (Permission denied: "
        "base/deployment-llmgateway.yaml.llmgw-bak); nothing was changed"
    )
    assert read_tree(project) == before


def test_a_new_tree_is_written_once_per_file(project: Path) -> None:
    """Into an empty tree every file is created once, in place: no staged copy, rename or
    backup per file (compiling 1,000 environments creates about 15,000 files)."""
    tree = plan_tree(load_spec("spec/llmgateway.yaml"))
    changes = diff_tree(project, tree)
    assert sorted(changes.created) == sorted(tree)

    class Recording(Filesystem):
        def __init__(self) -> None:
            self.written: list[str] = []
            self.replaced: list[str] = []

        def write(self, path: Path, data: bytes) -> None:
            self.written.append(path.relative_to(project).as_posix())
            super().write(path, data)

        def replace(self, source: Path, target: Path) -> None:
            self.replaced.append(target.relative_to(project).as_posix())
            super().replace(source, target)

    recording = Recording()
    apply_changes(project, tree, changes, recording)
    assert recording.written == [*sorted(tree), ".llmgw-journal.committed"]
    assert recording.replaced == []
    assert read_tree(project) == {
        **tree,
        "spec/llmgateway.yaml": read_tree(project)["spec/llmgateway.yaml"],
    }


def test_a_file_planned_twice_is_staged_with_its_last_content(tmp_path: Path) -> None:
    staging = tmp_path / ".llmgw-stage"
    staging.mkdir()

    def plan(sink: Callable[[str, bytes], None] | None) -> dict[str, bytes]:
        assert sink is not None
        sink("base/a.yaml", b"first")
        sink("base/a.yaml", b"second")
        return {"base/a.yaml": b"second"}

    assert StagingWriter(staging, Filesystem()).write(plan) == {"base/a.yaml": b"second"}
    assert [p.name for p in (staging / "base").iterdir()] == ["a.yaml"]
    assert (staging / "base" / "a.yaml").read_bytes() == b"second"


def test_a_tree_from_nothing_whose_planning_fails_leaves_nothing(tmp_path: Path) -> None:
    def plan(sink: Callable[[str, bytes], None] | None) -> dict[str, bytes]:
        assert sink is not None
        for n in range(50):
            sink(f"overlays/env-{n}/kustomization.yaml", b"# Generated by llmgateway-compiler\n")
        raise RuntimeError("planning failed")

    with pytest.raises(RuntimeError, match="planning failed"):
        write_planned(tmp_path, plan)
    assert list(tmp_path.iterdir()) == []


def test_a_tree_from_nothing_is_written_by_the_staging_writer(project: Path) -> None:
    """The first compile stages every file, then moves its folders in: the same tree."""
    planned: dict[str, bytes] = {}

    def plan(sink: Callable[[str, bytes], None] | None) -> dict[str, bytes]:
        planned["sink"] = b"given" if sink is not None else b"none"
        return plan_tree(load_spec("spec/llmgateway.yaml"), sink)

    changes = write_planned(project, plan)
    assert planned["sink"] == b"given"
    tree = plan_tree(load_spec("spec/llmgateway.yaml"))
    assert changes.created == list(tree)
    assert {k: v for k, v in read_tree(project).items() if k != "spec/llmgateway.yaml"} == tree
    assert sorted(p.name for p in project.iterdir()) == ["base", "docs", "overlays", "spec"]


def test_a_writer_process_that_dies_fails_the_compile_and_leaves_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staging writer killed midway (as the OOM killer would): exit 3, the spec alone."""
    parent = os.getpid()
    real_write = Filesystem.write
    calls = {"n": 0}

    def write(self: Filesystem, path: Path, data: bytes) -> None:
        calls["n"] += 1
        if os.getpid() != parent and calls["n"] == 3:
            os._exit(9)
        real_write(self, path, data)

    monkeypatch.setattr(Filesystem, "write", write)
    result = run_cli("compile")
    assert result.code == 3
    assert result.err.splitlines()[-1] == (
        "error: cannot write the generated tree (the process writing the files failed); "
        "nothing was changed"
    )
    assert sorted(read_tree(project)) == ["spec/llmgateway.yaml"]
    assert sorted(p.name for p in project.iterdir()) == ["spec"]
