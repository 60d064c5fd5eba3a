"""import-terraform: the module's variables become a spec that deploys what the module did."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.compare import rendered_drift
from compiler.golden import existing_goldens
from compiler.kustomize import Kustomize
from tests.conftest import CASES, ROOT
from tests.helpers import read_tree, run_cli

TFVARS = CASES / "terraform" / "every-variable.tfvars"
SECRET_VALUE = "5f0c3b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190807060"


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("TF_VAR_")]:
        monkeypatch.delenv(name)
    return tmp_path


def test_every_variable_renders_what_the_committed_prod_renders(
    empty: Path, kustomize: Kustomize
) -> None:
    result = run_cli("import-terraform", "--tfvars", str(TFVARS))
    assert result.code == 0, result.err
    assert result.out == "  written spec/llmgateway.yaml\nnext: python -m compiler compile\n"
    assert "llmgateway_auth_secret was not copied" in result.err
    assert run_cli("compile").code == 0
    built = run_cli("build", "overlays/prod", "--no-validate")
    assert built.code == 0, built.err
    # The committed prod was written from the module's resources (tests/test_facts.py
    # walks every fact of them); the import must deploy exactly the same.
    golden = existing_goldens(ROOT)["prod"]
    assert rendered_drift(golden, built.out) == []
    for rel, data in read_tree(empty).items():
        assert SECRET_VALUE.encode() not in data, rel
    assert SECRET_VALUE not in result.out + result.err


def test_environment_variables_are_read_and_the_file_wins(
    empty: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_VAR_llmgateway_enable", "true")
    monkeypatch.setenv("TF_VAR_auth_oauth2_proxy_host", "auth.example.com")
    monkeypatch.setenv("TF_VAR_llmgateway_domain", "from-env.example.com")
    monkeypatch.setenv("TF_VAR_unrelated_module_variable", "ignored")
    tfvars = empty / "x.tfvars"
    tfvars.write_text('llmgateway_domain = "from-file.example.com"\n')
    assert run_cli("import-terraform", "--tfvars", str(tfvars), "--env-name", "main").code == 0
    spec = (empty / "spec" / "llmgateway.yaml").read_text()
    assert "  domain: from-file.example.com\n" in spec
    assert "  main:\n" in spec
    assert "oauth2ProxyHost: auth.example.com" in spec
    assert run_cli("validate").code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "llmgateway_replcas = 2\n",
            "unknown variable llmgateway_replcas; did you mean llmgateway_replicas?",
        ),
        (
            "llmgateway_enable = true\nllmgateway_replicas = 0\n",
            "llmgateway_replicas must be at least 1, not 0",
        ),
        ('llmgateway_enable = "maybe"\n', "llmgateway_enable must be true or false, not 'maybe'"),
        ("llmgateway_enable = false\n", "llmgateway_enable is false: the module deployed nothing"),
        (
            "llmgateway_enable = true\n",
            "auth_oauth2_proxy_host is empty: the module then rendered https:///oauth2/auth",
        ),
        ("llmgateway_enable = = true\n", "not a valid .tfvars file"),
    ],
    ids=["unknown", "replicas-zero", "not-a-bool", "disabled", "no-proxy-host", "syntax"],
)
def test_bad_variables_are_named(empty: Path, content: str, message: str) -> None:
    tfvars = empty / "bad.tfvars"
    tfvars.write_text(content)
    result = run_cli("import-terraform", "--tfvars", str(tfvars))
    assert result.code == 2
    assert message in result.err
    assert not (empty / "spec").exists()


def test_invalid_value_names_the_variable(empty: Path) -> None:
    tfvars = empty / "bad.tfvars"
    tfvars.write_text(
        'llmgateway_enable = true\nauth_oauth2_proxy_host = "auth.example.com"\n'
        'llmgateway_storage_size = "10GB"\n'
    )
    result = run_cli("import-terraform", "--tfvars", str(tfvars))
    assert result.code == 2
    assert result.err.rstrip().endswith(
        "defaults.storage.size: '10GB' is not a Kubernetes storage quantity such as '10Gi' or "
        "'500Mi'; did you mean '10Gi'? (from llmgateway_storage_size)"
    )


def test_an_existing_spec_is_kept_unless_forced(empty: Path) -> None:
    (empty / "spec").mkdir()
    (empty / "spec" / "llmgateway.yaml").write_text("mine\n")
    result = run_cli("import-terraform", "--tfvars", str(TFVARS))
    assert result.code == 2
    assert result.err == (
        "error: spec/llmgateway.yaml exists; use --force to replace it (or --output PATH)\n"
    )
    assert (empty / "spec" / "llmgateway.yaml").read_text() == "mine\n"
    assert run_cli("import-terraform", "--tfvars", str(TFVARS), "--force").code == 0
