"""docs/environments.md: written by compile and docs, checked by check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.docs import environments_page
from compiler.load import load_spec
from tests.conftest import CASES, ROOT
from tests.helpers import run_cli


def test_committed_page_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    page = environments_page(load_spec("spec/llmgateway.yaml"))
    assert (ROOT / "docs" / "environments.md").read_text() == page


def test_endpoint_table_says_how_each_endpoint_is_protected(project: Path) -> None:
    shutil.copy(
        CASES / "valid" / "public-ui-endpoint" / "spec.yaml", project / "spec" / "llmgateway.yaml"
    )
    result = run_cli("docs")
    assert result.code == 0, result.err
    assert result.out == "  created docs/environments.md\n"
    page = (project / "docs" / "environments.md").read_text()
    assert "| ui | https://" in page
    rows = {
        line.split(" | ")[0].strip("| "): line
        for line in page.splitlines()
        if line.startswith("| ")
    }
    assert rows["ui"].endswith("| public (no login) |")
    assert "login through oauth2-proxy" in rows["api"]
    assert rows["gateway"].endswith("| API key (checked by the app) |")
    assert "```mermaid" in page
    assert not (project / "base").exists()  # docs writes only the page


def test_check_catches_a_stale_page(project: Path) -> None:
    assert run_cli("compile").code == 0
    page = project / "docs" / "environments.md"
    page.write_text(page.read_text().replace("system-wide settings", "settings"))
    result = run_cli("check", "--no-render")
    assert result.code == 1
    assert "  changed    docs/environments.md" in result.out.splitlines()
    assert run_cli("docs").code == 0
    assert run_cli("check", "--no-render").code == 0
