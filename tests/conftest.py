"""Shared fixtures: the real kustomize, spec helpers, a scratch project."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.errors import KustomizeError
from compiler.kustomize import Kustomize, find_kustomize

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected trees of tests/cases/compile (review the diff!)",
    )


def repository_state() -> str | None:
    """What git sees of the checkout: the status and a digest of every change to HEAD.

    None when this is not a git checkout (or git is missing): nothing to compare then.
    """
    outputs: list[bytes] = []
    for command in (
        ["git", "status", "--porcelain", "--untracked-files=all"],
        ["git", "diff", "--binary", "--no-ext-diff", "HEAD"],
    ):
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, check=False, timeout=120)
        except OSError:
            return None
        if done.returncode != 0:
            return None
        outputs.append(done.stdout)
    status, diff = outputs
    return status.decode(errors="replace") + "diff " + hashlib.sha256(diff).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def repository_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test writes into the repository: git sees the same checkout after the suite
    (except with --update-golden, whose job is to rewrite the expected trees)."""
    if request.config.getoption("--update-golden"):
        yield
        return
    before = repository_state()
    yield
    after = repository_state()
    if before is not None:
        assert after == before, f"the tests changed the repository:\n{before}\n---\n{after}"


@pytest.fixture(scope="session")
def kustomize() -> Kustomize:
    """The real kustomize; skipped locally when missing, a failure on CI (CI=true)."""
    try:
        return find_kustomize()
    except KustomizeError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"kustomize is required on CI: {exc}")
        pytest.skip(f"kustomize not available: {exc}")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch project root holding a copy of the committed spec; cwd is set to it."""
    (tmp_path / "spec").mkdir()
    shutil.copy(ROOT / "spec" / "llmgateway.yaml", tmp_path / "spec" / "llmgateway.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def valid_case_specs() -> list[Path]:
    """Every valid spec the tests know: the committed one, each valid and compile case."""
    cases = sorted(CASES.glob("valid/*/spec.yaml")) + sorted(CASES.glob("compile/*/spec.yaml"))
    return [ROOT / "spec" / "llmgateway.yaml", *cases]


def case_id(path: Path) -> str:
    if path.parent.name == "spec":
        return "committed-spec"
    return f"{path.parent.parent.name}/{path.parent.name}"
