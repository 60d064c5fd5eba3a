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
from compiler.errors import ExitCode, UsageError, WriteError
from compiler.files import NotRegularFileError, read_regular, special_file
from compiler.write import first_link, write_file

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
    if not directory.is_dir() or first_link(root, GOLDEN_DIR) is not None:
        return found
    for path in sorted(directory.glob("*.yaml")):
        text = read_regular(path).decode("utf-8", errors="replace")
        if text.startswith(f"# {HEADER_MARK} snapshot"):
            found[path.stem] = text
    return found


def write_goldens(root: Path, rendered: dict[str, str]) -> list[str]:
    """Make tests/golden/ hold exactly these environments' files; the report lines.

    Never through a link: a linked tests/ or tests/golden/, or a golden file that is a
    link or a special file, is refused (exit 2) before anything is written.
    """
    link = first_link(root, GOLDEN_DIR)
    if link is not None:
        raise UsageError(
            f"{link}: is a symbolic link; the golden manifests are never written through links"
        )
    for name in rendered:
        mode = special_file(root / golden_path(name))
        if mode is not None:
            raise NotRegularFileError(golden_path(name), mode, "write")
    existing = existing_goldens(root)
    lines: list[str] = []
    for name, text in rendered.items():
        content = golden_text(name, text)
        if existing.get(name) == content:
            lines.append(f"unchanged {golden_path(name)}")
            continue
        write_file(root / golden_path(name), content)
        lines.append(f"  written {golden_path(name)}")
    for name in sorted(set(existing) - set(rendered)):
        try:
            (root / golden_path(name)).unlink()
        except OSError as exc:
            raise WriteError(f"cannot delete {golden_path(name)}: {exc.strerror}") from None
        lines.append(f"  deleted {golden_path(name)}")
    return lines


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
    from compiler.rendercache import RenderCache

    spec = load_spec(spec_path)
    tree = plan_tree(spec)
    root = Path(".")
    if file_drift(root, tree):
        output.note(
            "error: the generated files do not match the spec; run: python -m compiler compile"
        )
        return ExitCode.DIFFERENCES
    names = [name for name, _ in spec.enabled()]
    kustomize = find_kustomize()
    rendered = render(
        kustomize, [Path("overlays", n) for n in names], cache=RenderCache(root, kustomize)
    )
    for line in write_goldens(root, dict(zip(names, rendered, strict=True))):
        output.say(line)
    return ExitCode.OK
