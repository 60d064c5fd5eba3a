"""Lint rules of the split topology's availability and network policies (LLMGW012-015).

Each rule is shown failing on a small rendered manifest, and passing on its fix.
"""

from __future__ import annotations

import copy
from typing import Any

from compiler.lint import Finding, check_policy
from compiler.load import parse_spec

SPEC = """\
defaults:
  domain: llm.example.com
  image: {tag: v1.2.3}
  ingress: {tls: {issuer: {name: letsencrypt-prod}}}
  auth: {oauth2ProxyHost: auth.example.com}
environments:
  prod: {production: true, topology: split, database: {mode: cloudnative-pg}}
"""
SETTINGS = parse_spec(SPEC.encode(), "spec.yaml").environments["prod"]
NS = "llmgateway"


def meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": NS}


def deployment(component: str, replicas: int | None, spread: bool = True) -> dict[str, Any]:
    labels = {"app": "llmgateway", "component": component}
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}}
    if replicas is not None:
        spec["replicas"] = replicas
    pod: dict[str, Any] = {"containers": []}
    if spread:
        pod["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": labels},
            }
        ]
    spec["template"] = {"metadata": {"labels": labels}, "spec": pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(f"llmgateway-{component}"),
        "spec": spec,
    }


def budget(component: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(f"llmgateway-{component}"),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app": "llmgateway", "component": component}},
        },
    }


def autoscaler(component: str, minimum: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"llmgateway-{component}",
        },
        "maxReplicas": 5,
    }
    if minimum is not None:
        spec["minReplicas"] = minimum
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(f"llmgateway-{component}"),
        "spec": spec,
    }


def network_policy(name: str, labels: dict[str, str], types: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name),
        "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": types},
    }


def statefulset(app: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(app),
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": []}},
        },
    }


CLUSTER = {
    "apiVersion": "postgresql.cnpg.io/v1",
    "kind": "Cluster",
    "metadata": meta("llmgateway-postgres"),
    "spec": {"instances": 3},
}


def findings(resources: list[Any], rule: str) -> list[str]:
    found: list[Finding] = check_policy("prod", SETTINGS, resources)
    return [f"{f.resource}: {f.message}" for f in found if f.rule.startswith(rule)]


def covered() -> list[Any]:
    """A split namespace where every workload has its policy."""
    return [
        deployment("api", 1),
        deployment("gateway", 1),
        statefulset("llmgateway-redis"),
        CLUSTER,
        network_policy(
            "llmgateway-api", {"app": "llmgateway", "component": "api"}, ["Ingress", "Egress"]
        ),
        network_policy("llmgateway-gateway", {"app": "llmgateway", "component": "gateway"}, []),
        network_policy("llmgateway-redis", {"app": "llmgateway-redis"}, ["Ingress"]),
        network_policy(
            "llmgateway-postgres",
            {"cnpg.io/cluster": "llmgateway-postgres", "cnpg.io/podRole": "instance"},
            ["Ingress"],
        ),
    ]


def without(resources: list[Any], kind: str, name: str) -> list[Any]:
    return [r for r in resources if (r["kind"], r["metadata"]["name"]) != (kind, name)]


def test_llmgw012_every_workload_is_selected_by_an_ingress_policy() -> None:
    assert findings(covered(), "LLMGW012") == []
    assert findings(without(covered(), "NetworkPolicy", "llmgateway-redis"), "LLMGW012") == [
        "StatefulSet/llmgateway/llmgateway-redis: no NetworkPolicy selects its pods "
        "(app=llmgateway-redis): any pod of the cluster reaches them"
    ]
    assert findings(without(covered(), "NetworkPolicy", "llmgateway-postgres"), "LLMGW012") == [
        "Cluster/llmgateway/llmgateway-postgres: no NetworkPolicy selects its pods "
        "(cnpg.io/cluster=llmgateway-postgres, cnpg.io/podRole=instance): any pod of the "
        "cluster reaches them"
    ]
    assert findings(without(covered(), "NetworkPolicy", "llmgateway-api"), "LLMGW012") == [
        "Deployment/llmgateway/llmgateway-api: no NetworkPolicy selects its pods "
        "(app=llmgateway, component=api): any pod of the cluster reaches them"
    ]


def test_llmgw012_an_egress_only_policy_does_not_guard_ingress() -> None:
    resources = covered()
    resources[4]["spec"]["policyTypes"] = ["Egress"]
    assert len(findings(resources, "LLMGW012")) == 1


def test_llmgw012_is_left_to_llmgw008_when_the_namespace_has_no_policy() -> None:
    resources = [r for r in covered() if r["kind"] != "NetworkPolicy"]
    assert findings(resources, "LLMGW012") == []
    assert len(findings(resources, "LLMGW008")) == 1


def test_llmgw013_several_pods_need_a_budget() -> None:
    assert findings([deployment("gateway", 1)], "LLMGW013") == []
    assert findings([deployment("gateway", 3), budget("gateway")], "LLMGW013") == []
    assert findings([deployment("gateway", 3), budget("api")], "LLMGW013") == [
        "Deployment/llmgateway/llmgateway-gateway: at least 3 pods and no "
        "PodDisruptionBudget selects them: a node drain may evict them all at once"
    ]
    # An autoscaler's minimum counts; its default minimum is 1.
    assert len(findings([deployment("ui", None), autoscaler("ui", 2)], "LLMGW013")) == 1
    assert findings([deployment("ui", None), autoscaler("ui", None)], "LLMGW013") == []
    assert findings([deployment("ui", None), autoscaler("ui", 2), budget("ui")], "LLMGW013") == []


def test_llmgw014_replicas_fight_the_autoscaler() -> None:
    assert findings([deployment("ui", None), autoscaler("ui", 2), budget("ui")], "LLMGW014") == []
    assert findings([deployment("ui", 2), autoscaler("ui", 2), budget("ui")], "LLMGW014") == [
        "Deployment/llmgateway/llmgateway-ui: replicas 2 and HorizontalPodAutoscaler "
        "llmgateway-ui: leave the count to the autoscaler (no replicas field)"
    ]


def test_llmgw015_several_pods_spread_over_nodes() -> None:
    assert findings([deployment("api", 2), budget("api")], "LLMGW015") == []
    assert findings([deployment("api", 2, spread=False), budget("api")], "LLMGW015") == [
        "Deployment/llmgateway/llmgateway-api: at least 2 pods and no "
        "topologySpreadConstraints by kubernetes.io/hostname: one node's loss may take "
        "them all"
    ]
    # A spread over other pods (another selector) does not spread these.
    other = deployment("api", 2)
    other["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["labelSelector"] = {
        "matchLabels": {"component": "ui"}
    }
    assert len(findings([other, budget("api")], "LLMGW015")) == 1
    assert findings([deployment("api", 1, spread=False)], "LLMGW015") == []


def test_rules_leave_the_input_alone() -> None:
    resources = covered()
    before = copy.deepcopy(resources)
    check_policy("prod", SETTINGS, resources)
    assert resources == before
