"""Who may reach what in the split topology, walked over the rendered NetworkPolicies.

The tables below are written from issue 13 point 4 and CloudNativePG's documentation,
not from the compiler: only the ingress controller reaches the web services (the api also
from the app pods that call it in the cluster through API_BACKEND_URL); only the app pods
reach PostgreSQL (5432) and Redis (6379); the operator's namespace reaches the instances
on 8000 and 5432 (cloudnative-pg@4b5e244a docs/src/networking.md:26,
docs/src/security.md:797-827, docs/src/samples/networkpolicy-example.yaml); instances reach
each other on 5432 and 8000 (docs/src/instance_manager.md:205-216); with restricted egress
the gateway and worker reach the internet on 443. Each row is decided by a small model of
Kubernetes' NetworkPolicy semantics over the resources kustomize renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.lint import lint_environment, validate_schemas
from compiler.load import parse_spec
from compiler.plan import plan_tree
from compiler.render import render
from compiler.spec import Spec
from tests.helpers import load_rendering, write_tree

NAMESPACE = "llmgateway-prod"


@dataclass(frozen=True)
class Pod:
    """A pod (or an address outside the cluster when ``namespace`` is None)."""

    namespace: str | None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def pod(namespace: str | None, **labels: str) -> Pod:
    return Pod(namespace, tuple(sorted(labels.items())))


def app(component: str) -> Pod:
    return Pod(NAMESPACE, (("app", "llmgateway"), ("component", component)))


# The parties, as the cluster labels them (issue 13's contract: pods of a split service
# carry app=llmgateway and component=<service>).
CONTROLLER = pod("ingress-nginx", **{"app.kubernetes.io/name": "ingress-nginx"})
OTHER_POD_OF_CONTROLLER_NAMESPACE = pod("ingress-nginx", run="debug")
OPERATOR = pod("cnpg-system", **{"app.kubernetes.io/name": "cloudnative-pg"})
PROMETHEUS = pod("monitoring", **{"app.kubernetes.io/name": "prometheus"})
# A pod with the app's labels in another namespace, and a stranger in the app's namespace.
LOOKALIKE = pod("default", app="llmgateway", component="api")
STRANGER = pod(NAMESPACE, run="debug")
CNPG_INSTANCE = pod(
    NAMESPACE, **{"cnpg.io/cluster": "llmgateway-postgres", "cnpg.io/podRole": "instance"}
)
# The join Job copies the primary when a replica is made (cloudnative-pg pkg/specs/jobs.go).
CNPG_JOIN_JOB = pod(
    NAMESPACE, **{"cnpg.io/cluster": "llmgateway-postgres", "cnpg.io/jobRole": "join"}
)
POSTGRES_POD = pod(NAMESPACE, app="llmgateway-postgres")
REDIS_POD = pod(NAMESPACE, app="llmgateway-redis")
DNS = pod("kube-system", **{"k8s-app": "kube-dns"})
INTERNET = Pod(None)

WEB = ("api", "gateway", "ui", "admin", "playground", "docs", "code")
# The app pods' port: each Service's port 80 goes to the container port `http`, 8080 (the
# images run as root without NET_BIND_SERVICE; README "The split topology"). A
# NetworkPolicy sees the pod's port, after the Service's translation.
APP_PORT = 8080
# (who, to whom, port, allowed?) for the environment `cnpg` below.
INGRESS_TABLE: list[tuple[str, Pod, Pod, int, bool]] = [
    *[(f"controller->{s}", CONTROLLER, app(s), APP_PORT, True) for s in WEB],
    *[
        (
            f"controller-namespace-other-pod->{s}",
            OTHER_POD_OF_CONTROLLER_NAMESPACE,
            app(s),
            APP_PORT,
            False,
        )
        for s in WEB
    ],
    *[(f"stranger->{s}", STRANGER, app(s), APP_PORT, False) for s in WEB],
    *[(f"lookalike->{s}", LOOKALIKE, app(s), APP_PORT, False) for s in WEB],
    ("controller->worker", CONTROLLER, app("worker"), APP_PORT, False),
    ("ui->api", app("ui"), app("api"), APP_PORT, True),
    ("admin->api", app("admin"), app("api"), APP_PORT, True),
    ("ui->gateway", app("ui"), app("gateway"), APP_PORT, False),
    ("prometheus->gateway", PROMETHEUS, app("gateway"), APP_PORT, True),
    ("prometheus->api", PROMETHEUS, app("api"), APP_PORT, False),
    *[(f"{s}->postgres", app(s), CNPG_INSTANCE, 5432, True) for s in ("api", "gateway", "worker")],
    *[(f"{s}->redis", app(s), REDIS_POD, 6379, True) for s in ("api", "gateway", "worker")],
    ("api->postgres:8000", app("api"), CNPG_INSTANCE, 8000, False),
    ("api->redis:5432", app("api"), REDIS_POD, 5432, False),
    ("controller->postgres", CONTROLLER, CNPG_INSTANCE, 5432, False),
    ("controller->redis", CONTROLLER, REDIS_POD, 6379, False),
    ("stranger->postgres", STRANGER, CNPG_INSTANCE, 5432, False),
    ("stranger->redis", STRANGER, REDIS_POD, 6379, False),
    ("lookalike->postgres", LOOKALIKE, CNPG_INSTANCE, 5432, False),
    ("lookalike->redis", LOOKALIKE, REDIS_POD, 6379, False),
    ("operator->postgres:8000", OPERATOR, CNPG_INSTANCE, 8000, True),
    ("operator->postgres:5432", OPERATOR, CNPG_INSTANCE, 5432, True),
    ("operator->postgres:9187", OPERATOR, CNPG_INSTANCE, 9187, False),
    ("operator->redis", OPERATOR, REDIS_POD, 6379, False),
    ("instance->instance:5432", CNPG_INSTANCE, CNPG_INSTANCE, 5432, True),
    ("instance->instance:8000", CNPG_INSTANCE, CNPG_INSTANCE, 8000, True),
    ("join-job->instance:5432", CNPG_JOIN_JOB, CNPG_INSTANCE, 5432, True),
    ("stranger->instance:8000", STRANGER, CNPG_INSTANCE, 8000, False),
]
# Where pods may go with networkPolicy.restrictEgress.
EGRESS_TABLE: list[tuple[str, Pod, Pod, int, bool]] = [
    *[(f"{s}->dns", app(s), DNS, 53, True) for s in (*WEB, "worker")],
    *[(f"{s}->internet:443", app(s), INTERNET, 443, True) for s in ("gateway", "worker")],
    ("ui->internet:443", app("ui"), INTERNET, 443, False),
    *[(f"{s}->internet:80", app(s), INTERNET, 80, False) for s in ("gateway", "worker", "api")],
    *[(f"{s}->postgres", app(s), CNPG_INSTANCE, 5432, True) for s in ("api", "gateway", "worker")],
    *[(f"{s}->redis", app(s), REDIS_POD, 6379, True) for s in ("api", "gateway", "worker")],
    ("ui->postgres", app("ui"), CNPG_INSTANCE, 5432, False),
    ("ui->redis", app("ui"), REDIS_POD, 6379, False),
    ("gateway->internet:5432", app("gateway"), INTERNET, 5432, False),
    ("ui->api", app("ui"), app("api"), APP_PORT, True),
    ("admin->api", app("admin"), app("api"), APP_PORT, True),
    ("gateway->api", app("gateway"), app("api"), APP_PORT, False),
    ("playground->api", app("playground"), app("api"), APP_PORT, True),
    ("code->api", app("code"), app("api"), APP_PORT, True),
    ("docs->api", app("docs"), app("api"), APP_PORT, False),
    ("docs->internet:443", app("docs"), INTERNET, 443, False),
    ("code->internet:443", app("code"), INTERNET, 443, False),
    # playground and admin call the gateway at its public (https) URL, server-side.
    ("playground->internet:443", app("playground"), INTERNET, 443, True),
    ("admin->internet:443", app("admin"), INTERNET, 443, True),
    ("docs->postgres", app("docs"), CNPG_INSTANCE, 5432, False),
    ("playground->redis", app("playground"), REDIS_POD, 6379, False),
    ("instance->instance:5432", CNPG_INSTANCE, CNPG_INSTANCE, 5432, True),
    ("instance->instance:8000", CNPG_INSTANCE, CNPG_INSTANCE, 8000, True),
    ("instance->dns", CNPG_INSTANCE, DNS, 53, True),
    # The Kubernetes API server: its endpoint's port is 6443 (kubeadm) or 443 (managed).
    ("instance->api-server:6443", CNPG_INSTANCE, INTERNET, 6443, True),
    ("instance->api-server:443", CNPG_INSTANCE, INTERNET, 443, True),
    ("instance->internet:80", CNPG_INSTANCE, INTERNET, 80, False),
    ("instance->redis", CNPG_INSTANCE, REDIS_POD, 6379, False),
    ("redis->internet:443", REDIS_POD, INTERNET, 443, False),
    ("redis->dns", REDIS_POD, DNS, 53, True),
]

SPEC = """\
defaults:
  domain: llm.example.com
  image: {tag: v1.2.3}
  ingress: {tls: {issuer: {name: letsencrypt-prod}}}
  auth: {oauth2ProxyHost: auth.example.com}
