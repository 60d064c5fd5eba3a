"""Values Kubernetes or the linter would refuse are refused in the spec, at the field.

The refusals themselves are case folders (tests/cases/invalid/replicas-above-int32,
storage-size-refused-by-kubernetes, requests-above-limits, derived-host-too-long,
class-names-not-dns-subdomains; tests/cases/hostile/kubernetes-version-without-schemas);
these tests pin the limits to their sources.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from compiler.load import parse_spec
from compiler.lower import lower_environment
from compiler.spec import quantity, schema_versions

SPEC = """defaults:
  domain: {domain}
  ingress:
    tls:
      enabled: false
  auth:
    oauth2ProxyHost: auth.example.com
  kubernetesVersion: "{version}"
environments:
  prod: {{}}
"""


def spec_text(domain: str = "llm.example.com", version: str = "1.32") -> bytes:
    return SPEC.format(domain=domain, version=version).encode()


def test_kubernetes_versions_are_those_kubernetes_validate_has() -> None:
    from kubernetes_validate import utils

    assert schema_versions() == tuple(
        sorted({utils.major_minor(v) for v in utils.all_versions()}, key=lambda v: int(v[2:]))
    )
    assert "1.32" in schema_versions()  # the default


@pytest.mark.parametrize("position", [0, -1], ids=["oldest", "newest"])
def test_every_accepted_version_can_be_linted(position: int) -> None:
    """The oldest and newest accepted versions reach kubernetes-validate's schemas."""
    import kubernetes_validate

    version = schema_versions()[position]
    spec = parse_spec(spec_text(version=version), "spec.yaml")
    env = spec.environments["prod"]
    for resource in lower_environment(env, "prod"):
        if resource["apiVersion"] in ("v1", "apps/v1", "networking.k8s.io/v1"):
            kubernetes_validate.validate(resource, env.kubernetes_version, strict=True)


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("999m", "1"), ("1G", "1Gi"), ("953Mi", "1G"), ("0.5", "501m")],
)
def test_quantities_compare_by_amount(smaller: str, larger: str) -> None:
    assert quantity(smaller) < quantity(larger)


@pytest.mark.parametrize(
    ("left", "right"), [("1000m", "1"), ("1024Mi", "1Gi"), ("1k", "1000"), ("1000000u", "1")]
)
def test_equal_quantities_written_differently(left: str, right: str) -> None:
    assert quantity(left) == quantity(right)


def test_quantity_is_exact() -> None:
    assert quantity("1.5Gi") == Fraction(3 * 2**29)
    assert quantity("100m") == Fraction(1, 10)


def test_the_longest_domain_accepted_gives_hosts_kubernetes_accepts() -> None:
    domain = ".".join(["a" * 61] * 3 + ["b" * 56]) + ".io"
    assert len(domain) == 245
    env = parse_spec(spec_text(domain), "spec.yaml").environments["prod"]
    hosts = [
        rule["host"]
        for resource in lower_environment(env, "prod")
        if resource["kind"] == "Ingress"
        for rule in resource["spec"]["rules"]
    ]
    assert len(set(hosts)) == 4  # the /metrics Ingress repeats the gateway's host
    assert max(len(host) for host in hosts) == 253


@pytest.mark.parametrize("tool", ["argocd", "flux"])
def test_the_longest_environment_name_with_gitops_fits_a_label(tool: str) -> None:
    from compiler.gitops import gitops_documents

    name = "e" * 52
    text = SPEC.format(domain="llm.example.com", version="1.32").replace("  prod: {}", "")
    text += (
        f"  {name}:\n    gitops:\n      tool: {tool}\n"
        "      repoURL: https://github.com/example/llmgateway-deploy\n"
    )
    env = parse_spec(text.encode(), "spec.yaml").environments[name]
    names = {document["metadata"]["name"] for document in gitops_documents(env, name)}
    assert {len(n) for n in names} == {63}
