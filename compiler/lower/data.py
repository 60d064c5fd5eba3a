"""Data services of the split topology and how the apps reach them.

`connection_env()` is the contract every split app container uses for PostgreSQL and
Redis: exactly DATABASE_URL, REDIS_HOST, REDIS_PORT and REDIS_PASSWORD, which upstream's
apps read (../shared/UPSTREAM.md "Connection env"). The resources of the data services
themselves (CloudNativePG Cluster, PostgreSQL and Redis StatefulSets) are made by
`data_services()`.
"""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.lower.meta import (
    POSTGRES,
    POSTGRES_SELECTOR,
    REDIS,
    REDIS_SELECTOR,
    Resource,
    labels,
    metadata,
)
from compiler.lower.secrets import secret_variable
from compiler.lower.security import data_checkov_skips, data_container_context, data_pod_context
from compiler.spec import POSTGRES_PASSWORD_KEY, REDIS_PASSWORD_KEY, Settings

DATA_VOLUME = "data"
# Requests and limits of upstream's chart (infra/helm/llmgateway/values.yaml;
# ../shared/UPSTREAM.md "Built-in data stores"), as (cpu, memory).
POSTGRES_REQUESTS = ("100m", "128Mi")
POSTGRES_LIMITS = ("500m", "512Mi")
REDIS_REQUESTS = ("50m", "64Mi")
REDIS_LIMITS = ("200m", "256Mi")
# The images' own users: postgres alpine 70:70 (docker-library/postgres@6edb0a8c
# 17/alpine3.23/Dockerfile:9-13), redis alpine 999:1000 (docker-library/redis@e9204996
# 7.4-rc/alpine/Dockerfile:11-13; unchanged in redis:8.4.0-alpine3.22, built 2026-01-28).
POSTGRES_USER_ID, POSTGRES_GROUP_ID = 70, 70
REDIS_USER_ID, REDIS_GROUP_ID = 999, 1000
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
# Anti-affinity between the Cluster's instances: `preferred` keeps every instance
# schedulable on a cluster with fewer nodes than instances, and lets a drained node's
# instance start elsewhere at once; the scheduler still places them on different nodes
# whenever it can. `required` would leave an instance Pending instead (CloudNativePG's
# default is preferred too: cloudnative-pg@4b5e244a docs/src/scheduling.md:53-56,91-93).
ANTI_AFFINITY = "preferred"


def database_env(settings: Settings) -> list[dict[str, Any]]:
    """DATABASE_URL (and what it is built from) for a split app container."""
    database = settings.database
    if database.mode == "cloudnative-pg":
        # The operator's app Secret: `uri` points at the `<cluster>-rw` Service.
        app_secret = f"{POSTGRES}{upstream.CNPG_APP_SECRET_SUFFIX}"
        return [secret_variable(upstream.DATABASE_URL, app_secret, upstream.CNPG_URI_KEY)]
    if database.mode == "postgres":
        # Kubernetes expands $(VAR) of a variable defined earlier in the same list, a
        # secretKeyRef one included; the generated password is hex, safe in a URL.
        user = database.name
        url = (
            f"postgres://{user}:$({POSTGRES_PASSWORD_KEY})@{POSTGRES}:"
            f"{upstream.POSTGRES_PORT}/{database.name}"
        )
        return [
            secret_variable(
                POSTGRES_PASSWORD_KEY, settings.auth_secret.name, POSTGRES_PASSWORD_KEY
            ),
            {"name": upstream.DATABASE_URL, "value": url},
        ]
    # external
    return [secret_variable(upstream.DATABASE_URL, database.secret_name, upstream.DATABASE_URL)]


def redis_env(settings: Settings) -> list[dict[str, Any]]:
    """REDIS_HOST, REDIS_PORT and REDIS_PASSWORD for a split app container."""
    redis = settings.redis
    if redis.mode == "in-cluster":
        return [
            {"name": upstream.REDIS_HOST, "value": REDIS},
            {"name": upstream.REDIS_PORT_VARIABLE, "value": str(upstream.REDIS_PORT)},
            secret_variable(upstream.REDIS_PASSWORD, settings.auth_secret.name, REDIS_PASSWORD_KEY),
        ]
    return [
        secret_variable(name, redis.secret_name, name)
        for name in (upstream.REDIS_HOST, upstream.REDIS_PORT_VARIABLE, upstream.REDIS_PASSWORD)
    ]


