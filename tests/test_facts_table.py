"""A table of facts, walked over every rendered environment.

Each row is a field that matters to a deployment and the value it must have, written from
shared FACTS.md and UPSTREAM.md (or, for the hardening checkov asked for, from the
README's "Validation" section), never from the compiler's output. The table is walked over
what kustomize renders from the committed overlays and from every environment of the
compile cases, so a value a user relies on is checked in every shape of deployment, not
only pinned by a golden file. The unified rows walk over every unified environment: the
committed dev, the compile cases, and the unified prod of before the switch to the split
topology (tests/cases/valid/unified-replicas-shared-data-acknowledged); the committed
prod, split since 2026-11, has rows of its own from UPSTREAM.md section 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.load import load_spec
from compiler.plan import plan_tree
from compiler.render import render
from tests.conftest import CASES, ROOT
from tests.helpers import UNIFIED_PROD_CASE, load_rendering, write_tree

APP = "llmgateway"
CONTAINER = f"spec.template.spec.containers[{APP}]"
INIT = "spec.template.spec.initContainers[fix-permissions]"
POD = "spec.template.spec"
# FACTS.md "Resources": the unified image's ports, and those the Service exposes (docs and
# playground deliberately not).
CONTAINER_PORTS = {"ui": 3002, "api": 4002, "gateway": 4001, "docs": 3005, "admin": 3006}
SERVICE_PORTS = {"ui": 3002, "api": 4002, "gateway": 4001, "admin": 3006}
INGRESS_PORTS = {"ui": 3002, "api": 4002, "gateway": 4001, "admin": 3006}

# (kind, name, path, expected value, where the value comes from)
Row = tuple[str, str, str, Any, str]
EVERY_ENVIRONMENT: list[Row] = [
    # Security contexts.
    ("Deployment", APP, f"{POD}.securityContext.fsGroup", 102, "FACTS: pod fsGroup 102"),
    (
        "Deployment",
        APP,
        f"{POD}.securityContext.seccompProfile",
        {"type": "RuntimeDefault"},
        "README Validation: seccomp RuntimeDefault",
    ),
    (
        "Deployment",
        APP,
        f"{POD}.automountServiceAccountToken",
        False,
        "README Validation: no service account token",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.securityContext",
        {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["NET_RAW"]}},
        "README Validation: no privilege escalation, NET_RAW dropped; the image starts as "
        "root (UPSTREAM 2: start.sh runs as root, supervisord runs postgres and redis as "
        "their users)",
    ),
    (
        "Deployment",
        APP,
        f"{INIT}.securityContext",
        {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
        },
        "FACTS: init runs as user 0; README Validation: every capability dropped but "
        "CHOWN, DAC_OVERRIDE and FOWNER, read-only root",
    ),
    ("Deployment", APP, f"{INIT}.image", "busybox:1.37.0", "FACTS: init image"),
    (
        "Deployment",
        APP,
        f"{INIT}.volumeMounts",
        [{"name": "data", "mountPath": "/var/lib/postgresql"}],
        "FACTS: the volume's parent, so lost+found does not break initdb",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.volumeMounts",
        [{"name": "data", "mountPath": "/var/lib/postgresql"}],
        "FACTS: container mount",
    ),
    # Selector and labels.
    (
        "Deployment",
        APP,
        "spec.selector",
        {"matchLabels": {"app": APP}},
        "FACTS: pod label and selector app: llmgateway",
    ),
    ("Deployment", APP, "spec.template.metadata.labels.app", APP, "FACTS: pod label"),
    ("Service", APP, "spec.selector", {"app": APP}, "FACTS: selector app=llmgateway"),
    # Ports.
    (
        "Deployment",
        APP,
        f"{CONTAINER}.ports",
        [
            {"name": name, "containerPort": port, "protocol": "TCP"}
            for name, port in CONTAINER_PORTS.items()
        ],
        "FACTS: container ports ui 3002, api 4002, gateway 4001, docs 3005, admin 3006",
    ),
    (
        "Service",
        APP,
        "spec.ports",
        [
            {"name": name, "port": port, "targetPort": port, "protocol": "TCP"}
            for name, port in SERVICE_PORTS.items()
        ],
        "FACTS: Service ports ui 3002, api 4002, gateway 4001, admin 3006",
    ),
    # Probes: HTTP GET on the gateway's port (FACTS; liveness timeout 15 from UPSTREAM 1,
    # the chart's gateway liveness).
    (
        "Deployment",
        APP,
        f"{CONTAINER}.livenessProbe",
        {
            "httpGet": {"path": "/?skip=redis,database", "port": 4001},
            "initialDelaySeconds": 60,
            "periodSeconds": 30,
            "timeoutSeconds": 15,
            "failureThreshold": 3,
        },
        "FACTS: liveness 60/30/-/3 skipping dependencies; UPSTREAM 1: gateway liveness timeout 15",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.readinessProbe",
        {
            "httpGet": {"path": "/", "port": 4001},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "FACTS: readiness / 30/10/5/3",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.startupProbe",
        {
            "httpGet": {"path": "/", "port": 4001},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 18,
        },
        "FACTS: startup / 10/10/5/18 (about 180 s)",
    ),
    (
        "Deployment",
        APP,
        f"{POD}.terminationGracePeriodSeconds",
        120,
        "UPSTREAM 1: gateway terminationGracePeriodSeconds 120",
    ),
    # Env values that do not depend on the environment.
    (
        "Deployment",
        APP,
        f"{CONTAINER}.env[PGDATA].value",
        "/var/lib/postgresql/data",
        "FACTS: env PGDATA",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.env[API_BACKEND_URL].value",
        "http://localhost:4002",
        "FACTS: env API_BACKEND_URL",
    ),
    ("Deployment", APP, f"{CONTAINER}.env[HOSTED].value", "false", "FACTS: env HOSTED"),
    ("Deployment", APP, f"{CONTAINER}.env[PAID_MODE].value", "false", "FACTS: env PAID_MODE"),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.env[TELEMETRY_ACTIVE].value",
        "false",
        "UPSTREAM 2: the beacon is sent only when TELEMETRY_ACTIVE is true",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.env[AUTH_SECRET].valueFrom.secretKeyRef.key",
        "AUTH_SECRET",
        "FACTS: AUTH_SECRET from the auth Secret",
    ),
    (
        "Deployment",
        APP,
        f"{CONTAINER}.env[GATEWAY_API_KEY_HASH_SECRET].valueFrom.secretKeyRef.key",
        "GATEWAY_API_KEY_HASH_SECRET",
        "UPSTREAM 1: mandatory secret, thrown for when unset in production",
    ),
]

# The committed prod runs the split topology (spec/llmgateway.yaml): its rows are its own.
SPLIT = {"committed/prod"}

RECREATE = {"type": "Recreate"}
# One new pod at a time, and never fewer ready pods than replicas while it rolls.
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def urls(scheme: str, domain: str) -> list[Row]:
    """FACTS: UI, API and admin URLs from the scheme and the domain; ORIGIN_URLS joins them."""
    ui, api, admin = (
        f"{scheme}://{domain}",
        f"{scheme}://api.{domain}",
        f"{scheme}://admin.{domain}",
    )
    env = f"{CONTAINER}.env"
    return [
        ("Deployment", APP, f"{env}[UI_URL].value", ui, "FACTS: UI_URL"),
        ("Deployment", APP, f"{env}[API_URL].value", api, "FACTS: API_URL"),
        ("Deployment", APP, f"{env}[ADMIN_URL].value", admin, "FACTS: ADMIN_URL"),
        ("Deployment", APP, f"{env}[ORIGIN_URLS].value", f"{ui},{api},{admin}", "FACTS"),
        ("Deployment", APP, f"{env}[COOKIE_DOMAIN].value", domain, "FACTS: COOKIE_DOMAIN"),
        ("Deployment", APP, f"{env}[PASSKEY_RP_ID].value", domain, "FACTS: PASSKEY_RP_ID"),
    ]


def external_database(secret: str) -> list[Row]:
    """UPSTREAM 1: the apps read DATABASE_URL, REDIS_HOST, REDIS_PORT and REDIS_PASSWORD."""
    return [
        (
            "Deployment",
            APP,
            f"{CONTAINER}.env[{key}].valueFrom.secretKeyRef",
            {"name": secret, "key": key},
            "UPSTREAM 1: connection env",
        )
        for key in ("DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")
    ]


# UPSTREAM 1 (values.yaml:79-286, split.dockerfile:173,205,235): the split images, every
# service's requests and limits (100m,128Mi / 200m,256Mi), probes (delay/period/timeout).
SPLIT_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}
Probe = tuple[str, int, int, int]


def split_service(
    service: str, replicas: int, *, readiness: Probe | None = None, liveness: Probe | None = None
) -> list[Row]:
    """UPSTREAM 1: one Deployment per service running ghcr.io/theopenco/llmgateway-<svc>."""
    name, container = f"{APP}-{service}", f"spec.template.spec.containers[{service}]"
    rows: list[Row] = [
        ("Deployment", name, "spec.replicas", replicas, f"spec: prod {service} replicas"),
        (
            "Deployment",
            name,
            f"{container}.image",
            f"ghcr.io/theopenco/llmgateway-{service}:latest",
            "UPSTREAM 1: the split image, tag latest as the spec's image.tag",
        ),
        ("Deployment", name, f"{container}.resources", SPLIT_RESOURCES, "UPSTREAM 1"),
    ]
    for probe, timing in (("readinessProbe", readiness), ("livenessProbe", liveness)):
        if timing is None:
            continue
        path, delay, period, timeout = timing
        rows += [
            ("Deployment", name, f"{container}.{probe}.httpGet.path", path, "UPSTREAM 1"),
            ("Deployment", name, f"{container}.{probe}.initialDelaySeconds", delay, "UPSTREAM 1"),
            ("Deployment", name, f"{container}.{probe}.periodSeconds", period, "UPSTREAM 1"),
            ("Deployment", name, f"{container}.{probe}.timeoutSeconds", timeout, "UPSTREAM 1"),
        ]
    return rows


# What each environment of the committed spec and the compile cases deploys, from its
# spec file (read by hand) and FACTS: Recreate on a ReadWriteOnce volume of the embedded
# database, else a rolling update.
BY_ENVIRONMENT: dict[str, list[Row]] = {
    "committed/dev": [
        ("Deployment", APP, "spec.replicas", 1, "spec: dev replicas 1"),
        ("Deployment", APP, "spec.strategy", RECREATE, "FACTS: Recreate on ReadWriteOnce"),
        ("PersistentVolumeClaim", f"{APP}-data", "spec.accessModes", ["ReadWriteOnce"], "spec"),
        *urls("https", "dev.llm.chrislee.local"),
    ],
    "unified-replicas-shared-data-acknowledged/prod": [
        ("Deployment", APP, "spec.replicas", 3, "spec: prod replicas 3"),
        ("Deployment", APP, "spec.strategy", ROLLING, "ReadWriteMany: rolling update"),
        ("PersistentVolumeClaim", f"{APP}-data", "spec.accessModes", ["ReadWriteMany"], "spec"),
        *urls("https", "llm.chrislee.local"),
    ],
    "committed/prod": [
        *split_service("api", 2, readiness=("/", 10, 10, 5), liveness=("/", 30, 30, 10)),
        *split_service(
            "gateway", 3, readiness=("/", 10, 10, 5), liveness=("/?skip=redis,database", 30, 30, 15)
        ),
        *split_service(
            "ui", 2, readiness=("/api/health", 10, 10, 5), liveness=("/api/health", 20, 30, 5)
        ),
        *split_service(
            "admin", 1, readiness=("/api/health", 10, 10, 5), liveness=("/api/health", 20, 30, 5)
        ),
        *split_service("worker", 1),
        (
            "Deployment",
            f"{APP}-gateway",
            f"{POD}.terminationGracePeriodSeconds",
            120,
            "UPSTREAM 1: gateway terminationGracePeriodSeconds 120",
        ),
        ("Cluster", f"{APP}-postgres", "spec.instances", 3, "spec: prod database.instances 3"),
        (
            "Cluster",
            f"{APP}-postgres",
            "spec.bootstrap.initdb",
            {"database": APP, "owner": APP},
            "UPSTREAM 3: bootstrap.initdb database and owner (database.name default llmgateway)",
        ),
    ],
    "tls-off-external-db/lab": [
        ("Deployment", APP, "spec.replicas", 2, "spec: lab replicas 2"),
        ("Deployment", APP, "spec.strategy", ROLLING, "no volume of the database: rolling"),
        ("Deployment", APP, f"{POD}.volumes", [{"name": "data", "emptyDir": {}}], "no PVC"),
        *urls("http", "lab.example.com"),
        *external_database("llm-database"),
    ],
    "public-ui-pinned-tag/prod": [
        ("Deployment", APP, "spec.strategy", RECREATE, "FACTS: Recreate on ReadWriteOnce"),
        (
            "Deployment",
            APP,
            f"{CONTAINER}.imagePullPolicy",
            "IfNotPresent",
            "FACTS: IfNotPresent unless the tag is latest",
        ),
    ],
}


def rendered_environments(kustomize: Kustomize, root: Path) -> dict[str, list[Any]]:
    """Every environment: the committed overlays as they are, and each compile case's."""
    directories = {
        f"committed/{p.parent.name}": p.parent
        for p in sorted((ROOT / "overlays").glob("*/kustomization.yaml"))
    }
    for spec_path in [UNIFIED_PROD_CASE, *sorted((CASES / "compile").glob("*/spec.yaml"))]:
        case = spec_path.parent.name
        spec = load_spec(spec_path)
        write_tree(root / case, plan_tree(spec))
        for name, _ in spec.enabled():
            directories[f"{case}/{name}"] = root / case / "overlays" / name
    texts = render(kustomize, list(directories.values()))
    return {label: load_rendering(text) for label, text in zip(directories, texts, strict=True)}


