"""Run external tools (kustomize, kubectl, git) with a timeout, and stop them when we stop.

Each runs in its own process group, so the tool and anything it started are killed when
its time (``TIMEOUT``, which the command line's `--timeout` sets) is up or when we are
interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compiler.early import spawn
from compiler.errors import ExternalError

DEFAULT_TIMEOUT = 120.0
TIMEOUT = DEFAULT_TIMEOUT  # seconds


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_closed = threading.Event()  # the process is ending: no tool starts any more


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)  # the tool and whatever it started


def run_tool(
    command: Sequence[str],
    *,
    tool: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Completed:
    """Run ``command`` and collect its output, killing it after the timeout.

    Raises ExternalError naming ``tool`` when it cannot start or runs too long.
    """
    limit = TIMEOUT if timeout is None else timeout
    if _closed.is_set():
        raise ExternalError(f"cannot run {tool}: the command is ending")
    try:
        process = spawn(command, env, None if cwd is None else str(cwd))
    except OSError as exc:
        raise ExternalError(f"cannot run {tool}: {exc.strerror}") from None
    return wait_tool(process, tool=tool, limit=limit)


def wait_tool(
    process: subprocess.Popen[bytes], *, tool: str, limit: float, started: float | None = None
) -> Completed:
    """Collect the output of a tool `spawn` started, killing it ``limit`` seconds after
    it started (``started``, time.monotonic(): now when None)."""
    with _running_lock:
        _running.add(process)
    if _closed.is_set():
        _kill(process)  # started while close_tools ran
    remaining = limit if started is None else max(0.0, started + limit - time.monotonic())
    try:
        stdout, stderr = process.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.communicate()
        raise ExternalError(
            f"{tool} did not finish within {limit:g} s and was stopped "
            "(--timeout SECONDS sets the limit)"
        ) from None
    except BaseException:  # interrupted: leave no tool running behind us
        _kill(process)
        process.communicate()
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    return Completed(process.returncode, stdout, stderr)


def stop_all_tools() -> None:
    """Kill every tool still running (other threads' included): we are being stopped."""
    with _running_lock:
        running = list(_running)
    for process in running:
        _kill(process)


def close_tools() -> None:
    """Kill every tool still running and start no other until `open_tools`: the command
    is ending (interrupted, failed, or its early rendering is not needed), and a thread
    still rendering must not start kustomize again (a fleet's fallback renders each
    overlay alone)."""
    _closed.set()
    stop_all_tools()


def open_tools() -> None:
    """Tools may start again (a command begins)."""
    _closed.clear()


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt, so writes roll back first."""


@contextlib.contextmanager
def terminate_by_exception() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (in the main thread only)."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
