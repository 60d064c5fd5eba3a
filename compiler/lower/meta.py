"""Names, labels and metadata every lowered resource shares, and the spec's hosts and URLs."""

from __future__ import annotations

from typing import Any

from compiler.spec import Settings

APP = "llmgateway"
MANAGED_BY = "llmgateway-compiler"
SELECTOR = {"app": APP}  # never changes: a Deployment's selector is immutable

Resource = dict[str, Any]


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
