"""`validate`: the spec checked, and a summary of each environment."""

from __future__ import annotations

from compiler.console import Output
from compiler.errors import ExitCode


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
        database = {
            "embedded": "embedded database",
            "external": "external database",
            "postgres": "PostgreSQL StatefulSet",
            "cloudnative-pg": f"CloudNativePG database of {env.database_instances} "
            f"instance{'s' if env.database_instances != 1 else ''}",
        }[env.database.mode]
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
