"""Interrupted compiles: killed at any moment, the next compile finishes or undoes the
write; Ctrl-C and SIGTERM undo it before exiting; two compiles never both fail.

The kill test compiles a spec in a child process and kills it at points seen on disk
(files staged, the first backup, the deletions, the commit marker), alternating between
two specs so every round has creations, updates and deletions to interrupt. The child
stops itself at the first file operation after the point (tests/stop_at.py) and is
signalled there, so every point is hit on any machine, whatever its load; when the tests
polled the disk from outside instead, a few hundred environments were needed to make
each phase long enough to catch, and a loaded machine still missed some.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.run import make_spec
from compiler.journal import BACKUP_SUFFIX, COMMITTED, JOURNAL, LOCK, STAGING, TEMP_SUFFIX
from tests.conftest import ROOT
from tests.helpers import interruptible, read_tree, run_cli

# Enough for every phase: the second spec renames ten environments (deleted, created)
# and moves every host (updated); the child stops at each point, so no phase needs to
# be long. Two compiles at once keep a few hundred, so that they overlap.
ENVIRONMENTS = 20
CONCURRENT_ENVIRONMENTS = 200
STOP_AT = ROOT / "tests" / "stop_at.py"


def leftovers(root: Path) -> list[str]:
    names = (JOURNAL, COMMITTED, LOCK, JOURNAL + TEMP_SUFFIX, STAGING)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.endswith((TEMP_SUFFIX, BACKUP_SUFFIX)) or p.name in names
    )


def start_compile(root: Path, stop_at: tuple[Path, ...] = ()) -> subprocess.Popen[bytes]:
    """`python -m compiler compile -q` in ``root``; with ``stop_at``, stopped at the first
    file operation after one of those paths exists (tests/stop_at.py)."""
    command = [sys.executable, "-m", "compiler", "compile", "-q"]
    if stop_at:
        command = [sys.executable, str(STOP_AT), *map(str, stop_at), "--", "compile", "-q"]
    return subprocess.Popen(
        command,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=interruptible,
    )


def ended(process: subprocess.Popen[bytes]) -> str:
    """Wait for the process; its stderr."""
    _, stderr = process.communicate(timeout=120)
    return stderr.decode()


def is_stopped(process: subprocess.Popen[bytes]) -> bool:
    try:
        stat = Path(f"/proc/{process.pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


def wait_stopped(process: subprocess.Popen[bytes]) -> bool:
    """Wait until the process stopped itself at its point (True) or ended (False)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if is_stopped(process):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    process.kill()
    pytest.fail("the compile neither reached the point nor ended")


def signal_at(process: subprocess.Popen[bytes], point: tuple[Path, ...], signum: int) -> None:
    """Signal the process stopped at ``point`` (one of its paths exists), then continue it."""
    assert wait_stopped(process), "the compile ended before the point"
    assert any(os.path.lexists(path) for path in point), "stopped elsewhere than the point"
    process.send_signal(signum)
    process.send_signal(signal.SIGCONT)


def two_specs(count: int) -> tuple[str, str]:
    """Two specs of ``count`` environments: the second renames ten of them and moves every
    host, so going from one to the other creates, updates and deletes."""
    first = make_spec(count)
    second = (
        make_spec(count)
        .replace("team-000", "team-900")
        .replace("auth.example.com", "login.example.com")
    )
    return first, second


@pytest.fixture
def specs(project: Path) -> tuple[str, str]:
    return two_specs(ENVIRONMENTS)


def use(project: Path, spec: str) -> None:
    (project / "spec" / "llmgateway.yaml").write_text(spec)


def points(project: Path) -> dict[str, tuple[Path, ...]]:
    """Each point of a compile: reached once one of its paths exists."""
    fingerprint = project / "overlays" / ".fingerprint"
    deleted = [project / "overlays" / f"team-{n}000" / "kustomization.yaml" for n in (0, 9)]
    return {
        "files-staged": (fingerprint.with_name(".fingerprint" + TEMP_SUFFIX),),
        "first-backup": (fingerprint.with_name(".fingerprint" + BACKUP_SUFFIX),),
        "deleting": tuple(p.with_name(p.name + BACKUP_SUFFIX) for p in deleted),
        "committed": (project / COMMITTED,),
    }