environments:
  dev: {}
  cnpg:
    namespace: llmgateway-prod
    domain: prod.example.com
    production: true
    topology: split
    database: {mode: cloudnative-pg}
    monitoring: {serviceMonitor: true}
    networkPolicy: {restrictEgress: EGRESS}
    services:
      gateway: {replicas: 3}
      api: {replicas: 2}
      ui: {autoscaling: {minReplicas: 2, maxReplicas: 5}}
      playground: {}
      docs: {}
      code: {}
  postgres:
    namespace: llmgateway-pg
    domain: pg.example.com
    topology: split
    database: {mode: postgres}
  external:
    namespace: llmgateway-ext
    domain: ext.example.com
    topology: split
    database: {mode: external, secretName: db}
    redis: {mode: external, secretName: cache}
    networkPolicy: {restrictEgress: true}
"""


def rendered(spec: Spec, tmp_path: Path, kustomize: Kustomize) -> dict[str, list[Any]]:
    """Each enabled environment as kustomize renders the compiled tree."""
    write_tree(tmp_path, plan_tree(spec))
    names = [name for name, _ in spec.enabled()]
    texts = render(kustomize, [tmp_path / "overlays" / name for name in names])
    return {name: load_rendering(text) for name, text in zip(names, texts, strict=True)}


@pytest.fixture(scope="module")
def environments(
    tmp_path_factory: pytest.TempPathFactory, kustomize: Kustomize
) -> dict[str, dict[str, list[Any]]]:
    """The rendered environments, with egress restricted in `cnpg` and without."""
    out = {}
    for egress in ("true", "false"):
        spec = parse_spec(SPEC.replace("EGRESS", egress).encode(), "spec.yaml")
        out[egress] = rendered(spec, tmp_path_factory.mktemp(f"egress-{egress}"), kustomize)
    return out


# --- a model of Kubernetes NetworkPolicy semantics ---------------------------------------


def selects(selector: Any, labels: dict[str, str]) -> bool:
    assert not (selector or {}).get("matchExpressions"), "the model knows matchLabels only"
    return all(labels.get(k) == v for k, v in ((selector or {}).get("matchLabels") or {}).items())


def peer_matches(peer: dict[str, Any], policy_namespace: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        return other.namespace is None
    if other.namespace is None:
        return False  # pod and namespace selectors never match an outside address
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], other.label_map)


def port_matches(ports: list[dict[str, Any]] | None, port: int) -> bool:
    return not ports or any(p.get("port") == port for p in ports)


def allowed_by(policies: list[Any], direction: str, subject: Pod, other: Pod, port: int) -> bool:
    """Whether ``subject``'s policies let traffic in from (or out to) ``other`` on ``port``."""
    kind, key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    if subject.namespace is None:
        return True  # outside the cluster: no policy applies
    relevant = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and kind in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], subject.label_map)
    ]
    if not relevant:
        return True  # not isolated in this direction
    return any(
        port_matches(rule.get("ports"), port)
        and (
            key not in rule
            or any(peer_matches(peer, p["metadata"]["namespace"], other) for peer in rule[key])
        )
        for p in relevant
        for rule in p["spec"].get(direction.lower(), [])
    )


