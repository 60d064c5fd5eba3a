"""The lint findings cache of `check` and `lint`: an environment whose rendering,
settings, rules and validators are unchanged is not validated again, and its findings are
still reported; another rules or validator version, or a corrupt entry, validates again.

The project is a spec with a finding (prod runs `latest`: LLMGW003), kustomize is the real
one. That `check` reads the cache is shown by planting an entry: its finding is reported.
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest

from compiler.check import lint_all
from compiler.fingerprint import Cache
from compiler.kustomize import Kustomize
from compiler.lintcache import (
    KIND,
    PACKAGE,
    VALIDATORS,
    LintCache,
    installed_version,
    lint_versions,
    rules_version,
)
from compiler.lintcache import validator_versions as installed_validators
from compiler.load import load_spec
from compiler.render import render
from tests.conftest import CASES
from tests.helpers import Result, run_cli

PLANTED = ["Deployment/planted", "LLMGW999 planted", "a finding only the cache holds", "error"]
FOUND = "prod: warning: Deployment/llmgateway-prod/llmgateway: LLMGW003 pinned-image-in-production"


@pytest.fixture
def linted(project: Path, kustomize: Kustomize) -> Path:
    """The project checked once (renderings and findings cached); its findings' entries."""
    shutil.copy(CASES / "valid" / "production-latest-tag" / "spec.yaml", project / "spec")
    (project / "spec" / "spec.yaml").replace(project / "spec" / "llmgateway.yaml")
    assert run_cli("compile").code == 0
    assert run_cli("snapshot").code == 0
    assert FOUND in check().err
    return project / ".llmgw-cache" / KIND


def check() -> Result:
    result = run_cli("check")
    assert result.code in (0, 1), result.err
    return result


def entries(directory: Path) -> list[Path]:
    found = sorted(directory.iterdir())
    assert len(found) == 2  # dev and prod
    return found


def plant(directory: Path) -> None:
    """Every entry replaced by a well-formed one holding a finding lint never makes."""
    cache = Cache(directory.parent.parent)
    for entry in entries(directory):
        cache.put(KIND, entry.name, json.dumps([PLANTED]))


def test_a_finding_in_a_cached_environment_is_still_reported(linted: Path) -> None:
    kept = {entry.name: entry.read_bytes() for entry in entries(linted)}
    again = check()
    assert FOUND in again.err
    assert "LLMGW999" not in again.err
    assert {entry.name: entry.read_bytes() for entry in entries(linted)} == kept


def test_check_and_lint_report_what_the_cache_holds(linted: Path) -> None:
    plant(linted)
    result = check()
    assert result.code == 1
    assert "prod: error: Deployment/planted: LLMGW999 planted: a finding only the cache" in (
        result.err
    )
    assert FOUND not in result.err
    linted_again = run_cli("lint", "overlays/prod")
    assert linted_again.code == 1
    assert "LLMGW999 planted" in linted_again.err


def test_a_cold_render_cache_still_reads_the_findings_cache(linted: Path) -> None:
    """The renderings are made again (their cache is gone), come out the same, and so
    key the same findings: those are read, not validated again."""
    plant(linted)
    rendered = linted.parent / "rendered"
    assert len(list(rendered.iterdir())) == 2  # dev and prod, from the first check
    shutil.rmtree(rendered)
    result = check()
    assert "prod: error: Deployment/planted: LLMGW999 planted" in result.err
    assert FOUND not in result.err
    assert len(list(rendered.iterdir())) == 2  # rendered again, kept again


@pytest.mark.parametrize(
    "content",
    [
        b"garbage",
        b"",
        b"not the digest\n[]",
        None,  # a well-formed entry that holds no findings: {"a": 1}
        b"severity",  # a well-formed entry whose finding has an unknown severity
    ],
    ids=["garbage", "empty", "wrong-digest", "not-findings", "unknown-severity"],
)
def test_a_corrupt_entry_is_validated_again(linted: Path, content: bytes | None) -> None:
    cache = Cache(linted.parent.parent)
    for entry in entries(linted):
        if content is None:
            cache.put(KIND, entry.name, '{"a": 1}')
        elif content == b"severity":
            cache.put(KIND, entry.name, '[["Deployment/x", "LLMGW999 x", "x", "fatal"]]')
        else:
            entry.write_bytes(content)
    result = check()
    assert FOUND in result.err
    assert "LLMGW999" not in result.err
    for entry in entries(linted):  # rewritten, well-formed
        assert isinstance(cache.get_json(KIND, entry.name), list)


def test_another_validator_version_validates_again(
    linted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant(linted)
    assert "LLMGW999 planted" in check().err
    # An installed kubernetes-validate of another version, found first on the path.
    other = tmp_path / "site" / "kubernetes_validate-0.0.1.dist-info"
    other.mkdir(parents=True)
    (other / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kubernetes-validate\nVersion: 0.0.1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    lint_versions.cache_clear()
    try:
        assert "kubernetes-validate 0.0.1" in str(installed_validators())
        result = check()
    finally:
        lint_versions.cache_clear()
    assert FOUND in result.err
    assert "LLMGW999" not in result.err


def test_another_rules_version_validates_again(
    linted: Path, tmp_path: Path, kustomize: Kustomize
) -> None:
    copy = tmp_path / "compiler"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert rules_version(copy) == rules_version()
    rules = copy / "lint.py"
    rules.write_text(rules.read_text().replace("production pins an image tag", "pin a tag"))
    edited = rules_version(copy)
    assert edited != rules_version()
    schema = next((copy / "schemas").glob("*.json"))
    schema.write_text(schema.read_text() + "\n")
    assert rules_version(copy) not in (edited, rules_version())

    plant(linted)
    project = linted.parent.parent
    spec = load_spec(project / "spec" / "llmgateway.yaml")
    texts = render(kustomize, [project / "overlays" / "dev", project / "overlays" / "prod"])
    names = ["dev", "prod"]
    now = LintCache(project)
    assert "LLMGW999 planted" in [f.rule for f in lint_all(spec, names, texts, now)]
    other = LintCache(project, f"rules {rules_version(copy)}\0{installed_validators()}")
    found = [f.render() for f in lint_all(spec, names, texts, other)]
    assert any(line.startswith(FOUND) for line in found)
    assert not any("LLMGW999" in line for line in found)


def test_installed_versions_are_the_ones_importlib_metadata_finds(tmp_path: Path) -> None:
    for name in VALIDATORS:
        assert installed_version(name) == metadata.version(name)
    first = tmp_path / "first"
    (first / "pyyaml-0.0.2.dist-info").mkdir(parents=True)
    assert installed_version("PyYAML", [str(tmp_path / "missing"), str(first), *sys.path]) == (
        "0.0.2"
    )
    (first / "PyYAML-0.0.3.dist-info").mkdir()
    assert installed_version("PyYAML", [str(first), *sys.path]) is None  # which one?
    assert installed_version("no-such-validator") is None


def test_unknown_validator_versions_cache_nothing(linted: Path, kustomize: Kustomize) -> None:
    project = linted.parent.parent
    shutil.rmtree(linted)
    spec = load_spec(project / "spec" / "llmgateway.yaml")
    texts = render(kustomize, [project / "overlays" / "dev", project / "overlays" / "prod"])
    unknown = LintCache(project)
    unknown.versions = None  # as when a validator's version cannot be told
    found = [f.render() for f in lint_all(spec, ["dev", "prod"], texts, unknown)]
    assert any(line.startswith(FOUND) for line in found)
    assert not linted.exists()
