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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.console import Output
from compiler.emit import scalar
from compiler.errors import ExitCode, Problem, SpecError, UsageError
from compiler.files import FileTooLargeError, read_regular

MAX_TFVARS_BYTES = 1024 * 1024  # far above any module's variables


@dataclass(frozen=True)
class Variable:
    """One input variable of the Terraform module, as its variables.tf declares it."""

    type: str  # the Terraform type: bool, number or string
    default: Any
    sensitive: bool
    field: str  # the spec field it becomes


# The module's variables, types and defaults (FACTS.md, "Module variables -> spec fields").
VARIABLES: dict[str, Variable] = {
    "llmgateway_enable": Variable("bool", False, False, "(must be true)"),
    "llmgateway_domain": Variable("string", "llm.chrislee.local", False, "domain"),
    "llmgateway_ingress_class_name": Variable("string", "nginx", False, "ingress.className"),
    "llmgateway_ingress_enable_tls": Variable("bool", True, False, "ingress.tls.enabled"),
    "llmgateway_storage_size": Variable("string", "10Gi", False, "storage.size"),
    "llmgateway_storage_class_name": Variable("string", "longhorn", False, "storage.className"),
    "llmgateway_auth_secret": Variable("string", None, True, "(never copied)"),
    "llmgateway_image_tag": Variable("string", "latest", False, "image.tag"),
    "llmgateway_replicas": Variable("number", 1, False, "replicas"),
    "llmgateway_admin_emails": Variable(
        "string", "", True, "adminEmails (comma-separated, or a list)"
    ),
    "auth_oauth2_proxy_host": Variable("string", "", False, "auth.oauth2ProxyHost"),
}
BOOLEANS = tuple(name for name, v in VARIABLES.items() if v.type == "bool")
INTEGERS = tuple(name for name, v in VARIABLES.items() if v.type == "number")
SENSITIVE = tuple(name for name, v in VARIABLES.items() if v.sensitive)
# A did-you-mean must be close on the part after the shared prefix, so that
# `llmgateway_namespace` does not suggest `llmgateway_enable`.
SUGGESTION_CUTOFF = 0.75


def variables_help() -> str:
    """The module's variables with their types, for --help and the README."""
    width = max(len(name) for name in VARIABLES)
    lines = ["the Terraform module's variables (type, default -> spec field):"]
    for name, var in VARIABLES.items():
        default = "none" if var.default is None else json.dumps(var.default)
        sensitive = ", sensitive" if var.sensitive else ""
        lines.append(f"  {name:<{width}}  {var.type}{sensitive}, default {default} -> {var.field}")
    return "\n".join(lines) + "\n"


@dataclass
class Imported:
    """The spec text and what the user must still know."""

    spec: str
    secret_given: bool
    risks: list[str] = field(default_factory=list)


def read_tfvars(text: str, source: str) -> dict[str, Any]:
    """The variables of a .tfvars file; strings unquoted, heredocs resolved, no comments."""
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import LarkError, UnexpectedInput

    options = SerializationOptions(
        with_comments=False, preserve_heredocs=False, strip_string_quotes=True
    )
    try:
        parsed = hcl2.loads(text, serialization_options=options)
    except UnexpectedInput as exc:
        # Only the position: lark's message quotes the offending token, which may be a secret.
        raise UsageError(f"{source}:{exc.line}:{exc.column}: not a valid .tfvars file") from None
    except (LarkError, ValueError, UnicodeError):
        raise UsageError(f"{source}: not a valid .tfvars file") from None
    return dict(parsed)


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


def type_name(value: Any) -> str:
    """A value's type in Terraform's words."""
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def shown(name: str, value: Any) -> str:
    """A value for an error message: its type only when the variable is sensitive."""
    return type_name(value) if VARIABLES[name].sensitive else repr(value)


