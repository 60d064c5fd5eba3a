"""Lower one environment of the spec to the Kubernetes resources it deploys.

Pure: settings in, a list of plain resource dicts out, in a fixed order, keys in the
order Kubernetes documentation writes them. The resources are those the Terraform
module created (see shared FACTS), computed from the spec; the Secret is referenced,
never generated.
"""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.spec import Settings

APP = "llmgateway"
MANAGED_BY = "llmgateway-compiler"
SELECTOR = {"app": APP}  # never changes: a Deployment's selector is immutable
DATA_VOLUME = "data"
DATA_MOUNT = "/var/lib/postgresql"
PGDATA = "/var/lib/postgresql/data"
INIT_IMAGE = "busybox:1.37.0"
GATEWAY_PORT = upstream.GATEWAY_PORT
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
NGINX = "nginx.ingress.kubernetes.io/"
METRICS_INGRESS = f"{APP}-gateway-metrics"
EXTERNAL_DATABASE_KEYS = ("DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")

Resource = dict[str, Any]


def hosts(settings: Settings) -> dict[str, str]:
    """Host of each endpoint: the UI at the domain, the others under a prefix."""
    return settings.hosts


def urls(settings: Settings) -> dict[str, str]:
    return {name: f"{settings.scheme}://{host}" for name, host in hosts(settings).items()}


def labels(instance: str | None) -> dict[str, str]:
    """The recommended app.kubernetes.io labels; `instance` is the environment."""
    out = {"app.kubernetes.io/name": APP}
    if instance is not None:
        out["app.kubernetes.io/instance"] = instance
    out["app.kubernetes.io/part-of"] = APP
    out["app.kubernetes.io/managed-by"] = MANAGED_BY
    return out


def metadata(name: str, settings: Settings | None, instance: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if settings is not None:
        meta["namespace"] = settings.namespace
    meta["labels"] = labels(instance)
    return meta


def lower_environment(settings: Settings, instance: str | None) -> list[Resource]:
    """Every resource of one environment (``instance`` None: the shared base)."""
    embedded = settings.database.mode == "embedded"
    resources: list[Resource] = [namespace(settings, instance)]
    if embedded:
        resources.append(persistent_volume_claim(settings, instance))
    resources.append(deployment(settings, instance))
    if settings.replicas > 1:
        resources.append(pod_disruption_budget(settings, instance))
    resources.append(service(settings, instance))
    if settings.monitoring.service_monitor:
        resources.append(service_monitor(settings, instance))
    if settings.network_policy_enabled:
        resources.append(network_policy(settings, instance))
    resources.extend(
        ingress(settings, instance, endpoint) for endpoint in ("ui", "api", "gateway", "admin")
    )
    resources.append(metrics_ingress(settings, instance))
    if settings.ingress.tls.enabled:
        resources.append(certificate(settings, instance))
    if settings.auth_secret.source == "external-secrets":
        resources.append(external_secret(settings, instance))
    return resources


def namespace(settings: Settings, instance: str | None) -> Resource:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(settings.namespace, None, instance),
    }


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


