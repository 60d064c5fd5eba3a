"""Monitoring: the ServiceMonitor through which Prometheus scrapes the gateway in-cluster."""

from __future__ import annotations

from compiler import upstream
from compiler.lower.meta import APP, Resource, metadata
from compiler.spec import Settings


def service_monitor(settings: Settings, instance: str | None) -> Resource:
    """Prometheus Operator scrapes the gateway's metrics through the Service, in-cluster."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(APP, settings, instance),
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
            "endpoints": [
                {
                    "port": "gateway",
                    "path": upstream.METRICS_PATH,
                    "interval": settings.monitoring.interval,
                }
            ],
        },
    }