def coerce(name: str, value: Any, source: str) -> Any:
    """A variable's value with the module's type; UsageError naming the variable."""
    if name in BOOLEANS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise UsageError(f"{source}: {name} must be true or false, not {shown(name, value)}")
    if name in INTEGERS:
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            raise UsageError(
                f"{source}: {name} must be a whole number, not {shown(name, value)}"
            ) from None
        if number < 1:
            raise UsageError(f"{source}: {name} must be at least 1, not {number}")
        return number
    if name == "llmgateway_admin_emails":
        return admin_emails(value, source)
    if not isinstance(value, str):
        raise UsageError(f"{source}: {name} must be a string, not {shown(name, value)}")
    return value


def admin_emails(value: Any, source: str) -> list[str]:
    """The module's comma-separated string, or a list of strings (also as JSON in TF_VAR_)."""
    name = "llmgateway_admin_emails"
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise UsageError(
                f"{source}: {name} looks like a list but is not valid JSON or HCL "
                "(the value is not shown: the variable is sensitive)"
            ) from None
    if isinstance(value, str):
        return [e.strip() for e in value.split(",") if e.strip()]
    if isinstance(value, list) and all(isinstance(e, str) for e in value):
        return [e.strip() for e in value if e.strip()]
    raise UsageError(
        f"{source}: {name} must be a comma-separated string or a list of strings, "
        f"not {type_name(value)} (the value is not shown: the variable is sensitive)"
    )


def suggestion(name: str) -> str | None:
    def core(n: str) -> str:
        return n.removeprefix("llmgateway_")

    cores = {core(v): v for v in VARIABLES}
    close = difflib.get_close_matches(core(name), list(cores), n=1, cutoff=SUGGESTION_CUTOFF)
    return cores[close[0]] if close else None


