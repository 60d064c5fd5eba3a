"""NetworkPolicies: who may reach the pods, and where the pods may go.

The unified topology has one policy for its one pod. The split topology has one per role:
each service (only the ingress controller reaches a web service; the api also from the
other app pods, which call it in the cluster), PostgreSQL and Redis (only the app pods;
CloudNativePG's operator and the cluster's own pods too). With `restrictEgress` each also
says where its pods may go: DNS, the data services for those that use them, the api for
the web services that call it, 443 for those that call the internet.
"""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.lower.meta import (
    APP,
    APP_PODS,
    CNPG_CLUSTER_LABEL,
    POSTGRES,
    POSTGRES_SELECTOR,
    REDIS,
    REDIS_SELECTOR,
    SELECTOR,
    Resource,
    component_selector,
    metadata,
    service_name,
)
from compiler.lower.split import CONTAINER_PORT
from compiler.lower.unified import SERVICE_PORTS
from compiler.spec import ServiceName, Settings


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
                "ports": [{"protocol": "TCP", "port": upstream.GATEWAY_PORT}],
            }
        )
    if policy.restrict_egress:
        egress_ports = [443] + (
            [upstream.POSTGRES_PORT, upstream.REDIS_PORT]
            if settings.database.mode == "external"
            else []
        )
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


# --- the split topology: one NetworkPolicy per role ----------------------------------------
# Who calls whom among the split services (upstream sources at the baseline,
# YeiSimon/llmgateway@2e07831d). API_BACKEND_URL, the api in the cluster, is read server-side by ui
# (apps/ui/src/lib/config-server.ts:25), admin (ee/admin/src/lib/config-server.ts:17,
# ee/admin/proxy.ts:29), playground (apps/playground/src/lib/config-server.ts:21) and code
# (apps/code/src/lib/config-server.ts:23); docs does not read it.
API_BACKEND_CLIENTS = ("ui", "admin", "playground", "code")
# Calls to the internet on 443: the gateway to the LLM providers, the worker to Stripe and
# PostHog (issue 13), the api for GitHub/Google sign-in (apps/api/src/auth/config.ts:661-673).
INTERNET_CLIENTS = ("api", "gateway", "worker")
# Server-side calls to the gateway at its public GATEWAY_URL, through the ingress:
# playground (apps/playground/src/app/api/chat/route.ts:629-691) and admin
# (ee/admin/src/app/api/generate-reply/route.ts:137-145).
PUBLIC_GATEWAY_CLIENTS = ("playground", "admin")

# CloudNativePG's operator reaches every instance on 8000 (instance manager status, TLS) and
# 5432, from its namespace (cloudnative-pg@4b5e244a docs/src/networking.md:26,
# docs/src/security.md:797-827, docs/src/samples/networkpolicy-example.yaml:1-22); the
# pod label of its release manifest (releases/cnpg-1.30.0.yaml:20556-20571); its namespace
# is networkPolicy.cnpgOperatorNamespace (the manifest's `cnpg-system` by default, l.1-6).
CNPG_OPERATOR_PODS = {"app.kubernetes.io/name": "cloudnative-pg"}
CNPG_STATUS_PORT = 8000
# The instances (pkg/specs/pods.go:544-554). The cluster label alone also selects the
# cluster's Jobs, among them the join Job that copies the primary over 5432 when a replica
# is made (pkg/specs/jobs.go:345-349): peers are matched by it.
CNPG_POD_ROLE = "cnpg.io/podRole"
CNPG_CLUSTER_PODS = {CNPG_CLUSTER_LABEL: POSTGRES}
CNPG_INSTANCES = {**CNPG_CLUSTER_PODS, CNPG_POD_ROLE: "instance"}
# The instance manager calls the Kubernetes API server (docs/src/security.md:469-476); a
# primary that reaches neither it nor a peer shuts down (docs/src/instance_manager.md:
# 205-216). A NetworkPolicy sees the API server's endpoint after the Service's address
# translation: its secure port, 6443 on kubeadm clusters and 443 on most managed ones; its
# addresses are unknown offline, so both ports are open to any address.
API_SERVER_PORTS = (443, 6443)
# ingress-nginx's controller pods (kubernetes/ingress-nginx@dbb11b92
# deploy/static/provider/cloud/deploy.yaml:392-421).
INGRESS_CONTROLLER_PODS = {"app.kubernetes.io/name": "ingress-nginx"}
HTTPS_PORT = 443
DNS_PORT = 53


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def pods(labels: dict[str, str]) -> dict[str, Any]:
    """Pods of this namespace with these labels."""
    return {"podSelector": {"matchLabels": dict(labels)}}


