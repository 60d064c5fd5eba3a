"""diff --live, with a stand-in kubectl that replays recorded `kubectl diff` directories.

No cluster exists here: the stand-in plays kubectl's part (calling $KUBECTL_EXTERNAL_DIFF
with a live and a merged directory), and another plays a kubectl that cannot connect.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import CASES
from tests.helpers import run_cli

RECORDED = CASES / "live" / "prod"


def stand_in(directory: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    directory.mkdir()
    kubectl = directory / "kubectl"
    kubectl.write_text("#!/bin/sh\n" + script)
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")


def replaying_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    calls = tmp_path / "calls"
    stand_in(
        tmp_path / "bin",
        f'echo "$@" >> {calls}\n'
        f'[ "$1" = diff ] || exit 2\n'
        f'"$KUBECTL_EXTERNAL_DIFF" {RECORDED / "live"} {RECORDED / "merged"}\n'
        "exit 1\n",
        monkeypatch,
    )
    return calls


def test_live_diff_uses_the_semantic_formatter(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = replaying_kubectl(tmp_path, monkeypatch)
    result = run_cli("diff", "--live", "overlays/prod")
    assert result.code == 1, result.err
    assert calls.read_text() == "diff -k overlays/prod --server-side\n"
    assert result.out.splitlines() == [
        "Changes against the cluster (kubectl diff --server-side):",
        "",
        "prod: 1 added, 2 changed, 0 removed",
        "  ~ Deployment/llmgateway/llmgateway",
        "      spec.replicas: 2 -> 3",
        "  + PodDisruptionBudget/llmgateway/llmgateway",
        "  ~ Secret/llmgateway/llmgateway-auth",
        "      data.AUTH_SECRET: (hidden) -> (hidden)",
    ]


def test_live_diff_never_shows_secret_values(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replaying_kubectl(tmp_path, monkeypatch)
    values = []
    for name in ("live", "merged"):
        text = (RECORDED / name / "v1.Secret.llmgateway.llmgateway-auth").read_text()
        encoded = text.split("AUTH_SECRET: ")[1].strip()
        values += [encoded, base64.b64decode(encoded).decode()]
    for output in ("text", "markdown", "json"):
        result = run_cli("diff", "--live", "overlays/prod", "--format", output)
        for value in values:
            assert value not in result.out + result.err
    document = json.loads(run_cli("diff", "--live", "overlays/prod", "--format", "json").out)
    (prod,) = document["environments"]
    assert prod["added"] == 1


def test_no_cluster_exits_3(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in(
        tmp_path / "bin",
        'echo "The connection to the server localhost:8080 was refused" >&2\nexit 1\n',
        monkeypatch,
    )
    result = run_cli("diff", "--live", "overlays/prod")
    assert result.code == 3
    assert result.err == (
        "error: kubectl diff -k overlays/prod failed; is a cluster reachable? "
        "(The connection to the server localhost:8080 was refused)\n"
    )


def test_live_with_base_is_a_usage_error(project: Path) -> None:
    result = run_cli("diff", "--live", "overlays/prod", "--base", "HEAD")
    assert result.code == 2


def test_live_diff_with_changes_but_no_risk_passes_fail_on_risky(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replaying_kubectl(tmp_path, monkeypatch)
    result = run_cli("diff", "--live", "overlays/prod", "--fail-on", "risky")
    assert result.code == 0, result.err
    assert "prod: 1 added, 2 changed, 0 removed" in result.out.splitlines()
    assert "RISKY" not in result.out
