"""GitOps objects pointing a controller at overlays/<env>: Argo CD or Flux, pruning on."""

from __future__ import annotations

from typing import Any

from compiler.lower.meta import APP, labels
from compiler.spec import EnvironmentSettings

GITOPS_DIR = "gitops"
# Argo CD (label tracking: app.kubernetes.io/instance) and Flux (kustomize.toolkit.fluxcd.io/
# name) write the object's name into a label of every resource they apply: 63 at most.
MAX_LABEL_VALUE = 63


def object_name(env_name: str) -> str:
    """Name of the Argo CD Application or the Flux objects of one environment."""
    return f"{APP}-{env_name}"


def gitops_documents(env: EnvironmentSettings, name: str) -> list[dict[str, Any]]:
    """The objects to apply once to the cluster; the controller then follows git."""
    gitops = env.gitops
    if gitops is None:
        return []
    path = f"overlays/{name}"
    if gitops.tool == "argocd":
        return [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {
                    "name": object_name(name),
                    "namespace": gitops.argocd.namespace,
                    "labels": labels(name),
                },
                "spec": {
                    "project": gitops.argocd.project,
                    "source": {
                        "repoURL": gitops.repo_url,
                        "targetRevision": gitops.revision,
                        "path": path,
                    },
                    "destination": {
                        "server": "https://kubernetes.default.svc",
                        "namespace": env.namespace,
                    },
                    "syncPolicy": {
                        # prune: resources removed from the spec are deleted from the cluster.
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["ServerSideApply=true"],
                    },
                },
            }
        ]
    flux = gitops.flux
    flux_metadata = {"name": object_name(name), "namespace": flux.namespace, "labels": labels(name)}
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": dict(flux_metadata),
            "spec": {
                "interval": flux.interval,
                "url": gitops.repo_url,
                "ref": {"branch": gitops.revision},
            },
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": dict(flux_metadata),
            "spec": {
                "interval": flux.interval,
                "path": f"./{path}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": object_name(name)},
            },
        },
    ]
