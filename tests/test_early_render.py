"""`check` starts kustomize on the overlays on disk before it loads the spec (their
renderings go to the render cache, whose keys decide what is used), so kustomize's time
overlaps the spec's load and plan at a few environments (check.EarlyRender)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from compiler.kustomize import Kustomize
from tests.helpers import run_cli


def logging_kustomize(tmp_path: Path, kustomize: Kustomize) -> Path:
    """$KUSTOMIZE: the real kustomize behind a script logging each build's directory."""
    log = tmp_path / "builds.log"
    script = tmp_path / "kustomize"
    real = " ".join(shlex.quote(part) for part in kustomize.build_command)
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then exec {shlex.quote(kustomize.build_command[0])} '
        "version --client; fi\n"
        f'shift; echo "$@" >> {shlex.quote(str(log))}\n'
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return script


def builds(tmp_path: Path) -> list[str]:
    log = tmp_path / "builds.log"
    return sorted(Path(line).name for line in log.read_text().split()) if log.exists() else []


@pytest.fixture
def logged(
    project: Path,
    kustomize: Kustomize,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    assert run_cli("compile").code == 0
    scripts = tmp_path_factory.mktemp("kustomize")
    monkeypatch.setenv("KUSTOMIZE", str(logging_kustomize(scripts, kustomize)))
    return scripts


def test_check_renders_the_overlays_before_the_spec_is_read(project: Path, logged: Path) -> None:
    """The spec is invalid (exit 2 when loaded): kustomize ran on both overlays anyway."""
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("  replicas: 1\n", "  replicas: many\n", 1))
    assert run_cli("check").code == 2
    assert builds(logged) == ["dev", "prod"]
    # Cached by their inputs: the next check renders nothing again.
    assert run_cli("check", "--no-render").code == 2
    spec.write_text(spec.read_text().replace("  replicas: many\n", "  replicas: 1\n", 1))
    assert run_cli("snapshot").code == 0
    assert builds(logged) == ["dev", "prod"]


def test_check_without_rendering_starts_no_kustomize(project: Path, logged: Path) -> None:
    assert run_cli("check", "--no-render").code == 0
    assert builds(logged) == []
