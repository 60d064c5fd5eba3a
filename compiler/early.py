"""`build <overlay>`'s kustomize, started before the command line is even parsed.

A cold `build overlays/prod` is one kustomize process (about 0.2 s) and Python's own
start, imports, fingerprint check and stamp lookup (0.07-0.11 s, issue 15). Done one
after the other they cannot come within 1.5 x a bare kustomize; done at the same time
they can. So `python -m compiler build overlays/<name>` starts exactly the process
`Kustomize.build` would start (the command `find_kustomize` chooses, the environment
`build_environment` makes, the same directory, its own session) before anything else
is imported, and `Kustomize.build` takes it over (`take`) only when it would run that
very command, in that directory, with that environment. Every other way out (the tree
is not current, the rendering is cached, a usage error, an exception, an interrupt)
ends and reaps it (`discard`): nothing build prints or returns depends on it. A command
line that is not plainly `build overlays/<name>` (-C, --help, several overlays), an
overlay with a secretGenerator, a link or a FIFO starts nothing.

Only `contextlib` (imported at Python's start), `fcntl`, `os`, `shutil`, `signal`,
`subprocess` and `time` are imported here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing's import (3 ms) waits until kustomize runs
if TYPE_CHECKING:
    from typing import Any

# Go's garbage collector, unless the caller chose otherwise: off until the heap reaches
# the limit (a soft one: Go collects as usual above it). kustomize's heap is short-lived;
# measured on fleets of 20 overlays, 0.65 s of CPU against 0.93 s with GOGC=100 (25% less
# for one overlay alone), about 230 MB resident at most.
GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "192MiB"}
PIPE_BYTES = 1024 * 1024  # Linux's default limit for an unprivileged process (pipe-max-size)
SECRET_ENV = "secret.env"  # the generator's values, git-ignored, never written by us
# Options of the command line taking a value, before and after `build` (cli.build_parser).
GLOBAL_VALUES = ("--color", "--timeout")
GLOBAL_FLAGS = ("--debug",)
BUILD_VALUES = ("--spec", "--output", "-o")
BUILD_FLAGS = ("--no-validate", "--debug")
# check's and diff's options taking a value (cli.build_parser), when they render.
RENDER_VALUES = {
    "check": ("--spec", "--output"),
    "diff": ("--spec", "--base", "--env", "--format", "--output", "--fail-on"),
}


class Started:
    """The kustomize started early: its command, environment, directory and start time."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        command: list[str],
        env: dict[str, str],
        cwd: str,
        started: float,
    ) -> None:
        self.process = process
        self.command = command
        self.env = env
        self.cwd = cwd
        self.started = started


_started: Started | None = None
_sigterm: list[Any] = []  # the handler before ours, while ours is installed


def kustomize_command(environ: Mapping[str, str]) -> tuple[tuple[str, ...], str] | None:
    """The command prefix of kustomize's `build` and where it was found ($KUSTOMIZE, else
    `kustomize` on PATH, else `kubectl kustomize`), or None (`find_kustomize` says why)."""
    path = environ.get("PATH", os.defpath)
    explicit = environ.get("KUSTOMIZE")
    if explicit:
        resolved = shutil.which(explicit, path=path)
        return None if resolved is None else ((resolved, "build"), "$KUSTOMIZE")
    standalone = shutil.which("kustomize", path=path)
    if standalone is not None:
        return (standalone, "build"), "PATH"
    kubectl = shutil.which("kubectl", path=path)
    if kubectl is not None:
        return (kubectl, "kustomize"), "kubectl on PATH"
    return None


def build_environment(environ: Mapping[str, str], *, parallel: bool = False) -> dict[str, str]:
    """The environment kustomize runs with: the C locale, and Go's collector tuned unless
    the caller set either of its variables."""
    env = {**environ, "LC_ALL": "C"}
    if not any(name in env for name in GO_RUNTIME):
        env.update(GO_RUNTIME)
    if parallel:
        # One Go thread per kustomize when several run at once: less contention for
        # the cores (measured: 0.65 -> 0.54 of the serial time on two cores).
        env.setdefault("GOMAXPROCS", "1")
    return env


