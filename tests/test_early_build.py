"""`build overlays/<env>` starts its kustomize before the command line's imports
(compiler/early.py), so a cold build costs little more than kustomize itself (issue 15).
Build takes that process over only when it would run exactly it; on every other path it
is ended and reaped. Nothing build prints, writes or returns may change: each path is
compared with the same build run without the early start (`-C DIR`, which never starts
it), and no kustomize is left running. kustomize is the real one behind a script that
logs each process id."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler import early
from compiler.cli import main
from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import Result, interruptible, run_cli


def script(directory: Path, body: str) -> Path:
    """A $KUSTOMIZE logging its process id to `pids.log` (beside it), then ``body``."""
    path = directory / "kustomize"
    log = shlex.quote(str(directory / "pids.log"))
    path.write_text(f'#!/bin/sh\necho "$$" >> {log}\nshift\n{body}\n')
    path.chmod(0o755)
    return path


def pids(directory: Path) -> list[int]:
    log = directory / "pids.log"
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def gone(pid: int) -> bool:
    """Whether process ``pid`` ended and was reaped (a zombie still has /proc/PID)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, kustomize: Kustomize) -> Path:
    """The committed spec compiled and prod stamped, once for the module."""
    root = tmp_path_factory.mktemp("early") / "project"
    (root / "spec").mkdir(parents=True)
    shutil.copy(ROOT / "spec" / "llmgateway.yaml", root / "spec" / "llmgateway.yaml")
    with contextlib.chdir(root):
        assert run_cli("compile").code == 0
        assert run_cli("stamp", "prod").code == 0
    return root


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    directory = tmp_path / "tools"
    directory.mkdir()
    return directory


