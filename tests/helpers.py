"""Small helpers the tests share: run the CLI in-process, write trees, read manifests."""

from __future__ import annotations

import io
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from compiler.cli import main
from compiler.kustomize import Kustomize
from compiler.load import load_spec
from compiler.plan import plan_tree
from compiler.render import render
from compiler.rendered import load_rendered

# The committed spec as it was before prod moved to the split topology: prod the unified
# image, 3 replicas on one ReadWriteMany volume, the risk acknowledged. Tests of the
# unified facts that used to read the committed prod read this case instead.
UNIFIED_PROD_CASE = (
    Path(__file__).resolve().parent
    / "cases"
    / "valid"
    / "unified-replicas-shared-data-acknowledged"
    / "spec.yaml"
)

ResourceKey = tuple[str, str, str, str]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Result:
    """Run `python -m compiler ARGS` in this process."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


def write_tree(root: Path, tree: dict[str, bytes]) -> None:
    for rel, data in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative POSIX paths), for before/after comparisons."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def load_rendering(text: str) -> list[Any]:
    """What kustomize printed, read as the compiler reads it (compiler/rendered.py: libyaml,
    about 15x faster than ruamel's pure Python). The invariant test and
    tests/test_rendered_yaml.py prove it reads every case's rendering and every ambiguous
    string exactly as ``load_documents`` does; a misreading would show as a difference."""
    return load_rendered(text)


def load_documents(text: str) -> list[Any]:
    yaml = YAML(typ="safe", pure=True)
    return [d for d in yaml.load_all(text) if d is not None]


def by_identity(resources: list[Any]) -> dict[ResourceKey, Any]:
    """Resources keyed by apiVersion, kind, namespace and name."""
    out: dict[ResourceKey, Any] = {}
    for resource in resources:
        meta = resource["metadata"]
        key = (resource["apiVersion"], resource["kind"], meta.get("namespace", ""), meta["name"])
        assert key not in out, f"duplicate resource {key}"
        out[key] = resource
    return out


def unified_prod(project: Path) -> Path:
    """Put the unified prod case in place of a scratch project's spec; returns the spec."""
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_bytes(UNIFIED_PROD_CASE.read_bytes())
    return spec


def render_spec(spec: Path, root: Path, kustomize: Kustomize) -> dict[str, list[Any]]:
    """Compile spec into root (base/ and overlays/) and render each enabled environment
    with the real kustomize: {environment: documents}."""
    loaded = load_spec(spec)
    write_tree(root, plan_tree(loaded))
    names = [name for name, _ in loaded.enabled()]
    texts = render(kustomize, [root / "overlays" / name for name in names])
    return {name: load_rendering(text) for name, text in zip(names, texts, strict=True)}


def interruptible() -> None:
    """In a child, before Python starts: SIGINT as a terminal's foreground job has it.
    A shell starts background jobs with SIGINT ignored, pytest's children inherit that,
    and Python then never raises KeyboardInterrupt (a SIGINT test then waits forever)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
