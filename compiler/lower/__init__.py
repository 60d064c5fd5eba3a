"""Lower one environment of the spec to the Kubernetes resources it deploys.

Pure: settings in, a list of plain resource dicts out, in a fixed order, keys in the
order Kubernetes documentation writes them. The resources are those the Terraform
module created (see shared FACTS), computed from the spec; the Secret is referenced,
never generated. Each concern is one module of this package, a pure function of the
settings; this entry point picks and orders them:

    meta          names, labels, metadata, the Namespace, hosts and URLs
    unified       the unified Deployment, its init container, its claim, its Service
    split         the split topology: a Deployment and Service per service, the shared
                  ConfigMap, the api's migration runner
    data          the split topology's PostgreSQL and Redis, and how the apps reach them
    security      security contexts and the deliberate policy findings
    availability  PodDisruptionBudgets, topology spread, HorizontalPodAutoscalers
    monitoring    the ServiceMonitor
    network       the NetworkPolicy, one per role in the split topology
    ingress       Ingresses, the oauth2-proxy block, the Certificate, /metrics refusal
    secrets       Secret references and the ExternalSecret
"""

from __future__ import annotations

from compiler.lower.availability import pod_disruption_budget, split_availability
from compiler.lower.data import data_services
from compiler.lower.ingress import (
    METRICS_INGRESS,
    METRICS_INGRESS_COMMENT,
    certificate,
    ingress,
    metrics_ingress,
    served_endpoints,
)
from compiler.lower.meta import Resource, namespace
from compiler.lower.monitoring import service_monitor
from compiler.lower.network import network_policy, split_network_policies
from compiler.lower.secrets import external_secret
from compiler.lower.split import split_workloads
from compiler.lower.unified import deployment, persistent_volume_claim, service
from compiler.spec import Settings

__all__ = ["comment", "lower_environment"]


def lower_environment(settings: Settings, instance: str | None) -> list[Resource]:
    """Every resource of one environment (``instance`` None: the shared base)."""
    resources: list[Resource] = [namespace(settings, instance)]
    if settings.split:
        resources.extend(split_workloads(settings, instance))
        resources.extend(split_availability(settings, instance))
        resources.extend(data_services(settings, instance))
    else:
        resources.extend(unified_workloads(settings, instance))
    if settings.monitoring.service_monitor:
        resources.append(service_monitor(settings, instance))
    if settings.network_policy_enabled and settings.split:
        resources.extend(split_network_policies(settings, instance))
    elif settings.network_policy_enabled:
        resources.append(network_policy(settings, instance))
    endpoints = served_endpoints(settings)
    resources.extend(ingress(settings, instance, endpoint) for endpoint in endpoints)
    resources.append(metrics_ingress(settings, instance))
    if settings.ingress.tls.enabled:
        resources.append(certificate(settings, instance))
    if settings.auth_secret.source == "external-secrets":
        resources.append(external_secret(settings, instance))
    return resources


def unified_workloads(settings: Settings, instance: str | None) -> list[Resource]:
    """The unified pod: its claim (embedded database), Deployment, budget and Service."""
    resources: list[Resource] = []
    if settings.database.mode == "embedded":
        resources.append(persistent_volume_claim(settings, instance))
    resources.append(deployment(settings, instance))
    if settings.replicas > 1:
        resources.append(pod_disruption_budget(settings, instance))
    resources.append(service(settings, instance))
    return resources


def comment(resource: Resource) -> str | None:
    """The explanation written above a generated resource file, if it has one."""
    if resource["kind"] == "Ingress" and resource["metadata"]["name"] == METRICS_INGRESS:
        return METRICS_INGRESS_COMMENT
    return None
