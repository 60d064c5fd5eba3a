"""Lowering's layout: one module per concern, each pure, and upstream facts in one table.

../shared/DESIGN.md "As it grows": a reader looking for where a resource is made finds it
from the file names of compiler/lower/ alone, and the ports, paths and variable names the
LLM Gateway images expect live only in compiler/upstream.py (read by lowering, docs and
lint alike).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from compiler import upstream
from compiler.errors import SpecError
from compiler.load import load_spec
from compiler.lower import lower_environment
from compiler.spec import SERVICE_NAMES
from tests.conftest import CASES

COMPILER = Path(__file__).resolve().parent.parent / "compiler"

# Which modules of the package make each kind; the name says the concern (a workload of
# each topology in the topology's module).
MAKER = {
    "Namespace": [("meta", "namespace")],
    "PersistentVolumeClaim": [("unified", "persistent_volume_claim")],
    "Deployment": [("unified", "deployment"), ("split", "deployment")],
    "Service": [("unified", "service"), ("split", "service"), ("data", "cluster_ip_service")],
    "ConfigMap": [("split", "config_map")],
    "PodDisruptionBudget": [("availability", "pod_disruption_budget")],
    "HorizontalPodAutoscaler": [("availability", "horizontal_pod_autoscaler")],
    "ServiceMonitor": [("monitoring", "service_monitor")],
    "NetworkPolicy": [("network", "network_policy")],
    "Ingress": [("ingress", "ingress")],
    "Certificate": [("ingress", "certificate")],
    "ExternalSecret": [("secrets", "external_secret")],
    "Cluster": [("data", "cnpg_cluster")],
    "StatefulSet": [("data", "stateful_set")],
}
# Modules lowering may import: the spec's models, the upstream table, its own parts, and
# two pure standard modules (the ConfigMap's checksum in the pod templates).
ALLOWED_IMPORTS = {
    "__future__",
    "typing",
    "hashlib",
    "json",
    "compiler",
    "compiler.spec",
    "compiler.upstream",
}


def test_each_kind_is_made_in_the_module_named_for_its_concern() -> None:
    kinds = set()
    for path in [COMPILER.parent / "spec/llmgateway.yaml", *CASES.glob("*/*/spec.yaml")]:
        try:
            spec = load_spec(path)
        except SpecError:
            continue
        kinds |= {r["kind"] for _, env in spec.enabled() for r in lower_environment(env, "x")}
    assert kinds == set(MAKER)
    for kind, makers in MAKER.items():
        for module, function in makers:
            made = getattr(importlib.import_module(f"compiler.lower.{module}"), function)
            assert made.__module__ == f"compiler.lower.{module}", kind


@pytest.mark.parametrize(
    "path", sorted((COMPILER / "lower").glob("*.py")), ids=lambda path: path.name
)
def test_lowering_modules_are_pure(path: Path) -> None:
    """No I/O and no other stage: settings in, resources out."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            if isinstance(node, ast.Name):
                assert node.id not in {"open", "print", "input", "exec", "eval"}, path.name
            continue
        for name in names:
            assert name in ALLOWED_IMPORTS or name.startswith("compiler.lower"), (
                f"{path.name} imports {name}"
            )


def upstream_facts() -> dict[object, str]:
    """Values of the table specific enough to be recognised anywhere else.

    The services' names (api, gateway, ...) are upstream's and the spec's alike: the
    spec's field names under `services`, written wherever a service is meant.
    """
    facts: dict[object, str] = {}
    for name, value in vars(upstream).items():
        if not name.isupper() or name == "BASELINE":
            continue
        for item in value if isinstance(value, tuple) else (value,):
            text = isinstance(item, str) and len(item) > 1 and item not in SERVICE_NAMES
            number = isinstance(item, int) and not isinstance(item, bool) and item >= 1000
            if text or number:
                facts[item] = name
    return facts


def test_upstream_facts_are_written_only_in_the_table() -> None:
    facts = upstream_facts()
    # The table holds the variable names, ports and paths lowering writes.
    for expected in ("PGDATA", "ORIGIN_URLS", "/?skip=redis,database", 5432, 6379, 4001):
        assert expected in facts
    found = []
    for path in sorted(COMPILER.rglob("*.py")):
        if path.name == "upstream.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
                continue
            if isinstance(node.value, str | int) and node.value in facts:
                found.append(f"{path.relative_to(COMPILER)}:{node.lineno}: {node.value!r}")
    assert not found, "use compiler.upstream instead of:\n" + "\n".join(found)
