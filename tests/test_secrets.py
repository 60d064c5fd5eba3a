"""AUTH_SECRET and friends: three ways to reach the cluster, and no value leaks anywhere."""

from __future__ import annotations

import base64
import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.lint import validate_schemas
from compiler.load import load_spec
from compiler.lower import lower_environment
from tests.conftest import CASES
from tests.helpers import load_documents, read_tree, run_cli

KNOWN = "0123456789abcdef" * 4  # a recognisable 64-character test value
OTHER = "fedcba9876543210" * 4
THIRD = "a1b2c3d4e5f60718" * 4  # REDIS_PASSWORD: the committed prod runs an in-cluster Redis


def use_case(project: Path, case: str) -> None:
    shutil.copy(CASES / "valid" / case / "spec.yaml", project / "spec" / "llmgateway.yaml")


def test_secret_prints_a_manifest_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGATEWAY_AUTH_SECRET", KNOWN)
    monkeypatch.setenv("LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET", OTHER)
    monkeypatch.setenv("LLMGATEWAY_REDIS_PASSWORD", THIRD)
    before = read_tree(project)
    result = run_cli("secret", "--env", "prod")
    assert result.code == 0, result.err
    (manifest,) = load_documents(result.out)
    assert manifest["metadata"] == {"name": "llmgateway-auth", "namespace": "llmgateway"}
    assert base64.b64decode(manifest["data"]["AUTH_SECRET"]).decode() == KNOWN
    assert base64.b64decode(manifest["data"]["GATEWAY_API_KEY_HASH_SECRET"]).decode() == OTHER
    assert base64.b64decode(manifest["data"]["REDIS_PASSWORD"]).decode() == THIRD
    assert read_tree(project) == before  # nothing written


def test_secret_generate_makes_both_required_keys_independently(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMGATEWAY_AUTH_SECRET", raising=False)
    monkeypatch.delenv("LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET", raising=False)
    monkeypatch.delenv("LLMGATEWAY_REDIS_PASSWORD", raising=False)
    first = run_cli("secret", "--env", "prod", "--generate", "--format", "env")
    second = run_cli("secret", "--env", "prod", "--generate", "--format", "env")
    assert first.code == 0
    found = re.fullmatch(
        r"AUTH_SECRET=([0-9a-f]{64})\nGATEWAY_API_KEY_HASH_SECRET=([0-9a-f]{64})\n"
        r"REDIS_PASSWORD=([0-9a-f]{64})\n",  # the committed prod's in-cluster Redis
        first.out,
    )
    assert found
    assert found.group(1) != found.group(2)
    assert len({found.group(1), found.group(2), found.group(3)}) == 3
    assert first.out != second.out


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("LLMGATEWAY_AUTH_SECRET", "LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET"),
        ("LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET", "LLMGATEWAY_AUTH_SECRET"),
    ],
)
def test_secret_without_generate_names_the_missing_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch, given: str, missing: str
) -> None:
    monkeypatch.delenv(missing, raising=False)
    monkeypatch.setenv(given, KNOWN)
    monkeypatch.setenv("LLMGATEWAY_REDIS_PASSWORD", THIRD)  # prod's in-cluster Redis
    result = run_cli("secret", "--env", "prod")
    assert result.code == 2
    assert result.err == f"error: set {missing} in the environment (or --generate for {missing})\n"
    assert result.out == ""
    assert KNOWN not in result.err


def test_secret_help_names_both_required_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("secret", "--help").code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "AUTH_SECRET (signs sessions) and GATEWAY_API_KEY_HASH_SECRET" in text
    assert "with external-secrets, put both in the store" in text


