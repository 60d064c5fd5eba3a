"""Nothing is ever written through a symbolic link, by any command, anywhere.

Each test plants a real link to a file (or folder) outside the project and checks the
outside is byte for byte unchanged afterwards.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import CASES
from tests.helpers import Result, read_tree, run_cli
from tests.test_hangs_and_garbage import compiler

SECRET_CASE = CASES / "valid" / "secret-generator" / "spec.yaml"
OUTSIDE_TEXT = "AUTH_SECRET=the-outside-file-must-stay-as-it-is\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project holding one file, `victim`."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim").write_text(OUTSIDE_TEXT)
    return folder


def untouched(outside: Path) -> bool:
    return sorted(p.name for p in outside.iterdir()) == ["victim"] and (
        (outside / "victim").read_text() == OUTSIDE_TEXT
    )


@pytest.mark.parametrize("kind", ["link", "fifo"])
@pytest.mark.parametrize(
    "command",
    [
        ["lint"],
        ["check"],
        ["snapshot"],
        ["build", "overlays/prod"],
        ["diff", "--live", "overlays/prod"],
    ],
    ids=["lint", "check", "snapshot", "build", "diff-live"],
)
def test_a_secret_env_that_is_not_a_regular_file_is_refused(
    kind: str, command: list[str], project: Path, outside: Path, kustomize: object
) -> None:
    shutil.copy(SECRET_CASE, project / "spec" / "llmgateway.yaml")
    assert run_cli("compile").code == 0
    secret_env = project / "overlays" / "prod" / "secret.env"
    if kind == "link":
        secret_env.symlink_to(outside / "victim")
    else:
        os.mkfifo(secret_env)
    before = read_tree(project)
    if kind == "fifo":  # in a child process with a deadline: a regression hangs
        done = compiler(*command)
        result = Result(done.returncode, done.stdout, done.stderr)
    else:
        result = run_cli(*command)
    what = "a symbolic link" if kind == "link" else "a FIFO"
    # check, snapshot and build read every file of the overlay before rendering it
    doing = "read" if kind == "fifo" and command[0] not in ("lint", "diff") else "use"
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        f"error: overlays/prod/secret.env: is {what}, not a regular file; refusing to {doing} it",
    ), result.err
    assert untouched(outside)
    assert read_tree(project) == before


def test_render_copies_never_follow_a_link_in_the_overlay(
    project: Path, outside: Path, kustomize: object
) -> None:
    shutil.copy(SECRET_CASE, project / "spec" / "llmgateway.yaml")
    assert run_cli("compile").code == 0
    (project / "overlays" / "prod" / "secret.env").write_text(
        "AUTH_SECRET=x\nGATEWAY_API_KEY_HASH_SECRET=y\nLLM_OPENAI_API_KEY=z\n"
    )
    (project / "overlays" / "prod" / "notes.txt").symlink_to(outside / "victim")
    result = run_cli("lint", "overlays/prod")
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        "error: overlays/prod/notes.txt: is a symbolic link, not a regular file; "
        "refusing to read it",
    )
    assert untouched(outside)


@pytest.mark.parametrize(
    "command",
    [
        ["schema", "-o", "out/schema.json"],
        ["build", "--no-validate", "overlays/prod", "-o", "out/schema.json"],
    ],
    ids=["schema", "build"],
)
def test_a_planted_temporary_link_is_never_written_through(
    command: list[str], project: Path, outside: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    (project / "out").mkdir()
    (project / "out" / "schema.json.llmgw-tmp").symlink_to(outside / "victim")
    result = run_cli(*command)
    assert result.code == 0, result.err
    assert untouched(outside)
    assert (project / "out" / "schema.json").is_file()
    assert not (project / "out" / "schema.json").is_symlink()


@pytest.mark.parametrize(
    "command",
    [["schema", "-o", "out.json"], ["build", "overlays/prod", "-o", "out.json"]],
    ids=["schema", "build"],
)
def test_an_output_file_that_is_a_link_is_refused(
    command: list[str], project: Path, outside: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    (project / "out.json").symlink_to(outside / "victim")
    result = run_cli(*command)
    assert (result.code, result.err.splitlines()[-1]) == (
        2,
        "error: out.json: is a symbolic link, not a regular file; refusing to write it",
    )
    assert untouched(outside)
    assert (project / "out.json").is_symlink()


@pytest.mark.parametrize("linked", ["tests/golden", "tests/golden/prod.yaml"])
def test_snapshot_never_writes_through_a_link(
    linked: str, project: Path, outside: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    (project / linked).parent.mkdir(parents=True, exist_ok=True)
    (project / linked).symlink_to(outside if linked == "tests/golden" else outside / "victim")
    result = run_cli("snapshot")
    assert result.code == 2, result.err
    expected = {
        "tests/golden": "error: tests/golden: is a symbolic link; the golden manifests are "
        "never written through links",
        "tests/golden/prod.yaml": "error: tests/golden/prod.yaml: is a symbolic link, not a "
        "regular file; refusing to write it",
    }[linked]
    assert result.err.splitlines()[-1] == expected
    assert untouched(outside)


def test_a_cache_folder_linked_outside_is_never_used(
    project: Path, outside: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    (project / ".llmgw-cache").symlink_to(outside)
    for _ in range(2):
        result = run_cli("build", "overlays/prod")
        assert result.code == 0, result.err
    assert untouched(outside)


def test_a_cache_kind_folder_linked_outside_is_never_used(
    project: Path, outside: Path, kustomize: object
) -> None:
    assert run_cli("compile").code == 0
    (project / ".llmgw-cache").mkdir()
    (project / ".llmgw-cache" / "render").symlink_to(outside)
    result = run_cli("build", "overlays/prod")
    assert result.code == 0, result.err
    assert untouched(outside)
