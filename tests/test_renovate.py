"""renovate.json: valid for Renovate, its regexes find the spec's image tags, and the
workflow's renovate job turns a bumped tag into a branch that passes `check`."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.test_ecosystem import copy_project, git, run, tool, workflow_commands

RENOVATE = ROOT / "renovate.json"
SPEC = "spec/llmgateway.yaml"


def test_renovate_json_matches_renovates_schema(tmp_path: Path) -> None:
    check = tool("check-jsonschema")
    done = run(check, "--builtin-schema", "vendor.renovate", str(RENOVATE))
    assert done.returncode == 0, done.stdout + done.stderr
    broken = json.loads(RENOVATE.read_text())
    broken["customManagers"][0]["customType"] = "regexp"
    (tmp_path / "renovate.json").write_text(json.dumps(broken))
    refused = run(check, "--builtin-schema", "vendor.renovate", str(tmp_path / "renovate.json"))
    assert refused.returncode == 1, refused.stdout  # the schema does check the managers


def managers() -> list[dict[str, Any]]:
    config: dict[str, Any] = json.loads(RENOVATE.read_text())
    return [m for m in config["customManagers"] if m["customType"] == "regex"]


def python_regex(pattern: str) -> re.Pattern[str]:
    """Renovate's (JavaScript) named groups in Python's spelling."""
    return re.compile(pattern.replace("(?<", "(?P<"))


def extract(text: str) -> list[tuple[str, str, int, int]]:
    """What Renovate's regex managers find in the spec: (image, tag, start, end of tag)."""
    found = []
    for manager in managers():
        assert any(python_regex(p[1:-1]).search(SPEC) for p in manager["managerFilePatterns"])
        assert manager["datasourceTemplate"] == "docker"
        for pattern in manager["matchStrings"]:
            for match in python_regex(pattern).finditer(text):
                image = match.groupdict().get("depName") or manager["depNameTemplate"]
                found.append(
                    (image, match["currentValue"], match.start("currentValue"), match.end())
                )
    return sorted(found, key=lambda f: f[2])


def bump(text: str, old: str, new: str) -> str:
    """Replace each found tag ``old`` with ``new``, as Renovate's update does."""
    for _image, tag, start, end in reversed(extract(text)):
        if tag == old:
            text = text[:start] + text[start:end].replace(old, new, 1) + text[end:]
    return text


def test_regex_finds_the_image_of_the_committed_spec() -> None:
    text = (ROOT / SPEC).read_text()
    spec: Any = YAML(typ="safe", pure=True).load(text)
    image = spec["defaults"]["image"]
    assert [(i, t) for i, t, _, _ in extract(text)] == [(image["repository"], image["tag"])]
    # An environment that sets only a tag uses the defaults' repository.
    for manager in managers():
        assert manager.get("depNameTemplate", image["repository"]) == image["repository"]


def with_tags(text: str, default: str, prod: str | None) -> str:
    text = text.replace("    tag: latest\n", f"    tag: {default}\n", 1)
    if prod is not None:
        text = text.replace(
            "  prod:\n",
            f'  prod:\n    image:\n      # what prod runs\n      tag: "{prod}"  # pinned\n',
            1,
        )
    return text


def test_regex_finds_every_tag_and_only_tags() -> None:
    text = with_tags((ROOT / SPEC).read_text(), "v1.4.1", "v1.4.0")
    repository = "ghcr.io/theopenco/llmgateway-unified"
    assert [(i, t) for i, t, _, _ in extract(text)] == [
        (repository, "v1.4.1"),
        (repository, "v1.4.0"),
    ]
    bumped = bump(text, "v1.4.0", "v1.4.2")
    changed = [
        (old, new)
        for old, new in zip(text.splitlines(), bumped.splitlines(), strict=True)
        if old != new
    ]
    assert changed == [('      tag: "v1.4.0"  # pinned', '      tag: "v1.4.2"  # pinned')]


def test_renovate_job_as_the_workflow_runs_it(tmp_path: Path, kustomize: Kustomize) -> None:
    """Renovate bumps a tag on its branch; the job compiles, snapshots, commits and pushes;
    the branch then passes check."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    repository = tmp_path / "repo"
    copy_project(repository)
    spec = repository / SPEC
    spec.write_text(with_tags(spec.read_text(), "v1.4.1", None))
    compiler = (sys.executable, "-m", "compiler")
    for command in ("compile", "snapshot"):
        assert run(*compiler, command, cwd=repository).returncode == 0
    git(repository, "init", "-q", "-b", "main")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "v1.4.1")
    git(repository, "remote", "add", "origin", str(origin))
    branch = "renovate/ghcr.io-theopenco-llmgateway-unified-1.x"
    git(repository, "checkout", "-qb", branch)
    spec.write_text(bump(spec.read_text(), "v1.4.1", "v1.4.2"))
    git(repository, "commit", "-qam", "Update ghcr.io/theopenco/llmgateway-unified to v1.4.2")
    git(repository, "push", "-q", "origin", branch)
    assert run(*compiler, "check", "--no-render", cwd=repository).returncode == 1

    _install, regenerate, commit = workflow_commands()["renovate"]
    for step in (regenerate, commit):
        done = run("bash", "-ec", step, cwd=repository, env={"BRANCH": branch})
        assert done.returncode == 0, done.stdout + done.stderr
    log = run("git", "log", "--format=%s", branch, cwd=origin).stdout.splitlines()
    assert log[0] == "Regenerate base/, overlays/ and the golden manifests from the spec"
    assert run("git", "status", "--porcelain", cwd=repository).stdout == ""
    done = run(*compiler, "check", cwd=repository)
    assert done.returncode == 0, done.stdout + done.stderr
    # dev runs the unified image, prod the split images: both take the bumped image.tag.
    golden = (repository / "tests" / "golden" / "dev.yaml").read_text()
    assert "llmgateway-unified:v1.4.2" in golden
    golden = (repository / "tests" / "golden" / "prod.yaml").read_text()
    for service in ("api", "gateway", "ui", "admin", "worker"):
        assert f"ghcr.io/theopenco/llmgateway-{service}:v1.4.2" in golden
    assert ":v1.4.1" not in golden
    # Nothing left to do: the job run again commits nothing.
    again = run("bash", "-ec", commit, cwd=repository, env={"BRANCH": branch})
    assert again.returncode == 0
    assert run("git", "log", "--format=%s", branch, cwd=origin).stdout.splitlines() == log
