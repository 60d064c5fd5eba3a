"""Shell completion: scripts for bash, zsh and fish from the parser; the bash one is
sourced in a real bash and asked what it completes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.completion import SHELLS
from tests.helpers import run_cli

STAGING_SPEC = """\
defaults:
  domain: llm.example.com
  ingress:
    tls:
      enabled: false
  auth:
    publicEndpoints: [ui, api, admin]
environments:
  staging: {}
  production-eu: {}
"""


def script(shell: str) -> str:
    result = run_cli("completion", shell)
    assert result.code == 0, result.err
    return result.out


@pytest.mark.parametrize("shell", SHELLS)
def test_every_shell_gets_a_script_with_every_command(shell: str) -> None:
    text = script(shell)
    for command in ("validate", "compile", "set", "build", "check", "diff", "secret"):
        assert command in text
    assert "llmgateway-compiler completion --environments" in text  # --env completes names


def test_completion_needs_a_known_shell() -> None:
    assert run_cli("completion").code == 2
    assert run_cli("completion", "tcshx").code == 2


def test_environment_names_come_from_the_spec(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "llmgateway.yaml").write_text(STAGING_SPEC)
    result = run_cli("-C", str(tmp_path), "completion", "--environments")
    assert result.out == "staging\nproduction-eu\n"
    broken = run_cli("completion", "--environments", "--spec", str(tmp_path / "missing.yaml"))
    assert (broken.code, broken.out, broken.err) == (0, "", "")  # Tab stays quiet


def complete(script_file: Path, cwd: Path, words: list[str]) -> list[str]:
    """What bash completes for ``words`` (the last one being typed), the script sourced."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.fail("bash is required for this test")
    line = " ".join(words)
    program = f"""
source {script_file}
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT={len(line)}
_shtab_llmgateway_compiler llmgateway-compiler '{words[-1]}' '{words[-2]}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    binaries = str(Path(sys.executable).parent)  # llmgateway-compiler, as installed
    done = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", program],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": binaries + os.pathsep + os.environ.get("PATH", "")},
    )
    assert done.returncode == 0, done.stderr
    return sorted(line for line in done.stdout.splitlines() if line)


def test_bash_completes_commands_options_and_environments(tmp_path: Path) -> None:
    script_file = tmp_path / "llmgateway-compiler.bash"
    script_file.write_text(script("bash"))
    project = tmp_path / "project"
    (project / "spec").mkdir(parents=True)
    (project / "spec" / "llmgateway.yaml").write_text(STAGING_SPEC)
    assert complete(script_file, project, ["llmgateway-compiler", "se"]) == ["secret", "set"]
    assert "--generate" in complete(script_file, project, ["llmgateway-compiler", "secret", "--"])
    assert complete(script_file, project, ["llmgateway-compiler", "secret", "--env", ""]) == [
        "production-eu",
        "staging",
    ]
    assert complete(script_file, project, ["llmgateway-compiler", "diff", "--env", "st"]) == [
        "staging"
    ]
    assert complete(script_file, project, ["llmgateway-compiler", "set", "--env", "p"]) == [
        "production-eu"
    ]
    assert complete(script_file, project, ["llmgateway-compiler", "diff", "--format", "m"]) == [
        "markdown"
    ]
