"""Environments cannot collide: a new one must not share prod's namespace or hosts.

The committed spec with a third environment appended, as a new user would try it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers import read_tree, run_cli

SPEC = (ROOT / "spec" / "llmgateway.yaml").read_text()
STAGING_LINE = len(SPEC.splitlines()) + 1  # the appended `staging:` key
NAMESPACE = (
    "namespace 'llmgateway'{how} is also environment 'prod''s: applying one would overwrite "
    "the other's Namespace, Deployment, claim and Ingresses; set environments.staging.namespace "
    "to a namespace of its own"
)
HOSTS = (
    "hosts llm.chrislee.local, api.llm.chrislee.local, gateway.llm.chrislee.local, "
    "admin.llm.chrislee.local{how} are also served by environment 'prod': the ingress "
    "controller would send one environment's users to the other; set "
    "environments.staging.domain to a domain of its own"
)
INHERITED = " (the defaults' {field})"


@pytest.mark.parametrize(
    ("staging", "expected"),
    [
        (
            "  staging: {replicas: 1}\n",
            [
                f"{STAGING_LINE}:3: environments.staging: "
                + HOSTS.format(how=INHERITED.format(field="domain")),
                f"{STAGING_LINE}:3: environments.staging: "
                + NAMESPACE.format(how=INHERITED.format(field="namespace")),
            ],
        ),
        (
            "  staging:\n    namespace: llmgateway-staging\n",
            [
                f"{STAGING_LINE}:3: environments.staging: "
                + HOSTS.format(how=INHERITED.format(field="domain"))
            ],
        ),
        (
            "  staging:\n    domain: staging.llm.chrislee.local\n",
            [
                f"{STAGING_LINE}:3: environments.staging: "
                + NAMESPACE.format(how=INHERITED.format(field="namespace"))
            ],
        ),
        (
            "  staging:\n    namespace: llmgateway\n    domain: staging.llm.chrislee.local\n",
            [f"{STAGING_LINE + 1}:5: environments.staging.namespace: " + NAMESPACE.format(how="")],
        ),
        (
            "  staging:\n    namespace: llmgateway-staging\n    domain: llm.chrislee.local\n",
            [f"{STAGING_LINE + 2}:5: environments.staging.domain: " + HOSTS.format(how="")],
        ),
    ],
    ids=[
        "both-inherited",
        "domain-inherited",
        "namespace-inherited",
        "namespace-set",
        "domain-set",
    ],
)
@pytest.mark.parametrize("command", ["validate", "compile", "lint", "diff"])
def test_a_new_environment_sharing_prods_namespace_or_hosts_is_exit_2(
    project: Path, staging: str, expected: list[str], command: str
) -> None:
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(SPEC + staging)
    before = read_tree(project)
    result = run_cli(command)
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if ": warning: " not in line]
    assert errors == [f"spec/llmgateway.yaml:{line}" for line in expected]
    assert read_tree(project) == before


def test_a_staging_of_its_own_compiles(project: Path) -> None:
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(
        SPEC
        + "  staging:\n    namespace: llmgateway-staging\n    domain: staging.llm.chrislee.local\n"
    )
    assert run_cli("compile").code == 0


def test_a_disabled_environment_collides_with_nothing(project: Path) -> None:
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(SPEC + "  staging: {enabled: false}\n")
    assert run_cli("validate").code == 0