def spawn(
    command: Sequence[str], env: Mapping[str, str] | None, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """Start a tool (`tools.run_tool`): no input, output collected, its own session (so it
    and whatever it starts are killed together)."""
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def build_overlay(argv: Sequence[str]) -> str | None:
    """`overlays/<name>` when ``argv`` is plainly `build overlays/<name>` (with build's
    flags or global options, but no -C, no --help, one overlay); else None."""
    args = list(argv)
    while args and args[0] != "build":
        option = args.pop(0)
        if option in GLOBAL_VALUES and args:
            args.pop(0)
        elif option.partition("=")[0] not in GLOBAL_VALUES and option not in GLOBAL_FLAGS:
            return None
    overlays: list[str] = []
    args = args[1:]
    while args:
        option = args.pop(0)
        if option in BUILD_VALUES and args:
            args.pop(0)
        elif option.startswith("-"):
            if option.partition("=")[0] not in BUILD_VALUES and option not in BUILD_FLAGS:
                return None
        else:
            overlays.append(option)
    if len(overlays) != 1:
        return None
    parts = overlays[0].rstrip("/").split("/")
    if len(parts) != 2 or parts[0] != "overlays" or parts[1] in ("", ".", ".."):
        return None
    return "/".join(parts)


def render_request(argv: Sequence[str]) -> tuple[str, tuple[str, ...]] | None:
    """The spec path and environments (none: all) when ``argv`` is plainly `check` (it
    renders) or `diff` (with git, not --live) of the current directory, with their own
    options or --debug/--color; else None (-C, --timeout, --help, --no-render, anything
    unknown: the command starts its own early rendering once the line is parsed)."""
    args = list(argv)
    while args and args[0] not in ("check", "diff"):
        option = args.pop(0)
        if option == "--color" and args:
            args.pop(0)
        elif not option.startswith("--color=") and option not in GLOBAL_FLAGS:
            return None
    if not args:
        return None
    command = args.pop(0)
    values = RENDER_VALUES[command]
    spec = "spec/llmgateway.yaml"
    environments: list[str] = []
    while args:
        option = args.pop(0)
        name, equals, value = option.partition("=")
        if name not in values or (not equals and not args):
            if option not in GLOBAL_FLAGS:
                return None
            continue
        if not equals:
            value = args.pop(0)
        if name == "--spec":
            spec = value
        elif name == "--env":
            environments.append(value)
    return spec, tuple(environments)


def plain_files(directory: str) -> bool:
    """Whether ``directory`` holds only directories and regular files (kustomize then reads
    nothing build would refuse: no link, no FIFO) and no secretGenerator's files."""
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name in (SECRET_ENV, f"{SECRET_ENV}.example"):
                    return False
                if entry.is_dir(follow_symlinks=False):
                    if not plain_files(entry.path):
                        return False
                elif not entry.is_file(follow_symlinks=False):
                    return False
    except OSError:
        return False
    return True


def start(argv: Sequence[str]) -> None:
    """Start `build`'s kustomize when ``argv`` builds one overlay of the current directory
    (at most once: a second call keeps the first process)."""
    global _started
    if _started is not None:
        return
    overlay = build_overlay(argv)
    if overlay is None or not os.path.isdir(overlay) or not plain_files("base"):
        return
    if not plain_files(overlay):
        return
    found = kustomize_command(os.environ)
    if found is None:
        return  # find_kustomize reports it
    command = [*found[0], overlay]
    env = build_environment(os.environ)
    try:
        cwd = os.getcwd()
        started = time.monotonic()  # its timeout counts from here, as run_tool's would
        process = spawn(command, env)
    except OSError:
        return  # run_tool reports it (or the directory is gone)
    _started = Started(process, command, env, cwd, started)
    if hasattr(fcntl, "F_SETPIPE_SZ") and process.stdout is not None:
        # Room for the whole rendering (the default pipe holds 64 KiB; a split prod's is
        # 41 KB): kustomize finishes while nobody reads yet, instead of waiting for build.
        with contextlib.suppress(OSError):
            fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    if not _sigterm:
        # Ended with us if SIGTERM arrives before the command line handles it.
        with contextlib.suppress(ValueError):  # not the main thread: handlers stay
            _sigterm.append(signal.signal(signal.SIGTERM, _terminated))


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM before the command line handles it: end kustomize, then do what was done
    before (by default, end this process)."""
    discard()
    os.kill(os.getpid(), signal.SIGTERM)


def running() -> int | None:
    """The process id of the kustomize started early and not yet taken or ended."""
    return None if _started is None else _started.process.pid


def take(command: Sequence[str], env: Mapping[str, str]) -> Started | None:
    """The process started early when it runs exactly ``command`` with ``env`` in the
    current directory (the caller then owns it); else None, and any such process is
    ended."""
    global _started
    started = _started
    if started is None:
        return None
    if started.command != list(command) or started.env != dict(env) or started.cwd != os.getcwd():
        discard()
        return None
    _started = None
    return started


def discard() -> None:
    """End and reap the process started early, if any is left."""
    global _started
    started, _started = _started, None
    if started is not None:
        with contextlib.suppress(OSError):
            os.killpg(started.process.pid, signal.SIGKILL)  # it and whatever it started
        started.process.communicate()
    _restore_sigterm()


def _restore_sigterm() -> None:
    """Put back the SIGTERM handler ours replaced (unless another replaced ours since: the
    command line's, which puts ours back when it is done, and a later call restores)."""
    if _sigterm and signal.getsignal(signal.SIGTERM) is _terminated:
        try:
            signal.signal(signal.SIGTERM, _sigterm[0])
        except ValueError:
            return  # not the main thread
        _sigterm.clear()
