"""Names, labels and metadata every lowered resource shares, and the spec's hosts and URLs."""

from __future__ import annotations

from typing import Any

from compiler.spec import Settings

APP = "llmgateway"
MANAGED_BY = "llmgateway-compiler"
SELECTOR = {"app": APP}  # never changes: a Deployment's selector is immutable

Resource = dict[str, Any]

# Split topology names, as upstream's chart (`<fullname>-<svc>`, _helpers.tpl:11-22).
CONFIG_MAP = f"{APP}-config"
# The PostgreSQL of the split topology: the CloudNativePG Cluster or the StatefulSet.
POSTGRES = f"{APP}-postgres"
REDIS = f"{APP}-redis"
# Labels shared by every app pod of both topologies (what may reach the data services).
APP_PODS = dict(SELECTOR)
# Pods of the postgres StatefulSet and of the Redis StatefulSet (never an app pod).
POSTGRES_SELECTOR = {"app": POSTGRES}
REDIS_SELECTOR = {"app": REDIS}
# Pods of the CloudNativePG Cluster: its instances, Jobs and poolers carry this label
# (cloudnative-pg@4b5e244a pkg/specs/pods.go:544-554, jobs.go:345-349).
CNPG_CLUSTER_LABEL = "cnpg.io/cluster"


def service_name(service: str) -> str:
    """Name of a split service's Deployment and Service: `llmgateway-api`, ..."""
    return f"{APP}-{service}"


def component_selector(service: str) -> dict[str, str]:
    """The immutable selector of a split service's Deployment (and its Service, PDB, ...)."""
    return {**SELECTOR, "component": service}


def hosts(settings: Settings) -> dict[str, str]:
    """Host of each endpoint: the UI at the domain, the others under a prefix."""
    return settings.hosts


def urls(settings: Settings) -> dict[str, str]:
    return {name: f"{settings.scheme}://{host}" for name, host in hosts(settings).items()}


def labels(instance: str | None) -> dict[str, str]:
    """The recommended app.kubernetes.io labels; `instance` is the environment."""
    out = {"app.kubernetes.io/name": APP}
    if instance is not None:
        out["app.kubernetes.io/instance"] = instance
    out["app.kubernetes.io/part-of"] = APP
    out["app.kubernetes.io/managed-by"] = MANAGED_BY
    return out


def metadata(name: str, settings: Settings | None, instance: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if settings is not None:
        meta["namespace"] = settings.namespace
    meta["labels"] = labels(instance)
    return meta


def namespace(settings: Settings, instance: str | None) -> Resource:
    """The environment's Namespace (cluster-scoped: no namespace of its own)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(settings.namespace, None, instance),
    }
