"""`check`: everything that can drift, gathered into one report (formatted by the CLI).

1. The generated files against what the spec compiles to (missing, unexpected, changed).
2. Unless told not to render: what kustomize renders from each committed overlay against
   the golden manifests, and the rendered output against the schemas and the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.compare import FileDrift, load_documents, rendered_drift, tree_drift
from compiler.fingerprint import SECRET_ENV
from compiler.golden import existing_goldens, golden_path
from compiler.lint import Finding, lint_environment
from compiler.plan import Tree
from compiler.secretenv import exposed_env_files, left_behind
from compiler.spec import Spec
from compiler.write import existing_files, is_generated, read_file


@dataclass
class GoldenDrift:
    path: str
    state: str  # missing | unexpected | changed
    changes: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    files: list[FileDrift]
    rendered: bool
    golden: list[GoldenDrift] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # secret.env files git could take

    @property
    def failed(self) -> bool:
        errors = [f for f in self.findings if f.severity == "error"]
        return bool(self.files or self.golden or errors or self.secrets)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": not self.failed,
            "files": [{"path": d.path, "state": d.state, "changes": d.details} for d in self.files],
            "rendered": self.rendered,
            "golden": [
                {"path": g.path, "state": g.state, "changes": g.changes} for g in self.golden
            ],
            "findings": [f.__dict__ for f in self.findings],
            "notes": self.notes,
            "secrets": self.secrets,
        }


def generated_on_disk(root: Path, tree: Tree) -> Tree:
    """The committed generated files, plus anything sitting where the plan puts a file."""
    found: Tree = {}
    for rel, path in existing_files(root).items():
        data = read_file(path)
        if rel in tree or is_generated(data):
            found[rel] = data
    return found


def file_drift(root: Path, tree: Tree) -> list[FileDrift]:
    """Generated files as committed -> as the spec compiles them."""
    return tree_drift(generated_on_disk(root, tree), tree)


def golden_drift(names: list[str], rendered: list[str], root: Path) -> list[GoldenDrift]:
    goldens = existing_goldens(root)
    drift: list[GoldenDrift] = []
    for name, text in zip(names, rendered, strict=True):
        if name not in goldens:
            drift.append(GoldenDrift(golden_path(name), "missing"))
            continue
        changes = rendered_drift(goldens[name], text)
        if changes:
            drift.append(GoldenDrift(golden_path(name), "changed", changes))
    drift.extend(
        GoldenDrift(golden_path(name), "unexpected") for name in sorted(set(goldens) - set(names))
    )
    return drift


def lint_all(spec: Spec, names: list[str], rendered: list[str]) -> list[Finding]:
    found: list[Finding] = []
    for name, text in zip(names, rendered, strict=True):
        found.extend(lint_environment(name, spec.environments[name], load_documents(text)))
    return found


def check(spec: Spec, tree: Tree, root: Path, *, render: bool) -> CheckReport:
    """Every kind of drift of the project at ``root``."""
    report = CheckReport(file_drift(root, tree), rendered=False)
    report.secrets = exposed_env_files(root, spec)
    report.notes.extend(stray.warning() for stray in left_behind(root, spec))
    if not render or report.files:
        if render:
            report.notes.append(
                "golden manifests not checked: the overlays drifted (compile first)"
            )
        return report
    from compiler.kustomize import find_kustomize
    from compiler.render import generator_keys
    from compiler.render import render as render_overlays

    names = [name for name, _ in spec.enabled()]
    for name in names:
        overlay = root / "overlays" / name
        if generator_keys(overlay) is not None and not (overlay / SECRET_ENV).is_file():
            report.notes.append(
                f"overlays/{name}/{SECRET_ENV} is missing; kubectl apply -k needs it "
                f"(python -m compiler secret --env {name} --format env > "
                f"overlays/{name}/{SECRET_ENV}); checked with placeholders"
            )
    rendered = render_overlays(find_kustomize(), [root / "overlays" / n for n in names])
    report.rendered = True
    report.golden = golden_drift(names, rendered, root)
    report.findings = lint_all(spec, names, rendered)
    return report
