"""Make the Secret an `existing` or `generator` environment needs, from the environment.

Values come from environment variables (`LLMGATEWAY_<KEY>`) or, with `generate`, from
the operating system's random source; `secret_command` prints them to stdout only.
Nothing here writes a file.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

from compiler.console import Output
from compiler.emit import dump
from compiler.errors import ExitCode, UsageError
from compiler.secretenv import ENV_PREFIX, URL_SAFE, URL_SAFE_KEYS, url_safety_problem
from compiler.spec import EnvironmentSettings

MIN_AUTH_SECRET = 32


def secret_values(
    env: EnvironmentSettings, environ: Mapping[str, str], *, generate: bool
) -> dict[str, str]:
    """Every key's value, from `LLMGATEWAY_<KEY>` or generated; UsageError when missing.

    The required keys (AUTH_SECRET's and GATEWAY_API_KEY_HASH_SECRET's) only need to be
    random and stable: `generate` makes each its own value. Provider keys cannot be made.
    """
    secret = env.auth_secret
    values: dict[str, str] = {}
    missing: list[str] = []
    for key in env.secret_keys:
        value = environ.get(ENV_PREFIX + key, "")
        if not value and generate and key in env.required_secret_keys:
            value = secrets.token_hex(32)
        if not value:
            missing.append(ENV_PREFIX + key)
        values[key] = value
    if missing:
        generatable = [
            ENV_PREFIX + k for k in env.required_secret_keys if ENV_PREFIX + k in missing
        ]
        hint = f" (or --generate for {' and '.join(generatable)})" if generatable else ""
        raise UsageError(f"set {', '.join(missing)} in the environment{hint}")
    for key in URL_SAFE_KEYS:
        if key in env.required_secret_keys and not URL_SAFE.fullmatch(values[key]):
            raise UsageError(f"{ENV_PREFIX}{url_safety_problem(key)}")
    if len(values[secret.key]) < MIN_AUTH_SECRET:
        raise UsageError(
            f"{ENV_PREFIX}{secret.key} has {len(values[secret.key])} characters; it needs at "
            f"least {MIN_AUTH_SECRET}: run `openssl rand -hex 32` (or use --generate)"
        )
    return values


def secret_manifest(env: EnvironmentSettings, values: Mapping[str, str]) -> str:
    """A Secret for `kubectl apply -f -`."""
    return dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": env.auth_secret.name, "namespace": env.namespace},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
    )


def secret_env_file(values: Mapping[str, str]) -> str:
    """The generator's env file (`KEY=value` lines)."""
    for key, value in values.items():
        if "\n" in value:
            raise UsageError(f"{ENV_PREFIX}{key} holds a line break, which an env file cannot")
    return "".join(f"{key}={value}\n" for key, value in values.items())


def secret_command(
    output: Output,
    spec_path: str,
    environment: str,
    *,
    generate: bool,
    fmt: str,
    environ: Mapping[str, str],
) -> int:
    """`secret`: print an environment's Secret (manifest or env file) to stdout only."""
    from compiler.load import load_spec

    spec = load_spec(spec_path)
    env = spec.environments.get(environment)
    if env is None:
        raise UsageError(f"no environment {environment!r} in {spec_path}")
    if env.auth_secret.source == "external-secrets":
        raise UsageError(
            f"environment {environment!r} takes its Secret from the External Secrets "
            "Operator; put the values in the store instead"
        )
    values = secret_values(env, environ, generate=generate)
    if env.auth_secret.source == "generator" and fmt == "yaml":
        # kustomize's secretGenerator reads overlays/<env>/secret.env, not a manifest.
        output.note(
            f"warning: environment {environment!r} makes its Secret with a secretGenerator, "
            "which does not use this YAML manifest; write its env file instead: "
            f"python -m compiler secret --env {environment}"
            + (" --generate" if generate else "")
            + f" --format env > overlays/{environment}/secret.env",
            "yellow",
        )
    output.secret_result(secret_env_file(values) if fmt == "env" else secret_manifest(env, values))
    return ExitCode.OK
