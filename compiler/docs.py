"""A page describing every environment: endpoints, resources, and a diagram.

Generated into docs/environments.md by `compile` (and `docs`), kept in step by `check`
like every generated file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from compiler import upstream
from compiler.console import Output
from compiler.emit import header_text
from compiler.errors import ExitCode
from compiler.lower import lower_environment
from compiler.lower.meta import APP, POSTGRES, REDIS, hosts, service_name
from compiler.lower.unified import SERVICE_PORTS
from compiler.spec import EnvironmentSettings, Service, Spec, shared_data_directory_message

DOCS_PATH = "docs/environments.md"
WHAT = {
    "ui": "Web UI: dashboard and management",
    "api": "management API used by the UI",
    "gateway": "OpenAI-compatible API for applications",
    "admin": "system-wide settings",
    "worker": "background jobs (no port)",
    "playground": "chat playground",
    "docs": "documentation",
    "code": "coding app",
}


def access(env: EnvironmentSettings, endpoint: str) -> str:
    if endpoint == "gateway":
        return "API key (checked by the app)"
    if endpoint in env.auth.public_endpoints:
        return "public (no login)"
    return f"login through oauth2-proxy at {env.auth.oauth2_proxy_host}"


def pods(service: Service) -> str:
    """A split service's pod count: fixed, or the autoscaler's range."""
    scaling = service.autoscaling
    if scaling is not None:
        return (
            f"{scaling.min_replicas}-{scaling.max_replicas} pods (HorizontalPodAutoscaler, "
            f"{scaling.target_cpu_utilization_percentage}% CPU)"
        )
    return f"{service.replicas} pod{'s' if service.replicas != 1 else ''}"


def data_services(env: EnvironmentSettings) -> list[tuple[str, str, str]]:
    """(resource, what it is, size) of each place the environment keeps its data."""
    if not env.split:
        if env.database.mode == "embedded":
            return [
                (
                    f"PersistentVolumeClaim `{APP}-data`",
                    "PostgreSQL data of the embedded database; Redis runs in each pod, "
                    "not persisted",
                    f"{env.storage.size} {env.access_mode}",
                )
            ]
        return [
            (
                f"Secret `{env.database.secret_name}`",
                "external PostgreSQL and Redis (DATABASE_URL, REDIS_HOST, REDIS_PORT, "
                "REDIS_PASSWORD)",
                "outside the cluster",
            )
        ]
    rows: list[tuple[str, str, str]] = []
    mode = env.database.mode
    per_instance = f"{env.storage.size} ReadWriteOnce"
    if mode == "cloudnative-pg":
        count = env.database_instances
        rows.append(
            (
                f"CloudNativePG Cluster `{POSTGRES}`",
                f"PostgreSQL, {count} instance{'s' if count != 1 else ''} (one primary"
                + (f", {count - 1} replica{'s' if count != 2 else ''}" if count > 1 else "")
                + f"), database and owner `{env.database.name}`",
                f"{per_instance} per instance",
            )
        )
    elif mode == "postgres":
        rows.append(
            (
                f"StatefulSet `{POSTGRES}`",
                f"PostgreSQL, 1 instance, database `{env.database.name}`",
                per_instance,
            )
        )
    else:
        rows.append(
            (
                f"Secret `{env.database.secret_name}`",
                "external PostgreSQL (DATABASE_URL)",
                "outside the cluster",
            )
        )
    if env.redis.mode == "in-cluster":
        rows.append(
            (
                f"StatefulSet `{REDIS}`",
                f"Redis, append-only, password from Secret `{env.auth_secret.name}`",
                f"{env.redis.size} ReadWriteOnce",
            )
        )
    else:
        rows.append(
            (
                f"Secret `{env.redis.secret_name}`",
                "external Redis (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD)",
                "outside the cluster",
            )
        )
    return rows


def topology_table(env: EnvironmentSettings) -> list[str]:
    """What runs and where the data lives: one row per workload and data service."""
    lines = ["| runs as | what it is | pods or size |", "|---|---|---|"]
    if env.split:
        for name, service in env.services.enabled():
            lines.append(f"| Deployment `{service_name(name)}` | {WHAT[name]} | {pods(service)} |")
    else:
        count = env.replicas
        lines.append(
            f"| Deployment `{APP}` | every service, PostgreSQL and Redis in one container "
            f"| {count} pod{'s' if count != 1 else ''} |"
        )
    lines.extend(f"| {what} | {role} | {size} |" for what, role, size in data_services(env))
    return lines


def risks(env: EnvironmentSettings) -> list[str]:
    """Risks the spec accepts knowingly, in words, with the concrete failure."""
    if (
        not env.split
        and env.database.mode == "embedded"
        and env.replicas > 1
        and env.database.acknowledge_shared_data_directory
    ):
        return [
            "**Acknowledged risk** (`database.acknowledgeSharedDataDirectory: true`): "
            + shared_data_directory_message(env.replicas)
            + "."
        ]
    return []


def plain(text: str) -> str:
    """Text for a mermaid label: no Markdown code quotes."""
    return text.replace("`", "")


def diagram(env: EnvironmentSettings, name: str) -> list[str]:
    secret = env.auth_secret
    endpoints = env.endpoints
    lines = [
        "```mermaid",
        "flowchart LR",
        '  client(["client"]) --> ingress["ingress-nginx, class '
        f'{env.ingress.class_name}: {len(endpoints)} hosts"]',
    ]
    keys = ", ".join(env.secret_keys)
    if env.split:
        for service, spec in env.services.enabled():
            node = f"svc_{service}"
            lines.append(f'  {node}["Deployment {service_name(service)}, {pods(spec)}"]')
            if service in endpoints:
                lines.append(f"  ingress --> {node}")
        lines.append(f'  secret[("Secret {secret.name}: {keys}")]')
        data = [
            f'data_{index}[("{plain(f"{what}: {role}, {size}")}")]'
            for index, (what, role, size) in enumerate(data_services(env))
        ]
        lines.extend(f"  {node}" for node in data)
        for service, _ in env.services.enabled():
            lines.append(f"  secret --> svc_{service}")
            if service in upstream.DATA_CLIENTS:
                lines.extend(f"  svc_{service} --> data_{i}" for i in range(len(data)))
    else:
        lines += [
            f'  ingress --> service["Service {APP}"]',
            f'  service --> pod["Deployment {APP}, {env.replicas} pod(s)"]',
            f'  secret[("Secret {secret.name}: {keys}")] --> pod',
        ]
        if env.database.mode == "embedded":
            lines.append(
                f'  pod --> volume[("PVC {APP}-data, {env.storage.size} {env.access_mode}")]'
            )
        else:
            lines.append(
                f'  db[("Secret {env.database.secret_name}: PostgreSQL and Redis")] --> pod'
            )
    if env.ingress.tls.enabled and env.ingress.tls.issuer is not None:
        lines.append(f'  cert["Certificate from {env.ingress.tls.issuer.name}"] --> ingress')
    lines.append("```")
    return lines


def environments_page(spec: Spec, listed: Mapping[str, list[tuple[str, str]]] | None = None) -> str:
    """The whole page, one section per enabled environment (``listed``: each environment's
    resources as (kind, name), when the caller lowered them already)."""
    lines = [
        f"<!-- {header_text(spec.path)} -->",
        "# LLM Gateway environments",
        "",
        f"What each environment of `{spec.path}` deploys.",
    ]
    ports = dict(SERVICE_PORTS)
    for name, env in spec.enabled():
        resources = (
            listed[name]
            if listed is not None
            else [(r["kind"], r["metadata"]["name"]) for r in lower_environment(env, name)]
        )
        lines += ["", f"## {name}", ""]
        if env.split:
            image = f"images `{env.image.split_repository_prefix}-<service>:{env.image.tag}`"
            shape = f"split topology ({len(env.services.enabled())} services)"
        else:
            image = f"image `{env.image.repository}:{env.image.tag}`"
            shape = f"unified topology, {env.replicas} replica{'s' if env.replicas != 1 else ''}"
        lines.append(
            f"Namespace `{env.namespace}`, {shape}, {image}, {env.database.mode} database"
            + (f", {env.redis.mode} Redis" if env.split else "")
            + (", production." if env.production else ".")
        )
        lines += ["", *topology_table(env)]
        for risk in risks(env):
            lines += ["", risk]
        lines += ["", "| endpoint | URL | port | what it is | access |", "|---|---|---:|---|---|"]
        for endpoint, host in hosts(env).items():
            # The split topology: each endpoint's own Service, on upstream's port.
            port = upstream.SPLIT_PORT if env.split else ports[endpoint]
            lines.append(
                f"| {endpoint} | {env.scheme}://{host} | {port} | {WHAT[endpoint]} "
                f"| {access(env, endpoint)} |"
            )
        scraped = (
            f"Prometheus scrapes it inside the cluster (ServiceMonitor, from namespace "
            f"`{env.monitoring.prometheus_namespace}`)"
            if env.monitoring.service_monitor
            else "scrape it inside the cluster (monitoring.serviceMonitor)"
        )
        lines += ["", f"`/metrics` on the gateway host is refused to every client; {scraped}."]
        lines += ["", "Resources:", ""]
        for kind, resource_name in resources:
            lines.append(f"- {kind} `{resource_name}`")
        if env.auth_secret.source == "generator":
            lines.append(f"- Secret `{env.auth_secret.name}-<hash>` (secretGenerator)")
        elif env.auth_secret.source == "existing":
            lines.append(
                f"- Secret `{env.auth_secret.name}`, made outside git (`python -m compiler secret`)"
            )
        lines += ["", *diagram(env, name)]
    return "\n".join(lines) + "\n"


def docs_command(output: Output, spec_path: str) -> int:
    """Rewrite docs/environments.md only."""
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import write_tree

    tree = {DOCS_PATH: plan_tree(load_spec(spec_path))[DOCS_PATH]}
    changes = write_tree(Path("."), tree, only_planned=True)  # only the page itself
    for line in changes.lines():
        output.say(line)
    return ExitCode.OK