def reaches(policies: list[Any], source: Pod, target: Pod, port: int) -> bool:
    return allowed_by(policies, "egress", source, target, port) and allowed_by(
        policies, "ingress", target, source, port
    )


def policies_of(resources: list[Any]) -> list[Any]:
    return [r for r in resources if r["kind"] == "NetworkPolicy"]


# --- the tables, row by row -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [row[1:] for row in INGRESS_TABLE],
    ids=[row[0] for row in INGRESS_TABLE],
)
@pytest.mark.parametrize("egress", ["false", "true"], ids=["egress-open", "egress-restricted"])
def test_who_reaches_what(
    environments: dict[str, dict[str, list[Any]]],
    egress: str,
    source: Pod,
    target: Pod,
    port: int,
    allowed: bool,
) -> None:
    policies = policies_of(environments[egress]["cnpg"])
    assert reaches(policies, source, target, port) == allowed


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [row[1:] for row in EGRESS_TABLE],
    ids=[row[0] for row in EGRESS_TABLE],
)
def test_where_pods_may_go_with_restricted_egress(
    environments: dict[str, dict[str, list[Any]]],
    source: Pod,
    target: Pod,
    port: int,
    allowed: bool,
) -> None:
    policies = policies_of(environments["true"]["cnpg"])
    assert allowed_by(policies, "egress", source, target, port) == allowed


