"""pre-commit hooks and the pull-request workflow, run here as far as they can be.

GitHub cannot run here: the workflow is validated against GitHub's workflow schema
(check-jsonschema ships it) and every command it runs is run by these tests, except
`kubectl apply`, which needs a cluster (its overlay is rendered instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from compiler.kustomize import Kustomize
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "manifests.yml"


def run(
    *command: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        # The interpreter running the tests comes first on PATH: commands that say
        # `python`, `ruff` or `pre-commit` run from its environment, activated or not.
        env={
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            **(env or {}),
        },
    )


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_workflow_matches_githubs_schema() -> None:
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)
    )
    assert done.returncode == 0, done.stdout + done.stderr


def workflow_commands() -> dict[str, list[str]]:
    workflow: Any = YAML(typ="safe", pure=True).load(WORKFLOW.read_text())
    return {
        name: [step["run"] for step in job["steps"] if "run" in step]
        for name, job in workflow["jobs"].items()
    }


def test_every_workflow_command_is_known() -> None:
    """A command added to the workflow must be added here, with the test that runs it."""
    assert workflow_commands() == {
        "test": [
            "uv sync --locked --extra test",  # from uv.lock, as the README and .ci/run
            "python -m pytest",  # this suite
            "python -m compiler check",  # test_check_as_the_workflow_runs_it
        ],
        "diff": [
            "uv sync --locked",
            'python -m compiler diff --base "origin/$BASE_REF" --format markdown '
            "> manifest-diff.md || test $? -eq 1",  # test_diff_step_as_the_workflow_runs_it
        ],
        "renovate": [  # test_renovate.py::test_renovate_job_as_the_workflow_runs_it
            "uv sync --locked",
            "python -m compiler compile --quiet && python -m compiler snapshot",
            "git add -A\n"
            "git diff --cached --quiet && exit 0\n"
            'git -c user.name="llmgateway-compiler" '
            '-c user.email="llmgateway-compiler@users.noreply.github.com" commit -q '
            '-m "Regenerate base/, overlays/ and the golden manifests from the spec"\n'
            'git push origin "HEAD:$BRANCH"\n',
        ],
        "deploy": [
            'printf \'%s\' "$KUBECONFIG_CONTENT" > "$RUNNER_TEMP/kubeconfig"',
            'kubectl apply -k "overlays/$ENVIRONMENT" --server-side',  # needs a cluster
        ],
    }


# What `kubectl version --client` of each pinned kubectl reports as its kustomize.
KUSTOMIZE_IN_KUBECTL = {"v1.32.4": "v5.5.0"}


def test_workflow_renders_with_the_kustomize_of_the_goldens(kustomize: Kustomize) -> None:
    """Another kustomize may render the overlays differently from tests/golden/: every job
    that runs the compiler or kubectl pins kubectl, and the pin is the kustomize used here."""
    workflow: Any = YAML(typ="safe", pure=True).load(WORKFLOW.read_text())
    pinned = workflow["env"]["KUBECTL_VERSION"]
    assert KUSTOMIZE_IN_KUBECTL[pinned] == kustomize.version()
    for name, job in workflow["jobs"].items():
        runs = " ".join(step.get("run", "") for step in job["steps"])
        if "python -m" not in runs and "kubectl" not in runs:
            continue
        setups = [s for s in job["steps"] if s.get("uses", "").startswith("azure/setup-kubectl@")]
        assert [s["with"]["version"] for s in setups] == ["${{ env.KUBECTL_VERSION }}"], name


def test_check_as_the_workflow_runs_it(kustomize: Kustomize) -> None:
    done = run("bash", "-c", workflow_commands()["test"][2])
    assert done.returncode == 0, done.stdout + done.stderr


def git(root: Path, *args: str) -> None:
    done = run("git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args, cwd=root)
    assert done.returncode == 0, done.stderr


def copy_project(target: Path) -> None:
    for name in ("spec", "base", "overlays", "docs", "tests/golden"):
        shutil.copytree(ROOT / name, target / name)
    for name in (
        ".pre-commit-config.yaml",
        ".pre-commit-hooks.yaml",
        "noxfile.py",
        "pyproject.toml",
    ):
        shutil.copy(ROOT / name, target / name)


def test_diff_step_as_the_workflow_runs_it(tmp_path: Path, kustomize: Kustomize) -> None:
    copy_project(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "main")
    git(tmp_path, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(tmp_path, "checkout", "-qb", "change")
    spec = tmp_path / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    assert run(sys.executable, "-m", "compiler", "compile", cwd=tmp_path).returncode == 0
    step = workflow_commands()["diff"][1]
    done = run("bash", "-c", step, cwd=tmp_path, env={"BASE_REF": "main"})
    assert done.returncode == 0, done.stderr  # differences (exit 1) do not fail the step
    comment = (tmp_path / "manifest-diff.md").read_text()
    assert comment.startswith("### Manifest changes against `origin/main (")
    assert "| prod | 0 | 1 | 0 | 0 |" in comment
    broken = run("bash", "-c", step, cwd=tmp_path, env={"BASE_REF": "no-such-branch"})
    assert broken.returncode != 0  # a real failure (exit 3) still fails the step


def test_deploy_steps_as_far_as_they_run_here(tmp_path: Path, kustomize: Kustomize) -> None:
    configure, apply = workflow_commands()["deploy"]
    done = run(
        "bash",
        "-c",
        configure,
        env={"KUBECONFIG_CONTENT": "apiVersion: v1\n", "RUNNER_TEMP": str(tmp_path)},
    )
    assert done.returncode == 0
    assert (tmp_path / "kubeconfig").read_text() == "apiVersion: v1\n"
    # No cluster: render what `kubectl apply -k` would send, for every deployed environment.
    workflow: Any = YAML(typ="safe", pure=True).load(WORKFLOW.read_text())
    for environment in workflow["jobs"]["deploy"]["strategy"]["matrix"]["environment"]:
        assert kustomize.build(ROOT / "overlays" / environment)
        assert apply.endswith("--server-side")


def test_pre_commit_files_are_valid() -> None:
    pre_commit = tool("pre-commit")
    for command in (
        ("validate-manifest", ".pre-commit-hooks.yaml"),
        ("validate-config", ".pre-commit-config.yaml"),
    ):
        done = run(pre_commit, *command)
        assert done.returncode == 0, done.stdout + done.stderr


def test_published_hooks_match_our_own() -> None:
    yaml = YAML(typ="safe", pure=True)
    published = {h["id"]: h for h in yaml.load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    ours = {
        h["id"]: h
        for h in yaml.load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    }
    for hook_id, hook in published.items():
        assert (
            hook["entry"].replace("llmgateway-compiler", "python -m compiler")
            == ours[hook_id]["entry"]
        )
        assert hook["files"] == ours[hook_id]["files"]


def test_pre_commit_runs_the_hooks_on_a_clone(tmp_path: Path, kustomize: Kustomize) -> None:
    pre_commit = tool("pre-commit")
    repository = tmp_path / "repo"
    copy_project(repository)
    git(repository, "init", "-q", "-b", "main")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "initial")
    home = {"PRE_COMMIT_HOME": str(tmp_path / "cache")}
    first = run(pre_commit, "run", "--all-files", cwd=repository, env=home)
    assert first.returncode == 0, first.stdout + first.stderr
    # The spec edited without compiling: the compile hook regenerates and fails the commit
    # (files changed); the next run passes.
    spec = repository / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    second = run(pre_commit, "run", "--all-files", cwd=repository, env=home)
    assert second.returncode == 1
    assert "files were modified by this hook" in second.stdout
    # prod's gateway (split topology) asks for the 4 pods.
    gateway = repository / "overlays" / "prod" / "deployment-llmgateway-gateway.yaml"
    assert "  replicas: 4\n" in gateway.read_text()
    git(repository, "add", "-A")
    third = run(pre_commit, "run", "--all-files", cwd=repository, env=home)
    assert third.returncode == 0, third.stdout
