"""The split topology as kustomize renders it, against facts written from UPSTREAM.md.

The expectations below come from ../shared/UPSTREAM.md section 1 (upstream's chart and
split images) and the issue, written by hand, never from the compiler's output; they are
checked on what the real kustomize renders from the compiled tree of
tests/cases/valid/split-services (split: CloudNativePG, in-cluster Redis, every optional
service; lab: external stores, a generated Secret, admin disabled).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.lint import check_policy
from compiler.load import load_spec
from compiler.lower import lower_environment
from compiler.plan import plan_tree
from compiler.render import render
from compiler.spec import Settings
from tests.conftest import CASES, valid_case_specs
from tests.helpers import load_documents, load_rendering, run_cli, write_tree

CASE = CASES / "valid" / "split-services" / "spec.yaml"
PREFIX = "ghcr.io/theopenco/llmgateway-"
WEB = ("api", "gateway", "ui", "admin", "playground", "docs", "code")
# UPSTREAM 1 table: (readiness path, liveness path, readiness delay/period/timeout,
# liveness delay/period/timeout). gateway: liveness timeout 15 and, as the unified pod,
# `/?skip=redis,database`; code: no /api/health at the baseline (h13-research section 2),
# so its port is probed.
PROBES = {
    "api": ("/", "/", (10, 10, 5), (30, 30, 10)),
    "gateway": ("/", "/?skip=redis,database", (10, 10, 5), (30, 30, 15)),
    "ui": ("/api/health", "/api/health", (10, 10, 5), (20, 30, 5)),
    "admin": ("/api/health", "/api/health", (10, 10, 5), (20, 30, 5)),
    "playground": ("/api/health", "/api/health", (10, 10, 5), (20, 30, 5)),
    "docs": ("/api/health", "/api/health", (10, 10, 5), (20, 30, 5)),
    "code": (None, None, (10, 10, 5), (20, 30, 5)),
}
# UPSTREAM 1 table: requests / limits; docs is smaller. The split case raises ui's.
CHART_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}
DOCS_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "100m", "memory": "128Mi"},
}
UI_RESOURCES = {
    "requests": {"cpu": "150m", "memory": "192Mi"},
    "limits": {"cpu": "300m", "memory": "384Mi"},
}
CONNECTION = ("DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")


@pytest.fixture(scope="module")
def environments(kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("split")
    spec = load_spec(CASE)
    write_tree(root, plan_tree(spec))
    (root / "overlays/lab/secret.env").write_text(
        "AUTH_SECRET=" + "a" * 40 + "\nGATEWAY_API_KEY_HASH_SECRET=b\nLLM_OPENAI_API_KEY=c\n"
    )
    names = ["split", "lab"]
    texts = render(kustomize, [root / "overlays" / name for name in names])
    return {name: load_rendering(text) for name, text in zip(names, texts, strict=True)}


def find(documents: list[Any], kind: str, name: str) -> Any:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def named(items: list[Any], name: str) -> Any:
    (found,) = [item for item in items if item.get("name") == name]
    return found


def pod(deployment: Any) -> Any:
    return deployment["spec"]["template"]["spec"]


def resolved_env(container: Any, documents: list[Any]) -> dict[str, Any]:
    """Name -> value (or valueFrom) the container sees: its ConfigMaps, then its env."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        data = find(documents, "ConfigMap", source["configMapRef"]["name"])["data"]
        env.update(data)
    env.update({e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])})
    return env


def every_container(documents: list[Any]) -> list[tuple[str, Any]]:
    """Every container of LLM Gateway's own workloads (pods labelled app: llmgateway; the
    PostgreSQL and Redis StatefulSets are not the app's: tests/test_data_services.py)."""
    return [
        (d["metadata"]["name"], c)
        for d in documents
        if d["kind"] in ("Deployment", "StatefulSet")
        and d["spec"]["template"]["metadata"]["labels"].get("app") == "llmgateway"
        for c in [*pod(d).get("initContainers", []), *pod(d)["containers"]]
    ]


def expected_probe(path: str | None, timing: tuple[int, int, int]) -> dict[str, Any]:
    delay, period, timeout = timing
    handler = (
        {"tcpSocket": {"port": "http"}}
        if path is None
        else {"httpGet": {"path": path, "port": "http"}}
    )
    return {
        **handler,
        "initialDelaySeconds": delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": 3,
    }


