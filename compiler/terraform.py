"""Import the Terraform module's variables into a commented spec.

Variables come from a `.tfvars` file (parsed with python-hcl2) and from `TF_VAR_*`
environment variables; as in Terraform, the file wins over the environment. The auth
secret's value is never copied: the spec references the Secret, and the CLI says how to
create it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.emit import scalar
from compiler.errors import UsageError

# The module's variables and defaults (shared FACTS).
VARIABLES: dict[str, Any] = {
    "llmgateway_enable": False,
    "llmgateway_domain": "llm.chrislee.local",
    "llmgateway_ingress_class_name": "nginx",
    "llmgateway_ingress_enable_tls": True,
    "llmgateway_storage_size": "10Gi",
    "llmgateway_storage_class_name": "longhorn",
    "llmgateway_auth_secret": None,
    "llmgateway_image_tag": "latest",
    "llmgateway_replicas": 1,
    "llmgateway_admin_emails": "",
    "auth_oauth2_proxy_host": "",
}
BOOLEANS = ("llmgateway_enable", "llmgateway_ingress_enable_tls")
INTEGERS = ("llmgateway_replicas",)


@dataclass
class Imported:
    """The spec text and what the user must still do."""

    spec: str
    secret_given: bool


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value)
    return value


def read_tfvars(text: str, source: str) -> dict[str, Any]:
    import hcl2
    from lark.exceptions import LarkError

    try:
        parsed = hcl2.loads(text)
    except LarkError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UsageError(f"{source}: not a valid .tfvars file: {first}") from None
    # python-hcl2 reports comments under keys such as __comments__.
    return {
        k: unquote(v) for k, v in parsed.items() if not (k.startswith("__") and k.endswith("__"))
    }


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`TF_VAR_<name>` for this module's names (llmgateway_*, auth_oauth2_proxy_host)."""
    found: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith("TF_VAR_"):
            continue
        name = key.removeprefix("TF_VAR_")
        if name.startswith("llmgateway_") or name == "auth_oauth2_proxy_host":
            found[name] = value
    return found


def coerce(name: str, value: Any, source: str) -> Any:
    """A variable's value with the module's type; UsageError naming the variable."""
    if name in BOOLEANS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise UsageError(f"{source}: {name} must be true or false, not {value!r}")
    if name in INTEGERS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{source}: {name} must be a whole number, not {value!r}") from None
        if number < 1:
            raise UsageError(f"{source}: {name} must be at least 1, not {number}")
        return number
    if not isinstance(value, str):
        raise UsageError(f"{source}: {name} must be a string, not {value!r}")
    return value


