"""A Secret's values never reach a report, whichever side of a comparison holds it.

Each comparing function (`check`'s file drift, the golden drift, the semantic diff) gets a
Secret on the old side only, the new side only, and both, with values that must not
appear; and `check` runs on a committed tree where a generated file was hand-edited into
a Secret.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compiler.compare import compare_resources, describe_change, file_changes, rendered_drift
from compiler.emit import dump
from tests.helpers import run_cli

OLD_VALUE = "old-value-never-shown-0123456789abcdef"
NEW_VALUE = "new-value-never-shown-fedcba9876543210"


def secret(value: str, section: str = "data") -> dict[str, Any]:
    shown = base64.b64encode(value.encode()).decode() if section == "data" else value
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "llmgateway-auth", "namespace": "llmgateway"},
        "type": "Opaque",
        section: {"AUTH_SECRET": shown, "EXTRA": shown},
    }


def empty_secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "llmgateway-auth", "namespace": "llmgateway"},
        "type": "Opaque",
    }


def forbidden() -> list[str]:
    values = [OLD_VALUE, NEW_VALUE]
    return values + [base64.b64encode(v.encode()).decode() for v in values]


def via_file_changes(old: Any, new: Any) -> str:
    return "\n".join(file_changes(dump(old).encode(), dump(new).encode(), "base/x.yaml"))


def via_rendered_drift(old: Any, new: Any) -> str:
    return "\n".join(rendered_drift(dump(old), dump(new)))


def via_compare_resources(old: Any, new: Any) -> str:
    return "\n".join(
        f"{change.label}: {describe_change(field)}"
        for change in compare_resources([old], [new])
        for field in change.fields
    )


COMPARERS: dict[str, Callable[[Any, Any], str]] = {
    "file_changes": via_file_changes,
    "rendered_drift": via_rendered_drift,
    "compare_resources": via_compare_resources,
}


@pytest.mark.parametrize("section", ["data", "stringData"])
@pytest.mark.parametrize("side", ["old", "new", "both"])
@pytest.mark.parametrize("comparer", sorted(COMPARERS))
def test_secret_values_hidden_on_either_side(comparer: str, side: str, section: str) -> None:
    old = secret(OLD_VALUE, section) if side in ("old", "both") else empty_secret()
    new = secret(NEW_VALUE, section) if side in ("new", "both") else empty_secret()
    report = COMPARERS[comparer](old, new)
    for value in forbidden():
        assert value not in report, (comparer, side)
    # The keys are named, with what happened to them.
    expected = {
        "old": f"{section}.AUTH_SECRET: removed (was (hidden))",
        "new": f"{section}.AUTH_SECRET: added (hidden)",
        "both": f"{section}.AUTH_SECRET: (hidden) -> (hidden)",
    }[side]
    assert expected in report, report


def test_check_hides_a_secret_pasted_into_a_committed_file(project: Path) -> None:
    """`check` compares the committed file (a hand-edited Secret) with the spec's."""
    assert run_cli("compile").code == 0
    path = project / "base" / "namespace-llmgateway.yaml"
    header = path.read_text().split("\n", 1)[0]
    path.write_text(header + "\n" + dump(secret(NEW_VALUE)))
    for output in ("text", "json"):
        result = run_cli("check", "--no-render", "--output", output)
        assert result.code == 1, result.err
        for value in forbidden():
            assert value not in result.out + result.err, output
        assert "AUTH_SECRET" in result.out, output
