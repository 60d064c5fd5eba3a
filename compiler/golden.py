"""Golden rendered manifests: what kustomize renders from each committed overlay.

One file per environment, `tests/golden/<env>.yaml`, rewritten only by
`python -m compiler snapshot`. `check` and the tests render the overlays again and
compare semantically, so a kustomize or compiler change that alters what gets applied
shows up even when the overlays look the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from compiler.console import Output
from compiler.emit import HEADER_MARK
from compiler.errors import ExitCode, WriteError

GOLDEN_DIR = "tests/golden"


def golden_path(environment: str) -> str:
    return f"{GOLDEN_DIR}/{environment}.yaml"


def golden_text(environment: str, rendered: str) -> str:
    """The golden file: a header line, then kustomize's output as it printed it."""
    return (
        f"# {HEADER_MARK} snapshot: what kustomize renders from overlays/{environment}. "
        "Rewrite with: python -m compiler snapshot\n" + rendered
    )


def existing_goldens(root: Path) -> dict[str, str]:
    """Golden files on disk by environment (only files carrying the header)."""
    directory = root / GOLDEN_DIR
    found: dict[str, str] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.startswith(f"# {HEADER_MARK} snapshot"):
            found[path.stem] = text
    return found


def stale_goldens(paths: Iterable[str], environments: Iterable[str]) -> list[str]:
    """Environments whose rendering a write of ``paths`` changes (base/ changes them all).

    ``paths`` are the generated files created, updated or deleted; ``environments`` the
    enabled ones. A new or removed overlay counts as changed.
    """
    touched = list(paths)
    names = set(environments)
    changed = set(names) if any(p.startswith("base/") for p in touched) else set()
    for path in touched:
        parts = path.split("/")
        if len(parts) >= 3 and parts[0] == "overlays" and parts[-1].endswith(".yaml"):
            changed.add(parts[1])
    return sorted(changed)


def snapshot_note(environments: list[str]) -> str | None:
    """What `compile` says when it changed what environments render."""
    if not environments:
        return None
    return (
        f"note: this changes what {', '.join(environments)} render"
        f"{'s' if len(environments) == 1 else ''}; review it (python -m compiler diff), "
        "then update the golden manifests: python -m compiler snapshot"
    )


def snapshot_command(output: Output, spec_path: str) -> int:
    """Render every enabled overlay and write its golden file; refuse a stale tree."""
    from compiler.check import file_drift
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.render import render

    spec = load_spec(spec_path)
    tree = plan_tree(spec)
    root = Path(".")
    if file_drift(root, tree):
        output.note(
            "error: the generated files do not match the spec; run: python -m compiler compile"
        )
        return ExitCode.DIFFERENCES
    names = [name for name, _ in spec.enabled()]
    rendered = render(find_kustomize(), [Path("overlays", n) for n in names])
    goldens = existing_goldens(root)
    try:
        (root / GOLDEN_DIR).mkdir(parents=True, exist_ok=True)
        for name, text in zip(names, rendered, strict=True):
            content = golden_text(name, text)
            if goldens.get(name) == content:
                output.say(f"unchanged {golden_path(name)}")
                continue
            (root / golden_path(name)).write_text(content, encoding="utf-8", newline="\n")
            output.say(f"  written {golden_path(name)}")
        for name in sorted(set(goldens) - set(names)):
            (root / golden_path(name)).unlink()
            output.say(f"  deleted {golden_path(name)}")
    except OSError as exc:
        raise WriteError(
            f"cannot write the golden manifests: {exc.strerror}: {exc.filename}"
        ) from None
    return ExitCode.OK
