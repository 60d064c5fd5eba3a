"""How the project is installed: the README's quick start, what CI runs, the declared ranges.

Running the quick start itself takes minutes and a network (a fresh clone, a new virtual
environment, `uv sync` from PyPI); it is what `.ci/run` does. These tests keep the pieces
it relies on in step: CI runs the README's lines, the extras hold what the tests run,
and the ranges admit what the code needs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from ruamel.yaml import YAML

from compiler.spec import Settings
from tests.conftest import ROOT

PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
INSTALLERS = re.compile(r"\bpip install\b|\buv (?:sync|pip|add|tool)\b|\bpipx?\b.*\binstall\b")


def quick_start() -> list[str]:
    """The command lines of the README's quick start (its first ```sh block)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quick start") :]
    block = section[section.index("```sh\n") + len("```sh\n") :]
    return block[: block.index("```")].splitlines()


def ci_commands() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def requirements(*groups: str) -> dict[str, Requirement]:
    """The requirements of the project (no group) or of its extras, by canonical name."""
    project = PYPROJECT["project"]
    texts = project["dependencies"] if not groups else []
    for group in groups:
        texts = texts + project["optional-dependencies"][group]
    return {canonicalize_name(r.name): r for r in map(Requirement, texts)}


def test_ci_runs_the_readme_quick_start_and_installs_nothing_else() -> None:
    readme = quick_start()
    assert len(readme) == 2
    commands = ci_commands()
    assert [c for c in commands if c in readme] == readme  # both, in the README's order
    # Anything else CI runs installs nothing: a missing step cannot hide behind it.
    others = [c for c in commands if c not in readme]
    assert [c for c in others if INSTALLERS.search(c)] == []
    assert all(INSTALLERS.search(c) for c in readme)  # the pattern does see installs


def test_quick_start_installs_from_the_lock() -> None:
    first, second = quick_start()
    assert "uv sync --active --locked" in first
    assert "uv sync --active --locked" in second
    assert (ROOT / "uv.lock").is_file()
    noxfile = (ROOT / "noxfile.py").read_text()
    assert '"--locked"' in noxfile
    assert "session.install(" not in noxfile  # nothing installed around the lock


def test_the_test_extra_holds_the_tools_the_pre_commit_test_runs() -> None:
    """The pre-commit test runs this repository's hooks; language: system hooks run
    whatever is installed, so each one's program must come with the test extra."""
    config: Any = YAML(typ="safe", pure=True).load((ROOT / ".pre-commit-config.yaml").read_text())
    programs = {
        hook["entry"].split()[0]
        for repo in config["repos"]
        for hook in repo["hooks"]
        if hook["language"] == "system"
    }
    test_extra = requirements("test")
    for program in sorted(programs - {"python"}):  # python: the project itself
        assert canonicalize_name(program) in test_extra, program


def third_party_imports(*paths: Path) -> set[str]:
    """Top-level modules the files import that are neither ours nor stdlib."""
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    ours = {"compiler", "tests", "bench"}
    return {m for m in found if m not in sys.stdlib_module_names and m not in ours}


def assert_declared(modules: set[str], declared: set[str]) -> None:
    distributions = importlib.metadata.packages_distributions()
    for module in sorted(modules):
        providers = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert providers & declared, f"{module} (from {sorted(providers)}) is not declared"


def test_every_imported_package_is_declared() -> None:
    package = third_party_imports(*(ROOT / "compiler").rglob("*.py"))
    assert_declared(package, set(requirements()))


def test_the_test_extra_installs_what_the_tests_import() -> None:
    """The nox tests session installs the project and the test extra, nothing else."""
    tests = [p for p in (ROOT / "tests").rglob("*.py") if "cases" not in p.parts]
    imported = third_party_imports(*tests, ROOT / "noxfile.py")  # a test loads noxfile.py
    assert_declared(imported, set(requirements()) | set(requirements("test")))


def lowest(requirement: Requirement) -> Version:
    """The smallest version a `>=` range admits."""
    bounds = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert bounds, f"{requirement} has no lower bound"
    return min(bounds)


def test_kubernetes_validate_has_the_schemas_of_the_default_kubernetes_version() -> None:
    """kubernetes-validate ships the API schemas up to its own version, so its lowest
    allowed release must be at least the spec's default kubernetesVersion."""
    default = Version(Settings.model_fields["kubernetes_version"].default)
    assert lowest(requirements()["kubernetes-validate"]) >= default


def test_ranges_that_must_stay_within_one_release_line() -> None:
    deps = requirements()
    assert deps["python-hcl2"].specifier == SpecifierSet(">=8.1,<9")
    ruamel = deps["ruamel-yaml"].specifier
    lower = lowest(deps["ruamel-yaml"])
    assert lower.major == 0  # 0.x: the next minor may break, so it is the cap
    assert not ruamel.contains(f"0.{lower.minor + 2}.0")
    assert ruamel.contains("0.19.1")  # the locked release
    # tarfile's extraction filters (git.py: filter="data") came with 3.11.4.
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]) == SpecifierSet(">=3.11.4")
    assert 'filter="data"' in (ROOT / "compiler" / "git.py").read_text()