@pytest.fixture
def compiled(
    template: Path,
    tmp_path: Path,
    tools: Path,
    kustomize: Kustomize,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A copy of the template as cwd, $KUSTOMIZE the real kustomize behind the log."""
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    real = " ".join(shlex.quote(part) for part in kustomize.build_command)
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, f'exec {real} "$@"')))
    yield root
    early.discard()  # a test that failed midway leaves nothing running


def cold() -> None:
    shutil.rmtree(".llmgw-cache", ignore_errors=True)


def with_early_start(*args: str) -> tuple[Result, int | None]:
    """The build as `python -m compiler ARGS` runs it: kustomize started first (its pid,
    None when it was not started), then the command line."""
    early.start(list(args))
    pid = early.running()
    return run_cli(*args), pid


def without_early_start(*args: str) -> Result:
    """The same build never started early (-C is not a plain `build <overlay>`)."""
    return run_cli("-C", ".", *args)


@pytest.mark.parametrize(
    "options",
    [[], ["--no-validate"], ["--spec", "spec/llmgateway.yaml"]],
    ids=["stamped", "no-validate", "spec-option"],
)
def test_a_cold_build_uses_the_kustomize_started_first(
    compiled: Path, tools: Path, options: list[str]
) -> None:
    cold()
    expected = without_early_start("build", "overlays/prod", *options)
    assert expected.code == 0, expected.err
    assert len(pids(tools)) == 1
    cold()
    result, pid = with_early_start("build", "overlays/prod", *options)
    assert pid is not None
    assert pids(tools)[1:] == [pid]  # taken over: no second kustomize
    assert result == expected
    assert gone(pid)
    # Cached as a build without the early start caches it: a warm build prints the same.
    assert run_cli("-C", ".", "build", "overlays/prod", *options) == expected


def test_a_cold_build_to_a_file_writes_the_same_bytes(compiled: Path, tools: Path) -> None:
    cold()
    expected = without_early_start("build", "overlays/prod", "-o", "expected.yaml")
    cold()
    result, pid = with_early_start("build", "overlays/prod", "-o", "built.yaml")
    assert (result.code, result.out, result.err) == (0, expected.out, expected.err)
    assert pids(tools)[1:] == [pid]
    assert Path("built.yaml").read_bytes() == Path("expected.yaml").read_bytes()


class Probe(io.StringIO):
    """A stream noting whether kustomize started early was still running at each write."""

    def __init__(self) -> None:
        super().__init__()
        self.running: list[int | None] = []

    def write(self, text: str) -> int:
        self.running.append(early.running())
        return super().write(text)


def probed_build(*args: str) -> tuple[Result, int | None, list[int | None]]:
    """with_early_start, noting at each write whether the early kustomize still ran."""
    early.start(list(args))
    pid = early.running()
    out, err = Probe(), Probe()
    code = main(list(args), out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue()), pid, out.running + err.running


def test_a_cache_hit_ends_the_kustomize_started_first(compiled: Path, tools: Path) -> None:
    """Ended as soon as the cache answers: it never runs beside the warm build's work."""
    cold()
    first = without_early_start("build", "overlays/prod")
    result, pid, running = probed_build("build", "overlays/prod")
    assert pid is not None
    assert result == first
    assert pids(tools)[1:] == [pid]
    assert running
    assert set(running) == {None}
    assert gone(pid)


def test_a_stale_overlay_ends_it_and_reports_as_before(compiled: Path, tools: Path) -> None:
    """Ended before the spec is loaded to name what is stale."""
    spec = Path("spec/llmgateway.yaml")
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4", 1))
    cold()
    expected = without_early_start("build", "overlays/prod")
    assert expected.code == 1
    assert "do not match the spec" in expected.err
    result, pid, running = probed_build("build", "overlays/prod")
    assert pid is not None
    assert result == expected
    assert running
    assert set(running) == {None}
    assert gone(pid)


def test_another_command_or_environment_is_not_taken_over(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build runs its own kustomize when the one started early differs in anything: the
    overlay, or the environment kustomize gets (here Go's collector, set meanwhile)."""
    cold()
    expected = without_early_start("build", "overlays/prod")
    for other, variable in ((["build", "overlays/dev"], None), (["build", "overlays/prod"], "50")):
        cold()
        early.start(other)
        pid = early.running()
        if variable:
            monkeypatch.setenv("GOGC", variable)
        assert run_cli("build", "overlays/prod") == expected
        assert pid is not None
        assert gone(pid)
        assert pids(tools)[-1] != pid  # the last kustomize started is build's own


def test_an_unknown_environment_ends_it_and_exits_2(compiled: Path, tools: Path) -> None:
    """An overlay directory the spec does not have (left behind by hand)."""
    shutil.copytree("overlays/prod", "overlays/gone")
    expected = without_early_start("build", "overlays/gone")
    assert expected.code == 2
    assert "no environment 'gone'" in expected.err
    result, pid = with_early_start("build", "overlays/gone")
    assert pid is not None
    assert result == expected
    assert gone(pid)


def test_a_failing_kustomize_fails_as_before(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, "echo 'Error: no luck' >&2; exit 1")))
    cold()
    expected = without_early_start("build", "overlays/prod")
    assert expected.code == 3
    assert "Error: no luck" in expected.err
    cold()
    result, pid = with_early_start("build", "overlays/prod")
    assert pid is not None
    assert pids(tools)[1:] == [pid]
    assert result == expected


def test_a_hanging_kustomize_times_out_as_before(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, "exec sleep 30")))
    cold()
    expected = without_early_start("--timeout", "0.5", "build", "overlays/prod")
    assert expected.code == 3
    assert "did not finish within 0.5 s" in expected.err
    cold()
    started = time.monotonic()
    result, pid = with_early_start("--timeout", "0.5", "build", "overlays/prod")
    assert time.monotonic() - started < 5
    assert pid is not None
    assert pids(tools)[1:] == [pid]
    assert result == expected
    assert all(gone(p) for p in pids(tools))


def test_no_kustomize_exits_3_as_before(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUSTOMIZE")
    monkeypatch.setenv("PATH", str(tools / "empty"))
    expected = without_early_start("build", "overlays/prod")
    assert expected.code == 3
    assert "no kustomize found" in expected.err
    result, pid = with_early_start("build", "overlays/prod")
    assert pid is None
    assert result == expected


def test_a_secret_generator_overlay_is_not_started_first(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its kustomize reads the real secret.env, which build checks first (and refuses a
    FIFO in its place without reading it): never started before those checks."""
    spec = Path("spec/llmgateway.yaml")
    spec.write_text(
        spec.read_text().replace("  prod:\n", "  prod:\n    authSecret:\n      source: generator\n")
    )
    monkeypatch.setenv("LLMGATEWAY_AUTH_SECRET", "early-auth-value-1234567890abcdef")
    assert run_cli("compile").code == 0
    made = run_cli("secret", "--env", "prod", "--generate", "--format", "env")
    Path("overlays/prod/secret.env").write_text(made.out)
    expected = without_early_start("build", "overlays/prod")
    assert expected.code == 0, expected.err
    result, pid = with_early_start("build", "overlays/prod")
    assert pid is None
    assert result == expected
    assert "early-auth-value" not in result.out + result.err


def test_files_changed_while_kustomize_ran_are_not_cached(
    compiled: Path, tools: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendering is cached under the key of the files it was made from, never of
    files that changed since (kustomize started early read them before build hashed)."""
    real = " ".join(shlex.quote(part) for part in kustomize.build_command)
    edit = "echo '# edited' >> overlays/prod/kustomization.yaml"
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, f'{real} "$@" && {edit}')))
    cold()
    result, _pid = with_early_start("build", "overlays/prod", "--no-validate")
    assert result.code == 0, result.err
    assert not list(Path(".llmgw-cache").glob("render/*"))


