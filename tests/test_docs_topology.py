"""docs/environments.md shows each environment's topology and any risk it accepts."""

from __future__ import annotations

from compiler.docs import environments_page
from compiler.load import parse_spec
from compiler.spec import shared_data_directory_message
from tests.conftest import CASES

UNIFIED = (CASES / "valid" / "unified-replicas-shared-data-acknowledged" / "spec.yaml").read_text()
SPLIT_PROD = """  prod:
    production: true
    topology: split
    database:
      mode: DATABASE
    redis:
      REDIS
    services:
      gateway:
        replicas: 3
      api:
        replicas: 2
      ui:
        autoscaling:
          minReplicas: 2
          maxReplicas: 6
          targetCpuUtilizationPercentage: 70
      docs: {}
"""


def section(text: str, environment: str) -> str:
    page = environments_page(parse_spec(text.encode(), "spec/llmgateway.yaml"))
    return page.split(f"\n## {environment}\n")[1].split("\n## ")[0]


def split(database: str = "cloudnative-pg", redis: str = "mode: in-cluster") -> str:
    head = UNIFIED.partition("  prod:\n")[0]
    return head + SPLIT_PROD.replace("DATABASE", database).replace("REDIS", redis)


def rows(text: str) -> dict[str, list[str]]:
    """The topology table's rows by their first cell."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0].split(" ")[0] in (
            "Deployment",
            "CloudNativePG",
            "StatefulSet",
            "PersistentVolumeClaim",
            "Secret",
        ):
            found[cells[0]] = cells[1:]
    return found


def test_unified_multi_replica_states_the_acknowledged_risk_in_words() -> None:
    prod = section(UNIFIED, "prod")
    assert prod.splitlines()[1].startswith(
        "Namespace `llmgateway`, unified topology, 3 replicas, image "
    )
    table = rows(prod)
    assert table["Deployment `llmgateway`"] == [
        "every service, PostgreSQL and Redis in one container",
        "3 pods",
    ]
    assert table["PersistentVolumeClaim `llmgateway-data`"][1] == "10Gi ReadWriteMany"
    risk = (
        "**Acknowledged risk** (`database.acknowledgeSharedDataDirectory: true`): "
        + shared_data_directory_message(3)
        + "."
    )
    assert risk in prod.splitlines()
    for failure in ("removes postmaster.pid", "runs initdb at once", "its own Redis"):
        assert failure in risk
    assert 'pod["Deployment llmgateway, 3 pod(s)"]' in prod
    # One pod: nothing to acknowledge, nothing said.
    assert "Acknowledged risk" not in section(UNIFIED, "dev")


def test_split_lists_each_service_with_its_pods_and_the_data_services() -> None:
    prod = section(split(), "prod")
    assert prod.splitlines()[1] == (
        "Namespace `llmgateway`, split topology (6 services), images "
        "`ghcr.io/theopenco/llmgateway-<service>:latest`, cloudnative-pg database, "
        "in-cluster Redis, production."
    )
    table = rows(prod)
    assert [name for name in table if name.startswith("Deployment")] == [
        "Deployment `llmgateway-api`",
        "Deployment `llmgateway-gateway`",
        "Deployment `llmgateway-ui`",
        "Deployment `llmgateway-admin`",
        "Deployment `llmgateway-worker`",
        "Deployment `llmgateway-docs`",
    ]
    assert table["Deployment `llmgateway-gateway`"][1] == "3 pods"
    assert table["Deployment `llmgateway-api`"][1] == "2 pods"
    assert table["Deployment `llmgateway-admin`"][1] == "1 pod"
    assert table["Deployment `llmgateway-ui`"][1] == ("2-6 pods (HorizontalPodAutoscaler, 70% CPU)")
    # production: 3 instances unless set.
    assert table["CloudNativePG Cluster `llmgateway-postgres`"] == [
        "PostgreSQL, 3 instances (one primary, 2 replicas), database and owner `llmgateway`",
        "10Gi ReadWriteOnce per instance",
    ]
    assert table["StatefulSet `llmgateway-redis`"] == [
        "Redis, append-only, password from Secret `llmgateway-auth`",
        "2Gi ReadWriteOnce",
    ]
    assert "Acknowledged risk" not in prod
    diagram = prod.split("```mermaid\n")[1].split("```")[0].splitlines()
    assert '  svc_ui["Deployment llmgateway-ui, 2-6 pods (HorizontalPodAutoscaler, 70% CPU)"]' in (
        diagram
    )
    assert "  ingress --> svc_docs" in diagram
    assert "  ingress --> svc_worker" not in diagram  # no port, no host
    cluster = (
        '  data_0[("CloudNativePG Cluster llmgateway-postgres: PostgreSQL, 3 instances (one '
        'primary, 2 replicas), database and owner llmgateway, 10Gi ReadWriteOnce per instance")]'
    )
    assert cluster in diagram
    for client in ("api", "gateway", "worker"):
        assert f"  svc_{client} --> data_0" in diagram
        assert f"  svc_{client} --> data_1" in diagram
    assert "  svc_ui --> data_0" not in diagram
    assert (
        '  secret[("Secret llmgateway-auth: AUTH_SECRET, GATEWAY_API_KEY_HASH_SECRET, '
        'REDIS_PASSWORD")]' in diagram
    )
    assert diagram[1] == ('  client(["client"]) --> ingress["ingress-nginx, class nginx: 5 hosts"]')


def test_split_with_one_postgres_and_an_external_redis() -> None:
    prod = section(split("postgres", "mode: external\n      secretName: redis-conn"), "prod")
    table = rows(prod)
    assert table["StatefulSet `llmgateway-postgres`"] == [
        "PostgreSQL, 1 instance, database `llmgateway`",
        "10Gi ReadWriteOnce",
    ]
    assert table["Secret `redis-conn`"] == [
        "external Redis (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD)",
        "outside the cluster",
    ]
    assert "StatefulSet `llmgateway-redis`" not in table
    assert ", postgres database, external Redis, production." in prod.splitlines()[1]
