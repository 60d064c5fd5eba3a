"""Availability: PodDisruptionBudgets, the spread of replicas over nodes, autoscaling.

The unified topology has one PodDisruptionBudget when it runs several replicas. The split
topology has one per Deployment that runs more than one pod (a fixed `replicas` above 1, or
an autoscaler whose `minReplicas` is above 1), and a HorizontalPodAutoscaler per service
with `autoscaling`; such a Deployment has no `replicas` field for the two to fight over.

Every budget is `maxUnavailable: 1`, not `minAvailable`: it lets a node drain evict one
pod at a time whatever the current count, so it keeps working when an autoscaler changes
the count (a `minAvailable` equal to the autoscaler's current or minimum count would block
every drain), and with two pods it means the same as `minAvailable: 1`.
"""

from __future__ import annotations

from typing import Any

from compiler.lower.meta import APP, SELECTOR, Resource, component_selector, metadata, service_name
from compiler.spec import Autoscaling, Service, ServiceName, Settings

HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"


def topology_spread(selector: dict[str, str]) -> list[dict[str, Any]]:
    """Pods matching ``selector`` prefer different nodes, without blocking scheduling
    when they cannot (one node, or a full cluster)."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": HOSTNAME_TOPOLOGY,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]


def disruption_budget(
    name: str, selector: dict[str, str], settings: Settings, instance: str | None
) -> Resource:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, settings, instance),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}},
    }


def pod_disruption_budget(settings: Settings, instance: str | None) -> Resource:
    """The unified Deployment's budget (several replicas only)."""
    return disruption_budget(APP, SELECTOR, settings, instance)


def runs_several_pods(service: Service) -> bool:
    """Whether a split service's Deployment runs more than one pod at all times: it then
    gets a PodDisruptionBudget and spreads its pods over nodes."""
    if service.autoscaling is not None:
        return service.autoscaling.min_replicas > 1
    return service.replicas > 1


def horizontal_pod_autoscaler(
    settings: Settings, instance: str | None, name: ServiceName, scaling: Autoscaling
) -> Resource:
    """Scales one split service's Deployment on average CPU use (autoscaling/v2)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(service_name(name), settings, instance),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": service_name(name),
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }


def split_availability(settings: Settings, instance: str | None) -> list[Resource]:
    """The split topology's budgets and autoscalers, per enabled service in upstream's
    order: its PodDisruptionBudget (several pods), then its autoscaler (`autoscaling`)."""
    resources: list[Resource] = []
    for name, service in settings.services.enabled():
        if runs_several_pods(service):
            resources.append(
                disruption_budget(service_name(name), component_selector(name), settings, instance)
            )
        if service.autoscaling is not None:
            resources.append(
                horizontal_pod_autoscaler(settings, instance, name, service.autoscaling)
            )
    return resources
