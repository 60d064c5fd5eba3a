"""Finding kustomize ($KUSTOMIZE, kustomize on PATH, kubectl kustomize) and its failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.errors import KustomizeError
from compiler.kustomize import find_kustomize
from tests.helpers import run_cli


def fake(directory: Path, name: str, script: str) -> Path:
    """An executable shell script standing in for a real binary."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_kustomize_variable_comes_first(tmp_path: Path) -> None:
    mine = fake(tmp_path / "custom", "my-kustomize", "exit 0\n")
    fake(tmp_path / "bin", "kustomize", "exit 0\n")
    fake(tmp_path / "bin", "kubectl", "exit 0\n")
    found = find_kustomize({"KUSTOMIZE": str(mine), "PATH": str(tmp_path / "bin")})
    assert found.build_command == (str(mine), "build")
    assert found.source == "$KUSTOMIZE"


def test_standalone_kustomize_before_kubectl(tmp_path: Path) -> None:
    standalone = fake(tmp_path / "bin", "kustomize", "exit 0\n")
    fake(tmp_path / "bin", "kubectl", "exit 0\n")
    found = find_kustomize({"PATH": str(tmp_path / "bin")})
    assert found.build_command == (str(standalone), "build")


def test_kubectl_kustomize_last(tmp_path: Path) -> None:
    kubectl = fake(tmp_path / "bin", "kubectl", "exit 0\n")
    found = find_kustomize({"PATH": str(tmp_path / "bin")})
    assert found.build_command == (str(kubectl), "kustomize")


def test_none_found_names_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(KustomizeError, match="no kustomize found; install kustomize v5"):
        find_kustomize({"PATH": str(tmp_path)})


def test_bad_kustomize_variable(tmp_path: Path) -> None:
    with pytest.raises(KustomizeError, match=r"\$KUSTOMIZE is '/nowhere/kustomize'"):
        find_kustomize({"KUSTOMIZE": "/nowhere/kustomize", "PATH": str(tmp_path)})


def test_doctor_reports_source_and_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no spec here: no prerequisite lines (test_data_services)
    fake(tmp_path / "bin", "kustomize", 'echo "v5.4.3"\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("KUSTOMIZE", raising=False)
    result = run_cli("doctor")
    assert result.code == 0, result.err
    assert result.out == (
        f"kustomize: {tmp_path / 'bin' / 'kustomize'} build (from PATH)\nversion: v5.4.3\n"
    )


def test_doctor_with_no_kustomize_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("KUSTOMIZE", raising=False)
    result = run_cli("doctor")
    assert result.code == 3
    assert result.err.startswith("error: no kustomize found; install kustomize v5")
    assert "Traceback" not in result.err


def test_build_with_failing_kustomize_exits_3_with_its_stderr(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("compile").code == 0
    fake(tmp_path / "bin", "kustomize", 'echo "Error: accumulating resources: boom" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{Path(shutil.which('sh') or '/bin/sh').parent}")
    monkeypatch.delenv("KUSTOMIZE", raising=False)
    result = run_cli("build", "overlays/prod")
    assert result.code == 3
    assert result.err.splitlines()[-2:] == [
        "error: kustomize failed on overlays/prod (exit 1)",
        "  Error: accumulating resources: boom",
    ]
    assert result.out == ""
