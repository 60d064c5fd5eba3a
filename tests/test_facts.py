"""Every fact of the Terraform module's resources (shared FACTS.md) in a rendered unified prod.

The committed prod runs the split topology since 2026-11 (its facts:
tests/test_prod_topology.py); the module's unified prod with three pods is the case
tests/cases/valid/unified-replicas-shared-data-acknowledged, rendered here with the real
kustomize, next to the committed dev (still the module's one-pod deployment).
The expected values below are written from FACTS.md, not from the compiler's output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import UNIFIED_PROD_CASE, load_documents, render_spec, run_cli

NGINX = "nginx.ingress.kubernetes.io/"
OAUTH = {
    f"{NGINX}auth-url": "https://auth.chrislee.local/oauth2/auth",
    f"{NGINX}auth-signin": (
        "https://auth.chrislee.local/oauth2/start?rd=$scheme://$host$escaped_request_uri"
    ),
    f"{NGINX}auth-response-headers": (
        "X-Auth-Request-User,X-Auth-Request-Email,X-Auth-Request-Access-Token"
    ),
}
COMMON = {
    f"{NGINX}proxy-body-size": "50m",
    f"{NGINX}proxy-read-timeout": "600",
    f"{NGINX}proxy-send-timeout": "600",
}

Rendered = dict[tuple[str, str], Any]


def render(environment: str, monkeypatch: pytest.MonkeyPatch) -> Rendered:
    monkeypatch.chdir(ROOT)
    result = run_cli("build", f"overlays/{environment}")
    assert result.code == 0, result.err
    return {(d["kind"], d["metadata"]["name"]): d for d in load_documents(result.out)}


def keyed(documents: list[Any]) -> Rendered:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


@pytest.fixture(scope="module")
def unified_prod_tree(kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The unified prod (the committed prod before the switch), compiled and rendered."""
    root: Path = tmp_path_factory.mktemp("unified-prod")
    return keyed(render_spec(UNIFIED_PROD_CASE, root, kustomize)["prod"])


@pytest.fixture
def prod(unified_prod_tree: Rendered) -> Rendered:
    return unified_prod_tree


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch, kustomize: Kustomize) -> Rendered:
    return render("dev", monkeypatch)