def gather(
    tfvars: dict[str, Any] | None, tfvars_name: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    values = dict(VARIABLES)
    sources = [("environment", {f"TF_VAR_{k}": v for k, v in from_environment(environ).items()})]
    if tfvars is not None:
        sources.append((tfvars_name, tfvars))
    for source, given in sources:
        for key, value in given.items():
            name = key.removeprefix("TF_VAR_")
            if name not in VARIABLES:
                close = difflib.get_close_matches(name, list(VARIABLES), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise UsageError(f"{source}: unknown variable {key}{hint}")
            values[name] = coerce(name, value, source)
    return values


def build_spec(values: dict[str, Any], env_name: str) -> Imported:
    """The commented spec for the module's values (validated by the caller)."""
    if not values["llmgateway_enable"]:
        raise UsageError(
            "llmgateway_enable is false: the module deployed nothing; set it to true "
            "(TF_VAR_llmgateway_enable=true or in the .tfvars file) to import"
        )
    host = values["auth_oauth2_proxy_host"].strip()
    if not host:
        raise UsageError(
            "auth_oauth2_proxy_host is empty: the module then rendered "
            "https:///oauth2/auth, leaving the UI, API and admin unprotected; set the "
            "oauth2-proxy host to import"
        )
    emails = [e.strip() for e in values["llmgateway_admin_emails"].split(",") if e.strip()]
    replicas = values["llmgateway_replicas"]
    q = scalar
    lines = [
        "# yaml-language-server: $schema=llmgateway.schema.json",
        "#",
        "# Imported from the Terraform module's variables (python -m compiler import-terraform).",
        "# The auth secret's value was not copied: the spec names the Secret, made outside git",
        "# with AUTH_SECRET and GATEWAY_API_KEY_HASH_SECRET: LLMGATEWAY_AUTH_SECRET=<the value>",
        f"# python -m compiler secret --env {env_name} --generate | kubectl apply -f -",
        "",
        "defaults:",
        "  # Namespace the module created.",
        "  namespace: llmgateway",
        "  # llmgateway_domain: the UI host; api., gateway. and admin. are prefixed to it.",
        f"  domain: {q(values['llmgateway_domain'])}",
        "  image:",
        "    repository: ghcr.io/theopenco/llmgateway-unified",
        "    # llmgateway_image_tag; `latest` is pulled on every start.",
        f"    tag: {q(values['llmgateway_image_tag'])}",
        "  # llmgateway_replicas",
        f"  replicas: {replicas}",
        "  ingress:",
        "    # llmgateway_ingress_class_name",
        f"    className: {q(values['llmgateway_ingress_class_name'])}",
        "    tls:",
        "      # llmgateway_ingress_enable_tls; the module's issuer was the ClusterIssuer",
        "      # letsencrypt-prod.",
        f"      enabled: {q(values['llmgateway_ingress_enable_tls'])}",
        "      issuer:",
        "        kind: ClusterIssuer",
        "        name: letsencrypt-prod",
        "  auth:",
        "    # auth_oauth2_proxy_host: protects the UI, API and admin endpoints.",
        f"    oauth2ProxyHost: {q(host)}",
        "  # The module's Secret llmgateway-auth, key AUTH_SECRET (llmgateway_auth_secret).",
        "  authSecret:",
        "    name: llmgateway-auth",
        "    key: AUTH_SECRET",
        "  # llmgateway_admin_emails, split at the commas.",
        "  adminEmails:" + ("" if emails else " []"),
        *(f"    - {q(email)}" for email in emails),
        "  storage:",
        "    # llmgateway_storage_size and llmgateway_storage_class_name.",
        f"    size: {q(values['llmgateway_storage_size'])}",
        f"    className: {q(values['llmgateway_storage_class_name'])}",
    ]
    if replicas > 1:
        lines += [
            "    # More than one replica: the module required ReadWriteMany.",
            "    accessMode: ReadWriteMany",
            "  database:",
            "    # RISK carried over from the module: each pod runs its own PostgreSQL on the",
            "    # one shared data directory, which PostgreSQL does not support. Prefer",
            "    # replicas: 1, or mode: external with a managed PostgreSQL and Redis.",
            "    acknowledgeSharedDataDirectory: true",
        ]
    lines += [
        "",
        "environments:",
        "  # The deployment the module managed.",
        f"  {env_name}:",
        "    production: true",
    ]
    return Imported("\n".join(lines) + "\n", values["llmgateway_auth_secret"] is not None)


# Which variable a field of the imported spec came from, for error messages.
FIELD_VARIABLES = {
    "defaults.domain": "llmgateway_domain",
    "defaults.image.tag": "llmgateway_image_tag",
    "defaults.replicas": "llmgateway_replicas",
    "defaults.ingress.className": "llmgateway_ingress_class_name",
    "defaults.auth.oauth2ProxyHost": "auth_oauth2_proxy_host",
    "defaults.storage.size": "llmgateway_storage_size",
    "defaults.storage.className": "llmgateway_storage_class_name",
}


def variable_of(path: str) -> str | None:
    if path.startswith("defaults.adminEmails"):
        return "llmgateway_admin_emails"
    return FIELD_VARIABLES.get(path)