def test_secret_too_short_exits_2_with_the_hint(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET", OTHER)
    monkeypatch.setenv("LLMGATEWAY_REDIS_PASSWORD", THIRD)
    monkeypatch.setenv("LLMGATEWAY_AUTH_SECRET", "too-short")
    result = run_cli("secret", "--env", "prod")
    assert result.code == 2
    assert result.err == (
        "error: LLMGATEWAY_AUTH_SECRET has 9 characters; it needs at least 32: "
        "run `openssl rand -hex 32` (or use --generate)\n"
    )
    assert result.out == ""


def test_secret_missing_provider_key_is_named(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_case(project, "secret-generator")
    monkeypatch.delenv("LLMGATEWAY_LLM_OPENAI_API_KEY", raising=False)
    result = run_cli("secret", "--env", "prod", "--generate")
    assert result.code == 2
    assert result.err == "error: set LLMGATEWAY_LLM_OPENAI_API_KEY in the environment\n"


def test_secret_refused_for_external_secrets(project: Path) -> None:
    use_case(project, "external-secrets")
    result = run_cli("secret", "--env", "prod", "--generate")
    assert result.code == 2
    assert "takes its Secret from the External Secrets Operator" in result.err


def test_extra_keys_reach_the_pod_from_the_same_secret() -> None:
    spec = load_spec(CASES / "valid" / "secret-generator" / "spec.yaml")
    (deployment,) = [
        r for r in lower_environment(spec.environments["prod"], "prod") if r["kind"] == "Deployment"
    ]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert refs == {
        key: {"name": "llmgateway-auth", "key": key}
        for key in ("AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET", "LLM_OPENAI_API_KEY")
    }


def external_secret() -> Any:
    spec = load_spec(CASES / "valid" / "external-secrets" / "spec.yaml")
    resources = lower_environment(spec.environments["staging"], "staging")
    (found,) = [r for r in resources if r["kind"] == "ExternalSecret"]
    return found


def test_external_secret_pulls_every_key_from_the_store() -> None:
    found = external_secret()
    assert found["apiVersion"] == "external-secrets.io/v1"
    assert found["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert found["spec"]["target"] == {"name": "llmgateway-auth", "creationPolicy": "Owner"}
    assert found["spec"]["data"] == [
        {"secretKey": key, "remoteRef": {"key": "llmgateway/staging", "property": key}}
        for key in ("AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET")
    ]
    assert validate_schemas("staging", [found], "1.32") == []


def test_external_secret_schema_rejects_a_bad_store_kind() -> None:
    found = copy.deepcopy(external_secret())
    found["spec"]["secretStoreRef"]["kind"] = "Vault"
    assert [f.render() for f in validate_schemas("staging", [found], "1.32")] == [
        "staging: error: ExternalSecret/llm-staging/llmgateway-auth: spec.secretStoreRef.kind: "
        "'Vault' is not one of ['SecretStore', 'ClusterSecretStore']"
    ]


def test_generator_overlay_files(project: Path) -> None:
    use_case(project, "secret-generator")
    assert run_cli("compile").code == 0
    overlay = project / "overlays" / "prod"
    kustomization = load_documents((overlay / "kustomization.yaml").read_text())[0]
    assert kustomization["secretGenerator"] == [
        {"name": "llmgateway-auth", "namespace": "llmgateway", "envs": ["secret.env"]}
    ]
    assert (overlay / ".gitignore").read_text().splitlines()[1:] == [
        "# The secretGenerator's values never go into git.",
        "/secret.env",
    ]
    assert (overlay / "secret.env.example").read_text().splitlines()[-3:] == [
        "AUTH_SECRET=",
        "GATEWAY_API_KEY_HASH_SECRET=",
        "LLM_OPENAI_API_KEY=",
    ]
    assert not (project / "overlays" / "dev" / ".gitignore").exists()


def write_env_file(project: Path, value: str) -> None:
    (project / "overlays" / "prod" / "secret.env").write_text(
        f"AUTH_SECRET={value}\nGATEWAY_API_KEY_HASH_SECRET={value}\nLLM_OPENAI_API_KEY={value}\n"
    )


def test_generator_build_names_the_missing_file_then_hides_values(
    project: Path, kustomize: Kustomize
) -> None:
    use_case(project, "secret-generator")
    assert run_cli("compile").code == 0
    missing = run_cli("build", "overlays/prod")
    assert missing.code == 2
    assert missing.err.startswith("error: missing overlays/prod/secret.env: the secretGenerator")
    # The suggested command works as is (without --generate it needs every value set).
    assert "python -m compiler secret --env prod --generate --format env" in missing.err
    write_env_file(project, KNOWN)
    built = run_cli("build", "overlays/prod")
    assert built.code == 0, built.err
    assert KNOWN not in built.out
    assert base64.b64encode(KNOWN.encode()).decode() not in built.out
    documents = load_documents(built.out)
    (secret,) = [d for d in documents if d["kind"] == "Secret"]
    assert set(secret["data"].values()) == {"(redacted)"}
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[1]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    # A new value gives the Secret a new name, and the Deployment follows: pods roll.
    write_env_file(project, OTHER)
    rebuilt = load_documents(run_cli("build", "overlays/prod").out)
    (new_secret,) = [d for d in rebuilt if d["kind"] == "Secret"]
    assert new_secret["metadata"]["name"] != secret["metadata"]["name"]


def test_check_names_the_missing_env_file_and_still_passes(
    project: Path, kustomize: Kustomize
) -> None:
    use_case(project, "secret-generator")
    assert run_cli("compile").code == 0
    assert run_cli("snapshot").code == 0
    result = run_cli("check")
    assert result.code == 0, result.out + result.err
    assert "note: overlays/prod/secret.env is missing; kubectl apply -k needs it" in result.err
    assert "(python -m compiler secret --env prod --generate --format env > " in result.err


# --- the leak test --------------------------------------------------------------------------


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("mode", ["existing", "generator", "external-secrets"])
def test_the_secret_value_appears_nowhere_but_the_secret_commands_stdout(
    mode: str, project: Path, monkeypatch: pytest.MonkeyPatch, kustomize: Kustomize
) -> None:
    case = {"generator": "secret-generator", "external-secrets": "external-secrets"}.get(mode)
    if case:
        use_case(project, case)
    monkeypatch.setenv("LLMGATEWAY_AUTH_SECRET", KNOWN)
    monkeypatch.setenv("LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET", KNOWN)
    monkeypatch.setenv("LLMGATEWAY_REDIS_PASSWORD", KNOWN)
    monkeypatch.setenv("LLMGATEWAY_LLM_OPENAI_API_KEY", KNOWN)
    git(project, "init", "-q", "-b", "main")
    outputs: list[str] = []

    def run(*args: str) -> None:
        result = run_cli(*args)
        outputs.extend([result.out, result.err])

    run("compile")
    run("snapshot")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "initial")
    env_file = project / "overlays" / "prod" / "secret.env"
    if mode != "external-secrets":
        secret = run_cli("secret", "--env", "prod", "--format", "env")
        assert KNOWN in secret.out  # the one place the value may appear
        outputs.append(secret.err)
        if mode == "generator":
            env_file.write_text(secret.out)
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text() + "\n")
    for args in (
        ("compile",),
        ("check",),
        ("build", "overlays/prod"),
        (
            "build",
            "overlays/prod",
            "overlays/dev" if mode != "external-secrets" else "overlays/staging",
        ),
        ("diff",),
        ("diff", "--format", "markdown"),
        ("diff", "--format", "json"),
        ("lint",),
        ("validate",),
    ):
        run(*args)
    encoded = base64.b64encode(KNOWN.encode()).decode()
    for text in outputs:
        assert KNOWN not in text
        assert encoded not in text
    for rel, data in read_tree(project).items():
        if Path(rel) == Path("overlays/prod/secret.env"):
            continue
        assert KNOWN.encode() not in data, rel
        assert encoded.encode() not in data, rel
    if mode == "generator":
        ignored = subprocess.run(
            ["git", "check-ignore", "overlays/prod/secret.env"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ignored.stdout.strip() == "overlays/prod/secret.env"
    assert os.environ["LLMGATEWAY_AUTH_SECRET"] == KNOWN


def test_generate_in_generator_mode_warns_that_yaml_is_unused(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_case(project, "secret-generator")
    monkeypatch.setenv("LLMGATEWAY_LLM_OPENAI_API_KEY", "sk-test")
    result = run_cli("secret", "--env", "prod", "--generate")
    assert result.code == 0
    assert result.err == (
        "warning: environment 'prod' makes its Secret with a secretGenerator, which does "
        "not use this YAML manifest; write its env file instead: python -m compiler secret "
        "--env prod --generate --format env > overlays/prod/secret.env\n"
    )
    assert run_cli("secret", "--env", "prod", "--generate", "--format", "env").err == ""
