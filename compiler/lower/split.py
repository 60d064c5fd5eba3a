"""The split topology: upstream's services as one Deployment each, their Services, the
ConfigMap they share, and the api's migration runner.

Each service runs its own image, `<image.splitRepositoryPrefix>-<service>`, with the
probes, resources and grace period of upstream's chart (../shared/UPSTREAM.md section 1,
held in compiler/upstream.py). What they share (URLs, switches, timeouts) is one
ConfigMap read with envFrom; the secrets are Secret references per key, as in the unified
Deployment; PostgreSQL and Redis come from `data.connection_env()`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from compiler import upstream
from compiler.lower.availability import runs_several_pods, topology_spread
from compiler.lower.data import connection_env
from compiler.lower.meta import (
    CONFIG_MAP,
    Resource,
    component_selector,
    labels,
    metadata,
    service_name,
    urls,
)
from compiler.lower.secrets import secret_variable
from compiler.lower.security import (
    split_checkov_skips,
    split_container_context,
    split_pod_security_context,
)
from compiler.spec import Service, ServiceName, Settings

# The images listen on PORT, 80 in their Dockerfiles; they run as root with every
# capability dropped, NET_BIND_SERVICE included, which a port below 1024 needs. So the
# ConfigMap sets PORT to this unprivileged port, the containers name it `http`, and each
# Service keeps upstream's port 80 in front of it (targetPort: http).
CONTAINER_PORT = 8080
PORT_NAME = "http"
COMPONENT_LABEL = "app.kubernetes.io/component"
CHECKSUM_ANNOTATION = "checksum/config"
MIGRATION_CONTAINER = "migrate"
# The advisory lock every migration runner takes: any fixed 64-bit key, the same for all.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"llmgateway migrations").digest()[:7])
# A startup probe on every web container (lint LLMGW004): the liveness check, every 10 s,
# for up to 3 minutes, as the unified pod's; liveness and readiness start after it.
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 18
# Every pod rolls one new pod at a time and keeps all old ones until it is ready.
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def image(settings: Settings, name: ServiceName) -> tuple[str, str]:
    """A service's image and pull policy: Always for `latest`, as the unified image."""
    tag = settings.services.get(name).image.tag or settings.image.tag
    policy = "Always" if tag == "latest" else "IfNotPresent"
    return f"{settings.image.split_repository_prefix}-{name}:{tag}", policy


def origin_endpoints(settings: Settings) -> list[str]:
    """Endpoints whose pages call the api from a browser: the CORS origins (the gateway
    checks API keys, docs is a static site)."""
    return [e for e in settings.endpoints if e not in ("gateway", "docs")]


def config_data(settings: Settings) -> dict[str, str]:
    """What every split service reads from the ConfigMap (upstream's configmap.yaml)."""
    url = urls(settings)
    api_service = f"http://{service_name('api')}:{upstream.SPLIT_PORT}"
    data = {
        upstream.NODE_ENV: upstream.NODE_ENV_PRODUCTION,
        upstream.PORT: str(CONTAINER_PORT),
        upstream.API_BACKEND_URL: api_service,
        upstream.UI_URL: url["ui"],
        upstream.APP_URL: url["ui"],
        upstream.API_URL: url["api"],
        upstream.GATEWAY_URL: url["gateway"],
        upstream.ADMIN_URL: url["admin"],
    }
    optional = (
        ("playground", upstream.PLAYGROUND_URL),
        ("docs", upstream.DOCS_URL),
        ("code", upstream.CODE_URL),
    )
    data.update({variable: url[e] for e, variable in optional if e in url})
    data[upstream.ORIGIN_URLS] = ",".join(url[e] for e in origin_endpoints(settings))
    data[upstream.COOKIE_DOMAIN] = settings.domain
    data[upstream.PASSKEY_RP_ID] = settings.domain
    data[upstream.ADMIN_EMAILS] = ",".join(settings.admin_emails)
    data[upstream.HOSTED] = "false"
    data[upstream.PAID_MODE] = "false"
    if not settings.telemetry:
        data[upstream.TELEMETRY_ACTIVE] = "false"
    data[upstream.SHUTDOWN_GRACE_PERIOD_MS] = str(settings.shutdown.drain * 1000)
    # Never at an app's start: the api pods' init container runs them, one at a time.
    data[upstream.RUN_MIGRATIONS] = "false"
    data.update(upstream.TIMEOUTS)
    return data


