"""Only the services that use PostgreSQL and Redis get their connection (README, "Which
containers get the connection"): api, gateway and worker (and the api's migration
runner); the ui, admin, playground, docs and code containers never see the passwords."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.load import load_spec
from compiler.lower import lower_environment
from tests.conftest import ROOT

CONNECTION = {"DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"}
SPECS = ["spec/llmgateway.yaml", "tests/cases/valid/split-services/spec.yaml"]


def deployments(spec: str) -> dict[str, Any]:
    found = {}
    for name, settings in load_spec(ROOT / spec).enabled():
        if settings.topology == "split":
            for r in lower_environment(settings, name):
                if r["kind"] == "Deployment":
                    found[f"{name}/{r['metadata']['name']}"] = r
    return found


def containers(deployment: Any) -> list[Any]:
    pod = deployment["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


@pytest.mark.parametrize("spec", SPECS)
def test_only_the_data_users_get_the_connection(spec: str) -> None:
    seen = set()
    for label, deployment in deployments(spec).items():
        service = label.split("/")[1].removeprefix("llmgateway-")
        seen.add(service)
        for container in containers(deployment):
            names = {e["name"] for e in container.get("env", [])}
            # envFrom carries only the shared ConfigMap, never a Secret's keys
            sources = [s for s in container.get("envFrom", []) if "secretRef" in s]
            assert not sources, f"{label}/{container['name']}: envFrom a Secret"
            if service in {"api", "gateway", "worker"}:
                assert names >= CONNECTION, f"{label}/{container['name']}"
            else:
                assert not names & CONNECTION, f"{label}/{container['name']}"
    assert {"api", "gateway", "worker", "ui", "admin"} <= seen