@pytest.mark.parametrize(
    ("argv", "overlay"),
    [
        (["build", "overlays/prod"], "overlays/prod"),
        (["build", "overlays/prod/"], "overlays/prod"),
        (["--debug", "--timeout", "5", "build", "--no-validate", "overlays/dev"], "overlays/dev"),
        (["--color=never", "build", "-o", "out.yaml", "overlays/dev"], "overlays/dev"),
        (["build", "--spec=spec/x.yaml", "overlays/dev"], "overlays/dev"),
        (["build", "-o", "overlays/prod"], None),  # -o takes it: no overlay
        (["build", "overlays/dev", "overlays/prod"], None),
        (["build", "--help", "overlays/prod"], None),
        (["-C", "elsewhere", "build", "overlays/prod"], None),
        (["build", "-C", "elsewhere", "overlays/prod"], None),
        (["build", "--out", "x", "overlays/prod"], None),  # an abbreviation: not recognised
        (["build", "prod"], None),
        (["build", "overlays/.."], None),
        (["build", "overlays/a/b"], None),
        (["check", "overlays/prod"], None),
        (["lint", "overlays/prod"], None),
        ([], None),
    ],
)
def test_only_a_plain_build_of_one_overlay_is_started_first(
    argv: list[str], overlay: str | None
) -> None:
    assert early.build_overlay(argv) == overlay


def python_m_compiler(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "compiler", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,  # stopped by SIGINT even when pytest runs in the background
    )


def test_python_m_compiler_prints_the_same(compiled: Path, tools: Path) -> None:
    cold()
    expected = without_early_start("build", "overlays/prod")
    cold()
    out, err = python_m_compiler("build", "overlays/prod").communicate(timeout=60)
    assert (out, err) == (expected.out, expected.err)
    assert len(pids(tools)) == 2
    assert all(gone(p) for p in pids(tools))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_build_leaves_no_kustomize_running(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, "exec sleep 30")))
    process = python_m_compiler("build", "overlays/prod")
    deadline = time.monotonic() + 30
    while not pids(tools) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # build is waiting for it
    process.send_signal(signum)
    process.communicate(timeout=30)
    assert process.returncode in (130, 143, -signum)
    assert pids(tools)
    assert all(gone(p) for p in pids(tools))


def test_sigterm_before_the_command_line_handles_it_ends_kustomize(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the early start and the command line's own handler (the imports), SIGTERM
    ends kustomize, then this process as it would have ended."""
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, "exec sleep 30")))
    code = (
        "import os, signal, time; from compiler import early; "
        "early.start(['build', 'overlays/prod']); time.sleep(0.3); "
        "os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert done.returncode == -signal.SIGTERM
    assert pids(tools)
    assert all(gone(p) for p in pids(tools))


@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_an_overlay_holding_a_fifo_or_a_link_is_not_started_first(
    compiled: Path, tools: Path, kind: str
) -> None:
    """kustomize would read through them; build decides first what to do with them."""
    path = Path("overlays/prod/extra.yaml")
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("../../spec/llmgateway.yaml")
    cold()
    expected = without_early_start("build", "overlays/prod")
    cold()
    result, pid = with_early_start("build", "overlays/prod")
    assert pid is None
    assert result == expected


def test_a_usage_error_ends_it_and_exits_2(compiled: Path, tools: Path) -> None:
    """`-o` without its file: argparse refuses the command line after kustomize started."""
    expected = without_early_start("build", "overlays/prod", "-o")
    assert expected.code == 2
    result, pid = with_early_start("build", "overlays/prod", "-o")
    assert pid is not None
    assert result == expected
    assert gone(pid)


def test_a_rendering_larger_than_a_pipe_finishes_before_build_reads_it(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kustomize started early writes its whole output (here 512 KiB, 8 times a default
    pipe) and ends while Python is still importing: nothing reads it until build does."""
    done = tools / "done"
    body = f"head -c 524288 /dev/zero\ntouch {shlex.quote(str(done))}"
    monkeypatch.setenv("KUSTOMIZE", str(script(tools, body)))
    early.start(["build", "overlays/prod"])
    assert early.running() is not None
    deadline = time.monotonic() + 30
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert done.exists()
