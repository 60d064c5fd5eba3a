"""`diff` through git and the real kustomize, on a small spec of its own: which revision the
review is against (its label), which environments are compared, and the message for an
unknown one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from compiler.kustomize import Kustomize
from tests.helpers import run_cli

SPEC = """\
defaults:
  domain: llm.example.com
  ingress:
    tls:
      enabled: false
  auth:
    oauth2ProxyHost: auth.example.com
environments:
  dev:
    namespace: llmgateway-dev
    domain: dev.example.com
  prod: {}
"""
QA = "  qa:\n    namespace: llmgateway-qa\n    domain: qa.example.com\n"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The small spec compiled and committed on main; cwd is the repository."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "llmgateway.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    assert run_cli("compile").code == 0
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "initial")
    return tmp_path


def first_line(*args: str) -> str:
    return run_cli("diff", *args).out.splitlines()[0]


def test_the_revision_reviewed_against(repository: Path, kustomize: Kustomize) -> None:
    head = git(repository, "rev-parse", "--short", "HEAD")
    assert first_line() == f"Changes against HEAD ({head}):"
    assert first_line("--base", "main") == f"Changes against main ({head}):"
    git(repository, "update-ref", "refs/remotes/origin/main", "HEAD")
    assert first_line() == f"Changes against merge base with origin/main ({head}):"


def test_environments_on_either_side_are_compared(repository: Path, kustomize: Kustomize) -> None:
    spec = repository / "spec" / "llmgateway.yaml"
    spec.write_text(SPEC.replace("  prod: {}\n", QA))  # qa added, prod removed
    assert run_cli("compile").code == 0
    result = run_cli("diff")
    assert result.code == 1, result.err
    statuses = [
        line.split(" (")[0]
        for line in result.out.splitlines()
        if line.startswith(("dev:", "prod:", "qa:"))
    ]
    assert statuses == ["dev: no changes", "prod: environment removed", "qa: new environment"]


def test_an_unknown_environment_names_those_known(repository: Path, kustomize: Kustomize) -> None:
    spec = repository / "spec" / "llmgateway.yaml"
    spec.write_text(SPEC + QA)
    result = run_cli("diff", "--env", "stage", "--env", "nope")
    assert result.code == 2
    assert result.err == (
        "error: no environment nope, stage at HEAD or in spec/llmgateway.yaml "
        "(environments: dev, prod, qa)\n"
    )


@pytest.mark.parametrize("stale", [False, True], ids=["as-compiled", "spec-edited-since"])
def test_diff_keeps_its_renderings_in_the_projects_cache(repository: Path, stale: bool) -> None:
    """README "What makes it fast": `diff` keeps every rendering in the project's
    `.llmgw-cache/rendered/`, and creates nothing else in the project; also when the
    overlays on disk are no longer what the spec compiles to (nothing renders early)."""
    if stale:
        (repository / "spec" / "llmgateway.yaml").write_text(SPEC + QA)
    before = {p.name for p in repository.iterdir()}
    assert run_cli("diff").code == (1 if stale else 0)
    created = {p.name for p in repository.iterdir()} - before
    assert created <= {".llmgw-cache"}
    assert any((repository / ".llmgw-cache" / "rendered").rglob("*"))
