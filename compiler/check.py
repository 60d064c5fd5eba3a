"""`check` and `lint`: everything that can drift, gathered into one report, and printed.

1. The generated files against what the spec compiles to (missing, unexpected, changed).
2. Unless told not to render: what kustomize renders from each committed overlay against
   the golden manifests, and the rendered output against the schemas and the policy.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.compare import (
    FileDrift,
    compare_resources,
    index_resources,
    rendered_drift,
    show,
    tree_drift,
)
from compiler.console import Output
from compiler.emit import scalar
from compiler.errors import ExitCode, ExternalError, UsageError
from compiler.fingerprint import FINGERPRINT_PATH, SECRET_ENV, read_fingerprint
from compiler.golden import existing_goldens, golden_path, golden_text
from compiler.journal import leftovers
from compiler.lint import Finding, lint_environment
from compiler.lintcache import LintCache
from compiler.lower.meta import component_selector
from compiler.plan import Tree
from compiler.rendercache import EarlyRender as EarlyRender  # its home before diff used it
from compiler.rendercache import early_render
from compiler.rendered import load_rendered
from compiler.secretignore import exposed_env_files, left_behind
from compiler.spec import Spec
from compiler.tools import Terminated
from compiler.write import existing_files, is_generated, read_file

if TYPE_CHECKING:
    pass


@dataclass
class GoldenDrift:
    path: str
    state: str  # missing | unexpected | changed
    changes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EditEffect:
    """What a hand edit of the generated files changes in one rendered resource."""

    environment: str
    resource: str  # Kind/name
    path: str
    committed: Any
    from_spec: Any
    keep: str | None = None  # the spec setting that keeps it: `environments.prod.replicas: 5`
    keep_value: str | None = None  # its value as `python -m compiler set` takes it

    def describe(self) -> str:
        if self.path == "(resource)":
            return f"{self.resource}: {self.committed}"
        return (
            f"{self.resource} {self.path}: {show(self.committed)} committed, "
            f"{show(self.from_spec)} from the spec"
        )


@dataclass
class CheckReport:
    files: list[FileDrift]
    rendered: bool
    golden: list[GoldenDrift] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # secret.env files git could take
    effects: list[EditEffect] = field(default_factory=list)
    hand_edited: bool = False

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
            "handEdited": self.hand_edited,
            "effects": [e.__dict__ for e in self.effects],
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
    """Generated files as committed -> as the spec compiles them, and what an
    interrupted compile left (its journal, staged and backup files): never passed over."""
    interrupted = [
        FileDrift(
            path,
            "leftover",
            ["an interrupted compile left it; python -m compiler compile finishes or undoes it"],
        )
        for path in leftovers(root)
    ]
    return tree_drift(generated_on_disk(root, tree), tree) + interrupted


def golden_drift(names: list[str], rendered: list[str], root: Path) -> list[GoldenDrift]:
    goldens = existing_goldens(root)
    drift: list[GoldenDrift] = []
    for name, text in zip(names, rendered, strict=True):
        if name not in goldens:
            drift.append(GoldenDrift(golden_path(name), "missing"))
            continue
        if goldens[name] == golden_text(name, text):
            continue  # byte for byte what snapshot wrote: nothing to parse
        changes = rendered_drift(goldens[name], text)
        if changes:
            drift.append(GoldenDrift(golden_path(name), "changed", changes))
    drift.extend(
        GoldenDrift(golden_path(name), "unexpected") for name in sorted(set(goldens) - set(names))
    )
    return drift


def lint_all(
    spec: Spec, names: list[str], rendered: list[str], cache: LintCache | None = None
) -> list[Finding]:
    """The findings of each environment; with a ``cache``, only the environments whose
    rendering, settings, rules or validators changed are validated."""
    found: list[Finding] = []
    for name, text in zip(names, rendered, strict=True):
        settings = spec.environments[name]
        key = cache.key(name, settings.model_dump_json(), text) if cache else None
        kept = cache.get(key, name) if cache and key else None
        if kept is None:
            kept = lint_environment(name, settings, load_rendered(text))
            if cache and key:
                cache.put(key, kept)
        found.extend(kept)
    return found


def check(
    spec: Spec, tree: Tree, root: Path, *, render: bool, early: EarlyRender | None = None
) -> CheckReport:
    """Every kind of drift of the project at ``root`` (``early``: overlays being rendered
    since the command started)."""
    report = CheckReport(file_drift(root, tree), rendered=False)
    report.secrets = exposed_env_files(root, spec)
    report.notes.extend(stray.warning() for stray in left_behind(root, spec))
    report.hand_edited = bool(report.files) and spec_unchanged(root, tree)
    if not render or report.files:
        if render:
            report.notes.append(
                "golden manifests not checked: the overlays drifted (compile first)"
            )
            if report.hand_edited:
                report.effects = edit_effects(spec, tree, root, report)
        elif report.hand_edited:
            report.notes.append(
                "check without --no-render shows what the hand edits change in the rendered "
                "resources, and the spec settings that keep them"
            )
        return report
    from compiler.kustomize import find_kustomize
    from compiler.render import generator_keys
    from compiler.render import render as render_overlays
    from compiler.rendercache import RenderCache

    names = [name for name, _ in spec.enabled()]
    for name in names:
        overlay = root / "overlays" / name
        if generator_keys(overlay) is not None and not (overlay / SECRET_ENV).is_file():
            report.notes.append(
                f"overlays/{name}/{SECRET_ENV} is missing; kubectl apply -k needs it "
                f"(python -m compiler secret --env {name} --generate --format env > "
                f"overlays/{name}/{SECRET_ENV}); checked with placeholders"
            )
    kustomize = find_kustomize()
    cache = (early.done() if early else None) or RenderCache(root, kustomize)
    rendered = render_overlays(kustomize, [root / "overlays" / n for n in names], cache=cache)
    report.rendered = True
    report.golden = golden_drift(names, rendered, root)
    report.findings = lint_all(spec, names, rendered, LintCache(root))
    return report


def spec_unchanged(root: Path, tree: Tree) -> bool:
    """Whether the spec is the one the committed tree was compiled from (so any drift is
    a hand edit): the committed fingerprint names the same spec as the planned one."""
    committed = read_fingerprint(root)
    planned = tree.get(FINGERPRINT_PATH, b"").decode().splitlines()
    return committed is not None and len(planned) > 1 and planned[1] == f"spec {committed[0]}"


def edited_environments(spec: Spec, paths: list[str]) -> dict[str, str]:
    """Environments whose rendering the drifted paths touch -> spec prefix for the hints."""
    enabled = [name for name, _ in spec.enabled()]
    scopes: dict[str, str] = {}
    if any(p.startswith("base/") for p in paths):
        scopes = dict.fromkeys(enabled, "defaults")
    for path in paths:
        parts = path.split("/")
        if len(parts) >= 3 and parts[0] == "overlays" and parts[1] in enabled:
            scopes[parts[1]] = f"environments.{parts[1]}"
    return dict(sorted(scopes.items()))


def edit_effects(spec: Spec, tree: Tree, root: Path, report: CheckReport) -> list[EditEffect]:
    """The hand edits by their effect: the committed overlays rendered against the ones the
    spec compiles to, field by field, each with the spec setting that would keep it."""
    import tempfile

    from compiler.kustomize import find_kustomize
    from compiler.render import render as render_overlays
    from compiler.rendercache import RenderCache

    scopes = edited_environments(spec, [d.path for d in report.files])
    names = [n for n in scopes if (root / "overlays" / n / "kustomization.yaml").is_file()]
    if not names:
        return []
    with tempfile.TemporaryDirectory(prefix="llmgw-check-") as scratch:
        planned = Path(scratch)
        for rel, data in tree.items():
            if rel.startswith("base/") or any(rel.startswith(f"overlays/{n}/") for n in names):
                target = planned / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        try:
            kustomize = find_kustomize()
            texts = render_overlays(
                kustomize,
                [root / "overlays" / n for n in names] + [planned / "overlays" / n for n in names],
                cache=RenderCache(root, kustomize),
            )
        except ExternalError as exc:
            report.notes.append(f"the committed overlays do not render any more: {exc}")
            return []
    effects: list[EditEffect] = []
    for index, name in enumerate(names):
        committed = load_rendered(texts[index])
        wanted = load_rendered(texts[len(names) + index])
        for change in compare_resources(committed, wanted):
            label = f"{change.id[1]}/{change.id[3]}"
            if change.change != "changed":
                what = {"added": "missing from", "removed": "only in"}[change.change]
                effects.append(
                    EditEffect(name, label, "(resource)", f"{what} the committed overlay", None)
                )
                continue
            resource = index_resources(wanted).get(change.id, {})
            for f in change.fields:
                setting = spec_setting(change.id[1], resource, f.path, f.old)
                keep = f"{scopes[name]}.{setting[0]}: {scalar(setting[1])}" if setting else None
                value = str(setting[1]) if setting else None
                effects.append(EditEffect(name, label, f.path, f.old, f.new, keep, value))
    return effects


CONTAINER = "spec.template.spec.containers[llmgateway]"
# Rendered fields that come straight from one spec field (kind, path) -> spec field.
SPEC_FIELDS = {
    ("Deployment", "spec.replicas"): "replicas",
    ("PersistentVolumeClaim", "spec.resources.requests.storage"): "storage.size",
    ("PersistentVolumeClaim", "spec.storageClassName"): "storage.className",
    ("Ingress", "spec.ingressClassName"): "ingress.className",
    ("Service", "spec.type"): "serviceType",
    **{
        ("Deployment", f"{CONTAINER}.resources.{level}.{amount}"): f"resources.{level}.{amount}"
        for level in ("requests", "limits")
        for amount in ("cpu", "memory")
    },
}
HOST_PREFIXES = {
    "llmgateway-ui": "",
    "llmgateway-api": "api.",
    "llmgateway-gateway": "gateway.",
    "llmgateway-admin": "admin.",
}


def split_service(kind: str, resource: Any) -> str | None:
    """The split service a Deployment runs (its selector's component); None otherwise."""
    if kind != "Deployment":
        return None
    labels = ((resource.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    service = labels.get("component")
    if isinstance(service, str) and labels == component_selector(service):
        return service
    return None


def split_setting(service: str, path: str, value: Any) -> tuple[str, Any] | None:
    """The `services.<service>` field that renders ``value`` at ``path`` of its Deployment."""
    container = f"spec.template.spec.containers[{service}]"
    if path == "spec.replicas":
        return f"services.{service}.replicas", value
    # No hint for one amount of `resources`: a service's resources are set as a whole.
    if path == f"{container}.image" and isinstance(value, str):
        repository, _, tag = value.rpartition(":")
        return (f"services.{service}.image.tag", tag) if repository and "/" not in tag else None
    return None


def spec_setting(kind: str, resource: Any, path: str, value: Any) -> tuple[str, Any] | None:
    """The spec field (relative to an environment) and value that render ``value`` at
    ``path`` of a resource, when one spec field decides it alone."""
    if value is None:
        return None
    service = split_service(kind, resource)
    if service is not None:
        return split_setting(service, path, value)
    if (kind, path) in SPEC_FIELDS:
        return SPEC_FIELDS[kind, path], value
    if kind == "PersistentVolumeClaim" and path.startswith("spec.accessModes"):
        mode = value[0] if isinstance(value, list) and len(value) == 1 else value
        return ("storage.accessMode", mode) if isinstance(mode, str) else None
    if kind == "Deployment" and path == f"{CONTAINER}.image" and isinstance(value, str):
        repository, _, tag = value.rpartition(":")
        return ("image.tag", tag) if repository and "/" not in tag else None
    if (
        kind == "Ingress"
        and isinstance(value, str)
        and (path == "spec.rules[0].host" or path.startswith("spec.tls[0].hosts"))
    ):
        name = (resource.get("metadata") or {}).get("name", "")
        prefix = HOST_PREFIXES.get(name)
        if prefix is not None and value.startswith(prefix) and len(value) > len(prefix):
            return "domain", value[len(prefix) :]
    return None


def check_command(output: Output, spec_path: str, *, render: bool, fmt: str) -> int:
    """`check`: every kind of drift, as text or JSON; exit 1 when anything drifted."""
    early = early_render(spec_path) if render else None
    try:
        from compiler.load import load_spec
        from compiler.plan import plan_tree

        spec = load_spec(spec_path)
        report = check(spec, plan_tree(spec), Path("."), render=render, early=early)
    except (KeyboardInterrupt, Terminated):
        if early is not None:
            early.abandon()  # its kustomize is not waited for (after an error it is: cached)
        raise
    finally:
        if early is not None:
            early.done()  # no kustomize left running behind the command
    if fmt == "json":
        output.say(json.dumps(report.as_json(), indent=2, default=str))
        return ExitCode.DIFFERENCES if report.failed else ExitCode.OK
    for note in report.notes:
        output.note(f"note: {note}")
    if report.files:
        count = len(report.files)
        files = "1 generated file differs" if count == 1 else f"{count} generated files differ"
        output.say(f"drift: {files} from what {spec_path} compiles to (committed -> from spec):")
        for item in report.files:
            state = {"missing": "unexpected", "unexpected": "missing"}.get(item.state, item.state)
            output.say(f"  {output.paint(f'{state:<10}', 'red')} {item.path}")
            for line in item.details:
                output.say(f"               {line}")
        if report.effects:
            output.say("hand edits, by their effect on the rendered resources:")
            for effect in report.effects:
                output.say(f"  {effect.environment}: {effect.describe()}")
                if effect.keep and effect.keep_value is not None:
                    output.say(f"      to keep it: set {effect.keep} in {spec_path}")
                    field = effect.keep.partition(":")[0]
                    where = "" if spec_path == "spec/llmgateway.yaml" else f" --spec {spec_path}"
                    output.say(
                        f"        (python -m compiler set{where} {field} "
                        f"{shlex.quote(effect.keep_value)})"
                    )
        if report.hand_edited:
            output.say(
                "fix: python -m compiler compile (it reverts the hand edits; to keep one, "
                "set it in the spec first)"
            )
        else:
            output.say("fix: python -m compiler compile")
    if report.golden:
        output.say("golden: what kustomize renders differs from tests/golden/:")
        for golden in report.golden:
            suffix = {
                "changed": " (golden -> rendered now)",
                "unexpected": " (no such environment)",
            }.get(golden.state, "")
            output.say(f"  {output.paint(f'{golden.state:<10}', 'red')} {golden.path}{suffix}")
            for line in golden.changes:
                output.say(f"               {line}")
        output.say("fix: review the change, then python -m compiler snapshot")
    for finding in report.findings:
        output.finding(finding.render(), finding.severity)
    if any(f.severity == "error" for f in report.findings):
        output.say("lint: the rendered manifests fail validation (findings on stderr)")
    for problem in report.secrets:
        output.say(f"{output.paint('secret:', 'red')} {problem}")
    if report.failed:
        return ExitCode.DIFFERENCES
    output.say(
        f"{spec_path}: base/ and overlays/ are up to date"
        + ("; rendered manifests match tests/golden/ and pass lint" if report.rendered else "")
    )
    return ExitCode.OK


def lint_command(
    output: Output, spec_path: str, names: list[str], *, strict: bool, fmt: str
) -> int:
    """`lint`: render the overlays (every enabled one when ``names`` is empty), validate
    them; errors (and with ``strict`` warnings) exit 1."""
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.render import render as render_overlays
    from compiler.rendercache import RenderCache

    spec = load_spec(spec_path)
    enabled = dict(spec.enabled())
    names = names or list(enabled)
    for name in names:
        if name not in enabled:
            raise UsageError(f"no enabled environment {name!r} in {spec_path}")
    kustomize = find_kustomize()
    rendered = render_overlays(
        kustomize, [Path("overlays", n) for n in names], cache=RenderCache(Path("."), kustomize)
    )
    findings = lint_all(spec, names, rendered, LintCache(Path(".")))
    failing = [f for f in findings if f.severity == "error" or strict]
    if fmt == "json":
        document = {"ok": not failing, "findings": [f.__dict__ for f in findings]}
        output.say(json.dumps(document, indent=2))
        return ExitCode.DIFFERENCES if failing else ExitCode.OK
    for found in findings:
        output.finding(found.render(), found.severity)
    if failing:
        return ExitCode.DIFFERENCES
    output.say(f"lint: {', '.join(names)}: schemas and policy pass")
    return ExitCode.OK
