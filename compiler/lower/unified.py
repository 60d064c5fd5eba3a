"""The unified topology: one Deployment of the all-in-one image, its init container, its
claim and its Service.

The unified image runs every app, PostgreSQL and Redis in one container under supervisord
(../shared/UPSTREAM.md "Unified image"); its data lives on one volume.
"""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.lower.availability import topology_spread
from compiler.lower.meta import APP, SELECTOR, Resource, labels, metadata, urls
from compiler.lower.secrets import secret_variable
from compiler.lower.security import (
    checkov_skips,
    chown_container_context,
    pod_security_context,
    root_image_container_context,
)
from compiler.spec import Settings

DATA_VOLUME = "data"
DATA_MOUNT = "/var/lib/postgresql"
INIT_IMAGE = "busybox:1.37.0"
CONTAINER_PORTS = (
    ("ui", upstream.UI_PORT),
    ("api", upstream.API_PORT),
    ("gateway", upstream.GATEWAY_PORT),
    ("docs", upstream.DOCS_PORT),
    ("admin", upstream.ADMIN_PORT),
)
# Docs and playground are deliberately not exposed by the Service.
SERVICE_PORTS = (
    ("ui", upstream.UI_PORT),
    ("api", upstream.API_PORT),
    ("gateway", upstream.GATEWAY_PORT),
    ("admin", upstream.ADMIN_PORT),
)


def persistent_volume_claim(settings: Settings, instance: str | None) -> Resource:
    spec: dict[str, Any] = {"accessModes": [settings.access_mode]}
    if settings.storage.class_name is not None:
        spec["storageClassName"] = settings.storage.class_name
    spec["resources"] = {"requests": {"storage": settings.storage.size}}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(f"{APP}-data", settings, instance),
        "spec": spec,
    }


def environment_variables(settings: Settings) -> list[dict[str, Any]]:
    """The container's env: the module's, in its order, plus what the app also needs."""
    url = urls(settings)
    secret = settings.auth_secret
    env: list[dict[str, Any]] = [
        {"name": upstream.PGDATA, "value": upstream.PGDATA_PATH},
        secret_variable(upstream.AUTH_SECRET, secret.name, secret.key),
        secret_variable(upstream.API_KEY_HASH_SECRET, secret.name, secret.api_key_hash_key),
        {"name": upstream.UI_URL, "value": url["ui"]},
        {"name": upstream.APP_URL, "value": url["ui"]},
        {"name": upstream.API_URL, "value": url["api"]},
        # Server-side calls inside the pod, never shown to a user.
        {"name": upstream.API_BACKEND_URL, "value": f"http://localhost:{upstream.API_PORT}"},
        {"name": upstream.ADMIN_URL, "value": url["admin"]},
        {"name": upstream.GATEWAY_URL, "value": url["gateway"]},
        {"name": upstream.ORIGIN_URLS, "value": ",".join((url["ui"], url["api"], url["admin"]))},
        {"name": upstream.COOKIE_DOMAIN, "value": settings.domain},
        {"name": upstream.PASSKEY_RP_ID, "value": settings.domain},
        {"name": upstream.ADMIN_EMAILS, "value": ",".join(settings.admin_emails)},
        {"name": upstream.HOSTED, "value": "false"},
        {"name": upstream.PAID_MODE, "value": "false"},
    ]
    if not settings.telemetry:
        env.append({"name": upstream.TELEMETRY_ACTIVE, "value": "false"})
    env.append(
        {
            "name": upstream.SHUTDOWN_GRACE_PERIOD_MS,
            "value": str(settings.shutdown.drain * 1000),
        }
    )
    env.extend(secret_variable(key, secret.name, key) for key in secret.extra_keys)
    if settings.database.mode == "external":
        database_secret = settings.database.secret_name
        env.extend(
            secret_variable(key, database_secret, key) for key in upstream.EXTERNAL_DATABASE_KEYS
        )
    return env


def probe(
    path: str, initial_delay: int, period: int, failure_threshold: int, timeout: int = 5
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": upstream.GATEWAY_PORT},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failure_threshold,
    }