def test_the_operator_namespace_comes_from_the_spec(tmp_path: Path, kustomize: Kustomize) -> None:
    """An operator installed elsewhere (a Helm release's namespace) still reaches the
    instances on 8000 and 5432, and the default namespace's pods then do not."""
    text = SPEC.replace("EGRESS", "false").replace(
        "    database: {mode: cloudnative-pg}\n",
        "    database: {mode: cloudnative-pg}\n"
        "    networkPolicy: {cnpgOperatorNamespace: cnpg-ops}\n",
    )
    text = text.replace("    networkPolicy: {restrictEgress: false}\n", "", 1)
    environments = rendered(parse_spec(text.encode(), "spec.yaml"), tmp_path, kustomize)
    policies = policies_of(environments["cnpg"])
    moved = pod("cnpg-ops", **{"app.kubernetes.io/name": "cloudnative-pg"})
    for port in (8000, 5432):
        assert reaches(policies, moved, CNPG_INSTANCE, port)
        assert not reaches(policies, OPERATOR, CNPG_INSTANCE, port)
    assert not reaches(policies, pod("cnpg-ops", run="debug"), CNPG_INSTANCE, 8000)


def test_egress_is_open_unless_restricted(environments: dict[str, dict[str, list[Any]]]) -> None:
    policies = policies_of(environments["false"]["cnpg"])
    assert all(p["spec"]["policyTypes"] == ["Ingress"] for p in policies)
    assert allowed_by(policies, "egress", app("ui"), INTERNET, 80)


