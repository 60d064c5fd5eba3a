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
    from compiler.secretignore import IGNORE_RULE, ensure_ignore_rule, left_behind
    from compiler.write import write_planned

    spec = load_spec(spec_path)
    output.warnings(spec.warnings)
    root = Path()
    changes = write_planned(root, lambda sink: plan_tree(spec, sink))
    for line in changes.lines():
        if quiet and line.lstrip().startswith("unchanged"):
            continue
        output.say(line)
    if ensure_ignore_rule(root, spec):
        output.say(f"  updated .gitignore (added {IGNORE_RULE}: secret.env stays out of git)")
    for stray in left_behind(root, spec):
        output.note(f"warning: {stray.warning()}", "yellow")
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
