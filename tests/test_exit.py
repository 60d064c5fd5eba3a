"""`python -m compiler` ends without Python's teardown (`os._exit`, 30-40 ms of every
command) once its output is flushed: what it prints and its exit code are exactly those
of the command line run in this process, with the output buffered as it is when nothing
sets PYTHONUNBUFFERED (a pipe: block-buffered, lost unless flushed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import run_cli


def python_m_compiler(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "compiler", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "--strict"],  # exit 1: prod's warnings
        ["completion", "bash"],
        ["check", "--no-render"],  # exit 1: nothing compiled yet
        ["validate", "--spec", "missing.yaml"],  # exit 2
    ],
    ids=["validate", "strict", "completion", "drift", "usage-error"],
)
def test_the_output_and_exit_code_are_the_command_line_s(project: Path, args: list[str]) -> None:
    expected = run_cli(*args)
    done = python_m_compiler(*args)
    assert (done.returncode, done.stdout, done.stderr) == (
        expected.code,
        expected.out,
        expected.err,
    )
    assert done.stdout or done.stderr
