"""Secrets: references to them in a container's env, and the ExternalSecret that makes one.

The Secret itself is never generated: its values are the operator's.
"""

from __future__ import annotations

from typing import Any

from compiler.lower.meta import Resource, metadata
from compiler.spec import Settings


def secret_variable(name: str, secret_name: str | None, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def external_secret(settings: Settings, instance: str | None) -> Resource:
    """The External Secrets Operator makes the Secret from the store's entry."""
    secret = settings.auth_secret
    source = secret.external_secrets
    assert source is not None  # the spec rules require it for this source
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(secret.name, settings, instance),
        "spec": {
            "refreshInterval": source.refresh_interval,
            "secretStoreRef": {"kind": source.store.kind, "name": source.store.name},
            "target": {"name": secret.name, "creationPolicy": "Owner"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": source.remote_key, "property": key}}
                for key in settings.secret_keys
            ],
        },
    }
