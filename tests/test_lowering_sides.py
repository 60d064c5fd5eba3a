"""Each side of the lowering's rules, on small specs lowered in-process.

The facts tables (tests/test_split.py, test_facts_table.py, ... adopted by
test_lowered_facts.py) check the values of the committed spec and the cases. The rules
below have a side those specs never take: an image on `latest` in the split topology, two
admins, a base without an environment name. Each expectation is written from
../shared/FACTS.md, ../shared/UPSTREAM.md or Kubernetes' semantics, never from the
compiler's output; the lowering is what kustomize renders (tests/test_invariant.py), so
no kustomize runs here: `nox -s mutation` runs these for each mutant of compiler/lower/.
"""

from __future__ import annotations

from typing import Any

from compiler.load import parse_spec
from compiler.lower import lower_environment

# What every spec below shares (tests/cases/valid/minimal): a domain, TLS with its
# issuer, the oauth2-proxy host every protected endpoint needs.
DEFAULTS = """\
defaults:
  domain: llm.example.com
  ingress:
    tls:
      issuer:
        name: letsencrypt-prod
  auth:
    oauth2ProxyHost: auth.example.com
"""
SPLIT = "    topology: split\n    database: {mode: external, secretName: db}\n"


def lowered(environment: str = "", defaults: str = "", instance: str | None = "env") -> Any:
    """The lowering of the one environment of a spec: DEFAULTS plus ``defaults`` (lines
    indented two spaces, under `defaults:`) and the environment's ``environment`` (lines
    indented four spaces)."""
    body = "\n" + environment if environment else " {}\n"
    text = DEFAULTS + defaults + "environments:\n  env:" + body
    ((_, settings),) = parse_spec(text.encode(), "spec.yaml").enabled()
    return lower_environment(settings, instance)


def find(documents: list[Any], kind: str, name: str) -> Any:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def containers(documents: list[Any]) -> dict[str, Any]:
    """Every container of the Deployments, by `<deployment>/<container>`."""
    return {
        f"{d['metadata']['name']}/{c['name']}": c
        for d in documents
        if d["kind"] == "Deployment"
        for c in [
            *d["spec"]["template"]["spec"].get("initContainers", []),
            *d["spec"]["template"]["spec"]["containers"],
        ]
    }


# --- split.py ------------------------------------------------------------------------------


def test_a_split_service_on_latest_is_pulled_always() -> None:
    """FACTS "Module variables": pull policy Always for `latest`, else IfNotPresent; a
    service's own tag wins over image.tag (UPSTREAM 1, _helpers.tpl:74-83), the api's
    migration runner runs the api's image."""
    latest = lowered(
        SPLIT + "    image: {tag: latest}\n    services: {gateway: {image: {tag: v2.0.0}}}\n"
    )
    pinned = lowered(
        SPLIT + "    image: {tag: v1.0.0}\n    services: {api: {image: {tag: latest}}}\n"
    )
    prefix = "ghcr.io/theopenco/llmgateway-"
    policies = {name: (c["image"], c["imagePullPolicy"]) for name, c in containers(latest).items()}
    assert policies == {
        "llmgateway-api/migrate": (f"{prefix}api:latest", "Always"),
        "llmgateway-api/api": (f"{prefix}api:latest", "Always"),
        "llmgateway-gateway/gateway": (f"{prefix}gateway:v2.0.0", "IfNotPresent"),
        "llmgateway-ui/ui": (f"{prefix}ui:latest", "Always"),
        "llmgateway-admin/admin": (f"{prefix}admin:latest", "Always"),
        "llmgateway-worker/worker": (f"{prefix}worker:latest", "Always"),
    }
    policies = {name: (c["image"], c["imagePullPolicy"]) for name, c in containers(pinned).items()}
    assert policies == {
        "llmgateway-api/migrate": (f"{prefix}api:latest", "Always"),
        "llmgateway-api/api": (f"{prefix}api:latest", "Always"),
        "llmgateway-gateway/gateway": (f"{prefix}gateway:v1.0.0", "IfNotPresent"),
        "llmgateway-ui/ui": (f"{prefix}ui:v1.0.0", "IfNotPresent"),
        "llmgateway-admin/admin": (f"{prefix}admin:v1.0.0", "IfNotPresent"),
        "llmgateway-worker/worker": (f"{prefix}worker:v1.0.0", "IfNotPresent"),
    }


def test_admin_emails_are_one_comma_separated_value() -> None:
    """FACTS: ADMIN_EMAILS is a comma-separated list, in both topologies."""
    admins = "  adminEmails: [one@example.com, two@example.com]\n"
    config = find(lowered(SPLIT, admins), "ConfigMap", "llmgateway-config")["data"]
    assert config["ADMIN_EMAILS"] == "one@example.com,two@example.com"
    (container,) = find(lowered("", admins), "Deployment", "llmgateway")["spec"]["template"][
        "spec"
    ]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ADMIN_EMAILS"] == "one@example.com,two@example.com"


def test_the_configmap_is_in_the_environment_namespace_with_its_labels() -> None:
    """A ConfigMap is namespaced: envFrom reads it from the pod's own namespace only; it
    carries the labels every resource carries (app.kubernetes.io/instance: the
    environment)."""
    config = find(lowered(SPLIT + "    namespace: team-a\n"), "ConfigMap", "llmgateway-config")
    assert config["metadata"] == {
        "name": "llmgateway-config",
        "namespace": "team-a",
        "labels": {
            "app.kubernetes.io/name": "llmgateway",
            "app.kubernetes.io/instance": "env",
            "app.kubernetes.io/part-of": "llmgateway",
            "app.kubernetes.io/managed-by": "llmgateway-compiler",
        },
    }
