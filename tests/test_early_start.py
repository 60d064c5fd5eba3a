"""`python -m compiler check` and `diff` start rendering the overlays on disk before the
command line's imports (`early.render_request`, `rendercache.start_early`), so kustomize
runs while they load (issue 15: at a few environments, the imports are most of the
time). The command takes that rendering over when it was started for exactly its spec,
environments and directory; on every other way out (a usage error, an interrupt, a
SIGTERM) its kustomize is killed, no other starts, and nothing is left behind: no
process, no temporary folder. kustomize is the real one behind a script that logs what
it renders and its process id."""

from __future__ import annotations

import contextlib
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

from compiler import early, rendercache
from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import interruptible, run_cli
from tests.test_early_build import gone, pids


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check"], ("spec/llmgateway.yaml", ())),
        (["check", "--output", "json"], ("spec/llmgateway.yaml", ())),
        (["--debug", "--color", "never", "check", "--debug"], ("spec/llmgateway.yaml", ())),
        (["--color=always", "check", "--spec=s.yaml"], ("s.yaml", ())),
        (["check", "--spec", "a.yaml", "--spec", "b.yaml"], ("b.yaml", ())),  # the last wins
        (["diff"], ("spec/llmgateway.yaml", ())),
        (["diff", "--env", "prod", "--env=dev"], ("spec/llmgateway.yaml", ("prod", "dev"))),
        (
            ["diff", "--base", "HEAD~1", "--format", "json", "--fail-on=risky", "--spec", "x"],
            ("x", ()),
        ),
        (["diff", "--output", "markdown"], ("spec/llmgateway.yaml", ())),
        (["check", "--no-render"], None),  # renders nothing
        (["diff", "--live", "overlays/prod"], None),  # the cluster, not the overlays
        (["check", "--help"], None),
        (["check", "-h"], None),
        (["-C", "elsewhere", "check"], None),
        (["check", "-C", "elsewhere"], None),
        (["--timeout", "5", "check"], None),  # the command line sets the tools' limit
        (["check", "--out", "json"], None),  # an abbreviation: not recognised
        (["check", "--env", "prod"], None),  # diff's option, not check's
        (["check", "--spec"], None),  # the value is missing
        (["check", "overlays/prod"], None),
        (["lint"], None),
        (["build", "overlays/prod"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_only_a_plain_check_or_diff_starts_rendering_first(
    argv: list[str], expected: tuple[str, tuple[str, ...]] | None
) -> None:
    assert early.render_request(argv) == expected


def logging_kustomize(directory: Path, kustomize: Kustomize, before: str = "") -> Path:
    """$KUSTOMIZE: logs its process id (`pids.log`) and each overlay it renders (a fleet's
    overlays one by one, `builds.log`), runs ``before``, then the real kustomize."""
    script = directory / "kustomize"
    real = shlex.join(kustomize.build_command)
    pids = shlex.quote(str(directory / "pids.log"))
    log = shlex.quote(str(directory / "builds.log"))
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then exec {shlex.quote(kustomize.build_command[0])} '
        "version --client; fi\n"
        f'echo "$$" >> {pids}\n'
        "shift\n"
        'case "$1" in */llmgw-fleet-*) sed -n \'s/^  - "\\(.*\\)"$/\\1/p\' '
        f'"$1/kustomization.yaml" >> {log};;\n'
        f'  *) echo "$1" >> {log};;\nesac\n'
        f"{before}\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return script


def builds(directory: Path) -> list[str]:
    log = directory / "builds.log"
    return sorted(Path(line).name for line in log.read_text().split()) if log.exists() else []


def git(*args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed spec compiled, its golden files written and committed to git."""
    root = tmp_path_factory.mktemp("early-start") / "project"
    (root / "spec").mkdir(parents=True)
    shutil.copy(ROOT / "spec" / "llmgateway.yaml", root / "spec" / "llmgateway.yaml")
    with contextlib.chdir(root):
        assert run_cli("compile").code == 0
        assert run_cli("snapshot").code == 0
        shutil.rmtree(".llmgw-cache")
        git("init", "-q", "-b", "main")
        git("add", "-A")
        git("commit", "-qm", "compiled")
    return root


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    directory = tmp_path / "tools"
    directory.mkdir()
    return directory


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """$TMPDIR of the command: where kustomize's fleet folders are made."""
    directory = tmp_path / "tmp"
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
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("KUSTOMIZE", str(logging_kustomize(tools, kustomize)))
    yield root
    rendercache.finish_early()  # a test that failed midway leaves nothing running


def python_m_compiler(scratch: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(scratch)}
    return subprocess.Popen(
        [sys.executable, "-m", "compiler", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,  # stopped by SIGINT even when pytest runs in the background
    )


@pytest.mark.parametrize("command", ["check", "diff"])
def test_the_command_takes_over_the_rendering_started_first(
    compiled: Path, tools: Path, scratch: Path, command: str
) -> None:
    """Each overlay renders once, in the rendering started before the imports (a command
    that started its own would render them again: nothing was stored yet)."""
    process = python_m_compiler(scratch, command)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "no changes" in out if command == "diff" else "up to date" in out
    assert builds(tools) == ["dev", "prod"]
    assert all(gone(pid) for pid in pids(tools))
    assert not list(scratch.iterdir())


def test_a_rendering_started_for_these_arguments_is_the_one_used(
    compiled: Path, tools: Path
) -> None:
    rendercache.start_early("spec/llmgateway.yaml", ("prod",))
    started = rendercache._started
    assert started is not None
    assert rendercache.early_render("spec/llmgateway.yaml", ["prod"]) is started.rendering
    assert started.taken
    assert started.rendering.done() is not None
    assert builds(tools) == ["prod"]
    again = rendercache.early_render("spec/llmgateway.yaml", ["prod"])  # taken once only
    assert again is not started.rendering
    again.done()
    assert builds(tools) == ["prod"]  # cached


@pytest.mark.parametrize(
    ("spec", "environments"),
    [("spec/other.yaml", ["prod"]), ("spec/llmgateway.yaml", None)],
    ids=["another-spec", "other-environments"],
)
def test_a_rendering_started_for_other_arguments_is_finished_and_not_used(
    compiled: Path, tools: Path, spec: str, environments: list[str] | None
) -> None:
    rendercache.start_early("spec/llmgateway.yaml", ("prod",))
    started = rendercache._started
    assert started is not None
    fresh = rendercache.early_render(spec, environments)
    assert fresh is not started.rendering
    assert started.rendering.thread is None or not started.rendering.thread.is_alive()
    fresh.done()


def test_a_rendering_started_in_another_directory_is_not_used(
    compiled: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendercache.start_early("spec/llmgateway.yaml", ())
    started = rendercache._started
    assert started is not None
    monkeypatch.chdir(compiled / "overlays")
    assert rendercache.early_render("spec/llmgateway.yaml") is not started.rendering


def test_a_usage_error_ends_the_rendering_started_first(
    compiled: Path,
    tools: Path,
    scratch: Path,
    kustomize: Kustomize,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """argparse refuses the line after kustomize started: it is killed (it sleeps for a
    minute first), none other starts, its fleet folder is removed, and the usage error
    is the command line's own."""
    script = logging_kustomize(tools, kustomize, before="sleep 60")
    monkeypatch.setenv("KUSTOMIZE", str(script))
    process = python_m_compiler(scratch, "check", "--output", "yaml")
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "argument --output: invalid choice: 'yaml'" in err
    assert len(pids(tools)) <= 1  # the fleet, when it started before the line was parsed
    assert all(gone(pid) for pid in pids(tools))
    assert not list(scratch.iterdir())


@pytest.mark.parametrize("wait", [0.0, 0.8], ids=["during-the-imports", "in-the-command"])
@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)
@pytest.mark.parametrize("command", ["check", "diff"])
def test_a_stopped_command_leaves_nothing_behind(
    compiled: Path,
    tools: Path,
    scratch: Path,
    kustomize: Kustomize,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    signum: int,
    code: int,
    said: str,
    wait: float,
) -> None:
    """Stopped while the early kustomize runs (it sleeps for a minute first): before the
    command line handles signals (right away) or while the command waits for it. Exit
    130 or 143 within seconds; no kustomize runs on, none other started, no folder left."""
    script = logging_kustomize(tools, kustomize, before="sleep 60")
    monkeypatch.setenv("KUSTOMIZE", str(script))
    process = python_m_compiler(scratch, command)
    deadline = time.monotonic() + 30
    while not pids(tools) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(wait)
    process.send_signal(signum)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == code, err
    assert err.strip().endswith(said)
    assert "Traceback" not in err
    assert len(pids(tools)) == 1
    assert all(gone(pid) for pid in pids(tools))
    assert not list(scratch.iterdir())


def test_start_early_returns_once_the_thread_starts_kustomize(
    compiled: Path, tools: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The imports that follow would hold the interpreter's lock while the thread tries to
    start kustomize: start_early waits for it (here without a limit; kustomize sleeps for
    1 s first, so the thread is still rendering when it returns)."""
    monkeypatch.setenv("KUSTOMIZE", str(logging_kustomize(tools, kustomize, before="sleep 1")))
    monkeypatch.setattr(rendercache, "EARLY_WAIT", 60.0)
    rendercache.start_early("spec/llmgateway.yaml", ())
    started = rendercache._started
    assert started is not None
    assert started.rendering.thread is not None
    assert started.rendering.starting.is_set()
    assert started.rendering.thread.is_alive()
    assert started.rendering.done() is not None
    assert builds(tools) == ["dev", "prod"]
