"""`check` starts kustomize on the overlays on disk before it loads the spec (their
renderings go to the render cache, whose keys decide what is used), so kustomize's time
overlaps the spec's load and plan at a few environments (check.EarlyRender). Only an
unchanged compiled tree is rendered early: nothing check itself would not render."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from compiler.check import EarlyRender
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
        "shift\n"
        # A fleet (one kustomize for several overlays) is logged as each overlay it lists.
        'case "$1" in */llmgw-fleet-*) sed -n \'s/^  - "\\(.*\\)"$/\\1/p\' '
        f'"$1/kustomization.yaml" >> {shlex.quote(str(log))};;\n'
        f'  *) echo "$@" >> {shlex.quote(str(log))};;\nesac\n'
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


def test_the_overlays_render_before_the_spec_is_read_and_check_uses_them(
    project: Path, logged: Path
) -> None:
    early = EarlyRender(project, "spec/llmgateway.yaml")
    assert early.done() is not None
    assert builds(logged) == ["dev", "prod"]
    result = run_cli("check", "--no-render")
    assert result.code == 0, result.err
    assert run_cli("snapshot").code == 0
    result = run_cli("check")
    assert result.code == 0, result.err
    assert builds(logged) == ["dev", "prod"]  # rendered once, early


def test_check_renders_each_overlay_once(project: Path, logged: Path) -> None:
    assert run_cli("snapshot").code == 0
    shutil.rmtree(project / ".llmgw-cache")
    (logged / "builds.log").unlink()
    assert run_cli("check").code == 0
    assert builds(logged) == ["dev", "prod"]


def test_a_tree_compile_did_not_write_from_this_spec_is_not_rendered_early(
    project: Path, logged: Path
) -> None:
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("  replicas: 1\n", "  replicas: 2\n", 1))
    assert EarlyRender(project, "spec/llmgateway.yaml").done() is None
    assert builds(logged) == []


def test_an_overlay_compile_did_not_write_is_never_rendered_early(
    project: Path, logged: Path
) -> None:
    mine = project / "overlays" / "mine"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text("resources:\n  - ../../base\n")
    assert EarlyRender(project, "spec/llmgateway.yaml").done() is not None
    assert builds(logged) == ["dev", "prod"]


def test_check_without_rendering_starts_no_kustomize(project: Path, logged: Path) -> None:
    assert run_cli("check", "--no-render").code == 0
    assert builds(logged) == []


def test_check_starts_kustomize_before_it_knows_the_tree_is_current(
    project: Path, logged: Path
) -> None:
    """docs/ drifted (check fails before rendering): the overlays, current, were rendered
    anyway, since kustomize started before the spec was read and planned."""
    docs = project / "docs" / "environments.md"
    docs.write_text(docs.read_text() + "a hand edit\n")
    result = run_cli("check")
    assert result.code == 1
    assert "docs/environments.md" in result.out
    assert builds(logged) == ["dev", "prod"]


def counting_kustomize(
    directory: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """$KUSTOMIZE: the real kustomize, logging the directory of each build (a fleet's
    generated one for a fleet) to the returned file."""
    calls = directory / "calls.log"
    script = directory / "counting-kustomize"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = version ] || echo "$2" >> {shlex.quote(str(calls))}\n'
        f'[ "$1" = version ] && exec {shlex.quote(kustomize.build_command[0])} version --client\n'
        f'shift; exec {shlex.join(kustomize.build_command)} "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("KUSTOMIZE", str(script))
    return calls


def test_the_early_rendering_is_one_kustomize_process(
    project: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One core's worth: the overlays render as one fleet (one process), leaving the other
    core to the spec's load and plan that run meanwhile."""
    assert run_cli("compile").code == 0
    calls = counting_kustomize(tmp_path, kustomize, monkeypatch)
    cache = EarlyRender(project, "spec/llmgateway.yaml").done()
    assert cache is not None
    (directory,) = calls.read_text().split()
    assert Path(directory).name.startswith("llmgw-fleet-")
    keys = cache.keys([project / "overlays" / "dev", project / "overlays" / "prod"])
    assert all(key and cache.cache.get("rendered", key) for key in keys)


@pytest.mark.parametrize(("count", "cores"), [(1, 1), (2, 1), (3, None), (10, None)])
def test_up_to_two_overlays_render_early_on_one_core_more_on_every_core(
    count: int, cores: int | None
) -> None:
    from compiler.rendercache import early_cores

    assert early_cores([Path(f"overlays/e{n}") for n in range(count)]) == cores


def test_three_overlays_render_early_on_every_core(
    project: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Above two overlays, kustomize's share outgrows the command's own work: one process
    per core (a fleet each when there are more overlays than cores)."""
    spec = project / "spec" / "llmgateway.yaml"
    stage = (
        "  stage:\n    namespace: llmgateway-stage\n    domain: stage.llm.chrislee.local\n"
        "    replicas: 1\n    storage:\n      accessMode: ReadWriteOnce\n\n"
    )
    spec.write_text(spec.read_text().replace("  dev:\n", stage + "  dev:\n", 1))
    assert run_cli("compile").code == 0, run_cli("validate").err
    calls = counting_kustomize(tmp_path, kustomize, monkeypatch)
    assert EarlyRender(project, "spec/llmgateway.yaml").done() is not None
    assert len(calls.read_text().split()) == min(3, os.cpu_count() or 2)
