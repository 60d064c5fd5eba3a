"""lint: schema validation of rendered resources and the policy rules, each by its ID."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest

from compiler.errors import SpecError
from compiler.kustomize import Kustomize
from compiler.lint import RULES, Finding, check_policy, lint_environment, validate_schemas
from compiler.load import load_spec, parse_spec
from compiler.lower import lower_environment
from compiler.spec import EnvironmentSettings
from tests.conftest import CASES, ROOT, case_id, valid_case_specs
from tests.helpers import UNIFIED_PROD_CASE, load_documents, run_cli

# The rules below are shown on the unified prod (the committed prod before the switch to
# the split topology); the committed tree is linted in test_lint_command_on_the_committed_spec.
SPEC = load_spec(UNIFIED_PROD_CASE)
PROD = SPEC.environments["prod"]


def prod_resources() -> list[Any]:
    return copy.deepcopy(lower_environment(PROD, "prod"))


def find(resources: list[Any], kind: str, name: str | None = None) -> Any:
    return next(
        r
        for r in resources
        if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)
    )


def rendered(findings: list[Finding]) -> list[str]:
    return [f.render() for f in findings]


@pytest.mark.parametrize("spec_path", valid_case_specs(), ids=case_id)
def test_every_valid_spec_lowers_to_lint_clean_manifests(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    for name, env in spec.enabled():
        errors = [
            f
            for f in lint_environment(name, env, lower_environment(env, name))
            if f.severity == "error"
        ]
        assert errors == [], rendered(errors)


def test_misspelled_field_is_named_with_resource_and_path() -> None:
    resources = prod_resources()
    container = find(resources, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicyy"] = container.pop("imagePullPolicy")
    assert rendered(validate_schemas("prod", resources, "1.32")) == [
        "prod: error: Deployment/llmgateway/llmgateway: "
        "spec.template.spec.containers[llmgateway].imagePullPolicyy: "
        "unknown field 'imagePullPolicyy'"
    ]


def test_wrong_type_is_named_with_resource_and_path() -> None:
    resources = prod_resources()
    find(resources, "Service")["spec"]["ports"][0]["port"] = "3002"
    assert rendered(validate_schemas("prod", resources, "1.32")) == [
        "prod: error: Service/llmgateway/llmgateway: spec.ports[ui].port: "
        "'3002' is not of type 'integer'"
    ]


def test_certificate_schema_rejects_a_bad_issuer_kind() -> None:
    resources = prod_resources()
    find(resources, "Certificate")["spec"]["issuerRef"]["kind"] = "ClusterIsuer"
    assert rendered(validate_schemas("prod", resources, "1.32")) == [
        "prod: error: Certificate/llmgateway/llmgateway-tls: spec.issuerRef.kind: "
        "'ClusterIsuer' is not one of ['Issuer', 'ClusterIssuer']"
    ]


def test_certificate_schema_rejects_unknown_fields_and_missing_secret_name() -> None:
    resources = prod_resources()
    spec = find(resources, "Certificate")["spec"]
    spec["dnsName"] = spec.pop("dnsNames")
    del spec["secretName"]
    assert rendered(validate_schemas("prod", resources, "1.32")) == [
        "prod: error: Certificate/llmgateway/llmgateway-tls: spec: "
        "'secretName' is a required property",
        "prod: error: Certificate/llmgateway/llmgateway-tls: spec.dnsName: unknown field 'dnsName'",
    ]


def test_a_kind_without_schema_is_an_error() -> None:
    resource = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "x", "namespace": "llmgateway"},
    }
    assert rendered(validate_schemas("prod", [resource], "1.32")) == [
        "prod: error: Widget/llmgateway/x: (schema): no schema for "
        "example.com/v1 Widget in Kubernetes 1.32 nor in the package: "
        "it cannot be validated"
    ]


def service_monitor() -> Any:
    text = MINIMAL.replace("PUBLIC", "[ui, api, admin]").replace(
        "  prod: {production: true}", "  prod: {monitoring: {serviceMonitor: true}}"
    )
    env = parse_spec(text.encode(), "spec.yaml").environments["prod"]
    return env, lower_environment(env, "prod")


def test_service_monitor_scrapes_the_gateway_inside_the_cluster() -> None:
    env, resources = service_monitor()
    monitor = find(resources, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "llmgateway"}},
        "endpoints": [{"port": "gateway", "path": "/metrics", "interval": "30s"}],
    }
    assert validate_schemas("prod", [monitor], "1.32") == []
    # Prometheus, in its own namespace, may reach the gateway port through the policy.
    rules = find(resources, "NetworkPolicy")["spec"]["ingress"]
    assert rules[1] == {
        "from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
        "ports": [{"protocol": "TCP", "port": 4001}],
    }
    errors = [f for f in lint_environment("prod", env, resources) if f.severity == "error"]
    assert errors == []


def test_service_monitor_schema_rejects_an_unknown_endpoint_field() -> None:
    _, resources = service_monitor()
    monitor = copy.deepcopy(find(resources, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["targetPortt"] = 4001
    assert rendered(validate_schemas("prod", [monitor], "1.32")) == [
        "prod: error: ServiceMonitor/llmgateway/llmgateway: "
        "spec.endpoints[0].targetPortt: unknown field 'targetPortt'"
    ]


def settings(**changes: Any) -> EnvironmentSettings:
    return PROD.model_copy(update=changes)


def rule_ids(findings: list[Finding]) -> list[str]:
    return [f.rule.split()[0] for f in findings]


def test_rule_ids_are_stable_and_explained() -> None:
    assert sorted(RULES) == [f"LLMGW{i:03d}" for i in range(1, 19)]
    assert all(rule.reason for rule in RULES.values())


def test_llmgw001_unprotected_admin_ingress() -> None:
    resources = prod_resources()
    annotations = find(resources, "Ingress", "llmgateway-admin")["metadata"]["annotations"]
    annotations["nginx.ingress.kubernetes.io/auth-url"] = "https:///oauth2/auth"
    findings = check_policy("prod", PROD, resources)
    assert rendered([f for f in findings if f.rule.startswith("LLMGW001")]) == [
        "prod: error: Ingress/llmgateway/llmgateway-admin: LLMGW001 oauth-on-protected-endpoints: "
        "the admin endpoint is not behind oauth2-proxy (auth-url https:///oauth2/auth); "
        "declare it public in the spec if intended"
    ]


def test_llmgw002_production_without_tls() -> None:
    resources = prod_resources()
    del find(resources, "Ingress", "llmgateway-ui")["spec"]["tls"]
    assert "LLMGW002" in rule_ids(check_policy("prod", PROD, resources))


def test_llmgw003_latest_in_production_is_a_warning() -> None:
    (found,) = [
        f for f in check_policy("prod", PROD, prod_resources()) if f.rule.startswith("LLMGW003")
    ]
    assert found.severity == "warning"
    assert found.message == (
        "container llmgateway runs 'ghcr.io/theopenco/llmgateway-unified:latest'; "
        "pin a release tag (image.tag in the spec)"
    )
    not_production = settings(production=False)
    assert "LLMGW003" not in rule_ids(check_policy("dev", not_production, prod_resources()))


def test_llmgw004_missing_probe() -> None:
    resources = prod_resources()
    del find(resources, "Deployment")["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    (found,) = [f for f in check_policy("prod", PROD, resources) if f.rule.startswith("LLMGW004")]
    assert found.message == "container llmgateway has no startupProbe"


def test_llmgw005_missing_limits() -> None:
    resources = prod_resources()
    del find(resources, "Deployment")["spec"]["template"]["spec"]["initContainers"][0]["resources"][
        "limits"
    ]
    (found,) = [f for f in check_policy("prod", PROD, resources) if f.rule.startswith("LLMGW005")]
    assert found.message == "container fix-permissions sets no limits.cpu, limits.memory"


def test_llmgw006_rolling_update_on_readwriteonce() -> None:
    resources = prod_resources()
    find(resources, "PersistentVolumeClaim")["spec"]["accessModes"] = ["ReadWriteOnce"]
    (found,) = [f for f in check_policy("prod", PROD, resources) if f.rule.startswith("LLMGW006")]
    assert (
        found.message
        == "strategy RollingUpdate on ReadWriteOnce claim llmgateway-data; use Recreate"
    )


def test_llmgw007_exposed_service_unless_asked() -> None:
    resources = prod_resources()
    find(resources, "Service")["spec"]["type"] = "LoadBalancer"
    assert "LLMGW007" in rule_ids(check_policy("prod", PROD, resources))
    asked = settings(service_type="LoadBalancer")
    assert "LLMGW007" not in rule_ids(check_policy("prod", asked, resources))


def test_llmgw008_networkpolicy_in_production() -> None:
    resources = [r for r in prod_resources() if r["kind"] != "NetworkPolicy"]
    (found,) = [f for f in check_policy("prod", PROD, resources) if f.rule.startswith("LLMGW008")]
    assert found.resource == "Namespace/llmgateway"


MINIMAL = """\
defaults:
  domain: llm.example.com
  ingress: {tls: {enabled: false}}
  auth: {publicEndpoints: PUBLIC}