def config_checksum(settings: Settings) -> str:
    """sha256 of the ConfigMap's data, keys sorted: in each pod template, so that a
    change of the configuration rolls the pods (as Helm charts' checksum annotations)."""
    text = json.dumps(config_data(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_map(settings: Settings, instance: str | None) -> Resource:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(CONFIG_MAP, settings, instance),
        "data": config_data(settings),
    }


def environment_variables(settings: Settings, name: ServiceName) -> list[dict[str, Any]]:
    """A service's env besides the ConfigMap: the auth Secret's keys (not for docs, which
    gets the ConfigMap only), then PostgreSQL and Redis for the services that use them."""
    env: list[dict[str, Any]] = []
    if name not in upstream.WITHOUT_SECRETS:
        secret = settings.auth_secret
        env += [
            secret_variable(upstream.AUTH_SECRET, secret.name, secret.key),
            secret_variable(upstream.API_KEY_HASH_SECRET, secret.name, secret.api_key_hash_key),
        ]
        env += [secret_variable(key, secret.name, key) for key in secret.extra_keys]
    if name in upstream.DATA_CLIENTS:
        env += connection_env(settings)
    return env


def probe(path: str | None, timing: tuple[int, int, int]) -> dict[str, Any]:
    """An HTTP GET of ``path`` on the container's port (None: a TCP connect)."""
    delay, period, timeout = timing
    handler: dict[str, Any] = (
        {"tcpSocket": {"port": PORT_NAME}}
        if path is None
        else {"httpGet": {"path": path, "port": PORT_NAME}}
    )
    return {
        **handler,
        "initialDelaySeconds": delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": 3,
    }


def probes(name: ServiceName) -> dict[str, Any]:
    """Liveness, readiness and startup probes of a web service (none for the worker)."""
    table = upstream.WEB_SERVICES.get(name)
    if table is None:
        return {}
    startup = probe(
        table.liveness_path, (STARTUP_PERIOD_SECONDS, STARTUP_PERIOD_SECONDS, table.liveness[2])
    )
    startup["failureThreshold"] = STARTUP_FAILURES
    return {
        "livenessProbe": probe(table.liveness_path, table.liveness),
        "readinessProbe": probe(table.readiness_path, table.readiness),
        "startupProbe": startup,
    }


def resources(service: Service) -> dict[str, Any]:
    amounts = service.resources
    return {
        "requests": {"cpu": amounts.requests.cpu, "memory": amounts.requests.memory},
        "limits": {"cpu": amounts.limits.cpu, "memory": amounts.limits.memory},
    }


def migration_script() -> str:
    """The api pods' init container: the drizzle migrations under a PostgreSQL advisory
    lock, so that only one runner migrates at a time and the others wait, then find
    nothing left to do.

    drizzle's migrate() takes no lock (its last applied migration is read outside its
    transaction; drizzle-orm pg-core/dialect.ts:86-151, drizzle-team/drizzle-orm#874), so
    two api pods starting together could both apply the same migration. The lock is a
    session lock on a connection of the package's shared pool (packages/db/src/db.ts:11),
    released by the server if the process dies; runMigrations() migrates on a connection
    of its own (packages/db/src/migrate.ts:10-34). Importing the package also connects
    Redis (packages/cache/src/redis.ts:5-9), which keeps node running: the script exits
    itself, 1 on any failure so that the pod does not start.
    """
    key = MIGRATION_LOCK_KEY
    return f"""\
import {{ pool, runMigrations }} from '{upstream.DB_PACKAGE}';
const key = '{key}';
let status = 0;
const client = await pool.connect().catch((error) => {{
  console.error('migrate: cannot connect to the database:', error);
  process.exit(1);
}});
try {{
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  await runMigrations();
}} catch (error) {{
  console.error('migrate: failed:', error);
  status = 1;
}} finally {{
  await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {{}});
  client.release();
}}
process.exit(status);
"""


def migration_container(settings: Settings) -> dict[str, Any]:
    """Runs the migrations before each api pod starts (see migration_script)."""
    name: ServiceName = "api"
    reference, policy = image(settings, name)
    return {
        "name": MIGRATION_CONTAINER,
        "image": reference,
        "imagePullPolicy": policy,
        "command": [*upstream.NODE_COMMAND, "--input-type=module", "-e", migration_script()],
        # The image's directory: node_modules and ./migrations, which runMigrations() reads.
        "workingDir": upstream.API_WORKDIR,
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}],
        "env": connection_env(settings),
        "resources": resources(settings.services.get(name)),
        "securityContext": split_container_context(),
    }