def test_prod_has_the_module_resources_plus_pdb_and_networkpolicy(prod: Rendered) -> None:
    assert sorted(prod) == sorted(
        [
            ("Namespace", "llmgateway"),
            ("PersistentVolumeClaim", "llmgateway-data"),
            ("Deployment", "llmgateway"),
            ("PodDisruptionBudget", "llmgateway"),
            ("NetworkPolicy", "llmgateway"),
            ("Service", "llmgateway"),
            ("Ingress", "llmgateway-ui"),
            ("Ingress", "llmgateway-api"),
            ("Ingress", "llmgateway-gateway"),
            ("Ingress", "llmgateway-admin"),
            # Refuses /metrics on the gateway host (issue 12).
            ("Ingress", "llmgateway-gateway-metrics"),
            ("Certificate", "llmgateway-tls"),
        ]
    )
    # The Secret is referenced, never generated with a value.
    assert not any(kind == "Secret" for kind, _ in prod)
    for (kind, _), resource in prod.items():
        if kind != "Namespace":
            assert resource["metadata"]["namespace"] == "llmgateway"
        labels = resource["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "llmgateway"
        assert labels["app.kubernetes.io/instance"] == "prod"
        assert labels["app.kubernetes.io/part-of"] == "llmgateway"
        assert labels["app.kubernetes.io/managed-by"] == "llmgateway-compiler"


def test_prod_pvc(prod: Rendered) -> None:
    spec = prod[("PersistentVolumeClaim", "llmgateway-data")]["spec"]
    assert spec["accessModes"] == ["ReadWriteMany"]
    assert spec["storageClassName"] == "longhorn"
    assert spec["resources"]["requests"]["storage"] == "10Gi"


def test_prod_deployment(prod: Rendered) -> None:
    deployment = prod[("Deployment", "llmgateway")]["spec"]
    assert deployment["replicas"] == 3
    assert deployment["selector"] == {"matchLabels": {"app": "llmgateway"}}
    assert deployment["strategy"]["type"] == "RollingUpdate"
    template = deployment["template"]
    assert template["metadata"]["labels"]["app"] == "llmgateway"
    pod = template["spec"]
    assert pod["securityContext"]["fsGroup"] == 102
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert pod["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "llmgateway-data"}}
    ]
    (init,) = pod["initContainers"]
    assert init["name"] == "fix-permissions"
    assert init["image"] == "busybox:1.37.0"
    assert init["securityContext"]["runAsUser"] == 0
    # The module's chown and chmod, without `|| true` hiding their failure (issue 12).
    assert init["command"] == [
        "sh",
        "-c",
        "set -eu; chown -R 100:102 /var/lib/postgresql; "
        "if [ -d /var/lib/postgresql/data ]; then chmod 750 /var/lib/postgresql/data; fi",
    ]
    assert init["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/postgresql"}]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/theopenco/llmgateway-unified:latest"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"cpu": "1000m", "memory": "2Gi"},
    }
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/postgresql"}]
    assert [(p["name"], p["containerPort"], p["protocol"]) for p in container["ports"]] == [
        ("ui", 3002, "TCP"),
        ("api", 4002, "TCP"),
        ("gateway", 4001, "TCP"),
        ("docs", 3005, "TCP"),
        ("admin", 3006, "TCP"),
    ]
    ui, api, admin = (
        "https://llm.chrislee.local",
        "https://api.llm.chrislee.local",
        "https://admin.llm.chrislee.local",
    )
    # The module's env, in its order, plus (issue 12, UPSTREAM.md) the API-key hash secret,
    # APP_URL and GATEWAY_URL, telemetry off and the gateway's drain.
    assert container["env"] == [
        {"name": "PGDATA", "value": "/var/lib/postgresql/data"},
        {
            "name": "AUTH_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "llmgateway-auth", "key": "AUTH_SECRET"}},
        },
        {
            "name": "GATEWAY_API_KEY_HASH_SECRET",
            "valueFrom": {
                "secretKeyRef": {"name": "llmgateway-auth", "key": "GATEWAY_API_KEY_HASH_SECRET"}
            },
        },
        {"name": "UI_URL", "value": ui},
        {"name": "APP_URL", "value": ui},
        {"name": "API_URL", "value": api},
        {"name": "API_BACKEND_URL", "value": "http://localhost:4002"},
        {"name": "ADMIN_URL", "value": admin},
        {"name": "GATEWAY_URL", "value": "https://gateway.llm.chrislee.local"},
        {"name": "ORIGIN_URLS", "value": f"{ui},{api},{admin}"},
        {"name": "COOKIE_DOMAIN", "value": "llm.chrislee.local"},
        {"name": "PASSKEY_RP_ID", "value": "llm.chrislee.local"},
        {"name": "ADMIN_EMAILS", "value": "admin@chrislee.local"},
        {"name": "HOSTED", "value": "false"},
        {"name": "PAID_MODE", "value": "false"},
        {"name": "TELEMETRY_ACTIVE", "value": "false"},
        {"name": "SHUTDOWN_GRACE_PERIOD_MS", "value": "105000"},
    ]
    probes = {
        name: (
            container[name]["httpGet"]["path"],
            container[name]["httpGet"]["port"],
            container[name]["initialDelaySeconds"],
            container[name]["periodSeconds"],
            container[name]["timeoutSeconds"],
            container[name]["failureThreshold"],
        )
        for name in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes == {
        # Liveness timeout 15 s as upstream's chart (UPSTREAM.md): the app's health check
        # itself may take 15 s.
        "livenessProbe": ("/?skip=redis,database", 4001, 60, 30, 15, 3),
        "readinessProbe": ("/", 4001, 30, 10, 5, 3),
        "startupProbe": ("/", 4001, 10, 10, 5, 18),
    }


def test_prod_pdb(prod: Rendered) -> None:
    spec = prod[("PodDisruptionBudget", "llmgateway")]["spec"]
    assert spec["selector"] == {"matchLabels": {"app": "llmgateway"}}
    assert spec["maxUnavailable"] == 1


def test_prod_service(prod: Rendered) -> None:
    spec = prod[("Service", "llmgateway")]["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "llmgateway"}
    assert [(p["name"], p["port"]) for p in spec["ports"]] == [
        ("ui", 3002),
        ("api", 4002),
        ("gateway", 4001),
        ("admin", 3006),
    ]


@pytest.mark.parametrize(
    ("endpoint", "host", "port", "extra"),
    [
        ("ui", "llm.chrislee.local", 3002, OAUTH),
        (
            "api",
            "api.llm.chrislee.local",
            4002,
            {
                **OAUTH,
                f"{NGINX}enable-cors": "true",
                f"{NGINX}cors-allow-origin": (
                    "https://llm.chrislee.local,https://admin.llm.chrislee.local"
                ),
                f"{NGINX}cors-allow-credentials": "true",
            },
        ),
        (
            "gateway",
            "gateway.llm.chrislee.local",
            4001,
            {f"{NGINX}proxy-http-version": "1.1", f"{NGINX}proxy-buffering": "off"},
        ),
        ("admin", "admin.llm.chrislee.local", 3006, OAUTH),
    ],
)
def test_prod_ingress(
    prod: Rendered, endpoint: str, host: str, port: int, extra: dict[str, str]
) -> None:
    ingress = prod[("Ingress", f"llmgateway-{endpoint}")]
    assert ingress["metadata"]["annotations"] == {**COMMON, **extra}
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": [host], "secretName": "llmgateway-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == host
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/"
    assert path["pathType"] == "Prefix"
    assert path["backend"] == {"service": {"name": "llmgateway", "port": {"number": port}}}


def test_prod_certificate(prod: Rendered) -> None:
    spec = prod[("Certificate", "llmgateway-tls")]
    assert spec["apiVersion"] == "cert-manager.io/v1"
    assert spec["spec"]["secretName"] == "llmgateway-tls"
    assert spec["spec"]["issuerRef"]["kind"] == "ClusterIssuer"
    assert spec["spec"]["issuerRef"]["name"] == "letsencrypt-prod"
    assert spec["spec"]["dnsNames"] == [
        "llm.chrislee.local",
        "api.llm.chrislee.local",
        "gateway.llm.chrislee.local",
        "admin.llm.chrislee.local",
    ]


def test_dev_is_one_replica_on_readwriteonce_with_recreate(dev: Rendered) -> None:
    deployment = dev[("Deployment", "llmgateway")]["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"] == {"type": "Recreate"}
    assert "topologySpreadConstraints" not in deployment["template"]["spec"]
    pvc = dev[("PersistentVolumeClaim", "llmgateway-data")]
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["namespace"] == "llmgateway-dev"
    assert ("PodDisruptionBudget", "llmgateway") not in dev
    assert ("Namespace", "llmgateway-dev") in dev


def test_prod_networkpolicy_lets_only_the_ingress_controller_in(prod: Rendered) -> None:
    spec = prod[("NetworkPolicy", "llmgateway")]["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "llmgateway"}}
    assert spec["policyTypes"] == ["Ingress"]  # egress open: the gateway calls the providers
    (rule,) = spec["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert sorted(p["port"] for p in rule["ports"]) == [3002, 3006, 4001, 4002]
    assert {p["protocol"] for p in rule["ports"]} == {"TCP"}


# --- what issue 12 adds, from FACTS.md and UPSTREAM.md, in dev and the unified prod ------

# The committed dev and the unified prod (the case; the committed prod is split).
ENVIRONMENTS = ("dev", "unified-prod")
DOMAINS = {"dev": "dev.llm.chrislee.local", "prod": "llm.chrislee.local"}


@pytest.fixture(params=ENVIRONMENTS)
def rendered(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Rendered:
    request.getfixturevalue("kustomize")
    if request.param == "unified-prod":
        tree: Rendered = request.getfixturevalue("unified_prod_tree")
        return tree
    return render(request.param, monkeypatch)


def app_containers(resources: Rendered) -> list[Any]:
    """Every container running the app (the unified image)."""
    found = [
        container
        for (kind, _), resource in resources.items()
        if kind == "Deployment"
        for container in resource["spec"]["template"]["spec"]["containers"]
        if container["image"].startswith("ghcr.io/theopenco/llmgateway-unified:")
    ]
    assert found
    return found


def env_of(container: Any) -> dict[str, Any]:
    return {item["name"]: item for item in container["env"]}


def test_both_required_secret_keys_reach_every_app_container(rendered: Rendered) -> None:
    # UPSTREAM.md: GATEWAY_API_KEY_HASH_SECRET is required in production
    # (packages/shared/src/api-key-hash.ts:12-25); AUTH_SECRET as in FACTS.md.
    for container in app_containers(rendered):
        env = env_of(container)
        for key in ("AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET"):
            assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "llmgateway-auth", "key": key}


def test_gateway_url_is_the_gateway_host(rendered: Rendered) -> None:
    instance = rendered[("Deployment", "llmgateway")]["metadata"]["labels"]
    domain = DOMAINS[instance["app.kubernetes.io/instance"]]
    for container in app_containers(rendered):
        assert env_of(container)["GATEWAY_URL"]["value"] == f"https://gateway.{domain}"


USER_FACING = (
    "UI_URL",
    "APP_URL",
    "API_URL",
    "GATEWAY_URL",
    "ADMIN_URL",
    "ORIGIN_URLS",
    "COOKIE_DOMAIN",
    "PASSKEY_RP_ID",
    "PLAYGROUND_URL",
    "DOCS_URL",
    "CODE_URL",
)


def test_no_user_facing_url_points_at_localhost_or_the_hosted_service(
    rendered: Rendered,
) -> None:
    for container in app_containers(rendered):
        for name, item in env_of(container).items():
            value = str(item.get("value", ""))
            assert "llmgateway.io" not in value, name
            if name in USER_FACING:
                assert "localhost" not in value, name
                assert "127.0.0.1" not in value, name


def test_telemetry_is_off(rendered: Rendered) -> None:
    # The image sets TELEMETRY_ACTIVE=true; the beacon goes only when it is "true"
    # (UPSTREAM.md: apps/api/src/lib/beacon.ts:68).
    for container in app_containers(rendered):
        assert env_of(container)["TELEMETRY_ACTIVE"] == {
            "name": "TELEMETRY_ACTIVE",
            "value": "false",
        }


def test_a_networkpolicy_selects_the_app_pods(rendered: Rendered) -> None:
    policy = rendered[("NetworkPolicy", "llmgateway")]["spec"]
    deployment = rendered[("Deployment", "llmgateway")]["spec"]["template"]["metadata"]
    assert policy["podSelector"]["matchLabels"].items() <= deployment["labels"].items()
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert sorted(p["port"] for p in rule["ports"]) == [3002, 3006, 4001, 4002]


def test_grace_period_120_and_the_drain_below_it(rendered: Rendered) -> None:
    # UPSTREAM.md: the chart's grace period is 120 s; SHUTDOWN_GRACE_PERIOD_MS must stay
    # at or below it (apps/gateway/src/serve.ts:50-53).
    pod = rendered[("Deployment", "llmgateway")]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 120
    for container in app_containers(rendered):
        drain = int(env_of(container)["SHUTDOWN_GRACE_PERIOD_MS"]["value"])
        assert 0 < drain < 120 * 1000


def test_init_container_fails_loudly_and_volume_is_not_rechowned(rendered: Rendered) -> None:
    pod = rendered[("Deployment", "llmgateway")]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    script = init["command"][-1]
    assert "|| true" not in script
    assert "2>/dev/null" not in script
    assert script.startswith("set -eu;")
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    assert pod["securityContext"]["fsGroup"] == 102  # FACTS.md


def test_gateway_liveness_timeout_is_15(rendered: Rendered) -> None:
    for container in app_containers(rendered):
        assert container["livenessProbe"]["timeoutSeconds"] == 15


def test_no_unauthenticated_path_serves_metrics(rendered: Rendered) -> None:
    # UPSTREAM.md: the gateway serves /metrics on its main port (apps/gateway/src/app.ts).
    # The gateway Ingress routes / there without oauth2-proxy; a longer /metrics path on
    # the same host wins in ingress-nginx, and it refuses every client.
    metrics = rendered[("Ingress", "llmgateway-gateway-metrics")]
    gateway = rendered[("Ingress", "llmgateway-gateway")]
    assert metrics["spec"]["rules"][0]["host"] == gateway["spec"]["rules"][0]["host"]
    (path,) = metrics["spec"]["rules"][0]["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/metrics", "Prefix")
    assert path["backend"]["service"]["port"]["number"] != 4001
    assert metrics["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/denylist-source-range": "0.0.0.0/0,::/0"
    }
