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


# The longest tests (CPU seconds measured with every test in one run), started first so
# that no worker is left running one of them alone at the end.
LONGEST_FIRST = [
    "tests/test_properties.py::test_valid_specs_compile_stably_and_render_as_lowered",
    "tests/test_facts_table.py::test_the_table_covers_every_environment",
    "tests/test_renovate.py::test_renovate_job_as_the_workflow_runs_it",
    "tests/test_fleet.py::test_many_environments_render_as_fleets_with_the_same_bytes",
    "tests/test_ecosystem.py::test_pre_commit_runs_the_hooks_on_a_clone",
    "tests/test_split.py::test_no_container_of_any_split_environment_migrates_at_start",
    "tests/test_fleet.py::test_an_overlay_without_the_instance_label_is_rendered_alone",
    "tests/test_properties.py::test_mutated_specs_fail_only_with_located_spec_errors",
    "tests/test_interrupt.py::test_two_compiles_at_once_both_succeed",
    "tests/test_interrupt.py::test_killed_at_any_point_the_next_compile_recovers",
    "tests/test_ecosystem.py::test_diff_step_as_the_workflow_runs_it",
    "tests/test_migration.py::test_the_readme_moves_the_data_into_the_new_primary",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, the others in their usual order."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("[")[0], len(rank)))


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
