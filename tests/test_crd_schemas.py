"""Offline schemas of the operator kinds the split topology will emit: CloudNativePG's
Cluster and Pooler (postgresql.cnpg.io/v1) and Prometheus Operator's ServiceMonitor and
PodMonitor (monitoring.coreos.com/v1), in compiler/schemas/.

Each schema was converted from the operator's CRD at a named release; the examples in
tests/cases/schemas/ are written from the operators' documented fields.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import pytest

from compiler.lint import LOCAL_SCHEMAS, local_schema, validate_schemas
from tests.conftest import CASES, ROOT
from tests.helpers import load_documents

SCHEMAS = ROOT / "compiler" / "schemas"
EXAMPLES = CASES / "schemas"
# Kind -> its example in tests/cases/schemas/.
OPERATOR_KINDS: dict[tuple[str, str], str] = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster.yaml",
    ("postgresql.cnpg.io/v1", "Pooler"): "pooler.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.yaml",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor.yaml",
}
# The release each converted schema comes from, as the README names it.
RELEASES = {
    "github.com/cloudnative-pg/cloudnative-pg": "v1.30.0",
    "github.com/prometheus-operator/prometheus-operator": "v0.93.0",
}


def example(name: str) -> Any:
    (document,) = load_documents((EXAMPLES / name).read_text())
    return document


def findings(resource: Any) -> list[str]:
    return [f.render() for f in validate_schemas("prod", [resource], "1.32")]


@pytest.mark.parametrize("key", sorted(OPERATOR_KINDS), ids=lambda key: key[1])
def test_operator_example_validates_offline(key: tuple[str, str]) -> None:
    resource = example(OPERATOR_KINDS[key])
    assert (resource["apiVersion"], resource["kind"]) == key
    assert key in LOCAL_SCHEMAS  # validated from the package, never from a cluster
    assert findings(resource) == []


MUTATIONS: list[tuple[str, tuple[str | int, ...], dict[str, Any], str]] = [
    # (example, where to change, the change, the finding's field path and message)
    (
        "cluster.yaml",
        ("spec", "storage"),
        {"sizeGi": 20},
        "spec.storage.sizeGi: unknown field 'sizeGi'",
    ),
    ("cluster.yaml", ("spec",), {"instances": "3"}, "spec.instances: '3' is not of type 'integer'"),
    (
        "pooler.yaml",
        ("spec", "pgbouncer"),
        {"poolMod": "session"},
        "spec.pgbouncer.poolMod: unknown field 'poolMod'",
    ),
    (
        "pooler.yaml",
        ("spec",),
        {"instances": "two"},
        "spec.instances: 'two' is not of type 'integer'",
    ),
    (
        "servicemonitor.yaml",
        ("spec", "endpoints", 0),
        {"targetPortt": 4001},
        "spec.endpoints[0].targetPortt: unknown field 'targetPortt'",
    ),
    (
        "servicemonitor.yaml",
        ("spec",),
        {"endpoints": {"port": "http"}},
        "spec.endpoints: {'port': 'http'} is not of type 'array'",
    ),
    (
        "podmonitor.yaml",
        ("spec", "podMetricsEndpoints", 0),
        {"portt": "metrics"},
        "spec.podMetricsEndpoints[0].portt: unknown field 'portt'",
    ),
    (
        "podmonitor.yaml",
        ("spec", "podMetricsEndpoints", 0),
        {"interval": 30},
        "spec.podMetricsEndpoints[0].interval: 30 is not of type 'string'",
    ),
]


@pytest.mark.parametrize(
    ("name", "where", "change", "expected"),
    MUTATIONS,
    ids=[f"{m[0]}-{'.'.join(map(str, m[1]))}-{next(iter(m[2]))}" for m in MUTATIONS],
)
def test_operator_schema_rejects_with_the_field_path(
    name: str, where: tuple[str | int, ...], change: dict[str, Any], expected: str
) -> None:
    resource = copy.deepcopy(example(name))
    target = resource
    for step in where:
        target = target[step]
    target.update(change)
    found = findings(resource)
    kind = resource["kind"]
    prefix = f"prod: error: {kind}/llmgateway/{resource['metadata']['name']}: "
    assert found == [prefix + expected]


def test_every_packaged_schema_is_registered_and_valid() -> None:
    files = sorted(path.name for path in SCHEMAS.glob("*.json"))
    assert files == sorted(LOCAL_SCHEMAS.values())
    for file_name in files:
        jsonschema.Draft202012Validator.check_schema(local_schema(file_name))


@pytest.mark.parametrize("key", sorted(OPERATOR_KINDS), ids=lambda key: key[1])
def test_converted_schemas_record_their_provenance(key: tuple[str, str]) -> None:
    """Repository, release, commit and path of the CRD, in the file's $comment."""
    comment = local_schema(LOCAL_SCHEMAS[key])["$comment"]
    found = re.search(
        r"converted from the CRD's openAPIV3Schema in (github\.com/[\w.-]+/[\w.-]+) "
        r"release (v[\d.]+) \(commit ([0-9a-f]{40})\), ([\w./-]+\.yaml)",
        comment,
    )
    assert found, comment
    repository, release, _commit, path = found.groups()
    assert RELEASES[repository] == release
    assert path.startswith(("config/crd/", "example/prometheus-operator-crd/"))
    assert key[0] in comment
    assert key[1] in comment


def test_readme_names_the_release_of_each_converted_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Validation before anything is applied", 1)[1].split("\n## ", 1)[0]
    for key in OPERATOR_KINDS:
        assert key[1] in section
    for repository, release in RELEASES.items():
        assert release in section
        assert repository.split("/")[-1] in section
