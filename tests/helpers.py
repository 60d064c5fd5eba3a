"""Small helpers the tests share: run the CLI in-process, write trees, read manifests."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from compiler.cli import main
from compiler.rendered import load_rendered

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
