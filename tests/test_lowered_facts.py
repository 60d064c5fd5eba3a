"""The facts tables of the rendering tests, checked again on the lowering itself, in-process.

tests/test_split.py, test_split_network.py, test_facts_table.py and test_boundaries.py
check values written from shared FACTS.md and UPSTREAM.md on what kustomize renders from
the compiled tree. The kustomize invariant (tests/test_invariant.py) shows that rendering
means exactly what `lower_environment` returns, so the same checks hold for the lowering.
Here each of those tests runs once more with its rendered environments replaced by the
lowered ones: no kustomize, no files, a fraction of a second, which is what lets
`nox -s mutation` run them for every mutant of compiler/lower/. Tests that run kustomize
themselves are left to their own module.

The tests are taken from their modules when this one is collected, so a test added there
is checked here too, under its module's name: `test_split__the_shared_configmap`. A test
that takes `kustomize` only to pass it to its module's rendering helper
(tests/test_data_services.py, test_split_network.py) runs with that helper lowering.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from compiler.load import load_spec, parse_spec
from compiler.lower import lower_environment
from compiler.spec import Spec
from tests import (
    test_boundaries,
    test_data_services,
    test_facts_table,
    test_split,
    test_split_network,
)
from tests.conftest import CASES, ROOT
from tests.helpers import UNIFIED_PROD_CASE


def lowered(spec: Spec, names: list[str] | None = None) -> dict[str, list[Any]]:
    return {
        name: lower_environment(env, name)
        for name, env in spec.enabled()
        if names is None or name in names
    }


def split_environments() -> dict[str, Any]:
    return lowered(load_spec(test_split.CASE), ["split", "lab"])


def network_environments() -> dict[str, Any]:
    return {
        egress: lowered(
            parse_spec(test_split_network.SPEC.replace("EGRESS", egress).encode(), "spec.yaml")
        )
        for egress in ("true", "false")
    }


def facts_environments() -> dict[str, Any]:
    """As test_facts_table's: the committed spec's environments and each compile case's."""
    found = {
        f"committed/{name}": documents
        for name, documents in lowered(load_spec(ROOT / "spec" / "llmgateway.yaml")).items()
    }
    for spec_path in [UNIFIED_PROD_CASE, *sorted((CASES / "compile").glob("*/spec.yaml"))]:
        for name, documents in lowered(load_spec(spec_path)).items():
            found[f"{spec_path.parent.name}/{name}"] = documents
    return found


def boundary_environments() -> dict[str, Any]:
    spec = load_spec(test_boundaries.CASE / "spec.yaml")
    return {name: (env, lower_environment(env, name)) for name, env in spec.enabled()}


# module -> (the fixture its tests take the renderings from, what replaces it)
SOURCES: dict[ModuleType, tuple[str, Callable[[], dict[str, Any]]]] = {
    test_split: ("environments", split_environments),
    test_split_network: ("environments", network_environments),
    test_facts_table: ("environments", facts_environments),
    test_boundaries: ("rendered", boundary_environments),
}


class Lowered:
    """Each module's lowered environments, made when a test first asks for them."""

    def __init__(self) -> None:
        self.made: dict[str, dict[str, Any]] = {}

    def of(self, module_name: str) -> dict[str, Any]:
        if module_name not in self.made:
            (make,) = [
                make for module, (_, make) in SOURCES.items() if module.__name__ == module_name
            ]
            self.made[module_name] = make()
        return self.made[module_name]


@pytest.fixture
def lowerings() -> Lowered:
    """Made again for each test: mutmut links a test to the functions that run during it,
    so each test must run the lowering it checks (a few milliseconds)."""
    return Lowered()


@pytest.fixture
def environments(request: pytest.FixtureRequest, lowerings: Lowered) -> dict[str, Any]:
    return lowerings.of(request.function.__module__)


@pytest.fixture
def rendered(request: pytest.FixtureRequest, lowerings: Lowered) -> dict[str, Any]:
    return lowerings.of(request.function.__module__)


def adopted() -> dict[str, Callable[..., None]]:
    """The tests of SOURCES that read the renderings from the fixture and run no kustomize."""
    found: dict[str, Callable[..., None]] = {}
    for module, (fixture, _) in SOURCES.items():
        short = module.__name__.rpartition(".")[2].removeprefix("test_")
        for name, test in vars(module).items():
            if not name.startswith("test_") or not inspect.isfunction(test):
                continue
            parameters = inspect.signature(test).parameters
            if fixture in parameters and "kustomize" not in parameters:
                found[f"test_{short}__{name.removeprefix('test_')}"] = test
    return found


def lowered_case(case: Path, tmp_path: Path, kustomize: None) -> dict[str, list[Any]]:
    return lowered(load_spec(case / "spec.yaml"))


def lowered_spec(spec: Spec, tmp_path: Path, kustomize: None) -> dict[str, list[Any]]:
    return lowered(spec)


# module -> (its helper that renders with kustomize, the same on the lowering)
HELPERS: dict[ModuleType, tuple[str, Callable[..., dict[str, list[Any]]]]] = {
    test_data_services: ("rendered", lowered_case),
    test_split_network: ("rendered", lowered_spec),
}


def through_lowering(
    module: ModuleType, test: Callable[..., None]
) -> Callable[[Path, pytest.MonkeyPatch], None]:
    """``test(tmp_path, kustomize)`` with its module's rendering helper lowering instead."""
    helper, replacement = HELPERS[module]

    def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(module, helper, replacement)
        test(tmp_path, None)

    return run


def adopted_through_helpers() -> dict[str, Callable[..., None]]:
    """The tests of HELPERS that use kustomize only through the module's helper."""
    found: dict[str, Callable[..., None]] = {}
    for module, (helper, _) in HELPERS.items():
        short = module.__name__.rpartition(".")[2].removeprefix("test_")
        for name, test in vars(module).items():
            if not name.startswith("test_") or not inspect.isfunction(test):
                continue
            if list(inspect.signature(test).parameters) != ["tmp_path", "kustomize"]:
                continue
            source = inspect.getsource(test).replace("kustomize: Kustomize", "")
            if source.replace(", kustomize)", "").count("kustomize") == 0 and helper in source:
                found[f"test_{short}__{name.removeprefix('test_')}"] = through_lowering(
                    module, test
                )
    return found


ADOPTED = {**adopted(), **adopted_through_helpers()}
globals().update(ADOPTED)


def test_every_rendering_test_is_adopted() -> None:
    """The tables are all here (a renamed fixture would silently drop them)."""
    by_module = {short.partition("__")[0] for short in ADOPTED}
    assert by_module == {
        "test_split",
        "test_split_network",
        "test_facts_table",
        "test_boundaries",
        "test_data_services",
    }
    assert len(ADOPTED) >= 30
    assert "test_data_services__postgres_stateful_set_and_redis" in ADOPTED
    assert "test_split_network__the_operator_namespace_comes_from_the_spec" in ADOPTED