def test_killed_at_any_point_the_next_compile_recovers(
    project: Path, specs: tuple[str, str]
) -> None:
    use(project, specs[0])
    assert run_cli("compile", "-q").code == 0
    for round_, (name, point) in enumerate(points(project).items()):
        use(project, specs[(round_ + 1) % 2])
        process = start_compile(project, stop_at=point)
        signal_at(process, point, signal.SIGKILL)
        ended(process)
        assert process.returncode == -signal.SIGKILL, f"at {name}"
        check = run_cli("check", "--no-render")
        assert check.code == 1, f"killed at {name}, check passed:\n{check.out}"
        again = run_cli("compile", "-q")
        assert again.code == 0, again.err
        assert leftovers(project) == [], f"killed at {name}"
        check = run_cli("check", "--no-render")
        assert check.code == 0, check.out


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
    process = start_compile(project, stop_at=points(project)[point])
    signal_at(process, points(project)[point], signum)
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


def test_two_compiles_at_once_both_succeed(project: Path) -> None:
    use(project, make_spec(CONCURRENT_ENVIRONMENTS))
    first, second = start_compile(project), start_compile(project)
    for process in (first, second):
        stderr = ended(process)
        assert process.returncode == 0, stderr
    assert leftovers(project) == []
    assert run_cli("check", "--no-render").code == 0


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)],
    ids=["kill", "sigint"],
)
def test_a_compile_into_an_empty_tree_stopped_while_its_folders_move_in_leaves_nothing(
    signum: int, code: int, project: Path
) -> None:
    """Stopped once overlays/ is in place and before the rest of the tree is, the tree is
    the spec alone again (Ctrl-C undoes at once; after a kill, the next compile)."""
    use(project, make_spec(ENVIRONMENTS))
    before = read_tree(project)
    point = (project / "overlays" / "team-0005" / "kustomization.yaml",)
    process = start_compile(project, stop_at=point)
    signal_at(process, point, signum)
    stderr = ended(process)
    assert process.returncode == code, stderr
    assert not any(p.name.endswith(TEMP_SUFFIX) for p in project.rglob("*")), "staged"
    if signum == signal.SIGKILL:
        assert (project / JOURNAL).exists()
        assert run_cli("check", "--no-render").code == 1
        from compiler.journal import recover, writer_lock

        with writer_lock(project, 10):  # as the next compile does before anything else
            recover(project)
    assert read_tree(project) == before
    assert leftovers(project) == []
    assert not (project / "overlays").exists()
    assert not (project / "base").exists()
    again = run_cli("compile", "-q")
    assert again.code == 0, again.err
    assert run_cli("check", "--no-render").code == 0


def stopped_child(process: subprocess.Popen[bytes]) -> int:
    """The pid of ``process``'s child once it stopped itself at its point."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] in ("T", "t") and int(fields[1]) == process.pid:
                return int(stat.parent.name)
        if process.poll() is not None:
            pytest.fail("the compile ended before its writer reached the point")
        time.sleep(0.005)
    process.kill()
    pytest.fail("the writer never reached the point")


def ended_continuing(process: subprocess.Popen[bytes]) -> str:
    """Wait for the process, continuing it when it stops itself at the point (its undo
    touches the files the point watches); its stderr."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if is_stopped(process):
            process.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    return ended(process)


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["kill", "sigint", "sigterm"],
)
def test_a_compile_from_nothing_stopped_while_its_files_are_written_leaves_nothing(
    signum: int, code: int, project: Path
) -> None:
    """A tree made from nothing is written by a child process into the staging folder
    while the compile plans the rest: the compile signalled while its writer is midway
    leaves the spec alone (Ctrl-C and SIGTERM undo at once; after a kill, the next write,
    which waits for the writer to end)."""
    use(project, make_spec(ENVIRONMENTS))
    before = read_tree(project)
    staged = project / STAGING / "overlays" / "team-0005" / "kustomization.yaml"
    process = start_compile(project, stop_at=(staged,))
    writer = stopped_child(process)
    assert staged.exists()
    assert not (project / "overlays").exists()
    process.send_signal(signum)
    os.kill(writer, signal.SIGCONT)
    stderr = ended_continuing(process)
    assert process.returncode == code, stderr
    if signum == signal.SIGKILL:
        from compiler.journal import recover, writer_lock

        with writer_lock(project, 60):  # the next write: after the writer has ended
            recover(project)
    assert read_tree(project) == before
    assert leftovers(project) == []
    assert not (project / STAGING).exists()
    again = run_cli("compile", "-q")
    assert again.code == 0, again.err
    assert run_cli("check", "--no-render").code == 0