def init_command(settings: Settings) -> str:
    """Give the data volume to PostgreSQL's user; any failure fails the init container.

    The mount is the volume root's parent so that lost+found does not break initdb; the
    data directory exists only after the first start's initdb, hence the test.
    """
    owner = f"{settings.database.postgres_user_id}:{settings.database.postgres_group_id}"
    data = upstream.PGDATA_PATH
    return f"set -eu; chown -R {owner} {DATA_MOUNT}; if [ -d {data} ]; then chmod 750 {data}; fi"


def deployment(settings: Settings, instance: str | None) -> Resource:
    tag = settings.image.tag
    container: dict[str, Any] = {
        "name": APP,
        "image": f"{settings.image.repository}:{tag}",
        "imagePullPolicy": "Always" if tag == "latest" else "IfNotPresent",
        "ports": [
            {"name": name, "containerPort": port, "protocol": "TCP"}
            for name, port in CONTAINER_PORTS
        ],
        "env": environment_variables(settings),
        "resources": {
            "requests": {
                "cpu": settings.resources.requests.cpu,
                "memory": settings.resources.requests.memory,
            },
            "limits": {
                "cpu": settings.resources.limits.cpu,
                "memory": settings.resources.limits.memory,
            },
        },
        "volumeMounts": [{"name": DATA_VOLUME, "mountPath": DATA_MOUNT}],
        # The image starts as root (supervisord) and drops to the postgres user itself.
        "securityContext": root_image_container_context(),
        # Liveness skips the dependencies, so a slow database does not restart the pod; the
        # gateway's own health check may take 15 s under load (upstream.py).
        "livenessProbe": probe(
            upstream.LIVENESS_PATH, 60, 30, 3, upstream.GATEWAY_LIVENESS_TIMEOUT_SECONDS
        ),
        "readinessProbe": probe(upstream.HEALTH_PATH, 30, 10, 3),
        # About 180 s for PostgreSQL, Redis and migrations on first start.
        "startupProbe": probe(upstream.HEALTH_PATH, 10, 10, 18),
    }
    init_container = {
        "name": "fix-permissions",
        "image": INIT_IMAGE,
        "command": ["sh", "-c", init_command(settings)],
        "securityContext": chown_container_context(),
        # chown of the data directory: little memory, bounded CPU.
        "resources": {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        "volumeMounts": [{"name": DATA_VOLUME, "mountPath": DATA_MOUNT}],
    }
    if settings.database.mode == "embedded":
        volume: dict[str, Any] = {
            "name": DATA_VOLUME,
            "persistentVolumeClaim": {"claimName": f"{APP}-data"},
        }
    else:
        volume = {"name": DATA_VOLUME, "emptyDir": {}}
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,  # the app never calls the Kubernetes API
        "securityContext": pod_security_context(settings.database.postgres_group_id),
        # SIGTERM, then the gateway drains (SHUTDOWN_GRACE_PERIOD_MS, below this) before the
        # kill: streamed completions may run for minutes.
        "terminationGracePeriodSeconds": settings.shutdown.termination_grace_period_seconds,
        "initContainers": [init_container],
        "containers": [container],
        "volumes": [volume],
    }
    if settings.replicas > 1:
        pod_spec["topologySpreadConstraints"] = topology_spread(SELECTOR)
    # Two pods on one ReadWriteOnce volume corrupt the PostgreSQL WAL: stop the old pod
    # before starting the new one. ReadWriteMany allows a rolling update.
    if settings.access_mode == "ReadWriteOnce" and settings.database.mode == "embedded":
        strategy: dict[str, Any] = {"type": "Recreate"}
    else:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    meta = metadata(APP, settings, instance)
    meta["annotations"] = checkov_skips(tag)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": settings.replicas,
            "selector": {"matchLabels": dict(SELECTOR)},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {**SELECTOR, **labels(instance)}},
                "spec": pod_spec,
            },
        },
    }


def service(settings: Settings, instance: str | None) -> Resource:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(APP, settings, instance),
        "spec": {
            "type": settings.service_type,
            "selector": dict(SELECTOR),
            "ports": [
                {"name": name, "port": port, "targetPort": port, "protocol": "TCP"}
                for name, port in SERVICE_PORTS
            ],
        },
    }
