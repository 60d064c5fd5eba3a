"""Hangs and garbage at the edges: tools that never finish or print nonsense, special files.

Commands that could hang run in a child process with a deadline, so a regression fails
the test instead of hanging the suite.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import run_cli
from tests.test_diff import git

DEADLINE = 30  # seconds a child command may take before the test calls it a hang


def fake(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


class Hung(BaseException):
    """Raised by the alarm; a BaseException so that no handler of the code under test
    (which catches OSError, TimeoutError included) can swallow it."""


def compiler(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m compiler ARGS` in this process, failing the test after DEADLINE seconds
    (an alarm interrupts a blocking open or read) instead of hanging the suite."""

    def hung(signum: int, frame: object) -> None:
        raise Hung(f"python -m compiler {' '.join(args)} hung for {DEADLINE} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(DEADLINE)
    try:
        result = run_cli(*args)
    except Hung as exc:
        pytest.fail(str(exc))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return subprocess.CompletedProcess(list(args), result.code, result.out, result.err)


def compiler_process(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m compiler ARGS` in a child process limited to DEADLINE seconds and
    2 GiB of address space: reading /dev/zero whole would never be interrupted."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    try:
        return subprocess.run(
            [sys.executable, "-m", "compiler", *args],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m compiler {' '.join(args)} hung for {DEADLINE} s")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a parent that never reaps is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# --- timeouts ----------------------------------------------------------------------------

HANGING = 'echo $$ >> "{pids}"\nsleep 300 &\necho $! >> "{pids}"\nwait\n'


@pytest.mark.parametrize(
    ("command", "tool"),
    [
        (["build", "overlays/prod"], "kustomize build overlays/prod"),
        (["build", "--no-validate", "overlays/prod"], "kustomize build overlays/prod"),
        (["check"], "kustomize build overlays/dev"),
        (["lint", "overlays/prod"], "kustomize build overlays/prod"),
        (["doctor"], "kustomize version"),
    ],
    ids=["build", "build-no-validate", "check", "lint", "doctor"],
)
def test_a_hanging_kustomize_is_stopped(
    command: list[str], tool: str, project: Path, tmp_path: Path
) -> None:
    assert run_cli("compile").code == 0
    pids = tmp_path / "pids"
    hanging = fake(tmp_path / "bin", "kustomize", HANGING.format(pids=pids))
    os.environ["KUSTOMIZE"] = str(hanging)
    try:
        started = time.monotonic()
        result = compiler("--timeout", "0.5", *command)
        elapsed = time.monotonic() - started
    finally:
        del os.environ["KUSTOMIZE"]
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: {tool} did not finish within 0.5 s and was stopped "
        "(--timeout SECONDS sets the limit)"
    )
    assert "Traceback" not in result.stderr
    assert elapsed < 15
    started_pids = [int(p) for p in pids.read_text().split()]
    assert started_pids
    deadline = time.monotonic() + 5
    while any(alive(p) for p in started_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in started_pids), "the tool or its child still runs"


def test_a_hanging_kustomize_in_diff_is_stopped(project: Path, tmp_path: Path) -> None:
    for top in ("base", "overlays"):
        shutil.copytree(ROOT / top, project / top)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "initial")
    hanging = fake(tmp_path / "bin", "kustomize", "exec sleep 300\n")
    os.environ["KUSTOMIZE"] = str(hanging)
    try:
        result = compiler("--timeout", "0.5", "diff", "--env", "prod")
    finally:
        del os.environ["KUSTOMIZE"]
    assert result.returncode == 3, result.stderr
    assert "kustomize build " in result.stderr
    assert result.stderr.rstrip().endswith(
        "did not finish within 0.5 s and was stopped (--timeout SECONDS sets the limit)"
    )


@pytest.mark.parametrize(
    ("tool", "command", "message"),
    [
        ("git", ["diff"], "git rev-parse did not finish within 0.5 s"),
        (
            "kubectl",
            ["diff", "--live", "overlays/prod"],
            "kubectl diff did not finish within 0.5 s",
        ),
    ],
    ids=["git", "kubectl"],
)
def test_a_hanging_git_or_kubectl_is_stopped(
    tool: str, command: list[str], message: str, project: Path, tmp_path: Path
) -> None:
    assert run_cli("compile").code == 0
    fake(tmp_path / "bin", tool, "exec sleep 300\n")
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{tmp_path / 'bin'}:{path}"
    try:
        result = compiler("--timeout", "0.5", *command)
    finally:
        os.environ["PATH"] = path
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: {message} and was stopped (--timeout SECONDS sets the limit)"
    )


def test_timeout_must_be_positive(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--timeout", "0", "doctor").code == 2
    assert "'0' is not a number of seconds above 0" in capsys.readouterr().err


# --- special files -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["compile"], ["check"], ["build", "overlays/prod"]])
def test_a_fifo_in_an_overlay_is_refused(command: list[str], project: Path) -> None:
    assert run_cli("compile").code == 0
    os.mkfifo(project / "overlays" / "prod" / "pipe")
    result = compiler(*command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: overlays/prod/pipe: is a FIFO, not a regular file; refusing to read it"
    )


def test_a_fifo_at_a_generated_path_is_refused(project: Path) -> None:
    assert run_cli("compile").code == 0
    target = project / "overlays" / "prod" / "kustomization.yaml"
    target.unlink()
    os.mkfifo(target)
    for command in (["compile"], ["check", "--no-render"], ["build", "overlays/prod"]):
        result = compiler(*command)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.splitlines()[-1] == (
            f"error: {target.relative_to(project)}: is a FIFO, not a regular file; "
            "refusing to read it"
        )


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_spec_that_is_not_a_regular_file_is_refused(kind: str, project: Path) -> None:
    if kind == "fifo":
        spec = project / "spec" / "pipe.yaml"
        os.mkfifo(spec)
        what = "a FIFO"
    else:
        spec = Path("/dev/zero")
        what = "a character device"
    for command in ("compile",):  # every command reads the spec through load_spec
        result = compiler_process(command, "--spec", str(spec))
        assert (result.returncode, result.stderr) == (
            2,
            f"{spec}:1:1: is {what}, not a regular file; refusing to read it\n",
        )


# --- garbage from kustomize ------------------------------------------------------------------

GARBAGE = {
    "not-yaml": (
        'echo "apiVersion: v1"\necho "kind: [ConfigMap"\n',
        "invalid YAML (did not find expected ',' or ']') at line 3, column 1",
    ),
    "not-a-mapping": (
        'echo "- apiVersion: v1"\n',
        "a document that is not a mapping at line 1, column 1",
    ),
    "tagged": (
        'echo "apiVersion: v1"\necho "kind: !!python/name:os.system ConfigMap"\n'
        'echo "metadata: {name: x}"\n',
        "a tagged value (tag:yaml.org,2002:python/name:os.system) at line 2, column 7",
    ),
    "no-kind": (
        'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x}\\n---\\n'
        'apiVersion: v1\\nmetadata: {name: y}\\n"\n',
        "a resource without kind at line 5, column 1",
    ),
    "no-api-version": (
        'echo "kind: ConfigMap"\necho "metadata: {name: x}"\n',
        "a resource without apiVersion at line 1, column 1",
    ),
    "spec-not-a-mapping": (
        'printf "apiVersion: v1\\nkind: Service\\nmetadata: {name: x}\\nspec: [1]\\n"\n',
        "a resource whose spec is not a mapping at line 4, column 7",
    ),
    "not-utf8": ("printf 'apiVersion: v1\\nkind: \\377\\n'\n", "bytes that are not UTF-8"),
}


@pytest.mark.parametrize(
    ("garbage", "command"),
    [(garbage, "build") for garbage in sorted(GARBAGE)]
    + [(g, c) for g in ("not-a-mapping", "tagged") for c in ("check", "lint", "diff")]
    + [("spec-not-a-mapping", "diff")],
)
def test_garbage_from_kustomize_is_exit_3(
    garbage: str, command: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("compile").code == 0
    if command == "diff":
        git(project, "init", "-q", "-b", "main")
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", "initial")
    script, problem = GARBAGE[garbage]
    monkeypatch.setenv("KUSTOMIZE", str(fake(tmp_path / "bin", "kustomize", script)))
    arguments = {
        "build": ["build", "overlays/prod"],
        "check": ["check"],
        "lint": ["lint", "overlays/prod"],
        "diff": ["diff", "--env", "prod"],
    }[command]
    result = run_cli(*arguments)
    assert result.code == 3, result.err
    last = result.err.splitlines()[-1]
    assert last.startswith("error: kustomize produced "), last
    assert problem in last
    assert "Traceback" not in result.err


# --- git exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["/etc/hostname", "../../../outside"], ids=["absolute", "outside"]
)
def test_diff_against_a_commit_holding_a_symlink(target: str, project: Path) -> None:
    assert run_cli("compile").code == 0
    (project / "overlays" / "prod" / "evil.yaml").symlink_to(target)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a link")
    (project / "overlays" / "prod" / "evil.yaml").unlink()
    result = run_cli("diff", "--base", "HEAD")
    assert result.code == 3, result.err
    assert result.err.splitlines()[-1].startswith(
        "error: overlays/prod/evil.yaml at HEAD is unsafe to export ("
    )
    assert result.err.splitlines()[-1].endswith("compare with a revision without it")
    assert "Traceback" not in result.err


# --- the cache ----------------------------------------------------------------------------------


def cache_entries(project: Path, kind: str) -> list[Path]:
    return sorted((project / ".llmgw-cache" / kind).iterdir())


@pytest.mark.parametrize(
    "corruption",
    [b"\xff\xfe not text", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted}\n"],
    ids=["not-utf8", "content-without-its-digest"],
)
def test_a_corrupt_render_cache_entry_is_recomputed(
    corruption: bytes, project: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    first = run_cli("build", "overlays/prod")
    assert first.code == 0, first.err
    (entry,) = cache_entries(project, "render")
    entry.write_bytes(corruption)
    again = run_cli("build", "overlays/prod")
    assert (again.code, again.out) == (0, first.out), again.err
    assert "planted" not in again.out
    assert entry.read_bytes() != corruption


def test_a_tampered_render_cache_entry_is_recomputed(project: Path, kustomize: object) -> None:
    assert run_cli("compile").code == 0
    first = run_cli("build", "overlays/prod")
    (entry,) = cache_entries(project, "render")
    digest, _, content = entry.read_bytes().partition(b"\n")
    entry.write_bytes(digest + b"\n" + content.replace(b"replicas: 3", b"replicas: 30"))
    again = run_cli("build", "overlays/prod")
    assert (again.code, again.out) == (0, first.out), again.err


@pytest.mark.parametrize(
    "corruption",
    [b"[{", b"[1, 2]"],
    ids=["truncated", "numbers"],
)
def test_a_corrupt_lint_cache_entry_is_recomputed(
    corruption: bytes, project: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    first = run_cli("build", "overlays/prod")
    assert first.code == 0, first.err
    (entry,) = cache_entries(project, "lint")
    # With and without a matching digest: neither may reach a traceback.
    for data in (corruption, hashlib.sha256(corruption).hexdigest().encode() + b"\n" + corruption):
        entry.write_bytes(data)
        again = run_cli("build", "overlays/prod")
        assert (again.code, again.out, again.err) == (0, first.out, first.err)


# --- every other file we read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            ["import-terraform", "--tfvars", "PIPE", "-o", "out/spec.yaml"],
            "error: PIPE: is a FIFO, not a regular file; refusing to read it",
        ),
        (
            ["set", "--spec", "PIPE", "environments.prod.replicas", "5"],
            "PIPE:1:1: is a FIFO, not a regular file; refusing to read it",
        ),
    ],
    ids=["tfvars", "set-spec"],
)
def test_other_inputs_that_are_fifos_are_refused(
    command: list[str], expected: str, project: Path
) -> None:
    pipe = str(project / "pipe")
    os.mkfifo(pipe)
    result = compiler(*[pipe if part == "PIPE" else part for part in command])
    assert (result.returncode, result.stderr) == (2, expected.replace("PIPE", pipe) + "\n")


def test_tfvars_from_dev_zero_is_refused(project: Path) -> None:
    result = compiler_process("import-terraform", "--tfvars", "/dev/zero", "-o", "out.yaml")
    assert (result.returncode, result.stderr) == (
        2,
        "error: /dev/zero: is a character device, not a regular file; refusing to read it\n",
    )


def test_a_fifo_example_file_is_not_read(project: Path) -> None:
    shutil.copy(
        ROOT / "tests" / "cases" / "valid" / "secret-generator" / "spec.yaml",
        project / "spec" / "llmgateway.yaml",
    )
    assert run_cli("compile").code == 0
    example = project / "overlays" / "prod" / "secret.env.example"
    example.unlink()
    os.mkfifo(example)
    result = compiler("check", "--no-render")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: overlays/prod/secret.env.example: is a FIFO, not a regular file; "
        "refusing to read it"
    )


def test_resources_the_schemas_refuse_do_not_crash_the_policy_rules(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("compile").code == 0
    script = (
        'printf "apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: x, namespace: y}\\n'
        'spec: {template: {spec: {containers: 5}}}\\n"\n'
    )
    monkeypatch.setenv("KUSTOMIZE", str(fake(tmp_path / "bin", "kustomize", script)))
    result = run_cli("lint", "overlays/prod")
    assert result.code == 1, result.err
    assert "prod: error: Deployment/y/x: spec.template.spec.containers: 5 is not of type" in (
        result.err
    )
    assert "Traceback" not in result.err
