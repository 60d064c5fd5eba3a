"""build: renders current overlays, refuses stale ones, rejects bad arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import by_identity, load_documents, run_cli, unified_prod


def test_build_refuses_a_stale_overlay(project: Path, kustomize: Kustomize) -> None:
    unified_prod(project)  # prod: the unified Deployment of 3 pods
    assert run_cli("compile").code == 0
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    result = run_cli("build", "overlays/prod")
    assert result.code == 1
    assert result.err.splitlines()[-3:] == [
        "error: the generated files do not match the spec:",
        "  overlays/prod/kustomization.yaml",
        "run: python -m compiler compile",
    ]
    assert result.out == ""


def test_build_refuses_a_hand_edited_overlay(project: Path, kustomize: Kustomize) -> None:
    unified_prod(project)  # prod: the unified Deployment of 3 pods
    assert run_cli("compile").code == 0
    patch = project / "overlays" / "prod" / "patch-deployment-llmgateway.yaml"
    patch.write_text(patch.read_text().replace("maxSurge: 1", "maxSurge: 2"))
    result = run_cli("build", "overlays/prod")
    assert result.code == 1
    assert "  overlays/prod/patch-deployment-llmgateway.yaml" in result.err.splitlines()


def test_build_several_overlays_and_output_file(project: Path, kustomize: Kustomize) -> None:
    assert run_cli("compile").code == 0
    result = run_cli("build", "overlays/dev", "overlays/prod/", "-o", "all.yaml")
    assert result.code == 0, result.err
    assert result.out == ""
    resources = by_identity(load_documents((project / "all.yaml").read_text()))
    assert ("apps/v1", "Deployment", "llmgateway-dev", "llmgateway") in resources
    # prod runs the split services: the gateway among them.
    assert ("apps/v1", "Deployment", "llmgateway", "llmgateway-gateway") in resources
    assert ("apps/v1", "Deployment", "llmgateway", "llmgateway") not in resources


def test_build_unknown_environment_exits_2(project: Path) -> None:
    result = run_cli("build", "overlays/qa")
    assert result.code == 2
    assert result.err == (
        "error: no environment 'qa' in spec/llmgateway.yaml (environments: dev, prod)\n"
    )


def test_build_rejects_a_path_that_is_not_an_overlay(project: Path) -> None:
    result = run_cli("build", "base")
    assert result.code == 2
    assert result.err == (
        "error: 'base' is not an overlay directory; expected overlays/<environment>\n"
    )


def test_quick_start_build_through_python_m(kustomize: Kustomize) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "build", "overlays/prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kinds = sorted({d["kind"] for d in load_documents(done.stdout)})
    # prod: the split services, their PostgreSQL (a CloudNativePG Cluster) and Redis.
    assert kinds == [
        "Certificate",
        "Cluster",
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Namespace",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "StatefulSet",
    ]
    assert "Traceback" not in done.stderr


def test_a_current_overlay_builds_without_compiling_the_spec(
    project: Path, kustomize: Kustomize
) -> None:
    """The fingerprint and the cache: a second build neither loads the spec nor lints again."""
    assert run_cli("compile").code == 0
    command = [sys.executable, "-X", "importtime", "-m", "compiler", "build", "overlays/prod"]
    first = subprocess.run(command, cwd=project, capture_output=True, text=True, check=True)
    second = subprocess.run(command, cwd=project, capture_output=True, text=True, check=True)
    assert first.stdout == second.stdout
    assert "pydantic" in first.stderr  # cold: the spec is loaded to lint
    assert "pydantic" not in second.stderr
    assert "kubernetes_validate" not in second.stderr
    warnings = [line for line in second.stderr.splitlines() if not line.startswith("import time:")]
    assert warnings == [
        line for line in first.stderr.splitlines() if not line.startswith("import time:")
    ]
    assert (project / ".llmgw-cache" / ".gitignore").read_text().endswith("*\n")


def test_an_edited_spec_is_caught_even_with_a_warm_cache(
    project: Path, kustomize: Kustomize
) -> None:
    unified_prod(project)  # prod: the unified Deployment of 3 pods
    assert run_cli("compile").code == 0
    assert run_cli("build", "overlays/prod").code == 0
    spec = project / "spec" / "llmgateway.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("replicas: 3", "replicas: 4"))
    assert run_cli("build", "overlays/prod").code == 1  # the fingerprint no longer matches
    # A change that deploys nothing different: the fingerprint is stale, the overlay is not.
    spec.write_text(original + "# a comment\n")
    assert run_cli("build", "overlays/prod").code == 0