environments:
  prod: {production: true}
"""


def test_no_proxy_host_and_no_public_endpoint_cannot_compile() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(MINIMAL.replace("PUBLIC", "[]").encode(), "spec.yaml")
    assert "no oauth2-proxy host to protect the ui, api, admin endpoints" in str(caught.value)


@pytest.mark.parametrize(
    "public",
    [list(c) for n in range(4) for c in itertools.combinations(["ui", "api", "admin"], n)],
    ids=lambda p: "+".join(p) or "none",
)
def test_every_protected_endpoint_is_protected(public: list[str]) -> None:
    text = MINIMAL.replace("PUBLIC", f"[{', '.join(public)}]")
    text = text.replace("  auth: {", "  auth: {oauth2ProxyHost: auth.example.com, ")
    spec = parse_spec(text.encode(), "spec.yaml")
    env = spec.environments["prod"]
    resources = lower_environment(env, "prod")
    assert "LLMGW001" not in rule_ids(check_policy("prod", env, resources))
    for endpoint in ("ui", "api", "admin"):
        annotations = find(resources, "Ingress", f"llmgateway-{endpoint}")["metadata"][
            "annotations"
        ]
        protected = "nginx.ingress.kubernetes.io/auth-url" in annotations
        assert protected == (endpoint not in public)


def test_lint_command_on_the_committed_spec(
    monkeypatch: pytest.MonkeyPatch, kustomize: Kustomize
) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli("lint")
    assert result.code == 0, result.err
    assert result.out == "lint: dev, prod: schemas and policy pass\n"
    # prod runs upstream's split images on `latest`: one warning per service.
    assert result.err.splitlines() == [
        f"prod: warning: Deployment/llmgateway/llmgateway-{service}: LLMGW003 "
        f"pinned-image-in-production: container {service} runs "
        f"'ghcr.io/theopenco/llmgateway-{service}:latest'; "
        "pin a release tag (image.tag in the spec)"
        for service in ("admin", "api", "gateway", "ui", "worker")
    ]
    assert run_cli("lint", "--strict", "overlays/prod").code == 1
    assert run_cli("lint", "overlays/dev").err == ""


def test_build_validates_unless_told_not_to(project: Path, kustomize: Kustomize) -> None:
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(
        spec.read_text().replace(
            "    production: true\n",
            "    production: true\n    ingress:\n      tls:\n        enabled: false\n",
        )
    )
    assert run_cli("compile").code == 0
    result = run_cli("build", "overlays/prod")
    assert result.code == 1
    assert result.out == ""
    assert (
        "prod: error: Ingress/llmgateway/llmgateway-ui: LLMGW002 tls-in-production: "
        "production Ingress without TLS" in result.err.splitlines()
    )
    assert run_cli("build", "overlays/prod", "--no-validate").code == 0


def test_restricted_egress_allows_dns_https_and_the_external_database() -> None:
    text = MINIMAL.replace("PUBLIC", "[ui, api, admin]").replace(
        "  prod: {production: true}",
        "  prod:\n    production: true\n    replicas: 2\n"
        "    database: {mode: external, secretName: db}\n"
        "    networkPolicy: {restrictEgress: true, ingressControllerNamespace: ingress}",
    )
    env = parse_spec(text.encode(), "spec.yaml").environments["prod"]
    policy = find(lower_environment(env, "prod"), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress"
    }
    dns, out = policy["egress"]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert [p["port"] for p in out["ports"]] == [443, 5432, 6379]


# --- failing cases, one folder per rule ---------------------------------------------------
# tests/cases/lint/<RULE>-<what>/spec.yaml is lowered (the invariant makes that what
# kustomize renders), remove.txt lists KIND/NAME resources a hand edit deleted, edit.yaml
# lists fields a hand edit changed (`resource: KIND/NAME`, `path` as the facts table
# writes it, `value` or `delete: true`), and expected.txt holds every finding, one per
# line. The rule in the name must be among them.

LINT_CASES = sorted(p for p in (CASES / "lint").iterdir() if p.is_dir())


def hand_edit(resources: list[Any], edit: dict[str, Any]) -> None:
    """Set or delete one field of one resource; `[name]` picks a list item by name."""
    kind, name = edit["resource"].split("/")
    node: Any = find(resources, kind, name)
    *parents, last = edit["path"].replace("[", ".[").split(".")
    for part in parents:
        if part.startswith("["):
            (node,) = [item for item in node if item.get("name") == part[1:-1]]
        else:
            node = node[part]
    if last.startswith("["):
        (item,) = [item for item in node if item.get("name") == last[1:-1]]
        assert edit.get("delete"), "a list item can only be deleted"
        node.remove(item)
    elif edit.get("delete"):
        del node[last]
    else:
        node[last] = edit["value"]


@pytest.mark.parametrize("case", LINT_CASES, ids=lambda p: p.name)
def test_lint_case(case: Path, request: pytest.FixtureRequest) -> None:
    spec = load_spec(case / "spec.yaml")
    removed = (case / "remove.txt").read_text().split() if (case / "remove.txt").exists() else []
    found: list[str] = []
    for name, env in spec.enabled():
        resources = [
            r
            for r in lower_environment(env, name)
            if f"{r['kind']}/{r['metadata']['name']}" not in removed
        ]
        if (case / "edit.yaml").exists():
            (edits,) = load_documents((case / "edit.yaml").read_text(encoding="utf-8"))
            for edit in edits:
                hand_edit(resources, edit)
        found += rendered(lint_environment(name, env, resources))
    expected = case / "expected.txt"
    if request.config.getoption("--update-golden"):
        expected.write_text("".join(f"{line}\n" for line in found), encoding="utf-8")
    assert found == expected.read_text(encoding="utf-8").splitlines()
    assert any(case.name.split("-")[0] in line for line in found)


def test_every_new_rule_has_a_failing_case() -> None:
    covered = {case.name.split("-")[0] for case in LINT_CASES}
    new = {f"LLMGW{i:03d}" for i in (9, 10, 11, 12, 13, 16, 17, 18)}
    assert new <= covered


def test_llmgw010_follows_ingress_nginx_path_matching() -> None:
    resources = prod_resources()
    assert "LLMGW010" not in rule_ids(check_policy("prod", PROD, resources))
    # Without the refusing path, / on the gateway host serves /metrics to anyone.
    without = [r for r in resources if r["metadata"]["name"] != "llmgateway-gateway-metrics"]
    found = [f for f in check_policy("prod", PROD, without) if f.rule.startswith("LLMGW010")]
    assert {f.resource for f in found} == {"Ingress/llmgateway/llmgateway-gateway"}
    assert [f.message.split()[0] for f in found] == ["/metrics", "/metrics/"]
    # The /metrics path wins over / (longer prefix): without refusal or login it serves.
    metrics = find(resources, "Ingress", "llmgateway-gateway-metrics")
    metrics["metadata"]["annotations"] = {}
    path = metrics["spec"]["rules"][0]["http"]["paths"][0]
    path["backend"]["service"]["port"]["number"] = 4001
    assert "LLMGW010" in rule_ids(check_policy("prod", PROD, resources))
    path["path"], path["pathType"] = "/metrics", "Exact"
    metrics["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/auth-url": "https://auth.chrislee.local/oauth2/auth"
    }
    # /metrics exact goes through oauth2-proxy, but /metrics/ falls back to / (no login).
    (last,) = [f for f in check_policy("prod", PROD, resources) if f.rule.startswith("LLMGW010")]
    assert last.message.startswith("/metrics/ on gateway.llm.chrislee.local reaches")


def test_llmgw011_is_a_warning_outside_production_and_llmgw008_an_error_in_it() -> None:
    resources = [r for r in prod_resources() if r["kind"] != "NetworkPolicy"]
    assert rule_ids(check_policy("prod", PROD, resources)).count("LLMGW008") == 1
    dev = settings(production=False)
    (found,) = [f for f in check_policy("dev", dev, resources) if f.rule.startswith("LLMGW011")]
    assert found.severity == "warning"