@pytest.fixture(scope="module")
def environments(
    kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[Any]]:
    return rendered_environments(kustomize, tmp_path_factory.mktemp("facts"))


def at(value: Any, path: str) -> Any:
    """The value at a dotted path; `[name]` picks the list item with that name."""
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            key = part[1:-1]
            (value,) = [item for item in value if item.get("name") == key]
        else:
            value = value[part]
    return value


def find(documents: list[Any], kind: str, name: str) -> Any:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def check_rows(documents: list[Any], rows: list[Row]) -> list[str]:
    wrong = []
    for kind, name, path, expected, source in rows:
        try:
            got = at(find(documents, kind, name), path)
        except (KeyError, ValueError, TypeError) as exc:
            wrong.append(f"{kind}/{name} {path}: missing ({exc!r}); {source}")
            continue
        if got != expected:
            wrong.append(f"{kind}/{name} {path}: {got!r}, expected {expected!r}; {source}")
    return wrong


def unified(environments: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Every environment but the split ones (SPLIT), each checked to be split below."""
    return {label: docs for label, docs in environments.items() if label not in SPLIT}


def test_the_table_covers_every_environment(environments: dict[str, list[Any]]) -> None:
    assert set(BY_ENVIRONMENT) <= set(environments)
    assert {"committed/dev", "committed/prod"} <= set(environments)
    assert "unified-replicas-shared-data-acknowledged/prod" in unified(environments)
    assert len(unified(environments)) >= 10


def test_only_the_split_environments_are_left_out_of_the_unified_rows(
    environments: dict[str, list[Any]],
) -> None:
    for label, documents in environments.items():
        has_unified = any(
            d["kind"] == "Deployment" and d["metadata"]["name"] == APP for d in documents
        )
        assert has_unified == (label not in SPLIT), label


def test_facts_of_every_environment(environments: dict[str, list[Any]]) -> None:
    wrong = [
        f"{label}: {line}"
        for label, documents in unified(environments).items()
        for line in check_rows(documents, EVERY_ENVIRONMENT)
    ]
    assert wrong == []


@pytest.mark.parametrize("label", sorted(BY_ENVIRONMENT))
def test_facts_of_one_environment(label: str, environments: dict[str, list[Any]]) -> None:
    assert check_rows(environments[label], BY_ENVIRONMENT[label]) == []


def test_every_ingress_reaches_its_service_port(environments: dict[str, list[Any]]) -> None:
    """FACTS: each Ingress routes / to service llmgateway on its endpoint's port, and that
    Service port targets the container port of the same name."""
    for label, documents in unified(environments).items():
        service = find(documents, "Service", APP)
        deployment = find(documents, "Deployment", APP)
        container_ports = {
            p["name"]: p["containerPort"] for p in at(deployment, f"{CONTAINER}.ports")
        }
        by_port = {p["port"]: p for p in service["spec"]["ports"]}
        for endpoint, port in INGRESS_PORTS.items():
            ingress = find(documents, "Ingress", f"{APP}-{endpoint}")
            (rule,) = ingress["spec"]["rules"]
            (path,) = rule["http"]["paths"]
            assert (path["path"], path["pathType"]) == ("/", "Prefix"), label
            assert path["backend"] == {"service": {"name": APP, "port": {"number": port}}}, label
            served = by_port[port]
            assert served["name"] == endpoint, label
            assert served["targetPort"] == container_ports[endpoint], label
        # Probes go to the gateway's port (FACTS: HTTP GET on 4001).
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            port = at(deployment, f"{CONTAINER}.{probe}.httpGet.port")
            assert port == container_ports["gateway"], label


def test_strategy_follows_the_volume(environments: dict[str, list[Any]]) -> None:
    """FACTS: two pods on one ReadWriteOnce volume corrupt the WAL, so Recreate exactly when
    the Deployment mounts a ReadWriteOnce claim; a rolling update otherwise."""
    for label, documents in unified(environments).items():
        deployment = find(documents, "Deployment", APP)
        claims = {
            d["metadata"]["name"]: d["spec"]["accessModes"]
            for d in documents
            if d["kind"] == "PersistentVolumeClaim"
        }
        mounted = [
            claims[v["persistentVolumeClaim"]["claimName"]]
            for v in at(deployment, f"{POD}.volumes")
            if "persistentVolumeClaim" in v
        ]
        once = any("ReadWriteOnce" in modes for modes in mounted)
        assert deployment["spec"]["strategy"] == (RECREATE if once else ROLLING), label