def test_postgres_statefulset_only_from_app_pods(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    policies = policies_of(environments["false"]["postgres"])
    ns = "llmgateway-pg"
    api = Pod(ns, (("app", "llmgateway"), ("component", "api")))
    target = Pod(ns, POSTGRES_POD.labels)
    assert reaches(policies, api, target, 5432)
    assert not reaches(policies, Pod(ns, STRANGER.labels), target, 5432)
    assert not reaches(policies, CONTROLLER, target, 5432)
    assert not reaches(policies, OPERATOR, target, 8000)  # no operator without CNPG
    assert not reaches(policies, api, target, 8000)


def test_external_data_services_are_reached_on_their_ports_only(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    policies = policies_of(environments["true"]["external"])
    ns = "llmgateway-ext"
    names = sorted(p["metadata"]["name"] for p in policies)
    # No in-cluster data service, so no policy for one.
    assert "llmgateway-postgres" not in names
    assert "llmgateway-redis" not in names
    for service, allowed in (("api", True), ("gateway", True), ("worker", True), ("ui", False)):
        source = Pod(ns, (("app", "llmgateway"), ("component", service)))
        for port in (5432, 6379):
            assert allowed_by(policies, "egress", source, INTERNET, port) == allowed, (
                service,
                port,
            )


def test_the_unified_policy_stays_and_split_has_none_of_it(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    names = {
        env: sorted(p["metadata"]["name"] for p in policies_of(resources))
        for env, resources in environments["true"].items()
    }
    assert names["dev"] == ["llmgateway"]
    assert names["cnpg"] == [
        "llmgateway-admin",
        "llmgateway-api",
        "llmgateway-code",
        "llmgateway-docs",
        "llmgateway-gateway",
        "llmgateway-playground",
        "llmgateway-postgres",
        "llmgateway-redis",
        "llmgateway-ui",
        "llmgateway-worker",
    ]


def test_disruption_budgets_and_autoscalers(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    resources = environments["false"]["cnpg"]
    budgets = {
        r["metadata"]["name"]: r["spec"] for r in resources if r["kind"] == "PodDisruptionBudget"
    }
    # gateway 3 and api 2 replicas, ui autoscaled from 2: budgets; admin, worker, docs 1: none.
    assert budgets == {
        f"llmgateway-{s}": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app": "llmgateway", "component": s}},
        }
        for s in ("api", "gateway", "ui")
    }
    (scaler,) = [r for r in resources if r["kind"] == "HorizontalPodAutoscaler"]
    assert scaler["apiVersion"] == "autoscaling/v2"
    assert scaler["metadata"]["name"] == "llmgateway-ui"
    assert scaler["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llmgateway-ui"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ],
    }


def test_policies_budgets_and_autoscalers_validate_offline(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    kinds = ("NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler")
    for egress, rendered_environments in environments.items():
        for name, resources in rendered_environments.items():
            mine = [r for r in resources if r["kind"] in kinds]
            assert mine, (egress, name)
            assert validate_schemas(name, mine, "1.32") == [], (egress, name)


def test_the_tables_parties_are_the_rendered_pods(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    """The app pods of the tables carry the labels the rendered Deployments give them."""
    resources = environments["true"]["cnpg"]
    deployments = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}
    assert sorted(deployments) == sorted(f"llmgateway-{s}" for s in (*WEB, "worker"))
    for service in (*WEB, "worker"):
        template = deployments[f"llmgateway-{service}"]["spec"]["template"]
        assert app(service).label_map.items() <= template["metadata"]["labels"].items()
    for name, resource in deployments.items():
        ports = [
            port["containerPort"]
            for container in resource["spec"]["template"]["spec"]["containers"]
            for port in container.get("ports", [])
        ]
        assert ports == ([] if name == "llmgateway-worker" else [APP_PORT]), name


def test_pods_that_read_the_data_services_may_reach_them(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    """Restricted egress lets every container reading DATABASE_URL or REDIS_HOST (init
    containers included: the api's migration runner) reach PostgreSQL and Redis."""
    resources = environments["true"]["cnpg"]
    policies = policies_of(resources)
    readers = []
    for deployment in (r for r in resources if r["kind"] == "Deployment"):
        pod_spec = deployment["spec"]["template"]["spec"]
        names = {
            item["name"]
            for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]
            for item in container.get("env", [])
        }
        if names & {"DATABASE_URL", "REDIS_HOST"}:
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            source = Pod(NAMESPACE, tuple(sorted(labels.items())))
            readers.append(deployment["metadata"]["name"])
            assert allowed_by(policies, "egress", source, CNPG_INSTANCE, 5432), readers[-1]
            assert allowed_by(policies, "egress", source, REDIS_POD, 6379), readers[-1]
            assert reaches(policies, source, CNPG_INSTANCE, 5432), readers[-1]
            assert reaches(policies, source, REDIS_POD, 6379), readers[-1]
    assert {"llmgateway-api", "llmgateway-gateway", "llmgateway-worker"} <= set(readers)


def test_autoscaled_deployment_has_no_replicas_and_several_pods_spread(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    resources = environments["false"]["cnpg"]
    deployments = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}
    assert "replicas" not in deployments["llmgateway-ui"]["spec"]
    assert deployments["llmgateway-gateway"]["spec"]["replicas"] == 3
    for name, several in (
        ("llmgateway-ui", True),
        ("llmgateway-api", True),
        ("llmgateway-gateway", True),
        ("llmgateway-admin", False),
        ("llmgateway-worker", False),
    ):
        spec = deployments[name]["spec"]
        spread = spec["template"]["spec"].get("topologySpreadConstraints")
        if several:
            assert spread == [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": spec["selector"]["matchLabels"]},
                }
            ], name
        else:
            assert spread is None, name


def test_the_tables_data_pods_are_the_rendered_ones(
    environments: dict[str, dict[str, list[Any]]],
) -> None:
    """PostgreSQL and Redis of the tables: the rendered StatefulSets' pods on their
    container ports, and the CloudNativePG Cluster whose instances the operator labels."""
    for environment, postgres in (("cnpg", None), ("postgres", POSTGRES_POD)):
        resources = environments["true"][environment]
        workloads = {
            r["metadata"]["name"]: r for r in resources if r["kind"] in ("StatefulSet", "Cluster")
        }
        expected = [("llmgateway-redis", REDIS_POD, 6379)]
        if postgres is not None:
            expected.append(("llmgateway-postgres", postgres, 5432))
        else:
            cluster = workloads["llmgateway-postgres"]
            assert cluster["kind"] == "Cluster"
            assert CNPG_INSTANCE.label_map["cnpg.io/cluster"] == cluster["metadata"]["name"]
        for name, party, port in expected:
            template = workloads[name]["spec"]["template"]
            assert party.label_map.items() <= template["metadata"]["labels"].items(), name
            ports = [p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]]
            assert ports == [port], name


def test_rendered_environments_pass_lint(environments: dict[str, dict[str, list[Any]]]) -> None:
    """Schemas and every policy rule, LLMGW012-015 included, on kustomize's output."""
    for egress, rendered_environments in environments.items():
        spec = parse_spec(SPEC.replace("EGRESS", egress).encode(), "spec.yaml")
        for name, resources in rendered_environments.items():
            settings = spec.environments[name]
            errors = [
                f.render()
                for f in lint_environment(name, settings, resources)
                if f.severity == "error"
            ]
            assert errors == [], (egress, name)
