"""Interrupted compiles: killed at any moment, the next compile finishes or undoes the
write; Ctrl-C and SIGTERM undo it before exiting; two compiles never both fail.

The kill test compiles a spec of a few hundred environments in a child process and
kills it at points seen on disk (files staged, the first backup, the deletions, the
commit marker), alternating between two specs so every round has creations,
updates and deletions to interrupt.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.run import make_spec
from compiler.journal import BACKUP_SUFFIX, COMMITTED, JOURNAL, LOCK, TEMP_SUFFIX
from tests.conftest import ROOT
from tests.helpers import read_tree, run_cli

ENVIRONMENTS = 200


def leftovers(root: Path) -> list[str]:
    names = (JOURNAL, COMMITTED, LOCK, JOURNAL + TEMP_SUFFIX)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.endswith((TEMP_SUFFIX, BACKUP_SUFFIX)) or p.name in names
    )


def start_compile(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "compiler", "compile", "-q"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def ended(process: subprocess.Popen[bytes]) -> str:
    """Wait for the process; its stderr."""
    _, stderr = process.communicate(timeout=120)
    return stderr.decode()


def wait_for(process: subprocess.Popen[bytes], seen: Callable[[], bool]) -> bool:
    """Poll until ``seen`` (True) or the process ended (False)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if seen():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.0005)
    process.kill()
    pytest.fail("the compile neither reached the point nor ended")


@pytest.fixture
def specs(project: Path) -> tuple[str, str]:
    """Two specs of ENVIRONMENTS environments: the second renames a tenth of them and
    moves every host, so going from one to the other creates, updates and deletes."""
    first = make_spec(ENVIRONMENTS)
    second = (
        make_spec(ENVIRONMENTS)
        .replace("team-000", "team-900")
        .replace("auth.example.com", "login.example.com")
    )
    return first, second


def use(project: Path, spec: str) -> None:
    (project / "spec" / "llmgateway.yaml").write_text(spec)


def points(project: Path) -> dict[str, Callable[[], bool]]:
    fingerprint = project / "overlays" / ".fingerprint"
    deleted = [project / "overlays" / f"team-{n}000" / "kustomization.yaml" for n in (0, 9)]
    return {
        "files-staged": lambda: fingerprint.with_name(".fingerprint.llmgw-tmp").exists(),
        "first-backup": lambda: fingerprint.with_name(".fingerprint.llmgw-bak").exists(),
        "deleting": lambda: any(p.with_name(p.name + BACKUP_SUFFIX).exists() for p in deleted),
        "committed": lambda: (project / COMMITTED).exists(),
    }


def test_killed_at_any_point_the_next_compile_recovers(
    project: Path, specs: tuple[str, str]
) -> None:
    use(project, specs[0])
    assert run_cli("compile", "-q").code == 0
    reached = []
    for round_, (name, seen) in enumerate(points(project).items()):
        use(project, specs[(round_ + 1) % 2])
        process = start_compile(project)
        if wait_for(process, seen):
            process.send_signal(signal.SIGKILL)
            reached.append(name)
        ended(process)
        if process.returncode == -signal.SIGKILL:
            check = run_cli("check", "--no-render")
            assert check.code == 1, f"killed at {name}, check passed:\n{check.out}"
        again = run_cli("compile", "-q")
        assert again.code == 0, again.err
        assert leftovers(project) == [], f"killed at {name}"
        check = run_cli("check", "--no-render")
        assert check.code == 0, check.out
    assert len(reached) >= 3, f"only reached {reached}"


@pytest.mark.parametrize(
    ("signum", "code", "point"),
    [
        (signal.SIGINT, 130, "files-staged"),
        (signal.SIGINT, 130, "first-backup"),
        (signal.SIGTERM, 143, "first-backup"),
    ],
    ids=["sigint-staging", "sigint-swapping", "sigterm-swapping"],
)
def test_interrupted_compile_keeps_the_old_tree(
    signum: int, code: int, point: str, project: Path, specs: tuple[str, str]
) -> None:
    use(project, specs[0])
    assert run_cli("compile", "-q").code == 0
    use(project, specs[1])
    before = read_tree(project)
    process = start_compile(project)
    assert wait_for(process, points(project)[point]), "the compile ended before the point"
    process.send_signal(signum)
    stderr = ended(process)
    assert process.returncode == code, stderr
    assert read_tree(project) == before
    assert leftovers(project) == []


def test_leftovers_of_an_older_version_are_cleaned(project: Path) -> None:
    """Before the journal, a killed compile left these, and every later compile failed."""
    assert run_cli("compile").code == 0
    kustomization = project / "overlays" / "prod" / "kustomization.yaml"
    (kustomization.parent / "kustomization.yaml.llmgw-tmp").write_text("partial")
    moved = project / "overlays" / "dev" / "kustomization.yaml"
    moved.rename(moved.with_name(moved.name + BACKUP_SUFFIX))  # killed mid-swap
    stale = project / "base" / "namespace.yaml.llmgw-bak"
    stale.write_text("old")
    assert run_cli("check", "--no-render").code == 1
    result = run_cli("compile", "-q")
    assert result.code == 0, result.err
    assert leftovers(project) == []
    assert run_cli("check", "--no-render").code == 0


def test_a_stale_lock_of_a_dead_process_is_taken_over(project: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (project / LOCK).write_text(f"{dead.pid}\n")
    result = run_cli("compile", "-q")
    assert result.code == 0, result.err
    assert not (project / LOCK).exists()


def test_a_held_lock_is_waited_for_then_exit_3(project: Path) -> None:
    with open(project / LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        started = time.monotonic()
        result = run_cli("--timeout", "0.3", "compile")
        assert time.monotonic() - started >= 0.3
    assert result.code == 3
    assert result.err.splitlines()[-1] == (
        "error: another compile (pid 4242) is writing this tree and did not finish within "
        "0.3 s; try again when it has (lock: .llmgw-lock)"
    )
    assert sorted(read_tree(project)) == [".llmgw-lock", "spec/llmgateway.yaml"]


def test_two_compiles_at_once_both_succeed(project: Path, specs: tuple[str, str]) -> None:
    use(project, specs[0])
    first, second = start_compile(project), start_compile(project)
    for process in (first, second):
        stderr = ended(process)
        assert process.returncode == 0, stderr
    assert leftovers(project) == []
    assert run_cli("check", "--no-render").code == 0