def deployment(
    settings: Settings, instance: str | None, name: ServiceName, service: Service
) -> Resource:
    reference, policy = image(settings, name)
    container: dict[str, Any] = {"name": name, "image": reference, "imagePullPolicy": policy}
    web = name in upstream.WEB_SERVICES
    if web:
        container["ports"] = [
            {"name": PORT_NAME, "containerPort": CONTAINER_PORT, "protocol": "TCP"}
        ]
    container["envFrom"] = [{"configMapRef": {"name": CONFIG_MAP}}]
    env = environment_variables(settings, name)
    if env:
        container["env"] = env
    container["resources"] = resources(service)
    container["securityContext"] = split_container_context()
    container.update(probes(name))
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,  # the apps never call the Kubernetes API
        "securityContext": split_pod_security_context(),
        # SIGTERM, then the gateway drains (SHUTDOWN_GRACE_PERIOD_MS, below this) before the
        # kill: streamed completions may run for minutes (gateway-deployment.yaml:78).
        "terminationGracePeriodSeconds": settings.shutdown.termination_grace_period_seconds,
    }
    if runs_several_pods(service):
        pod_spec["topologySpreadConstraints"] = topology_spread(component_selector(name))
    if name == "api":
        pod_spec["initContainers"] = [migration_container(settings)]
    pod_spec["containers"] = [container]
    meta = metadata(service_name(name), settings, instance)
    meta["labels"][COMPONENT_LABEL] = name
    meta["annotations"] = split_checkov_skips(reference.rpartition(":")[2], worker=not web)
    spec: dict[str, Any] = {}
    # With autoscaling the HorizontalPodAutoscaler sets the count; a replicas field here
    # would fight it at every apply.
    if service.autoscaling is None:
        spec["replicas"] = service.replicas
    spec["selector"] = {"matchLabels": component_selector(name)}
    spec["strategy"] = ROLLING
    spec["template"] = {
        "metadata": {
            "labels": {**component_selector(name), **labels(instance)},
            "annotations": {CHECKSUM_ANNOTATION: config_checksum(settings)},
        },
        "spec": pod_spec,
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def service(settings: Settings, instance: str | None, name: ServiceName) -> Resource:
    """ClusterIP (or the spec's serviceType) on upstream's port 80, to the named port."""
    meta = metadata(service_name(name), settings, instance)
    meta["labels"][COMPONENT_LABEL] = name
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": settings.service_type,
            "selector": component_selector(name),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": upstream.SPLIT_PORT,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def split_workloads(settings: Settings, instance: str | None) -> list[Resource]:
    """The ConfigMap, then each enabled service's Deployment and (with a port) Service."""
    out: list[Resource] = [config_map(settings, instance)]
    for name, service_settings in settings.services.enabled():
        out.append(deployment(settings, instance, name, service_settings))
        if name in upstream.WEB_SERVICES:
            out.append(service(settings, instance, name))
    return out
