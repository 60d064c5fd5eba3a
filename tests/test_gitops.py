"""GitOps: an Argo CD Application or a Flux GitRepository and Kustomization per environment."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from compiler.lint import validate_schemas
from tests.conftest import CASES
from tests.helpers import load_documents, run_cli


def compile_case(project: Path, case: str) -> None:
    shutil.copy(CASES / "valid" / case / "spec.yaml", project / "spec" / "llmgateway.yaml")
    result = run_cli("compile")
    assert result.code == 0, result.err


def test_argocd_application_per_environment(project: Path) -> None:
    compile_case(project, "gitops-argocd")
    (dev,) = load_documents((project / "gitops" / "dev.yaml").read_text())
    (prod,) = load_documents((project / "gitops" / "prod.yaml").read_text())
    assert prod["kind"] == "Application"
    assert prod["metadata"]["namespace"] == "argocd"
    assert prod["spec"]["project"] == "platform"
    assert prod["spec"]["source"] == {
        "repoURL": "https://git.example.com/platform/llmgateway-deploy.git",
        "targetRevision": "release",
        "path": "overlays/prod",
    }
    assert prod["spec"]["destination"]["namespace"] == "llmgateway"
    assert prod["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert dev["spec"]["source"]["targetRevision"] == "main"
    assert dev["spec"]["destination"]["namespace"] == "llm-dev"
    assert validate_schemas("gitops", [dev, prod], "1.32") == []


def test_flux_objects_only_where_asked(project: Path) -> None:
    compile_case(project, "gitops-flux")
    assert not (project / "gitops" / "dev.yaml").exists()
    repository, kustomization = load_documents((project / "gitops" / "prod.yaml").read_text())
    assert repository["kind"] == "GitRepository"
    assert repository["spec"]["ref"] == {"branch": "main"}
    assert kustomization["spec"] == {
        "interval": "10m",
        "path": "./overlays/prod",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "llmgateway-prod"},
    }
    assert validate_schemas("gitops", [repository, kustomization], "1.32") == []


def test_schemas_reject_mistakes(project: Path) -> None:
    compile_case(project, "gitops-flux")
    _repository, kustomization = load_documents((project / "gitops" / "prod.yaml").read_text())
    bad = copy.deepcopy(kustomization)
    bad["spec"]["prune"] = "yes"
    bad["spec"]["sourceRef"]["kind"] = "HelmRepository"
    found = [f.render() for f in validate_schemas("gitops", [bad], "1.32")]
    assert found == [
        "gitops: error: Kustomization/flux-system/llmgateway-prod: spec.prune: "
        "'yes' is not of type 'boolean'",
        "gitops: error: Kustomization/flux-system/llmgateway-prod: spec.sourceRef.kind: "
        "'HelmRepository' is not one of ['GitRepository', 'OCIRepository', 'Bucket']",
    ]


def test_check_keeps_gitops_files_in_step(project: Path) -> None:
    compile_case(project, "gitops-argocd")
    target = project / "gitops" / "prod.yaml"
    target.write_text(target.read_text().replace("selfHeal: true", "selfHeal: false"))
    result = run_cli("check", "--no-render")
    assert result.code == 1
    assert "  changed    gitops/prod.yaml" in result.out.splitlines()