def connection_env(settings: Settings) -> list[dict[str, Any]]:
    """Every split app container's PostgreSQL and Redis variables, in this order."""
    return [*database_env(settings), *redis_env(settings)]


def data_services(settings: Settings, instance: str | None) -> list[Resource]:
    """The split topology's in-cluster data services (none for external ones)."""
    resources: list[Resource] = []
    if settings.database.mode == "cloudnative-pg":
        resources.append(cnpg_cluster(settings, instance))
    elif settings.database.mode == "postgres":
        resources += [
            postgres_stateful_set(settings, instance),
            postgres_service(settings, instance),
        ]
    if settings.redis.mode == "in-cluster":
        resources += [redis_stateful_set(settings, instance), redis_service(settings, instance)]
    return resources


def amounts(requests: tuple[str, str], limits: tuple[str, str]) -> dict[str, Any]:
    return {
        "requests": {"cpu": requests[0], "memory": requests[1]},
        "limits": {"cpu": limits[0], "memory": limits[1]},
    }


def cnpg_cluster(settings: Settings, instance: str | None) -> Resource:
    """A CloudNativePG Cluster: one primary and its replicas, each on its own claim.

    No `initdb.secret`: the operator then makes `<cluster>-app`, whose `uri` the apps
    read (connection_env). With one instance the operator's PDBs would block every node
    drain, so they are off (cloudnative-pg@4b5e244a docs/src/kubernetes_upgrade.md:69-97).
    """
    instances = settings.database_instances
    storage: dict[str, Any] = {"size": settings.storage.size}
    if settings.storage.class_name is not None:
        storage["storageClass"] = settings.storage.class_name
    name = settings.database.name
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": metadata(POSTGRES, settings, instance),
        "spec": {
            "instances": instances,
            "imageName": upstream.CNPG_POSTGRES_IMAGE,
            "enablePDB": instances > 1,
            "bootstrap": {"initdb": {"database": name, "owner": name}},
            "storage": storage,
            "resources": amounts(POSTGRES_REQUESTS, POSTGRES_LIMITS),
            "affinity": {
                "enablePodAntiAffinity": True,
                "topologyKey": HOSTNAME_TOPOLOGY,
                "podAntiAffinityType": ANTI_AFFINITY,
            },
        },
    }


def exec_probe(command: list[str], timings: tuple[int, int, int]) -> dict[str, Any]:
    initial_delay, period, timeout = timings
    return {
        "exec": {"command": command},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
    }


def claim_template(settings: Settings, size: str, instance: str | None) -> dict[str, Any]:
    """One ReadWriteOnce claim per pod of a StatefulSet, of the spec's storage class."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"]}
    if settings.storage.class_name is not None:
        spec["storageClassName"] = settings.storage.class_name
    spec["resources"] = {"requests": {"storage": size}}
    # Labelled like every resource (kustomize's labels transformer does the same).
    return {"metadata": {"name": DATA_VOLUME, "labels": labels(instance)}, "spec": spec}


def stateful_set(
    name: str,
    selector: dict[str, str],
    instance: str | None,
    settings: Settings,
    pod_spec: dict[str, Any],
    claim: dict[str, Any],
) -> Resource:
    """One pod with its own claim; the Service of the same name governs it."""
    meta = metadata(name, settings, instance)
    meta["annotations"] = data_checkov_skips()
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta,
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {"labels": {**selector, **labels(instance)}},
                "spec": pod_spec,
            },
            "volumeClaimTemplates": [claim],
        },
    }


def cluster_ip_service(
    name: str,
    selector: dict[str, str],
    port_name: str,
    port: int,
    settings: Settings,
    instance: str | None,
) -> Resource:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, settings, instance),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector),
            "ports": [{"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def scratch(name: str, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An emptyDir for a path the image writes outside its data (the root is read-only)."""
    return {"name": name, "emptyDir": {}}, {"name": name, "mountPath": path}


