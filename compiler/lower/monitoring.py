"""Monitoring: the ServiceMonitor through which Prometheus scrapes the gateway in-cluster."""

from __future__ import annotations

from compiler import upstream
from compiler.lower.meta import APP, Resource, metadata
from compiler.lower.split import COMPONENT_LABEL, PORT_NAME
from compiler.spec import Settings


def service_monitor(settings: Settings, instance: str | None) -> Resource:
    """Prometheus Operator scrapes the gateway's metrics through the Service, in-cluster:
    the unified Service's gateway port, or the split gateway's own Service."""
    selector = {"app.kubernetes.io/name": APP}
    port = "gateway"
    if settings.split:
        selector[COMPONENT_LABEL] = "gateway"
        port = PORT_NAME
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(APP, settings, instance),
        "spec": {
            "selector": {"matchLabels": selector},
            "endpoints": [
                {
                    "port": port,
                    "path": upstream.METRICS_PATH,
                    "interval": settings.monitoring.interval,
                }
            ],
        },
    }
