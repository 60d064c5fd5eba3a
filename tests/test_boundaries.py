"""Boundaries: replicas 1 and 2 against every replica rule, each database mode with each
access mode, and storage quantities at their unit boundaries.

The spec rules' sides are case folders (tests/cases/invalid, tests/cases/valid:
replicas-two-with-read-write-once, one-replica-read-write-once,
two-replicas-external-database-read-write-once, admin-email-bad-domain,
admin-emails-valid-domains, storage-size-lowercase-unit, quantities-at-unit-boundaries,
resource-quantity-invalid). What each combination renders is written here by hand, from
shared FACTS.md (Recreate because two pods on one ReadWriteOnce volume corrupt the
PostgreSQL WAL; the volume holds PostgreSQL's data, so an external database has none) and
from the README's rules (more than one replica: ReadWriteMany by default, a
PodDisruptionBudget and spreading over nodes).
"""

from __future__ import annotations

from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.lint import lint_environment
from compiler.load import load_spec, parse_spec
from compiler.lower import lower_environment
from compiler.plan import plan_tree
from compiler.render import render
from compiler.review import diff_environments
from tests.conftest import CASES
from tests.helpers import load_rendering, write_tree

CASE = CASES / "compile" / "replicas-database-access-modes"
RECREATE = {"type": "Recreate"}
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
RWO, RWM = "ReadWriteOnce", "ReadWriteMany"
CLAIM = {"name": "data", "persistentVolumeClaim": {"claimName": "llmgateway-data"}}
EMPTY = {"name": "data", "emptyDir": {}}
SPREAD = [
    {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "llmgateway"}},
    }
]
DATABASE_KEYS = ["DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"]

# environment: (claim's access mode or None, strategy, volume, several replicas)
EXPECTED: dict[str, tuple[str | None, dict[str, Any], dict[str, Any], bool]] = {
    "emb-1-unset": (RWO, RECREATE, CLAIM, False),
    "emb-1-rwo": (RWO, RECREATE, CLAIM, False),
    "emb-1-rwm": (RWM, ROLLING, CLAIM, False),
    "emb-2-unset": (RWM, ROLLING, CLAIM, True),
    "emb-2-rwm": (RWM, ROLLING, CLAIM, True),
    "ext-1-unset": (None, ROLLING, EMPTY, False),
    "ext-1-rwo": (None, ROLLING, EMPTY, False),
    "ext-1-rwm": (None, ROLLING, EMPTY, False),
    "ext-2-unset": (None, ROLLING, EMPTY, True),
    "ext-2-rwo": (None, ROLLING, EMPTY, True),
    "ext-2-rwm": (None, ROLLING, EMPTY, True),
}


@pytest.fixture(scope="module")
def rendered(kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec = load_spec(CASE / "spec.yaml")
    root = tmp_path_factory.mktemp("boundaries")
    write_tree(root, plan_tree(spec))
    names = [name for name, _ in spec.enabled()]
    assert sorted(names) == sorted(EXPECTED)
    texts = render(kustomize, [root / "overlays" / name for name in names])
    return {
        name: (spec.environments[name], load_rendering(text))
        for name, text in zip(names, texts, strict=True)
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replicas_database_and_access_mode(name: str, rendered: dict[str, Any]) -> None:
    access, strategy, volume, several = EXPECTED[name]
    settings, documents = rendered[name]
    by_kind: dict[str, list[Any]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    claims = by_kind.get("PersistentVolumeClaim", [])
    assert [c["spec"]["accessModes"] for c in claims] == ([[access]] if access else [])
    (deployment,) = by_kind["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == (2 if several else 1)
    assert spec["strategy"] == strategy
    pod = spec["template"]["spec"]
    assert pod["volumes"] == [volume]
    assert pod.get("topologySpreadConstraints") == (SPREAD if several else None)
    budgets = by_kind.get("PodDisruptionBudget", [])
    assert [b["spec"] for b in budgets] == (
        [{"maxUnavailable": 1, "selector": {"matchLabels": {"app": "llmgateway"}}}]
        if several
        else []
    )
    (container,) = pod["containers"]
    names = [entry["name"] for entry in container["env"]]
    external = name.startswith("ext-")
    assert [k for k in names if k in DATABASE_KEYS] == (DATABASE_KEYS if external else [])
    # The policy agrees: no error (LLMGW006 is the ReadWriteOnce/Recreate rule).
    findings = lint_environment(name, settings, documents)
    assert [f for f in findings if f.severity == "error"] == []


SPEC = """\
defaults:
  domain: llm.example.com
  ingress:
    tls:
      enabled: false
  auth:
    oauth2ProxyHost: auth.example.com
environments:
  prod:
    storage:
      size: {size}
"""


def claim(size: str) -> dict[str, list[Any]]:
    spec = parse_spec(SPEC.format(size=size).encode(), "spec.yaml")
    return {"prod": lower_environment(spec.environments["prod"], "prod")}


@pytest.mark.parametrize(
    ("before", "after", "shrinks"),
    [
        ("10Gi", "10G", True),  # 10 * 2^30 > 10 * 10^9
        ("10G", "10Gi", False),
        ("10Gi", "10240Mi", False),  # the same size written in another unit
        ("10240Mi", "10Gi", False),
        ("1G", "1000M", False),
        ("1000M", "1G", False),
        ("1G", "999M", True),
        ("1Gi", "1G", True),
        ("1Ti", "1024Gi", False),
        ("1T", "1Ti", False),
        ("1Ti", "1T", True),
        ("1Mi", "1M", True),
        ("1Ki", "1k", True),  # Kubernetes' decimal kilo is "k"; "1K" is refused
        ("2Gi", "1.5Gi", True),
        ("1.5Gi", "1536Mi", False),
    ],
)
def test_storage_shrink_at_unit_boundaries(before: str, after: str, shrinks: bool) -> None:
    review = diff_environments("base", claim(before), claim(after))
    shrinking = [r for r in review.risks if "storage request shrinks" in r.what]
    assert bool(shrinking) == shrinks, (before, after)
    (env,) = review.environments
    assert env.status == "changed"


def test_cpu_written_as_millicores_or_cores_is_accepted_both_ways() -> None:
    """`1000m` and `1` are the same CPU: both valid, each rendered as written."""
    text = SPEC.format(size="10Gi") + (
        "    resources:\n      requests: {cpu: '1', memory: 1G}\n"
        "      limits: {cpu: 1000m, memory: 1Gi}\n"
    )
    spec = parse_spec(text.encode(), "spec.yaml")
    deployment = next(
        r for r in lower_environment(spec.environments["prod"], "prod") if r["kind"] == "Deployment"
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "1G"},
        "limits": {"cpu": "1000m", "memory": "1Gi"},
    }
