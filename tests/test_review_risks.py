"""Which changes a review flags as risky, from resources written here by hand: each rule at
both sides, with the exact text a reviewer reads.

The facts behind the rules: Kubernetes refuses to change a Deployment's selector, a
Service's clusterIP and a claim's class, access modes and volume in place, and to shrink
a claim; a Recreate strategy on a ReadWriteOnce volume keeps two PostgreSQL servers off
one WAL (shared FACTS.md); the unified image keeps PostgreSQL's data in PGDATA
/var/lib/postgresql/data and its client programs in /usr/lib/postgresql/17/bin, user
postgres, database llmgateway (shared UPSTREAM.md "Unified image"); CloudNativePG's
bootstrap database defaults to `app`, its owner to the database (UPSTREAM.md section 3).
In-process and without kustomize, so `nox -s mutation` runs them per mutant of review.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from compiler.compare import FieldChange, ResourceChange
from compiler.review import (
    Risk,
    covers,
    diff_environments,
    diff_renderings,
    field_rank,
    in_review_order,
    loosened,
    policy_types,
)

NS = "llmgateway"


def resource(kind: str, name: str, spec: Any = None, api: str = "v1", **meta: Any) -> Any:
    found: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, **meta},
    }
    if kind == "Namespace":
        del found["metadata"]["namespace"]
    if spec is not None:
        found["spec"] = spec
    return found


def risks(old: list[Any], new: list[Any]) -> list[Risk]:
    return diff_environments("base", {"prod": old}, {"prod": new}).risks


def whats(old: list[Any], new: list[Any]) -> list[tuple[str, str]]:
    return [(r.resource, r.what) for r in risks(old, new)]


def claim(name: str = "llmgateway-data", access: str = "ReadWriteOnce", size: str = "10Gi") -> Any:
    return resource(
        "PersistentVolumeClaim",
        name,
        {"accessModes": [access], "resources": {"requests": {"storage": size}}},
    )


# --- environments and namespaces ---------------------------------------------------------


def test_environment_statuses_in_name_order() -> None:
    service = resource("Service", "s", {"type": "ClusterIP"})
    review = diff_environments(
        "base",
        {"b-same": [service], "c-gone": [service], "d-changed": [service]},
        {"a-new": [service], "b-same": [service], "d-changed": [resource("Service", "t")]},
    )
    assert [(e.name, e.status) for e in review.environments] == [
        ("a-new", "added"),
        ("b-same", "unchanged"),
        ("c-gone", "removed"),
        ("d-changed", "changed"),
    ]
    assert review.has_differences
    assert [(c.label, c.change) for c in review.environments[0].changes] == [
        ("Service/llmgateway/s", "added")
    ]
    assert [(c.label, c.change) for c in review.environments[2].changes] == [
        ("Service/llmgateway/s", "removed")
    ]
    assert review.risks == [
        Risk(
            "c-gone",
            "(environment)",
            "environment c-gone is removed from the spec",
            "its overlay is gone, but nothing deletes what is running; a later prune or a "
            "manual delete removes its volume and data",
            "decide what happens to the running c-gone deployment and its data before "
            "merging; back the data up first",
        )
    ]
    same = diff_environments("base", {"b": [service]}, {"b": [service]})
    assert not same.has_differences


def test_namespace_moved() -> None:
    assert risks([resource("Namespace", "old")], [resource("Namespace", "new")]) == [
        Risk(
            "prod",
            "Namespace/old",
            "namespace changes from old to new",
            "every resource is created anew in the new namespace; the volume and its data "
            "stay behind in the old one",
            "migrate the data (or accept starting empty), then delete the old namespace by "
            "hand once the new one serves",
        )
    ]


def test_namespace_removed() -> None:
    service = resource("Service", "s")
    assert risks([resource("Namespace", "old"), service], [service]) == [
        Risk(
            "prod",
            "Namespace/old",
            "the namespace is removed",
            "deleting a namespace deletes everything in it, data volumes included",
            "back up the data and confirm nothing else lives in the namespace",
        )
    ]
    assert risks([service], [resource("Namespace", "new"), service]) == []


# --- claims and the embedded database ----------------------------------------------------

PLAIN_CLAIM = Risk(
    "prod",
    "PersistentVolumeClaim/llmgateway/llmgateway-data",
    "the data volume claim is removed",
    "deleting the claim deletes the volume and the PostgreSQL data on it (with the usual "
    "Delete reclaim policy)",
    "back up the database first, or keep the claim out of pruning",
)


def unified(
    claim_name: str = "llmgateway-data",
    mount: str = "/var/lib/postgresql",
    pgdata: str = "/var/lib/postgresql/data",
    namespace: str = NS,
) -> Any:
    """The unified Deployment as FACTS.md describes it: the claim at the parent of PGDATA."""
    pod = {
        "volumes": [
            {"name": "scratch", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": claim_name}},
        ],
        "containers": [
            {"name": "sidecar", "env": [{"name": "PGDATA", "value": pgdata}]},
            {
                "name": "llmgateway",
                "env": [{"name": "OTHER", "value": "x"}, {"name": "PGDATA", "value": pgdata}],
                "volumeMounts": [
                    {"name": "scratch", "mountPath": "/tmp"},
                    {"name": "data", "mountPath": mount},
                ],
            },
        ],
    }
    found = resource("Deployment", "llmgateway", {"template": {"spec": pod}}, api="apps/v1")
    found["metadata"]["namespace"] = namespace
    return found


def cluster(initdb: dict[str, str] | None = None, namespace: str | None = NS) -> Any:
    spec: dict[str, Any] = {"instances": 3}
    if initdb is not None:
        spec["bootstrap"] = {"initdb": initdb}
    found = resource("Cluster", "llmgateway-postgres", spec, api="postgresql.cnpg.io/v1")
    if namespace is None:
        del found["metadata"]["namespace"]
    else:
        found["metadata"]["namespace"] = namespace
    return found


DUMP = (
    "dump it: kubectl -n llmgateway exec deploy/llmgateway -c llmgateway -- "
    "/usr/lib/postgresql/17/bin/pg_dump -h 127.0.0.1 -U postgres -d llmgateway -Fc > "
    "llmgateway.dump"
)
FREEZE = (
    "scale Deployment llmgateway to 1 pod and make the database read-only (ALTER DATABASE "
    "llmgateway SET default_transaction_read_only = on, then end the open sessions)"
)
WHY = (
    "it holds the embedded PostgreSQL database of Deployment llmgateway (container "
    "llmgateway, PGDATA {pgdata}), and nothing copies it to the new database: deleting the "
    "claim deletes the volume and all the app's data (with the usual Delete reclaim policy)"
)


def moved(steps: str) -> str:
    return (
        'move the data before applying this (README.md, "Moving prod to the split topology" '
        f"has every command): {steps}; then apply, and delete the old Deployment, and the "
        "claim last, once the new deployment serves the data"
    )


def cnpg_steps(database: str, owner: str) -> str:
    return (
        "1. create the Cluster llmgateway-postgres alone and wait for it (kubectl -n "
        "llmgateway wait cluster/llmgateway-postgres --for=condition=Ready); "
        f"2. {FREEZE}; 3. {DUMP}; 4. restore into its current primary: P=$(kubectl -n "
        "llmgateway get cluster llmgateway-postgres -o jsonpath='{.status.currentPrimary}'); "
        'kubectl -n llmgateway exec -i "$P" -c postgres -- pg_restore --no-owner '
        f"--role={owner} --single-transaction -d {database} < llmgateway.dump; 5. compare "
        "the row counts of both sides"
    )


SPLIT_APP = resource("Deployment", "llmgateway-api", {"replicas": 1}, api="apps/v1")


@pytest.mark.parametrize(
    ("initdb", "database", "owner"),
    [
        (None, "app", "app"),
        ({}, "app", "app"),
        ({"database": "llmgateway"}, "llmgateway", "llmgateway"),
        ({"database": "gw", "owner": "gwuser"}, "gw", "gwuser"),
    ],
)
def test_embedded_database_moved_to_cloudnative_pg(
    initdb: dict[str, str] | None, database: str, owner: str
) -> None:
    found = risks([unified(), claim()], [SPLIT_APP, cluster(initdb)])
    assert found == [
        Risk(
            "prod",
            "PersistentVolumeClaim/llmgateway/llmgateway-data",
            "the data volume claim is removed",
            WHY.format(pgdata="/var/lib/postgresql/data"),
            moved(cnpg_steps(database, owner)),
        )
    ]


def test_a_cluster_without_a_namespace_is_in_the_deployments() -> None:
    found = risks([unified(), claim()], [SPLIT_APP, cluster(namespace=None)])
    assert found[0].action == moved(cnpg_steps("app", "app"))


def test_a_cluster_of_another_api_is_not_cloudnative_pg() -> None:
    other = resource("Cluster", "llmgateway-postgres", {}, api="example.com/v1")
    found = risks([unified(), claim()], [SPLIT_APP, other])
    assert found[0].action == moved(
        f"1. create the new database; 2. {FREEZE}; 3. {DUMP}; 4. restore the dump into the "
        "new database with pg_restore --no-owner --single-transaction; 5. compare the row "
        "counts of both sides"
    )


@pytest.mark.parametrize(
    ("mount", "pgdata"),
    [
        ("/var/lib/postgresql", "/var/lib/postgresql/data"),
        ("/var/lib/postgresql/", "/var/lib/postgresql/data"),
        ("/var/lib/postgresql/data", "/var/lib/postgresql/data"),
    ],
)
def test_pgdata_on_the_claim(mount: str, pgdata: str) -> None:
    found = risks([unified(mount=mount, pgdata=pgdata), claim()], [SPLIT_APP, cluster()])
    assert found[0].why == WHY.format(pgdata=pgdata)


@pytest.mark.parametrize(
    "old",
    [
        # PGDATA outside the claim's mount (a sibling folder with the same start)
        [unified(mount="/var/lib/postgres", pgdata="/var/lib/postgresql/data"), claim()],
        # the Deployment mounts another claim
        [unified(claim_name="other"), claim()],
        # the Deployment is in another namespace
        [unified(namespace="elsewhere"), claim()],
        # no Deployment
        [claim()],
    ],
)
def test_a_claim_without_the_embedded_database_gets_the_plain_warning(old: list[Any]) -> None:
    assert risks(old, [SPLIT_APP, cluster()]) == [PLAIN_CLAIM]


def test_no_steps_while_an_embedded_database_stays() -> None:
    # The environment keeps an embedded database on another claim: only the warning.
    kept = [unified(claim_name="data-2"), claim("data-2")]
    assert risks([unified(), claim()], kept) == [PLAIN_CLAIM]


def test_no_steps_for_a_removed_environment() -> None:
    review = diff_environments("base", {"prod": [unified(), claim()]}, {})
    assert [r.what for r in review.risks] == [
        "environment prod is removed from the spec",
        "the data volume claim is removed",
    ]
    assert review.risks[1] == PLAIN_CLAIM


def test_an_empty_pgdata_is_no_database() -> None:
    assert risks([unified(pgdata=""), claim()], [SPLIT_APP, cluster()]) == [PLAIN_CLAIM]


# --- fields that cannot change in place --------------------------------------------------


def immutable(kind: str, path: str, name: str = "x", extra: str = "") -> Risk:
    return Risk(
        "prod",
        f"{kind}/llmgateway/{name}",
        path,
        f"a {kind}'s {extra} cannot change in place; the API server rejects the apply",
        f"delete and recreate the {kind} (kubectl delete {kind.lower()} {name} -n llmgateway) "
        "in a maintenance window"
        + (
            "; the data must be migrated to the new claim first"
            if kind == "PersistentVolumeClaim"
            else ""
        ),
    )


@pytest.mark.parametrize(
    ("kind", "before", "after", "risk"),
    [
        (
            "Deployment",
            {"selector": {"matchLabels": {"app": "a"}}},
            {"selector": {"matchLabels": {"app": "b"}}},
            ("spec.selector.matchLabels.app: 'a' -> 'b'", "spec.selector.matchLabels.app"),
        ),
        ("Deployment", {"selectorx": 1}, {"selectorx": 2}, None),
        (
            "Service",
            {"clusterIP": "None"},
            {"clusterIP": "10.0.0.1"},
            ("spec.clusterIP: 'None' -> '10.0.0.1'", "spec.clusterIP"),
        ),
        ("Service", {"clusterIPs": ["a"]}, {"clusterIPs": ["b"]}, None),
        (
            "PersistentVolumeClaim",
            {"storageClassName": "a"},
            {"storageClassName": "b"},
            ("spec.storageClassName: 'a' -> 'b'", "spec.storageClassName"),
        ),
        (
            "PersistentVolumeClaim",
            {"accessModes": ["ReadWriteOnce"]},
            {"accessModes": ["ReadWriteMany"]},
            ("spec.accessModes[0]: 'ReadWriteOnce' -> 'ReadWriteMany'", "spec.accessModes"),
        ),
        (
            "PersistentVolumeClaim",
            {"volumeName": "pv-1"},
            {"volumeName": "pv-2"},
            ("spec.volumeName: 'pv-1' -> 'pv-2'", "spec.volumeName"),
        ),
        ("ConfigMap", {"selector": 1}, {"selector": 2}, None),
    ],
)
def test_fields_that_cannot_change_in_place(
    kind: str, before: Any, after: Any, risk: tuple[str, str] | None
) -> None:
    api = "apps/v1" if kind == "Deployment" else "v1"
    found = risks([resource(kind, "x", before, api=api)], [resource(kind, "x", after, api=api)])
    assert found == ([immutable(kind, risk[0], extra=risk[1])] if risk else [])


@pytest.mark.parametrize(
    ("before", "after", "shrinks"),
    [
        ("10Gi", "5Gi", True),
        ("10Gi", "20Gi", False),
        ("10Gi", "10240Mi", False),
        ("10Gi", "10G", True),
        ("10Gi", "a lot", False),  # not a quantity: nothing to compare
        ("a lot", "1Gi", False),
    ],
)
def test_storage_shrink(before: str, after: str, shrinks: bool) -> None:
    found = whats([claim(size=before)], [claim(size=after)])
    assert found == (
        [
            (
                "PersistentVolumeClaim/llmgateway/llmgateway-data",
                "storage request shrinks: "
                f"spec.resources.requests.storage: '{before}' -> '{after}'",
            )
        ]
        if shrinks
        else []
    )
    if shrinks:
        (risk,) = risks([claim(size=before)], [claim(size=after)])
        assert risk.why == "Kubernetes cannot shrink a volume claim; the apply is rejected"
        assert risk.action == "keep the size, or migrate the data to a new, smaller claim"


def test_other_request_of_a_claim_is_no_shrink() -> None:
    old = resource("PersistentVolumeClaim", "c", {"resources": {"limits": {"storage": "2Gi"}}})
    new = resource("PersistentVolumeClaim", "c", {"resources": {"limits": {"storage": "1Gi"}}})
    assert risks([old], [new]) == []


def deployment(strategy: str) -> Any:
    return resource("Deployment", "llmgateway", {"strategy": {"type": strategy}}, api="apps/v1")


@pytest.mark.parametrize(
    ("before", "after", "claims", "risky"),
    [
        ("Recreate", "RollingUpdate", [claim()], True),
        ("Recreate", "RollingUpdate", [claim("a", "ReadWriteMany"), claim("b")], True),
        ("Recreate", "RollingUpdate", [claim(access="ReadWriteMany")], False),
        ("Recreate", "RollingUpdate", [], False),
        ("RollingUpdate", "Recreate", [claim()], False),
    ],
)
def test_rolling_update_on_a_read_write_once_volume(
    before: str, after: str, claims: list[Any], risky: bool
) -> None:
    found = risks([deployment(before), *claims], [deployment(after), *claims])
    assert found == (
        [
            Risk(
                "prod",
                "Deployment/llmgateway/llmgateway",
                f"spec.strategy.type: '{before}' -> '{after}'",
                "the data volume is ReadWriteOnce: a rolling update starts a second pod on the "
                "same volume, which corrupts the PostgreSQL WAL",
                "keep strategy Recreate while the volume is ReadWriteOnce",
            )
        ]
        if risky
        else []
    )


def test_rolling_update_found_among_other_changes() -> None:
    before, after = deployment("Recreate"), deployment("RollingUpdate")
    before["spec"]["replicas"], after["spec"]["replicas"] = 1, 2
    assert whats([before, claim()], [after, claim()]) == [
        ("Deployment/llmgateway/llmgateway", "spec.strategy.type: 'Recreate' -> 'RollingUpdate'")
    ]


def test_a_claim_without_access_modes_is_not_read_write_once() -> None:
    bare = resource("PersistentVolumeClaim", "c", {})
    assert risks([deployment("Recreate"), bare], [deployment("RollingUpdate"), bare]) == []


# --- doors opened ------------------------------------------------------------------------

AUTH = "nginx.ingress.kubernetes.io/auth-url"


def ingress(hosts: list[str], annotations: dict[str, str] | None) -> Any:
    rules: list[Any] = [{"host": host} for host in hosts]
    found = resource("Ingress", "ui", {"rules": [*rules, {"http": {}}]}, api="networking.k8s.io/v1")
    if annotations is not None:
        found["metadata"]["annotations"] = annotations
    return found


@pytest.mark.parametrize(
    ("before", "after", "what"),
    [
        ({AUTH: "https://auth/oauth2/auth"}, {}, "a.example.com, b.example.com"),
        ({AUTH: "https://auth/oauth2/auth"}, None, "a.example.com, b.example.com"),
        ({AUTH: "https://auth/oauth2/auth"}, {AUTH: ""}, "a.example.com, b.example.com"),
        ({AUTH: "https://auth/oauth2/auth"}, {AUTH: "https://other/oauth2/auth"}, None),
        ({}, {"x": "y"}, None),
        (None, {AUTH: "https://auth/oauth2/auth"}, None),
    ],
)
def test_sign_in_removed(
    before: dict[str, str] | None, after: dict[str, str] | None, what: str | None
) -> None:
    hosts = ["a.example.com", "b.example.com"]
    found = risks([ingress(hosts, before)], [ingress(hosts, after)])
    assert found == (
        [
            Risk(
                "prod",
                "Ingress/llmgateway/ui",
                f"the oauth2-proxy sign-in is removed: {what} becomes public",
                "anyone who can reach the host reaches the endpoint without signing in",
                "make sure the endpoint is meant to be public (the spec's `public` setting) "
                "and protects itself",
            )
        ]
        if what
        else []
    )


def test_sign_in_removed_from_an_ingress_without_hosts() -> None:
    found = whats([ingress([], {AUTH: "x"})], [ingress([], {"other": "y"})])
    assert found == [
        ("Ingress/llmgateway/ui", "the oauth2-proxy sign-in is removed: its hosts becomes public")
    ]


def test_an_ingress_added_or_removed_is_no_door() -> None:
    assert risks([], [ingress(["a"], None)]) == []
    assert risks([ingress(["a"], {AUTH: "x"})], []) == []


def policy(spec: dict[str, Any]) -> Any:
    return resource("NetworkPolicy", "np", spec, api="networking.k8s.io/v1")


def test_network_policy_removed() -> None:
    assert risks([policy({"podSelector": {}})], []) == [
        Risk(
            "prod",
            "NetworkPolicy/llmgateway/np",
            "the NetworkPolicy is removed",
            "the pods it selected accept traffic from anywhere in the cluster",
            "keep a NetworkPolicy (networkPolicy.enabled) unless the cluster restricts "
            "traffic otherwise",
        )
    ]
    assert risks([], [policy({"podSelector": {}})]) == []


FROM_INGRESS = {"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}
FROM_ANY_POD: dict[str, Any] = {"podSelector": {}}
PORT_80 = {"port": 80, "protocol": "TCP"}
PORT_443 = {"port": 443, "protocol": "TCP"}
BASE = {
    "podSelector": {"matchLabels": {"app": "llmgateway"}},
    "policyTypes": ["Ingress"],
    "ingress": [{"from": [FROM_INGRESS], "ports": [PORT_80]}],
}


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"podSelector": {"matchLabels": {"app": "other"}}}, ["it selects other pods"]),
        (
            {"ingress": [{"from": [FROM_INGRESS, FROM_ANY_POD], "ports": [PORT_80]}]},
            ["it allows more ingress traffic"],
        ),
        (
            {"ingress": [{"from": [FROM_INGRESS], "ports": [PORT_80, PORT_443]}]},
            ["it allows more ingress traffic"],
        ),
        ({"ingress": [{"from": [FROM_INGRESS]}]}, ["it allows more ingress traffic"]),
        ({"ingress": [{"ports": [PORT_80]}]}, ["it allows more ingress traffic"]),
        ({"ingress": [{}]}, ["it allows more ingress traffic"]),
        (
            {
                "ingress": [
                    {"from": [FROM_INGRESS], "ports": [PORT_80]},
                    {"from": [FROM_ANY_POD], "ports": [PORT_80]},
                ]
            },
            ["it allows more ingress traffic"],
        ),
        # narrower or the same: no risk
        ({"ingress": [{"from": [FROM_INGRESS], "ports": [PORT_80]}]}, []),
        ({"ingress": []}, []),
        (
            {
                "ingress": [
                    {"from": [FROM_INGRESS], "ports": [PORT_80]},
                    {"from": [FROM_INGRESS], "ports": [PORT_80]},
                ]
            },
            [],
        ),
        # egress was open (not in policyTypes): any egress rule only narrows it
        ({"egress": [{"to": [FROM_ANY_POD]}], "policyTypes": ["Ingress", "Egress"]}, []),
        (
            {"podSelector": {}, "policyTypes": [], "ingress": [{}]},
            ["it selects other pods", "it allows more ingress traffic"],
        ),
    ],
)
def test_network_policy_loosened(changes: dict[str, Any], reasons: list[str]) -> None:
    found = risks([policy(BASE)], [policy({**BASE, **changes})])
    assert found == (
        [
            Risk(
                "prod",
                "NetworkPolicy/llmgateway/np",
                f"the NetworkPolicy is loosened: {'; '.join(reasons)}",
                "more traffic reaches the pods than before",
                "check that every newly allowed source or destination is intended",
            )
        ]
        if reasons
        else []
    )


EGRESS = {
    "podSelector": {},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [],
    "egress": [{"to": [FROM_INGRESS], "ports": [PORT_443]}],
}


@pytest.mark.parametrize(
    ("after", "reasons"),
    [
        (
            {**EGRESS, "egress": [{"to": [FROM_ANY_POD], "ports": [PORT_443]}]},
            ["it allows more egress traffic"],
        ),
        ({**EGRESS, "egress": [{"ports": [PORT_443]}]}, ["it allows more egress traffic"]),
        # a "from" is no destination: only "to" counts for egress
        (
            {
                **EGRESS,
                "egress": [{"to": [FROM_INGRESS], "from": [FROM_ANY_POD], "ports": [PORT_443]}],
            },
            [],
        ),
        ({**EGRESS, "policyTypes": ["Ingress"]}, ["it no longer restricts Egress"]),
        ({**EGRESS, "policyTypes": [], "egress": []}, ["it no longer restricts Egress"]),
        ({**EGRESS, "policyTypes": ["Egress"]}, ["it no longer restricts Ingress"]),
        ({"podSelector": {}}, ["it no longer restricts Egress"]),
    ],
)
def test_network_policy_egress_loosened(after: dict[str, Any], reasons: list[str]) -> None:
    found = [r.what for r in risks([policy(EGRESS)], [policy(after)])]
    assert found == ([f"the NetworkPolicy is loosened: {'; '.join(reasons)}"] if reasons else [])


def test_both_directions_lost_are_named_in_order() -> None:
    found = [
        r.what for r in risks([policy(EGRESS)], [policy({"podSelector": {}, "policyTypes": ["x"]})])
    ]
    assert found == ["the NetworkPolicy is loosened: it no longer restricts Egress, Ingress"]


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({}, {"Ingress"}),
        ({"egress": []}, {"Ingress"}),
        ({"egress": [{}]}, {"Ingress", "Egress"}),
        ({"policyTypes": ["Egress"]}, {"Egress"}),
        ({"policyTypes": [], "egress": [{}]}, {"Ingress", "Egress"}),
    ],
)
def test_policy_types_default_as_kubernetes(spec: dict[str, Any], types: set[str]) -> None:
    """Unset policyTypes: Ingress, plus Egress when the policy has egress rules
    (NetworkPolicySpec.policyTypes in the Kubernetes API)."""
    assert policy_types(spec) == types


@pytest.mark.parametrize(
    ("old", "new", "covered"),
    [
        ({}, {"from": [1], "ports": [2]}, True),  # empty lists allow everything
        ({"from": [1]}, {"from": [1]}, True),
        ({"from": [1, 2]}, {"from": [2]}, True),
        ({"from": [1]}, {"from": [1, 2]}, False),
        ({"from": [1]}, {}, False),
        ({"ports": [80]}, {"ports": []}, False),
        ({"ports": [80]}, {"ports": [80], "from": [9]}, True),
        ({"to": [1]}, {"to": [2]}, True),  # not the peers asked about
        ("a", "a", True),
        ("a", {"from": [1]}, False),
        ({"from": [1]}, None, False),
    ],
)
def test_covers(old: Any, new: Any, covered: bool) -> None:
    assert covers(old, new, "from") is covered


def test_loosened_of_policies_without_spec() -> None:
    assert loosened({}, {}) == []
    assert loosened({"spec": None}, {"spec": {"podSelector": {}}}) == ["it selects other pods"]


def service(kind: str | None, port: int = 80) -> Any:
    spec: dict[str, Any] = {"ports": [{"port": port}]}
    if kind:
        spec["type"] = kind
    return resource("Service", "s", spec)


@pytest.mark.parametrize(
    ("before", "after", "what"),
    [
        (service(None), service("NodePort"), "the Service becomes NodePort (was ClusterIP)"),
        (
            service("ClusterIP"),
            service("LoadBalancer"),
            "the Service becomes LoadBalancer (was ClusterIP)",
        ),
        (
            service("NodePort"),
            service("LoadBalancer"),
            "the Service becomes LoadBalancer (was NodePort)",
        ),
        (None, service("LoadBalancer"), "the Service becomes LoadBalancer"),
        (None, service("NodePort"), "the Service becomes NodePort"),
        (service("NodePort"), service("NodePort", 81), None),
        (service("LoadBalancer"), service("ClusterIP"), None),
        (None, service(None), None),
        (None, service("ExternalName"), None),
        (service("NodePort"), None, None),
    ],
)
def test_service_exposed(before: Any, after: Any, what: str | None) -> None:
    found = risks([before] if before else [], [after] if after else [])
    assert found == (
        [
            Risk(
                "prod",
                "Service/llmgateway/s",
                what,
                "its ports are reachable from outside the cluster, bypassing the Ingress and "
                "its sign-in",
                "keep ClusterIP behind the Ingress unless the exposure is intended (serviceType)",
            )
        ]
        if what
        else []
    )


# --- the order a reviewer reads ----------------------------------------------------------


def test_fields_in_review_order() -> None:
    fields = [
        FieldChange("metadata.annotations.checkov.io/skip1", 1, 2),
        FieldChange("metadata.annotations.note", 1, 2),
        FieldChange("spec.template.metadata.annotations.checkov.io/skip2", 1, 2),
        FieldChange("metadata.labels.b", 1, 2),
        FieldChange("stringData.X", 1, 2),
        FieldChange("spec.template.metadata.annotations.note", 1, 2),
        FieldChange("spec.replicas", 1, 2),
        FieldChange("metadata.labels.a", 1, 2),
        FieldChange("data.X", 1, 2),
        FieldChange("annotations", 1, 2),
        FieldChange("specification", 1, 2),
        FieldChange("metadata.annotations.xcheckov.io/skip", 1, 2),
    ]
    assert [field_rank(f)[0] for f in fields] == [3, 2, 3, 1, 0, 2, 0, 1, 0, 2, 0, 2]
    # the annotation's own key may hold "annotations."
    odd = FieldChange("metadata.annotations.checkov.io/skip-annotations.x", 1, 2)
    assert field_rank(odd) == (3, odd.path)
    (ordered,) = in_review_order([ResourceChange(("v1", "Service", NS, "s"), "changed", fields)])
    assert [f.path for f in ordered.fields] == [
        "data.X",
        "spec.replicas",
        "specification",
        "stringData.X",
        "metadata.labels.a",
        "metadata.labels.b",
        "annotations",
        "metadata.annotations.note",
        "metadata.annotations.xcheckov.io/skip",
        "spec.template.metadata.annotations.note",
        "metadata.annotations.checkov.io/skip1",
        "spec.template.metadata.annotations.checkov.io/skip2",
    ]


def test_resources_in_review_order() -> None:
    def change(kind: str, name: str, fields: list[FieldChange] | None = None) -> ResourceChange:
        return ResourceChange(("v1", kind, NS, name), "changed", fields or [])

    skip = [FieldChange("metadata.annotations.checkov.io/skip1", 1, 2)]
    ordered = in_review_order(
        [
            change("Widget", "a"),
            change("Deployment", "only-policy", skip),
            change("ConfigMap", "a"),
            change("Cluster", "a"),
            change("Ingress", "b"),
            change("Ingress", "a"),
            change("PodDisruptionBudget", "a"),
            change("Deployment", "z", [*skip, FieldChange("spec.replicas", 1, 2)]),
            change("StatefulSet", "a"),
        ]
    )
    assert [c.label for c in ordered] == [
        # workloads, by identity
        "Deployment/llmgateway/z",
        "PodDisruptionBudget/llmgateway/a",
        "StatefulSet/llmgateway/a",
        "Ingress/llmgateway/a",
        "Ingress/llmgateway/b",
        "Cluster/llmgateway/a",
        "ConfigMap/llmgateway/a",
        "Widget/llmgateway/a",
        "Deployment/llmgateway/only-policy",
    ]


# --- renderings as kustomize's texts -----------------------------------------------------

SERVICE_TEXT = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: llmgateway\n"


def test_renderings_compared_only_where_they_differ() -> None:
    changed = SERVICE_TEXT + "spec:\n  type: NodePort\n"
    review = diff_renderings(
        "base",
        {"same": SERVICE_TEXT, "gone": SERVICE_TEXT, "moved": SERVICE_TEXT},
        {"same": SERVICE_TEXT, "new": SERVICE_TEXT, "moved": changed},
    )
    assert [(e.name, e.status) for e in review.environments] == [
        ("gone", "removed"),
        ("moved", "changed"),
        ("new", "added"),
        ("same", "unchanged"),
    ]
    assert [r.what for r in review.risks] == [
        "environment gone is removed from the spec",
        "the Service becomes NodePort (was ClusterIP)",
    ]
    moved = review.environments[1]
    assert [(c.label, [(f.path, f.new) for f in c.fields]) for c in moved.changes] == [
        ("Service/llmgateway/s", [("spec", {"type": "NodePort"})])
    ]
    assert [c.change for c in review.environments[2].changes] == ["added"]


def test_renderings_equal_in_meaning_but_not_in_bytes_are_compared() -> None:
    """Another key order: parsed and compared, and found unchanged."""
    reordered = "kind: Service\napiVersion: v1\nmetadata:\n  namespace: llmgateway\n  name: s\n"
    review = diff_renderings("base", {"prod": SERVICE_TEXT}, {"prod": reordered})
    assert [(e.name, e.status, e.changes) for e in review.environments] == [
        ("prod", "unchanged", [])
    ]


# --- the embedded database found among any resources -------------------------------------


def test_the_embedded_database_is_found_after_other_resources() -> None:
    """Resources of other kinds and Deployments of other namespaces come first; a
    StatefulSet with PGDATA on the claim is no unified pod; non-mappings are skipped."""
    stateful = unified()
    stateful["kind"] = "StatefulSet"
    old = [
        "not a resource",
        claim(),
        stateful,
        unified(namespace="elsewhere"),
        unified(),
    ]
    found = risks(old, [SPLIT_APP, cluster()])
    assert found[0].why == WHY.format(pgdata="/var/lib/postgresql/data")
    assert risks(["not a resource", stateful, claim()], [SPLIT_APP, cluster()]) == [PLAIN_CLAIM]


def test_the_embedded_database_of_a_rendering_without_namespaces() -> None:
    """A base rendered without a namespace: the claim and the Deployment still match."""
    deployment, volume = unified(), claim()
    del deployment["metadata"]["namespace"]
    del volume["metadata"]["namespace"]
    found = risks([deployment, volume], [SPLIT_APP])
    assert found[0].resource == "PersistentVolumeClaim/llmgateway-data"
    assert found[0].why == WHY.format(pgdata="/var/lib/postgresql/data")
    assert "kubectl -n  exec deploy/llmgateway" in found[0].action


def test_a_mount_path_is_compared_without_its_final_slashes_only() -> None:
    found = risks([unified(mount="/DATAX/", pgdata="/DATAX/pgdata"), claim()], [SPLIT_APP])
    assert found[0].why == WHY.format(pgdata="/DATAX/pgdata")


def test_the_cluster_in_its_own_namespace() -> None:
    found = risks([unified(), claim()], [SPLIT_APP, cluster(namespace="databases")])
    assert "kubectl -n databases wait cluster/llmgateway-postgres" in found[0].action
    assert "kubectl -n databases exec -i" in found[0].action


def test_annotations_that_are_no_mapping_are_none() -> None:
    old, new = ingress(["a"], None), ingress(["a"], None)
    old["metadata"]["annotations"] = "x"
    new["metadata"]["annotations"] = ["y"]
    assert risks([old], [new]) == []


def test_a_policy_restricting_egress_only_is_checked_for_egress() -> None:
    before = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [FROM_INGRESS]}]}
    after = {**before, "egress": [{"to": [FROM_ANY_POD]}]}
    assert [r.what for r in risks([policy(before)], [policy(after)])] == [
        "the NetworkPolicy is loosened: it allows more egress traffic"
    ]
