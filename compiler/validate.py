"""`validate`: the spec checked, and a summary of each environment."""

from __future__ import annotations

from compiler.console import Output
from compiler.errors import ExitCode
from compiler.spec import Settings


def validate_command(output: Output, spec_path: str, *, strict: bool) -> int:
    """Load the spec (every problem raised as one SpecError) and summarise it."""
    from compiler.load import load_spec
    from compiler.lower.meta import hosts

    spec = load_spec(spec_path, strict=strict)
    output.warnings(spec.warnings)
    enabled = list(spec.enabled())
    output.say(f"{spec_path}: valid, {len(enabled)} environment{'s' if len(enabled) != 1 else ''}")
    for name, env in spec.environments.items():
        if not env.enabled:
            output.say(f"  {name}: disabled")
            continue
        if env.split:
            output.say(f"  {name}: namespace {env.namespace}, {split_summary(env)}")
            output.say(
                f"    hosts: {', '.join(f'{env.scheme}://{h}' for h in hosts(env).values())}"
            )
            continue
        database = data_service(env)
        storage = (
            f", {env.access_mode} {env.storage.size}" if env.database.mode == "embedded" else ""
        )
        output.say(
            f"  {name}: namespace {env.namespace}, {env.replicas} "
            f"replica{'s' if env.replicas != 1 else ''}, {database}{storage}, "
            f"image tag {env.image.tag}"
        )
        output.say(f"    hosts: {', '.join(f'{env.scheme}://{h}' for h in hosts(env).values())}")
    return ExitCode.OK


def data_service(env: Settings) -> str:
    """Where the environment's PostgreSQL runs, in words."""
    return {
        "embedded": "embedded database",
        "external": "external database",
        "postgres": "PostgreSQL StatefulSet",
        "cloudnative-pg": f"CloudNativePG database of {env.database_instances} "
        f"instance{'s' if env.database_instances != 1 else ''}",
    }[env.database.mode]


def split_summary(env: Settings) -> str:
    """The split topology in a line: each service's pods, the data services, the tag."""
    pods = []
    for service, settings in env.services.enabled():
        scaling = settings.autoscaling
        pods.append(
            f"{service} {settings.replicas}"
            if scaling is None
            else f"{service} {scaling.min_replicas}-{scaling.max_replicas} (autoscaled)"
        )
    database = data_service(env)
    own = [f"{s} {c.image.tag}" for s, c in env.services.enabled() if c.image.tag is not None]
    return (
        f"split topology: {', '.join(pods)}; {database}, {env.redis.mode} Redis, "
        f"image tag {env.image.tag}" + (f" ({', '.join(own)})" if own else "")
    )