def secret_variable(name: str, secret_name: str | None, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def environment_variables(settings: Settings) -> list[dict[str, Any]]:
    """The container's env: the module's, in its order, plus what the app also needs."""
    url = urls(settings)
    secret = settings.auth_secret
    env: list[dict[str, Any]] = [
        {"name": "PGDATA", "value": PGDATA},
        secret_variable(upstream.AUTH_SECRET, secret.name, secret.key),
        secret_variable(upstream.API_KEY_HASH_SECRET, secret.name, secret.api_key_hash_key),
        {"name": upstream.UI_URL, "value": url["ui"]},
        {"name": upstream.APP_URL, "value": url["ui"]},
        {"name": upstream.API_URL, "value": url["api"]},
        # Server-side calls inside the pod, never shown to a user.
        {"name": "API_BACKEND_URL", "value": f"http://localhost:{upstream.API_PORT}"},
        {"name": upstream.ADMIN_URL, "value": url["admin"]},
        {"name": upstream.GATEWAY_URL, "value": url["gateway"]},
        {"name": "ORIGIN_URLS", "value": ",".join((url["ui"], url["api"], url["admin"]))},
        {"name": "COOKIE_DOMAIN", "value": settings.domain},
        {"name": "PASSKEY_RP_ID", "value": settings.domain},
        {"name": "ADMIN_EMAILS", "value": ",".join(settings.admin_emails)},
        {"name": "HOSTED", "value": "false"},
        {"name": "PAID_MODE", "value": "false"},
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
        env.extend(secret_variable(key, database_secret, key) for key in EXTERNAL_DATABASE_KEYS)
    return env


def probe(
    path: str, initial_delay: int, period: int, failure_threshold: int, timeout: int = 5
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": GATEWAY_PORT},
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
    return (
        f"set -eu; chown -R {owner} {DATA_MOUNT}; if [ -d {PGDATA} ]; then chmod 750 {PGDATA}; fi"
    )


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
        # The image starts as root (supervisord) and drops to the postgres user itself;
        # which capabilities it needs is not verified, so only NET_RAW is dropped.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["NET_RAW"]},
        },
        # Liveness skips the dependencies, so a slow database does not restart the pod; the
        # gateway's own health check may take 15 s under load (upstream.py).
        "livenessProbe": probe(
            "/?skip=redis,database", 60, 30, 3, upstream.GATEWAY_LIVENESS_TIMEOUT_SECONDS
        ),
        "readinessProbe": probe("/", 30, 10, 3),
        # About 180 s for PostgreSQL, Redis and migrations on first start.
        "startupProbe": probe("/", 10, 10, 18),
    }
    init_container = {
        "name": "fix-permissions",
        "image": INIT_IMAGE,
        "command": ["sh", "-c", init_command(settings)],
        # Root only to chown the volume, with just the capabilities chown and chmod need.
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
        },
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
        "securityContext": {
            "fsGroup": settings.database.postgres_group_id,
            # The kubelet re-chowns the volume only when its root's group is wrong, not at
            # every mount.
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # SIGTERM, then the gateway drains (SHUTDOWN_GRACE_PERIOD_MS, below this) before the
        # kill: streamed completions may run for minutes.
        "terminationGracePeriodSeconds": settings.shutdown.termination_grace_period_seconds,
        "initContainers": [init_container],
        "containers": [container],
        "volumes": [volume],
    }
    if settings.replicas > 1:
        pod_spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": dict(SELECTOR)},
            }
        ]
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


# checkov findings that are deliberate, each with the reason a reviewer can judge
# (`nox -s policy` runs checkov over every rendered environment).
CHECKOV_SKIPS = (
    (
        "CKV_K8S_23",
        "runs as root: the init container chowns the volume; the unified image starts "
        "supervisord as root and drops to the postgres user itself",
    ),
    ("CKV_K8S_40", "no high UID for the same reason: the image's own users are 100:102"),
    (
        "CKV_K8S_37",
        "the main container keeps the image's capabilities (only NET_RAW dropped): what "
        "supervisord and PostgreSQL need is not verified; the init container drops ALL",
    ),
    (
        "CKV_K8S_25",
        "the init container drops ALL and adds back CHOWN, DAC_OVERRIDE and FOWNER: what "
        "chown -R and chmod of the postgres-owned data directory need",
    ),
    (
        "CKV_K8S_22",
        "the unified image writes outside the volume (PostgreSQL sockets, Redis, supervisord "
        "logs); the init container has a read-only root",
    ),
    (
        "CKV_K8S_35",
        "the app reads AUTH_SECRET from its environment only; the value comes from a Secret "
        "reference, never from the manifest",
    ),
    (
        "CKV_K8S_43",
        "images are pinned by tag in the spec (image.tag); digests are not supported yet",
    ),
    (
        "CKV_K8S_15",
        "pinned tags (the busybox init image, release tags) are pulled IfNotPresent so pod "
        "starts do not depend on the registry; latest is pulled Always",
    ),
)
LATEST_SKIP = (
    "CKV_K8S_14",
    "the spec runs the tag latest here; validate and lint report it (LLMGW003) until a "
    "release is pinned",
)


