"""`--timeout` holds for the command it is given to, not for what runs after it in the
same process (the tests run many commands and renderings in one process)."""

from __future__ import annotations

from pathlib import Path

from compiler import tools
from tests.helpers import run_cli


def test_a_timeout_ends_with_its_command(project: Path) -> None:
    before = tools.TIMEOUT
    assert run_cli("--timeout", "0.5", "validate").code == 0
    assert before == tools.TIMEOUT
    assert run_cli("--timeout", "0", "validate").code == 2  # refused: nothing changes either
    assert before == tools.TIMEOUT
