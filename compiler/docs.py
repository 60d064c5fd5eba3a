"""A page describing every environment: endpoints, resources, and a diagram.

Generated into docs/environments.md by `compile` (and `docs`), kept in step by `check`
like every generated file.
"""

from __future__ import annotations

from pathlib import Path

from compiler import upstream
from compiler.console import Output
from compiler.emit import header_text
from compiler.errors import ExitCode
from compiler.lower import lower_environment
from compiler.lower.meta import hosts
from compiler.lower.unified import SERVICE_PORTS
from compiler.spec import EnvironmentSettings, Spec

DOCS_PATH = "docs/environments.md"
WHAT = {
    "ui": "Web UI: dashboard and management",
    "api": "management API used by the UI",
    "gateway": "OpenAI-compatible API for applications",
    "admin": "system-wide settings",
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


def diagram(env: EnvironmentSettings, name: str) -> list[str]:
    secret = env.auth_secret
    lines = [
        "```mermaid",
        "flowchart LR",
        '  client(["client"]) --> ingress["ingress-nginx, class '
        f'{env.ingress.class_name}: 4 hosts"]',
        '  ingress --> service["Service llmgateway"]',
        f'  service --> pod["Deployment llmgateway, {env.replicas} pod(s)"]',
        f'  secret[("Secret {secret.name}: {", ".join(env.secret_keys)}")] --> pod',
    ]
    if env.database.mode == "embedded":
        lines.append(
            f'  pod --> volume[("PVC llmgateway-data, {env.storage.size} {env.access_mode}")]'
        )
    else:
        lines.append(f'  db[("Secret {env.database.secret_name}: PostgreSQL and Redis")] --> pod')
    if env.ingress.tls.enabled and env.ingress.tls.issuer is not None:
        lines.append(f'  cert["Certificate from {env.ingress.tls.issuer.name}"] --> ingress')
    lines.append("```")
    return lines


def environments_page(spec: Spec) -> str:
    """The whole page, one section per enabled environment."""
    lines = [
        f"<!-- {header_text(spec.path)} -->",
        "# LLM Gateway environments",
        "",
        f"What each environment of `{spec.path}` deploys.",
    ]
    ports = dict(SERVICE_PORTS)
    for name, env in spec.enabled():
        lines += ["", f"## {name}", ""]
        lines.append(
            f"Namespace `{env.namespace}`, {env.replicas} "
            f"replica{'s' if env.replicas != 1 else ''}, image `{env.image.repository}:"
            f"{env.image.tag}`, {env.database.mode} database"
            + (", production." if env.production else ".")
        )
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
        for resource in lower_environment(env, name):
            lines.append(f"- {resource['kind']} `{resource['metadata']['name']}`")
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
