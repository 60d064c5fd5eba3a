"""A removed NetworkPolicy is risky unless the pods it selected stay restricted.

Moving prod from the unified image to the split topology removes the one NetworkPolicy of
the unified pod and adds one per component: every app pod is still restricted, so the
removal is no door opened. Resources here are written by hand, as Kubernetes defines
label selectors and policy directions, not taken from the compiler's output.
"""

from __future__ import annotations

from typing import Any

from compiler.load import load_spec
from compiler.lower import lower_environment
from compiler.review import diff_environments
from tests.conftest import ROOT

NS = "llmgateway"
INGRESS_ONLY = ["Ingress"]


def workload(name: str, labels: dict[str, str], kind: str = "Deployment", ns: str = NS) -> Any:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": []}}},
    }


def policy(
    name: str, selector: dict[str, Any], types: list[str] | None = None, ns: str = NS
) -> Any:
    spec: dict[str, Any] = {"podSelector": selector}
    if types is not None:
        spec["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


APP = {"matchLabels": {"app": "llmgateway"}}
UNIFIED = [workload("llmgateway", {"app": "llmgateway"}), policy("llmgateway", APP, INGRESS_ONLY)]


def component(name: str) -> dict[str, str]:
    return {"app": "llmgateway", "component": name}


def split(*covered: str, uncovered: tuple[str, ...] = (), types: list[str] | None = None) -> Any:
    resources = []
    for name in covered + uncovered:
        resources.append(workload(f"llmgateway-{name}", component(name)))
    for name in covered:
        selector = {"matchLabels": component(name)}
        resources.append(
            policy(f"llmgateway-{name}", selector, INGRESS_ONLY if types is None else types)
        )
    return resources


def removal_risks(old: list[Any], new: list[Any]) -> list[str]:
    review = diff_environments("base", {"prod": old}, {"prod": new})
    return [r.resource for r in review.risks if r.what == "the NetworkPolicy is removed"]


REMOVED = ["NetworkPolicy/llmgateway/llmgateway"]


def test_one_policy_per_component_replaces_the_unified_one() -> None:
    assert removal_risks(UNIFIED, split("api", "gateway", "ui")) == []


def test_pods_of_other_labels_need_no_policy_of_their_own() -> None:
    # a Redis StatefulSet without app: llmgateway was never selected by the old policy
    new = [*split("api", "ui"), workload("llmgateway-redis", {"app": "redis"}, "StatefulSet")]
    assert removal_risks(UNIFIED, new) == []


def test_a_selected_pod_left_without_a_policy_is_a_door() -> None:
    assert removal_risks(UNIFIED, split("api", "ui", uncovered=("worker",))) == REMOVED


def test_a_replacement_that_restricts_another_direction_is_a_door() -> None:
    assert removal_risks(UNIFIED, split("api", "ui", types=["Egress"])) == REMOVED
    both = ["Ingress", "Egress"]
    assert removal_risks(UNIFIED, split("api", "ui", types=both)) == []
    # the old one restricted both: an Ingress-only replacement leaves egress open
    old_both = [UNIFIED[0], policy("llmgateway", APP, both)]
    assert removal_risks(old_both, split("api", "ui")) == REMOVED


def test_policies_of_another_namespace_restrict_nothing_here() -> None:
    elsewhere = [workload("llmgateway-api", component("api"))]
    elsewhere.append(policy("llmgateway-api", {"matchLabels": component("api")}, ns="other"))
    assert removal_risks(UNIFIED, elsewhere) == REMOVED


def test_workloads_of_another_namespace_are_not_the_policys_pods() -> None:
    new = [workload("llmgateway-api", component("api"), ns="other")]
    new.append(policy("llmgateway-api", {"matchLabels": component("api")}, INGRESS_ONLY))
    assert removal_risks(UNIFIED, new) == REMOVED  # no pod of its namespace is seen


def test_without_a_workload_the_pods_cannot_be_seen() -> None:
    assert removal_risks(UNIFIED, []) == REMOVED
    assert removal_risks(UNIFIED, [policy("llmgateway-api", APP, INGRESS_ONLY)]) == REMOVED


def test_an_empty_selector_selects_every_pod_of_the_namespace() -> None:
    old = [policy("all", {}, INGRESS_ONLY)]
    new = [*split("api"), workload("llmgateway-redis", {"app": "redis"}, "StatefulSet")]
    assert removal_risks(old, new) == ["NetworkPolicy/llmgateway/all"]
    new.append(policy("llmgateway-redis", {"matchLabels": {"app": "redis"}}, INGRESS_ONLY))
    assert removal_risks(old, new) == []


def test_a_policy_without_policy_types_restricts_ingress() -> None:
    # Kubernetes' default: Ingress, plus Egress when egress rules are given
    assert removal_risks(UNIFIED, split("api", types=[])) == []


def test_match_expressions_are_never_taken_as_a_replacement() -> None:
    expression = {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    old = [UNIFIED[0], policy("llmgateway", expression, INGRESS_ONLY)]
    assert removal_risks(old, split("api")) == REMOVED
    new = [workload("llmgateway-api", component("api"))]
    new.append(policy("any", expression, INGRESS_ONLY))
    assert removal_risks(UNIFIED, new) == REMOVED


def test_a_selector_matches_only_equal_values() -> None:
    other = [workload("llmgateway-api", {"app": "other", "component": "api"})]
    other.append(policy("p", {"matchLabels": {"app": "other"}}, INGRESS_ONLY))
    assert removal_risks(UNIFIED, other) == REMOVED  # no pod with app: llmgateway is seen


def test_moving_prod_to_the_split_topology_names_the_claim_alone() -> None:
    """The committed prod against the unified prod it replaced (the lowering is what
    kustomize renders: test_invariant): the per-component policies replace the unified
    one, and the claim holding the embedded database is the one risk."""
    before = load_spec(
        ROOT / "tests/cases/valid/unified-replicas-shared-data-acknowledged/spec.yaml"
    )
    after = load_spec(ROOT / "spec/llmgateway.yaml")
    old = lower_environment(dict(before.enabled())["prod"], "prod")
    new = lower_environment(dict(after.enabled())["prod"], "prod")
    review = diff_environments("base", {"prod": old}, {"prod": new})
    assert [(r.resource, r.what) for r in review.risks] == [
        (
            "PersistentVolumeClaim/llmgateway/llmgateway-data",
            "the data volume claim is removed",
        )
    ]


def test_a_replaced_policy_does_not_hide_the_changes_after_it() -> None:
    """Two policies removed: the unified one, replaced, then one whose pods (Redis) are
    left open: the second is still a door."""
    redis = {"app": "redis"}
    old = [
        *UNIFIED,
        workload("llmgateway-redis", redis, "StatefulSet"),
        policy("zz-redis", {"matchLabels": redis}, INGRESS_ONLY),
    ]
    new = [*split("api", "ui"), workload("llmgateway-redis", redis, "StatefulSet")]
    assert removal_risks(old, new) == ["NetworkPolicy/llmgateway/zz-redis"]
