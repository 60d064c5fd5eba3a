"""Golden rendered manifests: what kustomize renders from each committed overlay.

One file per environment, `tests/golden/<env>.yaml`, rewritten only by
`python -m compiler snapshot`. `check` and the tests render the overlays again and
compare semantically, so a kustomize or compiler change that alters what gets applied
shows up even when the overlays look the same.
"""

from __future__ import annotations

from pathlib import Path

from compiler.emit import HEADER_MARK
from compiler.files import read_regular

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
        text = read_regular(path).decode("utf-8", errors="replace")
        if text.startswith(f"# {HEADER_MARK} snapshot"):
            found[path.stem] = text
    return found
