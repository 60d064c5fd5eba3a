"""A generator's secret.env holds real values: it can never become committable.

The scenario of the issue: generator mode with a real overlays/prod/secret.env, then the
environment switched to `source: existing` (or removed) and compiled. The overlay's
`.gitignore` goes with the generator, the secret.env stays (it is the user's file), and
`git add -A` must still leave it out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.secretignore import IGNORE_RULE
from tests.conftest import CASES
from tests.helpers import run_cli

VALUE = "0123456789abcdef" * 4
ENV_FILE = "overlays/prod/secret.env"
GENERATOR = "    authSecret:\n      source: generator\n"
EXISTING = "    authSecret:\n      source: existing\n"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def staged(root: Path) -> list[str]:
    git(root, "add", "-A")
    return git(root, "diff", "--cached", "--name-only").splitlines()


@pytest.fixture
def generator_project(project: Path) -> Path:
    """A git project whose prod uses a secretGenerator with a real secret.env, committed."""
    spec = project / "spec" / "llmgateway.yaml"
    shutil.copy(CASES / "valid" / "secret-generator" / "spec.yaml", spec)
    assert GENERATOR in spec.read_text()
    git(project, "init", "-q", "-b", "main")
    assert run_cli("compile").code == 0
    (project / ENV_FILE).write_text(f"AUTH_SECRET={VALUE}\n")
    assert ENV_FILE not in staged(project)
    git(project, "commit", "-qm", "generator")
    return project


def edit_spec(project: Path, old: str, new: str) -> None:
    spec = project / "spec" / "llmgateway.yaml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            (GENERATOR, EXISTING),
            "environment 'prod' has authSecret.source existing",
        ),
        (
            ("  prod:\n", "  prod:\n    enabled: false\n"),
            "environment 'prod' is disabled",
        ),
    ],
    ids=["source-existing", "disabled"],
)
def test_switching_away_from_the_generator_keeps_secret_env_out_of_git(
    generator_project: Path, change: tuple[str, str], reason: str
) -> None:
    project = generator_project
    edit_spec(project, *change)
    result = run_cli("compile")
    assert result.code == 0, result.err
    assert "  deleted overlays/prod/.gitignore" in result.out
    assert (
        f"warning: {ENV_FILE} is left behind: {reason}, so nothing reads it; it still holds "
        "secret values (git-ignored): delete it once they are stored elsewhere"
    ) in result.err.splitlines()
    assert (project / ENV_FILE).read_text() == f"AUTH_SECRET={VALUE}\n"  # the user's file
    assert ENV_FILE not in staged(project)
    git(project, "commit", "-qm", "switched")
    checked = run_cli("check", "--no-render")
    assert checked.code == 0, checked.out + checked.err
    assert f"note: {ENV_FILE} is left behind" in checked.err
    # Ever tracked (forced past the rule): check fails and says how to undo it.
    git(project, "add", "-f", ENV_FILE)
    checked = run_cli("check", "--no-render")
    assert checked.code == 1
    assert (
        f"secret: {ENV_FILE} is tracked by git; it holds secret values: git rm --cached "
        f"{ENV_FILE}, then rotate them (they stay in the history)"
    ) in checked.out
    assert VALUE not in checked.out + checked.err


def test_removing_the_environment_keeps_secret_env_out_of_git(generator_project: Path) -> None:
    project = generator_project
    spec = project / "spec" / "llmgateway.yaml"
    text = spec.read_text()
    spec.write_text(text[: text.index("  prod:\n")])
    result = run_cli("compile")
    assert result.code == 0, result.err
    assert f"warning: {ENV_FILE} is left behind: environment 'prod' is no longer in the spec" in (
        result.err
    )
    changes = staged(project)
    assert "overlays/prod/.gitignore" in changes  # deleted with the overlay
    assert ENV_FILE not in changes
    assert git(project, "check-ignore", ENV_FILE) == f"{ENV_FILE}\n"


def test_compile_adds_the_root_rule_once_and_never_removes_it(generator_project: Path) -> None:
    project = generator_project
    gitignore = project / ".gitignore"
    assert gitignore.read_text().splitlines()[-1] == IGNORE_RULE
    assert "updated .gitignore" not in run_cli("compile").out  # present: left as it is
    edit_spec(project, GENERATOR, EXISTING)
    (project / ENV_FILE).unlink()
    assert run_cli("compile").code == 0
    assert gitignore.read_text().splitlines()[-1] == IGNORE_RULE  # no generator: still there
    # The user's own lines are kept; the rule is appended after them.
    gitignore.write_text("*.log")
    (project / ENV_FILE).write_text(f"AUTH_SECRET={VALUE}\n")
    result = run_cli("compile")
    assert f"  updated .gitignore (added {IGNORE_RULE}: secret.env stays out of git)" in (
        result.out
    )
    lines = gitignore.read_text().splitlines()
    assert lines[0] == "*.log"
    assert lines[-1] == IGNORE_RULE


def test_check_fails_when_a_secret_env_is_not_ignored(generator_project: Path) -> None:
    project = generator_project
    edit_spec(project, GENERATOR, EXISTING)
    assert run_cli("compile").code == 0  # the overlay's own .gitignore is gone
    (project / ".gitignore").write_text("")  # and the root rule removed by hand
    checked = run_cli("check", "--no-render", "--output", "json")
    assert checked.code == 1
    assert json.loads(checked.out)["secrets"] == [
        f"{ENV_FILE} is not ignored by git; run python -m compiler compile (it adds "
        f"{IGNORE_RULE} to .gitignore) or add that rule yourself"
    ]
    assert json.loads(checked.out)["files"] == []  # nothing else is wrong
    assert run_cli("compile").code == 0  # restores the rule
    assert run_cli("check", "--no-render").code == 0


def test_no_rule_is_added_to_a_project_without_generators(project: Path) -> None:
    assert run_cli("compile").code == 0
    assert not (project / ".gitignore").exists()