def checkov_skips(tag: str) -> dict[str, str]:
    skips = [*CHECKOV_SKIPS, LATEST_SKIP] if tag == "latest" else list(CHECKOV_SKIPS)
    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(skips, 1)
    }


def pod_disruption_budget(settings: Settings, instance: str | None) -> Resource:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(APP, settings, instance),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(SELECTOR)}},
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


def ingress_annotations(settings: Settings, endpoint: str) -> dict[str, str]:
    url = urls(settings)
    annotations = {
        f"{NGINX}proxy-body-size": "50m",
        f"{NGINX}proxy-read-timeout": "600",
        f"{NGINX}proxy-send-timeout": "600",
    }
    if endpoint == "api":
        annotations[f"{NGINX}enable-cors"] = "true"
        annotations[f"{NGINX}cors-allow-origin"] = f"{url['ui']},{url['admin']}"
        annotations[f"{NGINX}cors-allow-credentials"] = "true"
    if endpoint == "gateway":
        # Streamed (SSE) completions reach the client as they are produced.
        annotations[f"{NGINX}proxy-http-version"] = "1.1"
        annotations[f"{NGINX}proxy-buffering"] = "off"
    proxy = settings.auth.oauth2_proxy_host
    if endpoint != "gateway" and endpoint not in settings.auth.public_endpoints:
        # The spec rules guarantee a proxy host for every protected endpoint.
        assert proxy is not None
        annotations[f"{NGINX}auth-url"] = f"https://{proxy}/oauth2/auth"
        annotations[f"{NGINX}auth-signin"] = (
            f"https://{proxy}/oauth2/start?rd=$scheme://$host$escaped_request_uri"
        )
        annotations[f"{NGINX}auth-response-headers"] = (
            "X-Auth-Request-User,X-Auth-Request-Email,X-Auth-Request-Access-Token"
        )
    return annotations


def ingress(settings: Settings, instance: str | None, endpoint: str) -> Resource:
    return ingress_resource(
        settings,
        instance,
        f"{APP}-{endpoint}",
        ingress_annotations(settings, endpoint),
        hosts(settings)[endpoint],
        ("/", dict(SERVICE_PORTS)[endpoint]),
    )


def ingress_resource(
    settings: Settings,
    instance: str | None,
    name: str,
    annotations: dict[str, str],
    host: str,
    route: tuple[str, int],
) -> Resource:
    """An Ingress of one host and one Prefix path to a port of the Service."""
    path, port = route
    meta = metadata(name, settings, instance)
    meta["annotations"] = annotations
    spec: dict[str, Any] = {"ingressClassName": settings.ingress.class_name}
    if settings.ingress.tls.enabled:
        spec["tls"] = [{"hosts": [host], "secretName": settings.ingress.tls.secret_name}]
    spec["rules"] = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": APP, "port": {"number": port}}},
                    }
                ]
            },
        }
    ]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


