"""What checkov flags on each workload is skipped on it, with a reason, in every valid case.

`nox -s policy` passes because each checkov finding is either fixed in the manifests or
skipped on the workload with a `checkov.io/skipN: ID=reason` annotation (README
"Validation"). Here a small model of the checkov checks involved (checkov's Kubernetes
checks, bridgecrewio/checkov checkov/kubernetes/checks/resource/k8s/, each over
`containers` and `initContainers`; titles below) finds what each lowered workload would
be flagged for, from its own fields, and the test requires a skip for each finding; the
findings that depend on the spec (a probe-less container, a `latest` tag) must be skipped
only where they occur. A security context loosened, a probe lost or a skip dropped fails
here, in-process, for every valid case: `nox -s mutation` runs this for each mutant of
compiler/lower/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.load import load_spec
from compiler.lower import lower_environment
from tests.conftest import CASES

VALID = sorted(p.parent for p in (CASES / "valid").glob("*/spec.yaml"))
HIGH_UID = 10000
# The findings whose skip must follow the spec: they are skipped only where they occur.
CONDITIONAL = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_14"}


def container_findings(container: Any, pod: Any, init: bool) -> set[str]:
    context = container.get("securityContext", {})
    pod_context = pod.get("securityContext", {})
    found = set()
    if not init and "livenessProbe" not in container:
        found.add("CKV_K8S_8")  # Liveness Probe Should be Configured
    if not init and "readinessProbe" not in container:
        found.add("CKV_K8S_9")  # Readiness Probe Should be Configured
    resources = container.get("resources", {})
    for check, (kind, amount) in {
        "CKV_K8S_10": ("requests", "cpu"),
        "CKV_K8S_11": ("limits", "cpu"),
        "CKV_K8S_12": ("requests", "memory"),
        "CKV_K8S_13": ("limits", "memory"),
    }.items():
        if amount not in resources.get(kind, {}):
            found.add(check)  # CPU/memory requests/limits should be set
    image = container["image"]
    name = image.rpartition("/")[2]
    if "@" not in image and (":" not in name or name.rpartition(":")[2] == "latest"):
        found.add("CKV_K8S_14")  # Image Tag should be fixed - not latest or blank
    if container.get("imagePullPolicy") != "Always":
        found.add("CKV_K8S_15")  # Image Pull Policy should be Always
    if context.get("allowPrivilegeEscalation") is not False:
        found.add("CKV_K8S_20")  # Containers should not run with allowPrivilegeEscalation
    if context.get("readOnlyRootFilesystem") is not True:
        found.add("CKV_K8S_22")  # Use read-only filesystem for containers where possible
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root is not True and not (user is not None and user > 0):
        found.add("CKV_K8S_23")  # Minimize the admission of root containers
    capabilities = context.get("capabilities", {})
    if capabilities.get("add"):
        found.add("CKV_K8S_25")  # Minimize the admission of containers with added capability
    dropped = capabilities.get("drop", [])
    if not {"ALL", "NET_RAW"} & set(dropped):
        found.add("CKV_K8S_28")  # Minimize the admission of containers with NET_RAW
    seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
    if seccomp.get("type") != "RuntimeDefault":
        found.add("CKV_K8S_31")  # seccomp profile set to runtime/default
    secret_env = any("secretKeyRef" in e.get("valueFrom", {}) for e in container.get("env", []))
    if secret_env or any("secretRef" in s for s in container.get("envFrom", [])):
        found.add("CKV_K8S_35")  # Prefer using secrets as files over environment variables
    if "ALL" not in dropped:
        found.add("CKV_K8S_37")  # Minimize the admission of containers with capabilities
    if user is None or user < HIGH_UID:
        found.add("CKV_K8S_40")  # Containers should run as a high UID
    if "@" not in image:
        found.add("CKV_K8S_43")  # Image should use digest
    return found


def findings(workload: Any) -> set[str]:
    pod = workload["spec"]["template"]["spec"]
    found = set()
    for container in pod.get("initContainers", []):
        found |= container_findings(container, pod, init=True)
    for container in pod["containers"]:
        found |= container_findings(container, pod, init=False)
    if pod.get("automountServiceAccountToken") is not False:
        found.add("CKV_K8S_38")  # Service Account Tokens only where necessary
    return found


def skipped(workload: Any) -> set[str]:
    annotations = workload["metadata"].get("annotations", {})
    skips = {key: value for key, value in annotations.items() if key.startswith("checkov.io/skip")}
    assert sorted(skips) == sorted(f"checkov.io/skip{n}" for n in range(1, len(skips) + 1))
    checks = set()
    for value in skips.values():
        check, equals, reason = value.partition("=")
        assert check.startswith("CKV_K8S_"), value
        assert equals, value
        assert reason.strip(), value
        checks.add(check)
    assert len(checks) == len(skips)  # each check skipped once
    return checks


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.name)
def test_every_checkov_finding_is_skipped_where_it_occurs(case: Path) -> None:
    for name, settings in load_spec(case / "spec.yaml").enabled():
        for resource in lower_environment(settings, name):
            if resource["kind"] not in ("Deployment", "StatefulSet"):
                continue
            label = f"{name}: {resource['kind']}/{resource['metadata']['name']}"
            found, skips = findings(resource), skipped(resource)
            assert found <= skips, (label, sorted(found - skips))
            assert CONDITIONAL & skips == CONDITIONAL & found, label