def namespace_pods(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Pods of another namespace (all of them, or those with ``labels``)."""
    peer: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}
    }
    if labels is not None:
        peer["podSelector"] = {"matchLabels": dict(labels)}
    return peer


def allow(peers: list[dict[str, Any]] | None, ports: list[dict[str, Any]], key: str) -> Any:
    """One rule: ``key`` is `from` or `to`; no peers: any address."""
    return {key: peers, "ports": ports} if peers is not None else {"ports": ports}


def dns() -> dict[str, Any]:
    return {
        "to": [{"namespaceSelector": {}}],
        "ports": [
            {"protocol": "UDP", "port": DNS_PORT},
            {"protocol": "TCP", "port": DNS_PORT},
        ],
    }


def postgres_pods(settings: Settings) -> dict[str, str] | None:
    """Labels of the in-cluster PostgreSQL's pods; None for an external database."""
    mode = settings.database.mode
    if mode == "cloudnative-pg":
        return CNPG_INSTANCES
    if mode == "postgres":
        return POSTGRES_SELECTOR
    return None


def redis_pods(settings: Settings) -> dict[str, str] | None:
    return REDIS_SELECTOR if settings.redis.mode == "in-cluster" else None


def data_egress(settings: Settings) -> list[dict[str, Any]]:
    """PostgreSQL and Redis: their pods when in the cluster, else any address on the port."""
    rules = []
    for labels, port in (
        (postgres_pods(settings), upstream.POSTGRES_PORT),
        (redis_pods(settings), upstream.REDIS_PORT),
    ):
        rules.append(allow(None if labels is None else [pods(labels)], tcp(port), "to"))
    return rules


def policy(
    name: str,
    selector: dict[str, str],
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]] | None,
    settings: Settings,
    instance: str | None,
) -> Resource:
    """A NetworkPolicy: ``ingress`` rules only (none: nothing gets in), and with
    ``egress`` (restrictEgress) only those destinations out."""
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"] if egress is None else ["Ingress", "Egress"],
    }
    if ingress:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, settings, instance),
        "spec": spec,
    }


def service_policy(settings: Settings, instance: str | None, name: ServiceName) -> Resource:
    """Who reaches one split service, and where it may go."""

    def port() -> list[dict[str, Any]]:
        # The pod's port (the Service's port 80 is translated to it before the policy).
        return tcp(CONTAINER_PORT)

    ingress: list[dict[str, Any]] = []
    if name != "worker":  # the worker serves nothing
        controller = namespace_pods(
            settings.network_policy.ingress_controller_namespace, INGRESS_CONTROLLER_PODS
        )
        ingress.append(allow([controller], port(), "from"))
    if name == "api":
        # API_BACKEND_URL: the other services call the api inside the cluster.
        ingress.append(allow([pods(APP_PODS)], port(), "from"))
    if name == "gateway" and settings.monitoring.service_monitor:
        prometheus = namespace_pods(settings.monitoring.prometheus_namespace)
        ingress.append(allow([prometheus], port(), "from"))
    egress: list[dict[str, Any]] | None = None
    if settings.network_policy.restrict_egress:
        egress = [dns()]
        if name in upstream.DATA_CLIENTS:
            egress += data_egress(settings)
        if name in API_BACKEND_CLIENTS and settings.services.api.enabled:
            egress.append(allow([pods(component_selector("api"))], port(), "to"))
        public = [HTTPS_PORT] if name in INTERNET_CLIENTS else []
        if name in PUBLIC_GATEWAY_CLIENTS:
            public.append(HTTPS_PORT if settings.ingress.tls.enabled else 80)
        if public:
            egress.append(allow(None, tcp(*sorted(set(public))), "to"))
    return policy(service_name(name), component_selector(name), ingress, egress, settings, instance)


def postgres_policy(settings: Settings, instance: str | None) -> Resource:
    """Only the app pods reach PostgreSQL; with CloudNativePG also its operator and the
    cluster's own pods (replication, status)."""
    cnpg = settings.database.mode == "cloudnative-pg"
    selector = postgres_pods(settings)
    assert selector is not None
    ingress = [allow([pods(APP_PODS)], tcp(upstream.POSTGRES_PORT), "from")]

    def cluster_ports() -> list[dict[str, Any]]:
        return tcp(CNPG_STATUS_PORT, upstream.POSTGRES_PORT)

    if cnpg:
        operator_namespace = settings.network_policy.cnpg_operator_namespace
        operator = namespace_pods(operator_namespace, CNPG_OPERATOR_PODS)
        ingress.append(allow([operator], cluster_ports(), "from"))
        ingress.append(allow([pods(CNPG_CLUSTER_PODS)], cluster_ports(), "from"))
    egress: list[dict[str, Any]] | None = None
    if settings.network_policy.restrict_egress:
        egress = [dns()]
        if cnpg:
            egress.append(allow([pods(CNPG_CLUSTER_PODS)], cluster_ports(), "to"))
            egress.append(allow(None, tcp(*API_SERVER_PORTS), "to"))
    return policy(POSTGRES, selector, ingress, egress, settings, instance)


def redis_policy(settings: Settings, instance: str | None) -> Resource:
    """Only the app pods reach Redis."""
    ingress = [allow([pods(APP_PODS)], tcp(upstream.REDIS_PORT), "from")]
    egress = [dns()] if settings.network_policy.restrict_egress else None
    return policy(REDIS, REDIS_SELECTOR, ingress, egress, settings, instance)


def split_network_policies(settings: Settings, instance: str | None) -> list[Resource]:
    """The split topology's NetworkPolicies: one per enabled service, then PostgreSQL and
    Redis when they run in the cluster."""
    out = [service_policy(settings, instance, name) for name, _ in settings.services.enabled()]
    if postgres_pods(settings) is not None:
        out.append(postgres_policy(settings, instance))
    if redis_pods(settings) is not None:
        out.append(redis_policy(settings, instance))
    return out
