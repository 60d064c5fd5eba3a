"""Issue 13's "Done when", on the committed prod as the real kustomize renders overlays/prod.

Each expectation is written from the issue and ../shared/UPSTREAM.md (sections 1 and 3),
not from the compiler's output: upstream's split services with their images, a
CloudNativePG Cluster of 3 instances on ReadWriteOnce claims, a Redis whose password comes
from a Secret, the connection env the apps read, a disruption budget per multi-replica
Deployment, the NetworkPolicies of point 4 and a single migrator. The committed dev stays
the Terraform module's one-pod deployment (its facts: tests/test_facts.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import load_documents, run_cli
from tests.test_split_network import Pod, pod, reaches

NAMESPACE = "llmgateway"
# UPSTREAM 1: upstream's services, one Deployment each, and how many pods the committed
# spec asks for (spec/llmgateway.yaml, environments.prod.services).
REPLICAS = {"api": 2, "gateway": 3, "ui": 2, "admin": 1, "worker": 1}
# UPSTREAM 1 (_helpers.tpl:74-83): ghcr.io/theopenco/llmgateway-<service>:<tag>.
IMAGE = "ghcr.io/theopenco/llmgateway-{}"
# UPSTREAM 1 "PG+Redis wait": the services that use PostgreSQL and Redis.
DATA_CLIENTS = ("api", "gateway", "worker")
# UPSTREAM 3: the operator's app Secret `<cluster>-app`, key `uri` (pkg/specs/secrets.go:44-95).
DATABASE_URL = {"secretKeyRef": {"name": "llmgateway-postgres-app", "key": "uri"}}
# The in-cluster Redis: its Service, port 6379 (UPSTREAM 1, redis-statefulset.yaml) and the
# password key of the auth Secret (the spec's contract for redis.mode: in-cluster).
REDIS_PASSWORD = {"secretKeyRef": {"name": "llmgateway-auth", "key": "REDIS_PASSWORD"}}
APP_PORT = 8080  # the split pods' port behind each Service's 80 (README "The split topology")

Rendered = list[Any]


@pytest.fixture(scope="module")
def prod(kustomize: Kustomize) -> Rendered:
    result = run_cli("-C", str(ROOT), "build", "overlays/prod")
    assert result.code == 0, result.err
    return load_documents(result.out)


@pytest.fixture(scope="module")
def dev(kustomize: Kustomize) -> Rendered:
    result = run_cli("-C", str(ROOT), "build", "overlays/dev")
    assert result.code == 0, result.err
    return load_documents(result.out)


def of_kind(documents: Rendered, kind: str) -> dict[str, Any]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def pod_spec(workload: Any) -> Any:
    return workload["spec"]["template"]["spec"]


def containers(workload: Any) -> list[Any]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: Any) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def test_a_deployment_per_upstream_service_with_its_split_image(prod: Rendered) -> None:
    deployments = of_kind(prod, "Deployment")
    assert sorted(deployments) == sorted(f"llmgateway-{s}" for s in REPLICAS)
    for service, replicas in REPLICAS.items():
        deployment = deployments[f"llmgateway-{service}"]
        assert deployment["spec"]["replicas"] == replicas, service
        (container,) = pod_spec(deployment)["containers"]
        repository, _, tag = container["image"].rpartition(":")
        assert (repository, tag) == (IMAGE.format(service), "latest"), service
    # No unified image is left anywhere in prod.
    for workload in [*deployments.values(), *of_kind(prod, "StatefulSet").values()]:
        for container in containers(workload):
            assert "llmgateway-unified" not in container["image"]


def test_no_workload_with_several_pods_mounts_a_claim(prod: Rendered) -> None:
    autoscaled = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in of_kind(prod, "HorizontalPodAutoscaler").values()
    }
    workloads = [*of_kind(prod, "Deployment").values(), *of_kind(prod, "StatefulSet").values()]
    several = [
        w
        for w in workloads
        if w["spec"].get("replicas", 1) > 1 or w["metadata"]["name"] in autoscaled
    ]
    assert {w["metadata"]["name"] for w in several} == {
        "llmgateway-api",
        "llmgateway-gateway",
        "llmgateway-ui",
    }
    for workload in several:
        volumes = pod_spec(workload).get("volumes", [])
        assert not [v for v in volumes if "persistentVolumeClaim" in v], workload["metadata"]
        assert "volumeClaimTemplates" not in workload["spec"]
    # And no claim shared by pods: prod has no PersistentVolumeClaim of its own at all (the
    # unified llmgateway-data is gone); the data services' claims are per pod.
    assert of_kind(prod, "PersistentVolumeClaim") == {}


def test_a_cloudnative_pg_cluster_of_three_instances_on_read_write_once(prod: Rendered) -> None:
    (cluster,) = [d for d in prod if d["kind"] == "Cluster"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["metadata"]["name"] == "llmgateway-postgres"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    # Each instance gets its own claim of storage.size; the operator makes them
    # ReadWriteOnce unless a pvcTemplate asks otherwise
    # (cloudnative-pg@4b5e244a:pkg/reconciler/persistentvolumeclaim/build.go:64).
    assert spec["storage"]["size"] == "10Gi"
    modes = spec["storage"].get("pvcTemplate", {}).get("accessModes", ["ReadWriteOnce"])
    assert modes == ["ReadWriteOnce"]
    assert "walStorage" not in spec or spec["walStorage"].get("pvcTemplate", {}).get(
        "accessModes", ["ReadWriteOnce"]
    ) == ["ReadWriteOnce"]
    # The app's database and owner, as the apps' DATABASE_URL names them (UPSTREAM 3).
    assert spec["bootstrap"]["initdb"] == {"database": "llmgateway", "owner": "llmgateway"}
    # Instances on different nodes where there are (UPSTREAM 3, scheduling.md:53-56).
    assert spec["affinity"]["enablePodAntiAffinity"] is True
    assert spec["affinity"]["topologyKey"] == "kubernetes.io/hostname"


def test_redis_takes_its_password_from_a_secret(prod: Rendered) -> None:
    redis = of_kind(prod, "StatefulSet")["llmgateway-redis"]
    assert redis["spec"]["replicas"] == 1
    (container,) = pod_spec(redis)["containers"]
    assert container["env"][0] == {"name": "REDIS_PASSWORD", "valueFrom": REDIS_PASSWORD}
    args = container.get("args", container.get("command", []))
    at = args.index("--requirepass")
    assert args[at + 1] == "$(REDIS_PASSWORD)"  # expanded by the kubelet from the Secret
    assert args[args.index("--appendonly") + 1] == "yes"  # issue 13: append-only persistence
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # No literal password anywhere in prod: every PASSWORD variable is a Secret reference.
    for workload in [*of_kind(prod, "Deployment").values(), redis]:
        for each in containers(workload):
            for name, item in env_of(each).items():
                if "PASSWORD" in name or name in ("DATABASE_URL", "REDISCLI_AUTH"):
                    assert "value" not in item, (workload["metadata"]["name"], name)
                    assert "secretKeyRef" in item["valueFrom"], name


def test_every_app_container_reads_the_cluster_secret_and_redis(prod: Rendered) -> None:
    deployments = of_kind(prod, "Deployment")
    for service in DATA_CLIENTS:
        for container in containers(deployments[f"llmgateway-{service}"]):
            env = env_of(container)
            assert env["DATABASE_URL"] == {"name": "DATABASE_URL", "valueFrom": DATABASE_URL}
            assert env["REDIS_HOST"] == {"name": "REDIS_HOST", "value": "llmgateway-redis"}
            assert env["REDIS_PORT"] == {"name": "REDIS_PORT", "value": "6379"}
            assert env["REDIS_PASSWORD"] == {"name": "REDIS_PASSWORD", "valueFrom": REDIS_PASSWORD}
            assert "REDIS_URL" not in env  # UPSTREAM 1: the apps read REDIS_* only
    # The Redis the apps name is the in-cluster one, on the port they name.
    redis = of_kind(prod, "Service")["llmgateway-redis"]
    assert [p["port"] for p in redis["spec"]["ports"]] == [6379]


def test_a_disruption_budget_for_every_deployment_with_several_pods(prod: Rendered) -> None:
    budgets = list(of_kind(prod, "PodDisruptionBudget").values())
    for name, deployment in of_kind(prod, "Deployment").items():
        selecting = [
            b
            for b in budgets
            if b["spec"]["selector"]
            == {"matchLabels": deployment["spec"]["selector"]["matchLabels"]}
        ]
        if deployment["spec"]["replicas"] > 1:
            (budget,) = selecting
            assert budget["spec"]["maxUnavailable"] == 1, name
        else:
            assert selecting == [], name


def app_pod(service: str) -> Pod:
    return Pod(NAMESPACE, (("app", "llmgateway"), ("component", service)))


CONTROLLER = pod("ingress-nginx", **{"app.kubernetes.io/name": "ingress-nginx"})
OTHER_CONTROLLER_POD = pod("ingress-nginx", run="debug")
STRANGER = pod(NAMESPACE, run="debug")
OPERATOR = pod("cnpg-system", **{"app.kubernetes.io/name": "cloudnative-pg"})
INSTANCE = pod(
    NAMESPACE, **{"cnpg.io/cluster": "llmgateway-postgres", "cnpg.io/podRole": "instance"}
)
REDIS = pod(NAMESPACE, app="llmgateway-redis")
INTERNET = Pod(None)
WEB = ("api", "gateway", "ui", "admin")
# Issue 13 point 4, for the committed prod (egress open: restrictEgress is not set).
POLICY_TABLE: list[tuple[str, Pod, Pod, int, bool]] = [
    *[(f"controller->{s}", CONTROLLER, app_pod(s), APP_PORT, True) for s in WEB],
    *[
        (f"controller-namespace-other->{s}", OTHER_CONTROLLER_POD, app_pod(s), APP_PORT, False)
        for s in WEB
    ],
    *[(f"stranger->{s}", STRANGER, app_pod(s), APP_PORT, False) for s in WEB],
    ("controller->worker", CONTROLLER, app_pod("worker"), APP_PORT, False),
    ("ui->api", app_pod("ui"), app_pod("api"), APP_PORT, True),
    ("admin->api", app_pod("admin"), app_pod("api"), APP_PORT, True),
    *[(f"{s}->postgres", app_pod(s), INSTANCE, 5432, True) for s in DATA_CLIENTS],
    *[(f"{s}->redis", app_pod(s), REDIS, 6379, True) for s in DATA_CLIENTS],
    ("controller->postgres", CONTROLLER, INSTANCE, 5432, False),
    ("stranger->postgres", STRANGER, INSTANCE, 5432, False),
    ("controller->redis", CONTROLLER, REDIS, 6379, False),
    ("stranger->redis", STRANGER, REDIS, 6379, False),
    # cloudnative-pg@4b5e244a docs/src/networking.md:26, security.md:797-827.
    ("operator->postgres:8000", OPERATOR, INSTANCE, 8000, True),
    ("operator->postgres:5432", OPERATOR, INSTANCE, 5432, True),
    ("operator->redis", OPERATOR, REDIS, 6379, False),
    # instance_manager.md:205-216: instances stream from each other.
    ("instance->instance:5432", INSTANCE, INSTANCE, 5432, True),
    ("instance->instance:8000", INSTANCE, INSTANCE, 8000, True),
    # The providers, on 443.
    ("gateway->internet:443", app_pod("gateway"), INTERNET, 443, True),
    ("worker->internet:443", app_pod("worker"), INTERNET, 443, True),
]


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [row[1:] for row in POLICY_TABLE],
    ids=[row[0] for row in POLICY_TABLE],
)
def test_network_policies_of_point_4(
    prod: Rendered, source: Pod, target: Pod, port: int, allowed: bool
) -> None:
    policies = list(of_kind(prod, "NetworkPolicy").values())
    assert reaches(policies, source, target, port) == allowed


def test_the_policy_tables_pods_are_the_rendered_ones(prod: Rendered) -> None:
    """The table's labels are those of the pods prod runs, so a row cannot pass by naming
    pods that do not exist."""
    deployments = of_kind(prod, "Deployment")
    for service in REPLICAS:
        labels = deployments[f"llmgateway-{service}"]["spec"]["template"]["metadata"]["labels"]
        assert app_pod(service).label_map.items() <= labels.items(), service
    redis = of_kind(prod, "StatefulSet")["llmgateway-redis"]
    assert REDIS.label_map.items() <= redis["spec"]["template"]["metadata"]["labels"].items()


def test_exactly_one_migrator(prod: Rendered) -> None:
    # UPSTREAM 1: the api migrates at start when RUN_MIGRATIONS=true (serve.ts:41-52); every
    # app container gets it false from the ConfigMap and no container sets it otherwise.
    (config,) = of_kind(prod, "ConfigMap").values()
    assert config["data"]["RUN_MIGRATIONS"] == "false"
    migrators = []
    for name, deployment in of_kind(prod, "Deployment").items():
        for container in containers(deployment):
            assert "RUN_MIGRATIONS" not in env_of(container), (name, container["name"])
            assert {"configMapRef": {"name": "llmgateway-config"}} in container.get("envFrom", [])
            script = " ".join(container.get("command", []) + container.get("args", []))
            if "runMigrations" in script:
                migrators.append((name, container["name"], script))
    # Only the api's init container migrates, under a PostgreSQL advisory lock held for the
    # whole run, so of several api pods starting together one migrates at a time.
    ((name, container, script),) = migrators
    assert (name, container) == ("llmgateway-api", "migrate")
    assert script.index("pg_advisory_lock") < script.index("runMigrations()")
    assert script.index("runMigrations()") < script.index("pg_advisory_unlock")
    (init,) = pod_spec(of_kind(prod, "Deployment")["llmgateway-api"])["initContainers"]
    assert init["name"] == "migrate"


def test_dev_is_still_the_modules_deployment(dev: Rendered) -> None:
    # FACTS.md: one Deployment `llmgateway` of the unified image, Recreate, on the
    # ReadWriteOnce claim llmgateway-data; no split service, no data service.
    (deployment,) = of_kind(dev, "Deployment").values()
    assert deployment["metadata"]["name"] == "llmgateway"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = pod_spec(deployment)["containers"]
    assert container["image"] == "ghcr.io/theopenco/llmgateway-unified:latest"
    (claim,) = of_kind(dev, "PersistentVolumeClaim").values()
    assert claim["metadata"]["name"] == "llmgateway-data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "llmgateway-data"}} in pod_spec(
        deployment
    )["volumes"]
    assert not [d for d in dev if d["kind"] in ("Cluster", "StatefulSet", "ConfigMap")]
