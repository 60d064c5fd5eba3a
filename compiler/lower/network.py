"""NetworkPolicies: who may reach the pods, and where the pods may go."""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.lower.meta import APP, SELECTOR, Resource, metadata
from compiler.lower.unified import SERVICE_PORTS
from compiler.spec import Settings


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
