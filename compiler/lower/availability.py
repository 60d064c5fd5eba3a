"""Availability: the PodDisruptionBudget and the spread of replicas over nodes."""

from __future__ import annotations

from typing import Any

from compiler.lower.meta import APP, SELECTOR, Resource, metadata
from compiler.spec import Settings


def topology_spread() -> list[dict[str, Any]]:
    """Replicas prefer different nodes, without blocking scheduling when they cannot."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(SELECTOR)},
        }
    ]


def pod_disruption_budget(settings: Settings, instance: str | None) -> Resource:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(APP, settings, instance),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(SELECTOR)}},
    }
