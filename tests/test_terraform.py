"""import-terraform: the module's variables become a spec that deploys what the module did."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.compare import rendered_drift
from compiler.kustomize import Kustomize
from tests.conftest import CASES, ROOT
from tests.helpers import read_tree, run_cli, unified_prod

TFVARS = CASES / "terraform" / "every-variable.tfvars"
SECRET_VALUE = "5f0c3b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190807060"


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("TF_VAR_")]:
        monkeypatch.delenv(name)
    return tmp_path


def test_every_variable_renders_what_the_unified_prod_renders(
    empty: Path, kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = run_cli("import-terraform", "--tfvars", str(TFVARS))
    assert result.code == 0, result.err
    assert result.out == (
        "  written spec/llmgateway.yaml\n"
        "  written spec/llmgateway.schema.json\n"
        "next: python -m compiler compile   (writes base/ and overlays/)\n"
        "      python -m compiler snapshot  (after review: the rendered manifests in "
        "tests/golden/)\n"
    )
    assert "llmgateway_auth_secret was not copied" in result.err
    assert run_cli("compile").code == 0
    built = run_cli("build", "overlays/prod", "--no-validate")
    assert built.code == 0, built.err
    # The unified prod (the committed prod until it moved to the split topology) was
    # written from the module's resources (tests/test_facts.py walks every fact of them);
    # the import must deploy exactly the same.
    unified = tmp_path_factory.mktemp("unified-prod")
    (unified / "spec").mkdir()
    unified_prod(unified)
    assert run_cli("-C", str(unified), "compile").code == 0
    expected = run_cli("-C", str(unified), "build", "overlays/prod", "--no-validate")
    assert expected.code == 0, expected.err
    assert rendered_drift(expected.out, built.out) == []
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
        # Far from every variable: no suggestion (it used to say llmgateway_enable).
        ('llmgateway_namespace = "x"\n', "unknown variable llmgateway_namespace\n"),
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
        ("llmgateway_enable = = true\n", "bad.tfvars:1:21: not a valid .tfvars file"),
    ],
    ids=[
        "unknown",
        "unknown-far",
        "replicas-zero",
        "not-a-bool",
        "disabled",
        "no-proxy-host",
        "syntax",
    ],
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


def test_help_and_readme_list_the_variables_with_their_types(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli("import-terraform", "--help").code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    readme = (ROOT / "README.md").read_text()
    for name, type_ in [
        ("llmgateway_enable", "bool"),
        ("llmgateway_domain", "string"),
        ("llmgateway_ingress_class_name", "string"),
        ("llmgateway_ingress_enable_tls", "bool"),
        ("llmgateway_storage_size", "string"),
        ("llmgateway_storage_class_name", "string"),
        ("llmgateway_auth_secret", "string, sensitive"),
        ("llmgateway_image_tag", "string"),
        ("llmgateway_replicas", "number"),
        ("llmgateway_admin_emails", "string, sensitive"),
        ("auth_oauth2_proxy_host", "string"),
    ]:
        assert f"{name} {type_}," in help_text, name
        assert f"| `{name}` | {type_} |" in readme, name


MINIMAL = 'llmgateway_enable = true\nauth_oauth2_proxy_host = "auth.example.com"\n'


@pytest.mark.parametrize(
    "emails",
    ['"a@example.com, b@example.com"', '["a@example.com", "b@example.com"]'],
    ids=["comma-separated", "list"],
)
def test_admin_emails_as_the_module_string_or_a_list(empty: Path, emails: str) -> None:
    tfvars = empty / "x.tfvars"
    tfvars.write_text(MINIMAL + f"llmgateway_admin_emails = {emails}\n")
    assert run_cli("import-terraform", "--tfvars", str(tfvars)).code == 0
    spec = (empty / "spec" / "llmgateway.yaml").read_text()
    assert "  adminEmails:\n    - a@example.com\n    - b@example.com\n" in spec


def test_admin_emails_as_a_list_from_the_environment(
    empty: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_VAR_llmgateway_admin_emails", '["a@example.com"]')
    tfvars = empty / "x.tfvars"
    tfvars.write_text(MINIMAL)
    assert run_cli("import-terraform", "--tfvars", str(tfvars)).code == 0
    assert "  adminEmails:\n    - a@example.com\n" in (empty / "spec/llmgateway.yaml").read_text()


def test_namespace_option(empty: Path) -> None:
    tfvars = empty / "x.tfvars"
    tfvars.write_text(MINIMAL)
    result = run_cli("import-terraform", "--tfvars", str(tfvars), "--namespace", "gw-prod")
    assert result.code == 0, result.err
    assert "  namespace: gw-prod\n" in (empty / "spec/llmgateway.yaml").read_text()
    bad = run_cli("import-terraform", "--tfvars", str(tfvars), "--namespace", "Gw_Prod", "--force")
    assert bad.code == 2
    assert bad.err.startswith("error: --namespace: ")


def test_risk_switches_are_said_on_the_terminal(empty: Path) -> None:
    result = run_cli("import-terraform", "--tfvars", str(TFVARS))
    assert result.code == 0
    assert (
        "warning: llmgateway_replicas = 3 with the embedded database: the spec sets "
        "database.acknowledgeSharedDataDirectory: true" in result.err
    )
    tfvars = empty / "x.tfvars"
    tfvars.write_text(MINIMAL + "llmgateway_ingress_enable_tls = false\n")
    quiet = run_cli("import-terraform", "--tfvars", str(tfvars), "--force")
    assert quiet.code == 0
    assert "acknowledgeSharedDataDirectory" not in quiet.err
    assert "warning: llmgateway_ingress_enable_tls = false" in quiet.err


def test_schema_is_written_beside_the_spec(empty: Path) -> None:
    tfvars = empty / "x.tfvars"
    tfvars.write_text(MINIMAL)
    result = run_cli("import-terraform", "--tfvars", str(tfvars), "-o", "elsewhere/gw.yaml")
    assert result.code == 0, result.err
    spec = (empty / "elsewhere" / "gw.yaml").read_text()
    assert spec.startswith("# yaml-language-server: $schema=llmgateway.schema.json\n")
    schema = (empty / "elsewhere" / "llmgateway.schema.json").read_text()
    assert schema == (ROOT / "spec" / "llmgateway.schema.json").read_text()
    assert "next: python -m compiler compile --spec elsewhere/gw.yaml" in result.out
    assert "python -m compiler snapshot --spec elsewhere/gw.yaml" in result.out


def test_heredocs_escapes_and_comments_in_tfvars(empty: Path) -> None:
    tfvars = empty / "x.tfvars"
    tfvars.write_text(
        MINIMAL
        + "# a comment\n"
        + 'llmgateway_domain = "llm.example.com" // trailing comment\n'
        + "llmgateway_admin_emails = <<EOT\na@example.com,b@example.com\nEOT\n"
        + 'llmgateway_image_tag = "v\\u0031.2"\n'
        + 'llmgateway_storage_size = "10\\U0001F600"\n'
    )
    result = run_cli("import-terraform", "--tfvars", str(tfvars))
    # The emoji is not a storage quantity: a located spec error, not a traceback.
    assert result.code == 2, result.err
    assert "defaults.storage.size: '10\U0001f600' is not a Kubernetes storage" in result.err
    assert "(from llmgateway_storage_size)" in result.err
    tfvars.write_text(tfvars.read_text().replace("10\\U0001F600", "10Gi"))
    assert run_cli("import-terraform", "--tfvars", str(tfvars)).code == 0
    spec = (empty / "spec/llmgateway.yaml").read_text()
    assert "  domain: llm.example.com\n" in spec
    assert "    tag: v1.2\n" in spec
    assert "  adminEmails:\n    - a@example.com\n    - b@example.com\n" in spec


SENSITIVE_VALUE = "98765432109876543210987654321098"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            f"llmgateway_auth_secret = {SENSITIVE_VALUE}\n",
            "llmgateway_auth_secret must be a string, not a number",
        ),
        (
            f"llmgateway_admin_emails = {SENSITIVE_VALUE}\n",
            "llmgateway_admin_emails must be a comma-separated string or a list of strings, "
            "not a number (the value is not shown: the variable is sensitive)",
        ),
        (
            f'llmgateway_admin_emails = "a@example.com,{SENSITIVE_VALUE}"\n',
            "(from llmgateway_admin_emails, a sensitive string: value not shown)",
        ),
        (f"llmgateway_auth_secret = {SENSITIVE_VALUE}abc\n", "not a valid .tfvars file"),
        (f'llmgateway_auth_secret = "{SENSITIVE_VALUE}\n', "not a valid .tfvars file"),
    ],
    ids=["secret-number", "emails-number", "emails-invalid", "secret-syntax", "secret-unclosed"],
)
def test_no_sensitive_value_in_any_message(empty: Path, content: str, message: str) -> None:
    tfvars = empty / "bad.tfvars"
    tfvars.write_text(MINIMAL + content)
    for args in ([], ["--debug"]):
        result = run_cli(*args, "import-terraform", "--tfvars", str(tfvars))
        assert result.code == 2
        assert message in result.err
        assert SENSITIVE_VALUE not in result.out + result.err
