"""`compile`: the spec planned into files and written, all or nothing."""

from __future__ import annotations

from pathlib import Path

from compiler.console import Output
from compiler.errors import ExitCode


def compile_command(output: Output, spec_path: str, *, quiet: bool) -> int:
    """Write base/, overlays/ (and the docs page, gitops/) from the spec; list what changed."""
    from compiler.golden import snapshot_note, stale_goldens
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import apply_changes, diff_tree

    spec = load_spec(spec_path)
    output.warnings(spec.warnings)
    tree = plan_tree(spec)
    root = Path()
    changes = diff_tree(root, tree)
    apply_changes(root, tree, changes)
    for line in changes.lines():
        if quiet and line.lstrip().startswith("unchanged"):
            continue
        output.say(line)
    counts = (
        f"{len(changes.created)} created, {len(changes.updated)} updated, "
        f"{len(changes.deleted)} deleted, {len(changes.unchanged)} unchanged"
    )
    output.say(counts)
    note = snapshot_note(
        stale_goldens(
            changes.created + changes.updated + changes.deleted,
            [name for name, _ in spec.enabled()],
        )
    )
    if note:
        output.note(note)
    return ExitCode.OK