def gather(
    tfvars: dict[str, Any] | None, tfvars_name: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    values = {name: var.default for name, var in VARIABLES.items()}
    values["llmgateway_admin_emails"] = []
    sources = [("environment", {f"TF_VAR_{k}": v for k, v in from_environment(environ).items()})]
    if tfvars is not None:
        sources.append((tfvars_name, tfvars))
    for source, given in sources:
        for key, value in given.items():
            name = key.removeprefix("TF_VAR_")
            if name not in VARIABLES:
                close = suggestion(name)
                hint = f"; did you mean {close}?" if close else ""
                raise UsageError(f"{source}: unknown variable {key}{hint}")
            values[name] = coerce(name, value, source)
    return values


def build_spec(values: dict[str, Any], env_name: str, namespace: str = "llmgateway") -> Imported:
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
    emails = values["llmgateway_admin_emails"]
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
        "  # Namespace of every resource (the module's was llmgateway; --namespace sets it).",
        f"  namespace: {q(namespace)}",
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
        "  # llmgateway_admin_emails.",
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
    imported = Imported("\n".join(lines) + "\n", values["llmgateway_auth_secret"] is not None)
    if replicas > 1:
        imported.risks.append(
            f"llmgateway_replicas = {replicas} with the embedded database: the spec sets "
            "database.acknowledgeSharedDataDirectory: true, so each pod starts its own "
            "PostgreSQL on the one shared data directory, as the module did; PostgreSQL does "
            "not support that. Prefer replicas: 1, or database.mode: external"
        )
    if not values["llmgateway_ingress_enable_tls"]:
        imported.risks.append(
            "llmgateway_ingress_enable_tls = false: the spec sets ingress.tls.enabled: false, "
            "so every endpoint (the sign-in included) is served over plain HTTP"
        )
    return imported


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


def sensitive_values(values: dict[str, Any]) -> list[str]:
    """Every value of a sensitive variable, to be kept out of any message."""
    found: list[str] = []
    for name in SENSITIVE:
        value = values.get(name)
        if isinstance(value, str) and value:
            found.append(value)
        elif isinstance(value, list):
            found.extend(str(v) for v in value if v)
    return sorted(found, key=len, reverse=True)


def hide(message: str, values: list[str]) -> str:
    for value in values:
        message = message.replace(repr(value), "(hidden)").replace(value, "(hidden)")
    return message


def located(problem: Problem, hidden: list[str]) -> Problem:
    """A spec problem of the imported spec, naming the variable it came from."""
    variable = variable_of(problem.path)
    message = hide(problem.message, hidden)
    if variable and VARIABLES[variable].sensitive:
        message += f" (from {variable}, a sensitive {VARIABLES[variable].type}: value not shown)"
    elif variable:
        message += f" (from {variable})"
    return Problem(problem.file, problem.line, problem.column, problem.path, message)


@dataclass
class ImportResult:
    """What import-terraform wrote and what the user should know."""

    written: list[str]
    imported: Imported
    env_name: str
    spec_path: str


def import_terraform(
    tfvars_path: str | None,
    env_name: str,
    namespace: str,
    output: str,
    *,
    force: bool,
    environ: Mapping[str, str],
) -> ImportResult:
    """Read the variables, write the spec and its JSON Schema beside it (all checked first)."""
    from compiler.load import parse_spec
    from compiler.schema import render_schema
    from compiler.spec import check_dns_label
    from compiler.write import write_file

    for option, value in (("--env-name", env_name), ("--namespace", namespace)):
        try:
            check_dns_label(value)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    tfvars = None
    if tfvars_path:
        try:
            raw = read_regular(tfvars_path, MAX_TFVARS_BYTES)  # no FIFO, device or link
            if len(raw) > MAX_TFVARS_BYTES:
                raise FileTooLargeError(len(raw))
            text = raw.decode("utf-8")
        except FileTooLargeError:
            raise UsageError(f"cannot read {tfvars_path}: larger than 1 MiB") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {tfvars_path}: {exc}") from None
        tfvars = read_tfvars(text, tfvars_path)
    values = gather(tfvars, tfvars_path or "", environ)
    imported = build_spec(values, env_name, namespace)
    try:
        parse_spec(imported.spec.encode(), output)
    except SpecError as error:
        hidden = sensitive_values(values)
        raise SpecError(located(p, hidden) for p in error.problems) from None
    target = Path(output)
    if target.exists() and not force:
        raise UsageError(f"{output} exists; use --force to replace it (or --output PATH)")
    # The spec's modeline points at llmgateway.schema.json in the same folder.
    schema = target.parent / "llmgateway.schema.json"
    write_file(target, imported.spec)
    written = [output]
    schema_text = render_schema()
    if write_file(schema, schema_text):
        written.append(schema.as_posix())
    return ImportResult(written, imported, env_name, output)


def import_terraform_command(
    output: Output,
    tfvars_path: str | None,
    env_name: str,
    namespace: str,
    target: str,
    *,
    force: bool,
    environ: Mapping[str, str],
) -> int:
    """`import-terraform`: write the spec, then say what was not copied and what comes next."""
    result = import_terraform(
        tfvars_path, env_name, namespace, target, force=force, environ=environ
    )
    for path in result.written:
        output.say(f"  written {path}")
    for risk in result.imported.risks:
        output.note(f"warning: {risk}", "yellow")
    spec = "" if target == "spec/llmgateway.yaml" else f" --spec {target}"
    output.say(f"next: python -m compiler compile{spec}   (writes base/ and overlays/)")
    output.say(
        f"      python -m compiler snapshot{spec}  (after review: the rendered manifests "
        "in tests/golden/)"
    )
    hint = (
        "the value given to llmgateway_auth_secret was not copied; "
        if result.imported.secret_given
        else ""
    )
    output.note(
        f"note: {hint}create the Secret outside git, keeping the module's AUTH_SECRET and "
        "generating the GATEWAY_API_KEY_HASH_SECRET the app also needs: "
        f"LLMGATEWAY_AUTH_SECRET=<the value> python -m compiler secret --env {env_name} "
        "--generate | kubectl apply -f -"
    )
    return ExitCode.OK
