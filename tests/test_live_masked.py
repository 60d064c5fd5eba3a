"""diff --live with Secrets masked as kubectl (1.24 and later) really passes them.

kubectl diff replaces each value of a Secret's `data` before it calls
$KUBECTL_EXTERNAL_DIFF: `***` for a key on one side only or equal on both, `*** (before)`
and `*** (after)` for a key whose value changes (kubernetes/kubectl
pkg/cmd/diff/diff.go: sensitiveMaskDefault, sensitiveMaskBefore, sensitiveMaskAfter and
Masker.run). tests/cases/live/prod-masked is tests/cases/live/prod recorded that way:
AUTH_SECRET changes, GATEWAY_API_KEY_HASH_SECRET stays, LLM_MISTRAL_API_KEY goes and
LLM_OPENAI_API_KEY comes. test_live.py keeps the raw recording.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CASES
from tests.helpers import run_cli
from tests.test_live import stand_in

MASKED = CASES / "live" / "prod-masked"


def replay(recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in(
        tmp_path / "bin",
        f'[ "$1" = diff ] || exit 2\n'
        f'"$KUBECTL_EXTERNAL_DIFF" {recording / "live"} {recording / "merged"}\n'
        "exit 1\n",
        monkeypatch,
    )


def test_masked_recording_is_as_kubectl_writes_it() -> None:
    """The recording itself: only kubectl's three masks, before/after on the changed key."""
    live = (MASKED / "live" / "v1.Secret.llmgateway.llmgateway-auth").read_text()
    merged = (MASKED / "merged" / "v1.Secret.llmgateway.llmgateway-auth").read_text()
    assert "AUTH_SECRET: '*** (before)'" in live
    assert "AUTH_SECRET: '*** (after)'" in merged
    assert "GATEWAY_API_KEY_HASH_SECRET: '***'" in live
    assert "GATEWAY_API_KEY_HASH_SECRET: '***'" in merged


def test_masked_secret_changes_are_reported_by_key(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay(MASKED, tmp_path, monkeypatch)
    result = run_cli("diff", "--live", "overlays/prod")
    assert result.code == 1, result.err
    assert result.out.splitlines() == [
        "Changes against the cluster (kubectl diff --server-side):",
        "",
        "prod: 1 added, 2 changed, 0 removed",
        "  ~ Deployment/llmgateway/llmgateway",
        "      spec.replicas: 2 -> 3",
        "  + PodDisruptionBudget/llmgateway/llmgateway",
        "  ~ Secret/llmgateway/llmgateway-auth",
        "      data.AUTH_SECRET: (hidden) -> (hidden)",
        "      data.LLM_MISTRAL_API_KEY: removed (was (hidden))",
        "      data.LLM_OPENAI_API_KEY: added (hidden)",
    ]


@pytest.mark.parametrize("output", ["text", "markdown", "json"])
def test_masks_never_reach_a_report(
    output: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubectl's masks are values too: a report says (hidden), never `***`."""
    replay(MASKED, tmp_path, monkeypatch)
    result = run_cli("diff", "--live", "overlays/prod", "--format", output)
    assert result.code == 1, result.err
    assert "***" not in result.out + result.err
    assert "GATEWAY_API_KEY_HASH_SECRET" not in result.out  # unchanged: not a change
    if output == "json":
        (prod,) = json.loads(result.out)["environments"]
        assert prod["added"] == 1