# Why the metrics Ingress looks as it does; written above it in the generated file.
METRICS_INGRESS_COMMENT = """\
The gateway serves Prometheus metrics at /metrics on its main port, the port the gateway
Ingress sends every path of its host to without login (upstream.py). This Ingress
refuses that path on the gateway host, following ingress-nginx's path matching
(kubernetes/ingress-nginx@dbb11b92):
- Ingresses of one host are merged into one nginx server, each path a location with its
  own Ingress's annotations (kubernetes/ingress-nginx docs/user-guide/
  ingress-path-matching.md, "Path Priority"), ordered longest path first
  (internal/ingress/controller/controller.go, sort by len(Path)).
- A Prefix path /metrics becomes `location /metrics/` plus `location = /metrics`
  (internal/ingress/controller/location.go, updateServerLocations); nginx takes an exact
  match first and the longest prefix next, so /metrics and /metrics/... land here, never
  on the gateway Ingress's `/`. With use-regex or rewrite-target on any Ingress of the
  host every location turns into a case-insensitive regex, still tried longest first.
- denylist-source-range 0.0.0.0/0 and ::/0 answers 403 to every client for these
  locations (test/e2e/annotations/ipdenylist.go). Should a controller ignore the
  annotation, the backend is the UI port, which has no /metrics: the gateway's metrics
  are never served through an Ingress. Prometheus scrapes the Service inside the cluster
  (monitoring.serviceMonitor)."""


def metrics_ingress(settings: Settings, instance: str | None) -> Resource:
    """A /metrics path on the gateway host that no request gets through (see the comment)."""
    return ingress_resource(
        settings,
        instance,
        METRICS_INGRESS,
        {f"{NGINX}denylist-source-range": "0.0.0.0/0,::/0"},
        hosts(settings)["gateway"],
        (upstream.METRICS_PATH, upstream.UI_PORT),
    )


def comment(resource: Resource) -> str | None:
    """The explanation written above a generated resource file, if it has one."""
    if resource["kind"] == "Ingress" and resource["metadata"]["name"] == METRICS_INGRESS:
        return METRICS_INGRESS_COMMENT
    return None


def service_monitor(settings: Settings, instance: str | None) -> Resource:
    """Prometheus Operator scrapes the gateway's metrics through the Service, in-cluster."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(APP, settings, instance),
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
            "endpoints": [
                {
                    "port": "gateway",
                    "path": upstream.METRICS_PATH,
                    "interval": settings.monitoring.interval,
                }
            ],
        },
    }


def certificate(settings: Settings, instance: str | None) -> Resource:
    issuer = settings.ingress.tls.issuer
    assert issuer is not None  # the spec rules require an issuer when TLS is on
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata(f"{APP}-tls", settings, instance),
        "spec": {
            "secretName": settings.ingress.tls.secret_name,
            "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": "cert-manager.io"},
            "dnsNames": list(hosts(settings).values()),
        },
    }


def network_policy(settings: Settings, instance: str | None) -> Resource:
    """Only the ingress controller reaches the pods, on the four served ports."""
    policy = settings.network_policy
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": dict(SELECTOR)},
        "policyTypes": ["Ingress", "Egress"] if policy.restrict_egress else ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {
                                "kubernetes.io/metadata.name": policy.ingress_controller_namespace
                            }
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": port} for _, port in SERVICE_PORTS],
            }
        ],
    }
    if settings.monitoring.service_monitor:
        # Prometheus scrapes the gateway port from its own namespace.
        spec["ingress"].append(
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {
                                "kubernetes.io/metadata.name": (
                                    settings.monitoring.prometheus_namespace
                                )
                            }
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": GATEWAY_PORT}],
            }
        )
    if policy.restrict_egress:
        egress_ports = [443] + ([5432, 6379] if settings.database.mode == "external" else [])
        spec["egress"] = [
            {
                "to": [{"namespaceSelector": {}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
            {"ports": [{"protocol": "TCP", "port": port} for port in egress_ports]},
        ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(APP, settings, instance),
        "spec": spec,
    }


def external_secret(settings: Settings, instance: str | None) -> Resource:
    """The External Secrets Operator makes the Secret from the store's entry."""
    secret = settings.auth_secret
    source = secret.external_secrets
    assert source is not None  # the spec rules require it for this source
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(secret.name, settings, instance),
        "spec": {
            "refreshInterval": source.refresh_interval,
            "secretStoreRef": {"kind": source.store.kind, "name": source.store.name},
            "target": {"name": secret.name, "creationPolicy": "Owner"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": source.remote_key, "property": key}}
                for key in secret.keys
            ],
        },
    }
