"""The command line: help, version, exit codes, tracebacks only with --debug, the schema."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import __version__
from compiler.cli import main
from compiler.kustomize import Kustomize
from compiler.schema import render_schema
from tests.conftest import ROOT
from tests.helpers import UNIFIED_PROD_CASE, run_cli

COMMANDS = [
    "validate",
    "schema",
    "compile",
    "set",
    "build",
    "check",
    "snapshot",
    "diff",
    "lint",
    "secret",
    "docs",
    "import-terraform",
    "doctor",
    "completion",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(command, "--help").code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m compiler {command}")
    assert "exit codes:" in out


def test_program_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--help").code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command}" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--version").code == 0
    assert capsys.readouterr().out == f"python -m compiler {__version__}\n"


def test_no_command_is_a_usage_error() -> None:
    result = run_cli()
    assert result.code == 2
    assert result.err.startswith("usage: python -m compiler")


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("validate", "--nope").code == 2
    assert "unrecognized arguments: --nope" in capsys.readouterr().err


def test_validate_committed_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli("validate")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "spec/llmgateway.yaml: valid, 2 environments"
    assert (
        "  prod: namespace llmgateway, split topology: api 2, gateway 3, ui 2, admin 1, "
        "worker 1; CloudNativePG database of 3 instances, in-cluster Redis, image tag latest"
        in result.out.splitlines()
    )
    # prod runs `latest`: a warning, on stderr, with the way to pin.
    assert result.err.count("warning: defaults.image.tag: production runs the moving tag") == 1


def test_validate_summarises_a_unified_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    # The committed prod before the switch to the split topology.
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "--spec", str(UNIFIED_PROD_CASE))
    assert result.code == 0, result.err
    assert (
        "  prod: namespace llmgateway, 3 replicas, embedded database, ReadWriteMany 10Gi, "
        "image tag latest" in result.out.splitlines()
    )
    assert result.err.count("warning: defaults.image.tag: production runs the moving tag") == 1


def test_validate_strict_turns_the_warning_into_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "--strict")
    assert result.code == 2
    assert result.err.startswith("spec/llmgateway.yaml:30:5: defaults.image.tag: production runs")
    assert "warning:" not in result.err


def test_missing_spec_exits_2(tmp_path: Path) -> None:
    result = run_cli("-C", str(tmp_path), "validate")
    assert result.code == 2
    assert result.err == (
        "spec/llmgateway.yaml:1:1: spec file not found: no spec/llmgateway.yaml here; "
        "use -C DIR or --spec PATH\n"
    )


def test_traceback_only_with_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    plain = run_cli("validate")
    assert "Traceback" not in plain.err
    debug = run_cli("--debug", "validate")
    assert debug.code == 2
    assert "Traceback (most recent call last)" in debug.err
    assert debug.err.rstrip().endswith(
        "spec/llmgateway.yaml:1:1: spec file not found: no spec/llmgateway.yaml here; "
        "use -C DIR or --spec PATH"
    )


def test_committed_schema_matches_the_models() -> None:
    committed = (ROOT / "spec" / "llmgateway.schema.json").read_text(encoding="utf-8")
    assert committed == render_schema(), "run: python -m compiler schema"


def test_schema_describes_every_field() -> None:
    schema = json.loads(render_schema())
    for name, definition in schema["$defs"].items():
        for field, body in definition.get("properties", {}).items():
            assert body.get("description"), f"{name}.{field} has no description"


def test_spec_points_editors_at_the_schema() -> None:
    first = (ROOT / "spec" / "llmgateway.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=llmgateway.schema.json"


def test_schema_command_is_idempotent(tmp_path: Path) -> None:
    first = run_cli("-C", str(tmp_path), "schema")
    assert first.code == 0
    assert first.out == "  written spec/llmgateway.schema.json\n"
    second = run_cli("-C", str(tmp_path), "schema")
    assert second.out == "unchanged spec/llmgateway.schema.json\n"


def test_python_m_compiler_validate() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("spec/llmgateway.yaml: valid, 2 environments\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lint_on_a_terminal(*args: str) -> str:
    out, err = Terminal(), Terminal()
    main([*args, "lint", "overlays/prod"], out=out, err=err)
    return err.getvalue()


def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, kustomize: Kustomize
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\033[33m" in lint_on_a_terminal()  # the LLMGW003 warning, in yellow
    assert "\033[" not in run_cli("lint", "overlays/prod").err  # not a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in lint_on_a_terminal()
    assert "\033[33m" in lint_on_a_terminal("--color", "always")
    monkeypatch.delenv("NO_COLOR")
    assert "\033[" not in lint_on_a_terminal("--color", "never")


def test_json_output_of_check_and_lint(
    monkeypatch: pytest.MonkeyPatch, kustomize: Kustomize
) -> None:
    monkeypatch.chdir(ROOT)
    check = json.loads(run_cli("check", "--output", "json").out)
    assert check["ok"] is True
    assert check["files"] == []
    assert check["rendered"] is True
    lint = json.loads(run_cli("lint", "--output", "json").out)
    assert lint["ok"] is True
    # prod's five split services run `latest`.
    assert [f["rule"] for f in lint["findings"]] == ["LLMGW003 pinned-image-in-production"] * 5


def test_directory_option_after_the_command(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "llmgateway.yaml").write_bytes(
        (ROOT / "spec" / "llmgateway.yaml").read_bytes()
    )
    result = run_cli("validate", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert result.out.startswith("spec/llmgateway.yaml: valid, 2 environments\n")
    assert run_cli("-C", str(tmp_path), "validate").out == result.out


def test_version_names_the_program_as_invoked() -> None:
    script = Path(sys.executable).parent / "llmgateway-compiler"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert done.stdout == f"llmgateway-compiler {__version__}\n"
    module = subprocess.run(
        [sys.executable, "-m", "compiler", "--version"], capture_output=True, text=True, check=False
    )
    assert module.stdout == f"python -m compiler {__version__}\n"


def test_validate_outside_a_project_says_where_to_look(tmp_path: Path) -> None:
    result = run_cli("-C", str(tmp_path), "validate")
    assert result.code == 2
    assert "no spec/llmgateway.yaml here; use -C DIR or --spec PATH" in result.err
    other = run_cli("-C", str(tmp_path), "validate", "--spec", "mine.yaml")
    assert other.err == "mine.yaml:1:1: spec file not found\n"


def test_colour_is_decided_per_stream_and_covers_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    # stdout on a terminal, stderr to a log file: the log gets no escape codes.
    log = io.StringIO()
    assert main(["-C", str(tmp_path), "validate"], out=Terminal(), err=log) == 2
    assert log.getvalue() == (
        "spec/llmgateway.yaml:1:1: spec file not found: no spec/llmgateway.yaml here; "
        "use -C DIR or --spec PATH\n"
    )
    terminal = Terminal()
    main(["-C", str(tmp_path), "validate"], out=io.StringIO(), err=terminal)
    assert terminal.getvalue().startswith("\033[31mspec/llmgateway.yaml:1:1: spec file not found")
    forced = run_cli("--color", "always", "-C", str(tmp_path), "validate")
    assert forced.err.startswith("\033[31mspec/llmgateway.yaml:1:1:")
    assert forced.err.endswith("\033[0m\n")


def test_colour_always_paints_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli("--color", "always", "validate")
    assert result.code == 0
    warnings = result.err.splitlines()
    assert warnings
    assert all(w.startswith("\033[33m") and w.endswith("\033[0m") for w in warnings)
