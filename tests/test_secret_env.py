"""The generator's secret.env is read by us before kustomize, and known secret values never
reach an output, even through a tool's error text.

The committed spec with prod switched to `source: generator`, as a user would. The
committed prod runs an in-cluster Redis, so its Secret also holds REDIS_PASSWORD.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import read_tree, run_cli

VALUE = "0123456789abcdef" * 4  # a recognisable 64-character secret
WORDLIKE = "abcdefABCDEF" * 4  # a value that is also a valid variable name
HASH = "fedcba9876543210" * 4
REDIS = "a1b2c3d4e5f60718" * 4  # REDIS_PASSWORD, a fake value
COMMANDS = [("build", "overlays/prod"), ("lint",), ("check",), ("snapshot",)]
HINT = "(python -m compiler secret --env prod --generate --format env)"


SECRET_VARIABLES = (
    "LLMGATEWAY_AUTH_SECRET",
    "LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET",
    "LLMGATEWAY_REDIS_PASSWORD",
)


@pytest.fixture(scope="session")
def generator_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed spec with prod in generator mode, compiled and snapshotted: made once,
    copied by each test (the same files the steps would write in every test's folder)."""
    root = tmp_path_factory.mktemp("generator")
    (root / "spec").mkdir()
    spec = root / "spec" / "llmgateway.yaml"
    spec.write_text(
        (ROOT / "spec" / "llmgateway.yaml")
        .read_text()
        .replace("  prod:\n", "  prod:\n    authSecret:\n      source: generator\n")
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in SECRET_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(root)
        assert run_cli("compile").code == 0
        assert run_cli("snapshot").code == 0
    return root


@pytest.fixture
def generator(project: Path, generator_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(generator_project, project, symlinks=True, dirs_exist_ok=True)
    return project / "overlays" / "prod" / "secret.env"


def test_generated_file_builds(generator: Path, kustomize: Kustomize) -> None:
    made = run_cli("secret", "--env", "prod", "--generate", "--format", "env")
    assert made.code == 0
    generator.write_text(made.out)
    built = run_cli("build", "overlays/prod")
    assert built.code == 0, built.err
    (secret,) = [line for line in built.out.split("---\n") if "kind: Secret" in line]
    assert 'AUTH_SECRET: "(redacted)"' in secret
    assert 'GATEWAY_API_KEY_HASH_SECRET: "(redacted)"' in secret
    assert 'REDIS_PASSWORD: "(redacted)"' in secret
    for line in made.out.splitlines():
        assert line.split("=", 1)[1] not in built.out + built.err


BROKEN = {
    "no-auth-secret": (
        f"GATEWAY_API_KEY_HASH_SECRET={HASH}\nREDIS_PASSWORD={REDIS}\n",
        [
            "error: overlays/prod/secret.env:3: required key AUTH_SECRET is missing: "
            f"add AUTH_SECRET=<value> {HINT}"
        ],
    ),
    "no-hash-secret": (
        f"AUTH_SECRET={VALUE}\nREDIS_PASSWORD={REDIS}\n",
        [
            "error: overlays/prod/secret.env:3: required key GATEWAY_API_KEY_HASH_SECRET is "
            f"missing: add GATEWAY_API_KEY_HASH_SECRET=<value> {HINT}"
        ],
    ),
    # The in-cluster Redis's password (redis.mode: in-cluster in the committed prod).
    "no-redis-password": (
        f"AUTH_SECRET={VALUE}\nGATEWAY_API_KEY_HASH_SECRET={HASH}\n",
        [
            "error: overlays/prod/secret.env:3: required key REDIS_PASSWORD is "
            f"missing: add REDIS_PASSWORD=<value> {HINT}"
        ],
    ),
    "empty-file": (
        "",
        [
            "error: overlays/prod/secret.env:1: required key AUTH_SECRET is missing: "
            f"add AUTH_SECRET=<value> {HINT}",
            "error: overlays/prod/secret.env:1: required key GATEWAY_API_KEY_HASH_SECRET is "
            f"missing: add GATEWAY_API_KEY_HASH_SECRET=<value> {HINT}",
            "error: overlays/prod/secret.env:1: required key REDIS_PASSWORD is "
            f"missing: add REDIS_PASSWORD=<value> {HINT}",
        ],
    ),
    "empty-value": (
        f"AUTH_SECRET={VALUE}\nGATEWAY_API_KEY_HASH_SECRET=\nREDIS_PASSWORD={REDIS}\n",
        ["error: overlays/prod/secret.env:2: GATEWAY_API_KEY_HASH_SECRET is empty; it is required"],
    ),
}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_missing_or_empty_required_key_is_exit_2(
    generator: Path, kustomize: Kustomize, case: str, command: tuple[str, ...]
) -> None:
    text, expected = BROKEN[case]
    generator.write_text(text)
    before = read_tree(generator.parent.parent.parent)
    result = run_cli(*command)
    assert result.code == 2, result.out + result.err
    assert result.err.splitlines() == expected
    assert VALUE not in result.out + result.err
    assert HASH not in result.out + result.err
    assert REDIS not in result.out + result.err
    assert read_tree(generator.parent.parent.parent) == before


KEYS = "keys: AUTH_SECRET, GATEWAY_API_KEY_HASH_SECRET, REDIS_PASSWORD"
MALFORMED = {
    "raw-value-only": (
        f"{VALUE}\n",
        1,
        f"not a KEY=VALUE line (a value continued from the line above?); {KEYS}",
    ),
    "continuation-line": (
        f"AUTH_SECRET={VALUE[:30]}\n{VALUE[30:]}\nGATEWAY_API_KEY_HASH_SECRET={HASH}\n"
        f"REDIS_PASSWORD={REDIS}\n",
        2,
        f"not a KEY=VALUE line (a value continued from the line above?); {KEYS}",
    ),
    "key-space-value": (
        f"AUTH_SECRET {VALUE}\n",
        1,
        f"not a KEY=VALUE line (a value continued from the line above?); {KEYS}",
    ),
    "key-colon-value": (
        f"AUTH_SECRET: {VALUE}\n",
        1,
        f"not a KEY=VALUE line (a value continued from the line above?); {KEYS}",
    ),
    "value-as-key": (f"{VALUE}=1\n", 1, f"not a KEY=VALUE line; {KEYS}"),
    "name-like-value-as-key": (f"{WORDLIKE}=1\n", 1, f"not a key of this Secret; {KEYS}"),
    "invalid-utf-8": (
        f"GATEWAY_API_KEY_HASH_SECRET={HASH}\nAUTH_SECRET={VALUE}\xff\nREDIS_PASSWORD={REDIS}\n",
        2,
        "not UTF-8 text; the file must be UTF-8",
    ),
}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_line_is_exit_2_without_its_content(
    generator: Path, kustomize: Kustomize, case: str, command: tuple[str, ...]
) -> None:
    text, line, message = MALFORMED[case]
    if case == "invalid-utf-8":
        generator.write_bytes(text.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    else:
        generator.write_text(text)
    result = run_cli(*command)
    assert result.code == 2, result.out + result.err
    assert result.err.splitlines()[0] == f"error: overlays/prod/secret.env:{line}: {message}"
    for secret in (VALUE, VALUE[:30], VALUE[30:], WORDLIKE, HASH, REDIS):
        assert secret not in result.out + result.err


def test_spaces_around_the_equals_sign_are_named(generator: Path) -> None:
    generator.write_text(
        f"AUTH_SECRET = {VALUE}\nGATEWAY_API_KEY_HASH_SECRET={HASH}\nREDIS_PASSWORD={REDIS}\n"
    )
    result = run_cli("lint")
    assert result.err.splitlines()[0] == (
        f"error: overlays/prod/secret.env:1: not a KEY=VALUE line (no spaces around '='); {KEYS}"
    )


def test_a_key_set_twice_is_named(generator: Path) -> None:
    generator.write_text(
        f"AUTH_SECRET={VALUE}\nGATEWAY_API_KEY_HASH_SECRET={HASH}\nREDIS_PASSWORD={REDIS}\n"
        "AUTH_SECRET=x\n"
    )
    result = run_cli("lint")
    assert result.err == (
        "error: overlays/prod/secret.env:4: AUTH_SECRET is set again (first on line 1)\n"
    )


def stand_in(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    return tool


def test_kustomize_error_text_is_redacted(
    generator: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator.write_text(
        f"AUTH_SECRET={VALUE}\nGATEWAY_API_KEY_HASH_SECRET={HASH}\nREDIS_PASSWORD={REDIS}\n"
    )
    tool = stand_in(
        tmp_path / "bin",
        "kustomize",
        f'echo "error: invalid env line AUTH_SECRET={VALUE} (hash {HASH})" >&2\nexit 1\n',
    )
    monkeypatch.setenv("KUSTOMIZE", str(tool))
    result = run_cli("build", "overlays/prod")
    assert result.code == 3
    assert "AUTH_SECRET=(redacted) (hash (redacted))" in result.err
    assert VALUE not in result.out + result.err
    assert HASH not in result.out + result.err


def test_kubectl_error_text_of_diff_live_is_redacted(
    generator: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator.write_text(
        f"AUTH_SECRET={VALUE}\nGATEWAY_API_KEY_HASH_SECRET={HASH}\nREDIS_PASSWORD={REDIS}\n"
    )
    stand_in(tmp_path / "bin", "kubectl", f'echo "cannot apply: {VALUE}" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    result = run_cli("diff", "--live", "overlays/prod")
    assert result.code == 3
    assert "(cannot apply: (redacted))" in result.err
    assert VALUE not in result.out + result.err


def test_diff_live_refuses_a_malformed_secret_env_before_kubectl(
    generator: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator.write_text(f"{VALUE}\n")
    calls = tmp_path / "calls"
    stand_in(tmp_path / "bin", "kubectl", f"echo called >> {calls}\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    result = run_cli("diff", "--live", "overlays/prod")
    assert result.code == 2
    assert not calls.exists()
    assert VALUE not in result.out + result.err


def test_git_error_text_is_redacted(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGATEWAY_AUTH_SECRET", VALUE)
    result = run_cli("diff", "--base", VALUE)  # git echoes the revision it cannot find
    assert result.code == 3
    assert "(redacted)" in result.err
    assert VALUE not in result.out + result.err


@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_diff_live_refuses_a_special_secret_env_without_reading_it(
    generator: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    if kind == "fifo":
        os.mkfifo(generator)
    else:
        (tmp_path / "outside.env").write_text(f"AUTH_SECRET={VALUE}\n")
        generator.symlink_to(tmp_path / "outside.env")
    calls = tmp_path / "calls"
    stand_in(tmp_path / "bin", "kubectl", f"echo called >> {calls}\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    result = run_cli("diff", "--live", "overlays/prod")
    assert result.code == 2
    assert "overlays/prod/secret.env: is a" in result.err
    assert not calls.exists()
    assert VALUE not in result.out + result.err