def postgres_stateful_set(settings: Settings, instance: str | None) -> Resource:
    """PostgreSQL as upstream's chart runs it, as the image's postgres user."""
    name = settings.database.name
    ready = ["pg_isready", "-U", name, "-d", name]
    run_volume, run_mount = scratch("run", "/var/run/postgresql")  # the server's socket
    tmp_volume, tmp_mount = scratch("tmp", "/tmp")
    container: dict[str, Any] = {
        "name": "postgres",
        "image": upstream.POSTGRES_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "postgresql", "containerPort": upstream.POSTGRES_PORT, "protocol": "TCP"}
        ],
        "env": [
            {"name": "POSTGRES_USER", "value": name},
            secret_variable(
                POSTGRES_PASSWORD_KEY, settings.auth_secret.name, POSTGRES_PASSWORD_KEY
            ),
            {"name": "POSTGRES_DB", "value": name},
            {"name": upstream.PGDATA, "value": upstream.POSTGRES_PGDATA},
        ],
        "resources": amounts(POSTGRES_REQUESTS, POSTGRES_LIMITS),
        "securityContext": data_container_context(),
        "readinessProbe": exec_probe(ready, upstream.POSTGRES_READINESS),
        "livenessProbe": exec_probe(ready, upstream.POSTGRES_LIVENESS),
        # Kubernetes sends SIGTERM, PostgreSQL's smart shutdown, which waits for the
        # apps' pooled connections to close until the kill; a fast shutdown ends them
        # and checkpoints, so the next start needs no crash recovery.
        "lifecycle": {"preStop": {"exec": {"command": ["pg_ctl", "stop", "-m", "fast"]}}},
        "volumeMounts": [
            {"name": DATA_VOLUME, "mountPath": upstream.POSTGRES_DATA_MOUNT},
            run_mount,
            tmp_mount,
        ],
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": data_pod_context(POSTGRES_USER_ID, POSTGRES_GROUP_ID),
        "containers": [container],
        "volumes": [run_volume, tmp_volume],
    }
    claim = claim_template(settings, settings.storage.size, instance)
    return stateful_set(POSTGRES, POSTGRES_SELECTOR, instance, settings, pod_spec, claim)


def postgres_service(settings: Settings, instance: str | None) -> Resource:
    return cluster_ip_service(
        POSTGRES, POSTGRES_SELECTOR, "postgresql", upstream.POSTGRES_PORT, settings, instance
    )


def redis_stateful_set(settings: Settings, instance: str | None) -> Resource:
    """Redis with a password and append-only persistence on its claim, as its user."""
    secret = settings.auth_secret.name
    # Exec probes get the container's environment but no `$(VAR)` expansion of a
    # secret-sourced variable; redis-cli reads REDISCLI_AUTH itself. grep: redis-cli
    # may exit 0 on an error reply (NOAUTH, LOADING).
    ping = ["sh", "-c", "redis-cli ping | grep -qx PONG"]
    container: dict[str, Any] = {
        "name": "redis",
        "image": upstream.REDIS_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        # The image's entrypoint puts redis-server before arguments starting with "-";
        # Kubernetes expands $(REDIS_PASSWORD) in args (upstream's compose file runs the
        # same flags: infra/docker-compose.split.yml:268-282).
        "args": ["--appendonly", "yes", "--requirepass", f"$({upstream.REDIS_PASSWORD})"],
        "ports": [{"name": "redis", "containerPort": upstream.REDIS_PORT, "protocol": "TCP"}],
        "env": [
            secret_variable(upstream.REDIS_PASSWORD, secret, REDIS_PASSWORD_KEY),
            secret_variable(upstream.REDISCLI_AUTH, secret, REDIS_PASSWORD_KEY),
        ],
        "resources": amounts(REDIS_REQUESTS, REDIS_LIMITS),
        "securityContext": data_container_context(),
        "readinessProbe": exec_probe(ping, upstream.REDIS_READINESS),
        "livenessProbe": exec_probe(ping, upstream.REDIS_LIVENESS),
        "volumeMounts": [{"name": DATA_VOLUME, "mountPath": upstream.REDIS_DATA_MOUNT}],
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": data_pod_context(REDIS_USER_ID, REDIS_GROUP_ID),
        "containers": [container],
    }
    claim = claim_template(settings, settings.redis.size, instance)
    return stateful_set(REDIS, REDIS_SELECTOR, instance, settings, pod_spec, claim)


def redis_service(settings: Settings, instance: str | None) -> Resource:
    return cluster_ip_service(
        REDIS, REDIS_SELECTOR, "redis", upstream.REDIS_PORT, settings, instance
    )
