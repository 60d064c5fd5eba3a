"""Data services of the split topology and how the apps reach them.

`connection_env()` is the contract every split app container uses for PostgreSQL and
Redis: exactly DATABASE_URL, REDIS_HOST, REDIS_PORT and REDIS_PASSWORD, which upstream's
apps read (../shared/UPSTREAM.md "Connection env"). The resources of the data services
themselves (CloudNativePG Cluster, PostgreSQL and Redis StatefulSets) are made by
`data_services()`.
"""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.lower.meta import POSTGRES, REDIS, Resource
from compiler.lower.secrets import secret_variable
from compiler.spec import POSTGRES_PASSWORD_KEY, REDIS_PASSWORD_KEY, Settings


def database_env(settings: Settings) -> list[dict[str, Any]]:
    """DATABASE_URL (and what it is built from) for a split app container."""
    database = settings.database
    if database.mode == "cloudnative-pg":
        # The operator's app Secret: `uri` points at the `<cluster>-rw` Service.
        app_secret = f"{POSTGRES}{upstream.CNPG_APP_SECRET_SUFFIX}"
        return [secret_variable(upstream.DATABASE_URL, app_secret, upstream.CNPG_URI_KEY)]
    if database.mode == "postgres":
        # Kubernetes expands $(VAR) of a variable defined earlier in the same list, a
        # secretKeyRef one included; the generated password is hex, safe in a URL.
        user = database.name
        url = (
            f"postgres://{user}:$({POSTGRES_PASSWORD_KEY})@{POSTGRES}:"
            f"{upstream.POSTGRES_PORT}/{database.name}"
        )
        return [
            secret_variable(
                POSTGRES_PASSWORD_KEY, settings.auth_secret.name, POSTGRES_PASSWORD_KEY
            ),
            {"name": upstream.DATABASE_URL, "value": url},
        ]
    # external
    return [secret_variable(upstream.DATABASE_URL, database.secret_name, upstream.DATABASE_URL)]


def redis_env(settings: Settings) -> list[dict[str, Any]]:
    """REDIS_HOST, REDIS_PORT and REDIS_PASSWORD for a split app container."""
    redis = settings.redis
    if redis.mode == "in-cluster":
        return [
            {"name": upstream.REDIS_HOST, "value": REDIS},
            {"name": upstream.REDIS_PORT_VARIABLE, "value": str(upstream.REDIS_PORT)},
            secret_variable(upstream.REDIS_PASSWORD, settings.auth_secret.name, REDIS_PASSWORD_KEY),
        ]
    return [
        secret_variable(name, redis.secret_name, name)
        for name in (upstream.REDIS_HOST, upstream.REDIS_PORT_VARIABLE, upstream.REDIS_PASSWORD)
    ]


def connection_env(settings: Settings) -> list[dict[str, Any]]:
    """Every split app container's PostgreSQL and Redis variables, in this order."""
    return [*database_env(settings), *redis_env(settings)]


def data_services(settings: Settings, instance: str | None) -> list[Resource]:
    """The split topology's in-cluster data services (none for external ones)."""
    return []