@pytest.mark.parametrize("service", [*WEB, "worker"])
def test_each_service_is_its_own_deployment_as_upstream_runs_it(
    service: str, environments: dict[str, Any]
) -> None:
    documents = environments["split"]
    deployment = find(documents, "Deployment", f"llmgateway-{service}")
    (container,) = pod(deployment)["containers"]
    tag = "v1.2.4" if service == "api" else "v1.2.3"  # the spec: api's own tag, else image.tag
    assert container["image"] == f"{PREFIX}{service}:{tag}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in container
    assert "args" not in container
    assert deployment["spec"]["selector"] == {
        "matchLabels": {"app": "llmgateway", "component": service}
    }
    assert pod(deployment)["terminationGracePeriodSeconds"] == 120  # UPSTREAM 1
    assert pod(deployment)["automountServiceAccountToken"] is False
    assert "volumes" not in pod(deployment)  # no app pod mounts a claim (issue 13)
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    expected = {"docs": DOCS_RESOURCES, "ui": UI_RESOURCES}.get(service, CHART_RESOURCES)
    assert container["resources"] == expected
    env = resolved_env(container, documents)
    assert env["NODE_ENV"] == "production"
    assert env["RUN_MIGRATIONS"] == "false"
    if service == "worker":
        # UPSTREAM 1: no port, no probe, no Service.
        assert "ports" not in container
        assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(container)
        assert not [
            d
            for d in documents
            if d["kind"] == "Service" and d["metadata"]["name"] == "llmgateway-worker"
        ]
        return
    # Port 80 of the chart's Service, to the container's named port; the container
    # listens where PORT says (the images honour PORT, UPSTREAM / h13-research 2).
    (port,) = container["ports"]
    assert port["name"] == "http"
    assert int(env["PORT"]) == port["containerPort"] >= 1024  # no NET_BIND_SERVICE
    service_resource = find(documents, "Service", f"llmgateway-{service}")
    assert service_resource["spec"]["type"] == "ClusterIP"
    assert service_resource["spec"]["selector"] == {"app": "llmgateway", "component": service}
    assert service_resource["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    readiness, liveness, ready_timing, live_timing = PROBES[service]
    assert container["readinessProbe"] == expected_probe(readiness, ready_timing)
    assert container["livenessProbe"] == expected_probe(liveness, live_timing)
    # LLMGW004: a startup probe too, checking what liveness checks.
    startup = container["startupProbe"]
    assert {k: v for k, v in startup.items() if k in ("httpGet", "tcpSocket")} == {
        k: v for k, v in container["livenessProbe"].items() if k in ("httpGet", "tcpSocket")
    }


def test_replicas_per_service_and_none_with_an_autoscaler(environments: dict[str, Any]) -> None:
    documents = environments["split"]
    replicas = {
        d["metadata"]["name"]: d["spec"].get("replicas")
        for d in documents
        if d["kind"] == "Deployment"
    }
    # The spec: gateway 3, api 2, ui autoscaled (no replicas field), the rest 1.
    assert replicas == {
        "llmgateway-api": 2,
        "llmgateway-gateway": 3,
        "llmgateway-ui": None,
        "llmgateway-admin": 1,
        "llmgateway-worker": 1,
        "llmgateway-playground": 1,
        "llmgateway-docs": 1,
        "llmgateway-code": 1,
    }
    lab = {d["metadata"]["name"] for d in environments["lab"] if d["kind"] == "Deployment"}
    assert lab == {f"llmgateway-{s}" for s in ("api", "gateway", "ui", "worker")}


def test_the_shared_configmap(environments: dict[str, Any]) -> None:
    """UPSTREAM 1 ConfigMap table, with this deployment's hosts."""
    data = find(environments["split"], "ConfigMap", "llmgateway-config")["data"]
    site = "https://split.example.com"
    assert data["NODE_ENV"] == "production"
    assert data["API_BACKEND_URL"] == "http://llmgateway-api:80"
    assert data["UI_URL"] == data["APP_URL"] == site
    assert data["API_URL"] == "https://api.split.example.com"
    assert data["GATEWAY_URL"] == "https://gateway.split.example.com"
    assert data["ADMIN_URL"] == "https://admin.split.example.com"
    assert data["PLAYGROUND_URL"] == "https://playground.split.example.com"
    assert data["DOCS_URL"] == "https://docs.split.example.com"
    assert data["CODE_URL"] == "https://code.split.example.com"
    origins = data["ORIGIN_URLS"].split(",")
    assert origins[:3] == [site, "https://api.split.example.com", "https://admin.split.example.com"]
    assert "https://gateway.split.example.com" not in origins
    assert data["COOKIE_DOMAIN"] == data["PASSKEY_RP_ID"] == "split.example.com"
    assert (data["HOSTED"], data["PAID_MODE"], data["TELEMETRY_ACTIVE"]) == ("false",) * 3
    assert data["ADMIN_EMAILS"] == "admin@example.com"
    assert data["SHUTDOWN_GRACE_PERIOD_MS"] == "105000"  # drain 15 s below the 120 s grace
    assert data["RUN_MIGRATIONS"] == "false"
    # UPSTREAM 1 ConfigMap, gateway timeouts (values.yaml:127-133) and the api's TIMEOUT_MS.
    assert data["GATEWAY_TIMEOUT_MS"] == "1500000"
    assert data["AI_STREAMING_TIMEOUT_MS"] == "1200000"
    assert data["AI_TIMEOUT_MS"] == "600000"
    assert data["HEALTH_CHECK_TIMEOUT_MS"] == "15000"
    assert data["TIMEOUT_MS"] == "5000"
    assert not any(key.startswith("REDIS") or key == "DATABASE_URL" for key in data)
    lab = find(environments["lab"], "ConfigMap", "llmgateway-config")["data"]
    assert "TELEMETRY_ACTIVE" not in lab  # telemetry: true keeps the image's default
    assert not {"PLAYGROUND_URL", "DOCS_URL", "CODE_URL"} & set(lab)


@pytest.mark.parametrize("environment", ["split", "lab"])
def test_secrets_and_stores_reach_the_services_that_use_them(
    environment: str, environments: dict[str, Any]
) -> None:
    documents = environments[environment]
    secret = next(
        (d["metadata"]["name"] for d in documents if d["kind"] == "Secret"), "llmgateway-auth"
    )
    for name, container in every_container(documents):
        env = resolved_env(container, documents)
        service = name.removeprefix("llmgateway-")
        uses_stores = service in ("api", "gateway", "worker")  # UPSTREAM 1: PG+Redis wait
        assert all(key in env for key in CONNECTION) == uses_stores, (name, container["name"])
        assert "REDIS_URL" not in env
        if container["name"] == "migrate":
            assert "AUTH_SECRET" not in env
            continue
        # The chart gives docs the ConfigMap only; the others the Secret too.
        for key in ("AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET", "LLM_OPENAI_API_KEY"):
            if service == "docs":
                assert key not in env
            else:
                assert env[key] == {"secretKeyRef": {"name": secret, "key": key}}, name
    if environment == "split":
        api = pod(find(documents, "Deployment", "llmgateway-api"))["containers"][0]
        env = resolved_env(api, documents)
        # CloudNativePG's app Secret, key uri; the in-cluster Redis, its password a key of
        # the auth Secret (issue 13).
        assert env["DATABASE_URL"] == {
            "secretKeyRef": {"name": "llmgateway-postgres-app", "key": "uri"}
        }
        assert env["REDIS_HOST"] == "llmgateway-redis"
        assert env["REDIS_PORT"] == "6379"
        assert env["REDIS_PASSWORD"] == {
            "secretKeyRef": {"name": "llmgateway-auth", "key": "REDIS_PASSWORD"}
        }
    else:
        gateway = pod(find(documents, "Deployment", "llmgateway-gateway"))["containers"][0]
        env = resolved_env(gateway, documents)
        assert env["DATABASE_URL"] == {
            "secretKeyRef": {"name": "lab-database", "key": "DATABASE_URL"}
        }
        assert env["REDIS_HOST"] == {"secretKeyRef": {"name": "lab-redis", "key": "REDIS_HOST"}}


@pytest.mark.parametrize("environment", ["split", "lab"])
def test_a_config_change_rolls_every_pod(environment: str, environments: dict[str, Any]) -> None:
    """checksum/config in each pod template is the sha256 of the ConfigMap's data."""
    documents = environments[environment]
    data = find(documents, "ConfigMap", "llmgateway-config")["data"]
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["checksum/config"] == digest


def test_the_checksum_follows_the_configuration() -> None:
    settings = load_spec(CASE).environments["split"]
    other = settings.model_copy(update={"admin_emails": ["other@example.com"]})

    def checksums(env: Settings) -> set[str]:
        return {
            r["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for r in lower_environment(env, "split")
            if r["kind"] == "Deployment"
        }

    (before,), (after,) = checksums(settings), checksums(other)
    assert before != after


def test_no_container_runs_migrations_at_start(environments: dict[str, Any]) -> None:
    """Issue 13 point 3: RUN_MIGRATIONS is false in every container of every split
    environment, whatever its source; only the api's init container migrates."""
    for environment, documents in environments.items():
        containers = every_container(documents)
        assert containers
        for name, container in containers:
            assert resolved_env(container, documents)["RUN_MIGRATIONS"] == "false", (
                environment,
                name,
            )
        runners = [(n, c) for n, c in containers if "runMigrations" in json.dumps(c.get("command"))]
        assert [(n, c["name"]) for n, c in runners] == [("llmgateway-api", "migrate")]


def test_the_migration_runner_holds_a_lock_around_the_migrations(
    environments: dict[str, Any],
) -> None:
    api = find(environments["split"], "Deployment", "llmgateway-api")
    (runner,) = pod(api)["initContainers"]
    assert runner["image"] == pod(api)["containers"][0]["image"]  # the same release
    assert runner["workingDir"] == "/app"  # the api image's, where ./migrations is
    node, *options, script = runner["command"]
    assert node == "node"
    assert options[-1] == "-e"
    env = resolved_env(runner, environments["split"])
    assert env["NODE_ENV"] == "production"
    assert all(key in env for key in CONNECTION)
    # The package's pool and runner (packages/db/src/index.ts:3,12; db.ts:11).
    assert re.search(r"import \{ pool, runMigrations \} from '@llmgateway/db';", script)
    lines = script.splitlines()

    def line_of(pattern: str) -> int:
        (index,) = [i for i, line in enumerate(lines) if re.search(pattern, line)]
        return index

    connect = line_of(r"await pool\.connect\(\)")
    lock = line_of(r"await client\.query\('SELECT pg_advisory_lock\(\$1\)', \[key\]\)")
    migrate = line_of(r"await runMigrations\(\)")
    unlock = line_of(r"pg_advisory_unlock\(\$1\)', \[key\]\)")
    failed = line_of(r"status = 1;")
    done = line_of(r"^process\.exit\(status\);$")
    # Session lock taken before the migrations, released after them (finally), then exit.
    assert connect < lock < migrate < failed < unlock < done == len(lines) - 1
    assert lines[unlock - 1].strip() == "} finally {"
    key = re.search(r"^const key = '(\d+)';$", script, re.M)
    assert key is not None
    assert 0 < int(key.group(1)) < 2**63


def test_each_endpoint_reaches_its_own_service(environments: dict[str, Any]) -> None:
    for environment, documents in environments.items():
        services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
        for ingress in [d for d in documents if d["kind"] == "Ingress"]:
            name = ingress["metadata"]["name"]
            (rule,) = ingress["spec"]["rules"]
            (path,) = rule["http"]["paths"]
            backend = path["backend"]["service"]
            assert backend["name"] in services, (environment, name)
            assert backend["port"] == {"number": 80}
            annotations = ingress["metadata"]["annotations"]
            if name == "llmgateway-gateway-metrics":
                assert rule["host"].startswith("gateway.")
                assert annotations == {
                    "nginx.ingress.kubernetes.io/denylist-source-range": "0.0.0.0/0,::/0"
                }
                # The UI behind it, which has no /metrics, should a controller ignore it.
                assert backend["name"] == "llmgateway-ui"
                continue
            endpoint = name.removeprefix("llmgateway-")
            assert backend["name"] == f"llmgateway-{endpoint}"
            oauth = "nginx.ingress.kubernetes.io/auth-url" in annotations
            # The gateway checks API keys; docs is public in the split environment's spec.
            assert oauth == (endpoint not in ("gateway", "docs")), (environment, name)
            if endpoint == "gateway":
                assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
                assert annotations["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    lab = {d["metadata"]["name"] for d in environments["lab"] if d["kind"] == "Ingress"}
    assert "llmgateway-admin" not in lab  # admin disabled there


def test_the_service_monitor_selects_the_gateway_service_only(environments: dict[str, Any]) -> None:
    documents = environments["split"]
    (monitor,) = [d for d in documents if d["kind"] == "ServiceMonitor"]
    wanted = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        d["metadata"]["name"]
        for d in documents
        if d["kind"] == "Service"
        and all(d["metadata"]["labels"].get(k) == v for k, v in wanted.items())
    ]
    assert selected == ["llmgateway-gateway"]
    (endpoint,) = monitor["spec"]["endpoints"]
    gateway = find(documents, "Service", "llmgateway-gateway")
    assert endpoint["port"] in [p["name"] for p in gateway["spec"]["ports"]]
    assert endpoint["path"] == "/metrics"


def test_only_the_worker_goes_without_probes() -> None:
    """LLMGW004's one exception is the split worker, which serves no port."""
    settings = load_spec(CASE).environments["split"]
    resources = copy.deepcopy(lower_environment(settings, "split"))
    assert "LLMGW004" not in json.dumps(
        [f.rule for f in check_policy("split", settings, resources)]
    )
    ui = next(r for r in resources if r["metadata"]["name"] == "llmgateway-ui")
    del ui["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    (found,) = [
        f for f in check_policy("split", settings, resources) if f.rule.startswith("LLMGW004")
    ]
    assert found.resource == "Deployment/llmgateway-split/llmgateway-ui"


def test_validate_summarises_the_split_topology() -> None:
    """The spec's services, data services and tags, as the case's spec writes them."""
    result = run_cli("validate", "--spec", str(CASE))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert (
        "  split: namespace llmgateway-split, split topology: api 2, gateway 3, ui 2-5 "
        "(autoscaled), admin 1, worker 1, playground 1, docs 1, code 1; CloudNativePG "
        "database of 3 instances, in-cluster Redis, image tag v1.2.3 (api v1.2.4)"
    ) in lines
    assert (
        "  lab: namespace llmgateway-lab, split topology: api 1, gateway 1, ui 1, worker 1; "
        "external database, external Redis, image tag latest"
    ) in lines


def test_a_split_base_is_retagged_and_rescaled_by_kustomize_fields(
    kustomize: Kustomize, tmp_path: Path
) -> None:
    """tests/cases/valid/split-base: the overlay's images and replicas fields (not patches)
    carry prod's tags and counts; the rendering has what prod's spec says."""
    spec = load_spec(CASES / "valid" / "split-base" / "spec.yaml")
    tree = plan_tree(spec)
    write_tree(tmp_path, tree)
    (kustomization,) = load_documents(tree["overlays/prod/kustomization.yaml"].decode())
    assert {i["name"]: i["newTag"] for i in kustomization["images"]} == {
        f"{PREFIX}{s}": "v1.3.1" if s == "gateway" else "v1.3.0"
        for s in ("api", "gateway", "ui", "admin", "worker")
    }
    assert {r["name"]: r["count"] for r in kustomization["replicas"]} == {
        "llmgateway-api": 3,
        "llmgateway-gateway": 4,
        "llmgateway-ui": 2,
    }
    (text,) = render(kustomize, [tmp_path / "overlays" / "prod"])
    documents = load_rendering(text)
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert {n: d["spec"].get("replicas") for n, d in deployments.items()} == {
        "llmgateway-api": 3,
        "llmgateway-gateway": 4,
        "llmgateway-ui": 2,
        "llmgateway-admin": 1,
        "llmgateway-worker": 1,
        "llmgateway-docs": 1,
    }
    images = {n: pod(d)["containers"][0]["image"] for n, d in deployments.items()}
    assert images["llmgateway-gateway"] == f"{PREFIX}gateway:v1.3.1"
    assert images["llmgateway-docs"] == f"{PREFIX}docs:v1.3.0"
    assert pod(deployments["llmgateway-api"])["initContainers"][0]["image"] == f"{PREFIX}api:v1.3.0"
    assert not [d for d in documents if d["kind"] == "HorizontalPodAutoscaler"]


def test_no_container_of_any_split_environment_migrates_at_start(
    kustomize: Kustomize, tmp_path: Path
) -> None:
    """Issue 13 point 3 over every split environment of every valid case, rendered: no
    container of any workload (data services included) has RUN_MIGRATIONS=true; every
    LLM Gateway container has it false; the api's init container is the one runner."""
    directories: dict[str, Path] = {}
    for spec_path in valid_case_specs():
        spec = load_spec(spec_path)
        split = [name for name, settings in spec.enabled() if settings.split]
        if not split:
            continue
        root = tmp_path / spec_path.parent.name
        write_tree(root, plan_tree(spec))
        for name in split:
            settings = spec.environments[name]
            if settings.auth_secret.source == "generator":
                keys = "".join(f"{key}={'x' * 40}\n" for key in settings.secret_keys)
                (root / "overlays" / name / "secret.env").write_text(keys)
            directories[f"{spec_path.parent.name}/{name}"] = root / "overlays" / name
    assert len(directories) >= 6
    texts = render(kustomize, list(directories.values()))
    for label, text in zip(directories, texts, strict=True):
        documents = load_rendering(text)
        workloads = [d for d in documents if "template" in d.get("spec", {})]
        for workload in workloads:
            for container in [
                *pod(workload).get("initContainers", []),
                *pod(workload)["containers"],
            ]:
                env = resolved_env(container, documents)
                assert env.get("RUN_MIGRATIONS") != "true", (label, container["name"])
        app = every_container(documents)
        assert app, label
        for name, container in app:
            assert resolved_env(container, documents)["RUN_MIGRATIONS"] == "false", (label, name)
        runners = [
            (n, c["name"]) for n, c in app if "runMigrations" in json.dumps(c.get("command"))
        ]
        assert runners == [("llmgateway-api", "migrate")], label
