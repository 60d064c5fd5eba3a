"""kustomize runs with Go's collector off up to a memory limit (kustomize.GO_RUNTIME: about
a third less CPU for a fleet), unless the caller set either variable."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from compiler.kustomize import Kustomize

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"


def recording(tmp_path: Path, kustomize: Kustomize) -> tuple[Kustomize, Path]:
    """The real kustomize behind a script that logs the Go runtime variables it gets."""
    log = tmp_path / "runtime.log"
    script = tmp_path / "kustomize"
    real = " ".join(shlex.quote(part) for part in kustomize.build_command)
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s %s %s\\n" "${{GOGC-unset}}" "${{GOMEMLIMIT-unset}}" '
        f'"${{GOMAXPROCS-unset}}" >> {shlex.quote(str(log))}\n'
        "shift\n"  # `build`
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    overlay = tmp_path / "k"
    overlay.mkdir()
    (overlay / "configmap.yaml").write_text(CONFIG_MAP)
    (overlay / "kustomization.yaml").write_text("resources:\n  - configmap.yaml\n")
    return Kustomize((str(script), "build"), "test"), log


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOGC", "GOMEMLIMIT", "GOMAXPROCS"):
        monkeypatch.delenv(name, raising=False)


def test_kustomize_runs_with_the_collector_off_up_to_a_limit(
    tmp_path: Path, kustomize: Kustomize
) -> None:
    wrapped, log = recording(tmp_path, kustomize)
    assert wrapped.build(tmp_path / "k") == kustomize.build(tmp_path / "k")
    wrapped.build(tmp_path / "k", parallel=True)
    assert log.read_text().splitlines() == ["off 192MiB unset", "off 192MiB 1"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("GOGC", "50", "50 unset unset"), ("GOMEMLIMIT", "1GiB", "unset 1GiB unset")],
)
def test_the_callers_choice_of_collector_is_kept(
    tmp_path: Path,
    kustomize: Kustomize,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    wrapped, log = recording(tmp_path, kustomize)
    wrapped.build(tmp_path / "k")
    assert log.read_text().splitlines() == [expected]
