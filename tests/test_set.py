"""`set`: one value changes in the spec, every other byte stays, and the tree follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_documents, read_tree, run_cli, unified_prod

SPEC = Path("spec") / "llmgateway.yaml"


def lines(project: Path) -> list[str]:
    return (project / SPEC).read_bytes().decode().splitlines(keepends=True)


def test_set_changes_only_the_value(project: Path) -> None:
    unified_prod(project)  # prod: the unified Deployment of 3 pods
    assert run_cli("compile").code == 0
    before = lines(project)
    result = run_cli("set", "environments.prod.replicas", "5")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        "set environments.prod.replicas: 3 -> 5 in spec/llmgateway.yaml"
    )
    after = lines(project)
    assert len(after) == len(before)
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [("    replicas: 3\n", "    replicas: 5\n")]  # every other line byte for byte
    # ... and compiled: the overlay asks for five.
    kustomization = load_documents((project / "overlays/prod/kustomization.yaml").read_text())
    assert kustomization[0]["replicas"] == [{"name": "llmgateway", "count": 5}]
    assert run_cli("check", "--no-render").code == 0


def test_set_a_split_service_of_the_committed_prod(project: Path) -> None:
    assert run_cli("compile").code == 0
    before = lines(project)
    result = run_cli("set", "environments.prod.services.gateway.replicas", "5")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        "set environments.prod.services.gateway.replicas: 3 -> 5 in spec/llmgateway.yaml"
    )
    after = lines(project)
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [("        replicas: 3\n", "        replicas: 5\n")]
    (gateway,) = load_documents(
        (project / "overlays/prod/deployment-llmgateway-gateway.yaml").read_text()
    )
    assert gateway["spec"]["replicas"] == 5
    assert run_cli("check", "--no-render").code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("environments.prod.image.tag", "v1.4.2"),
        ("--env", "prod", "image.tag", "v1.4.2"),
    ],
    ids=["full-path", "env-option"],
)
def test_set_adds_a_field_the_environment_lacks(project: Path, args: tuple[str, ...]) -> None:
    unified_prod(project)  # prod: the unified image
    before = lines(project)
    result = run_cli("set", *args)
    assert result.code == 0, result.err
    assert "set environments.prod.image.tag: (not set) -> v1.4.2" in result.out
    after = lines(project)
    at = before.index("  prod:\n") + 1
    assert after[at : at + 2] == ["    image:\n", "      tag: v1.4.2\n"]
    assert after[:at] + after[at + 2 :] == before  # only the two lines added
    overlay = (project / "overlays/prod/kustomization.yaml").read_text()
    assert load_documents(overlay)[0]["images"] == [
        {"name": "ghcr.io/theopenco/llmgateway-unified", "newTag": "v1.4.2"}
    ]


def test_set_keeps_quotes_and_comments_of_the_value(project: Path) -> None:
    spec = project / SPEC
    text = spec.read_text().replace(
        "  prod:\n", '  prod:\n    image:\n      tag: "v1.4.0"   # pinned by the bot\n', 1
    )
    spec.write_text(text)
    assert run_cli("set", "--env", "prod", "image.tag", "v1.4.2").code == 0
    assert spec.read_text() == text.replace('"v1.4.0"', '"v1.4.2"')


def test_values_take_the_fields_type(project: Path) -> None:
    spec = project / SPEC
    before = spec.read_text()
    assert run_cli("set", "defaults.kubernetesVersion", "1.31").code == 0
    assert run_cli("set", "--env", "dev", "production", "true").code == 0
    after = spec.read_text()
    # 1.31 is a string field: quoted, or YAML would read a number.
    assert '  kubernetesVersion: "1.31"\n' in after
    assert "    production: true\n" in after
    assert len(after.splitlines()) == len(before.splitlines()) + 2
    assert run_cli("validate").code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--env", "prod", "replicas", "0"),
            "spec/llmgateway.yaml:{line}:5: environments.prod.replicas: must be at least 1, not 0",
        ),
        (
            ("--env", "prod", "replicas", "many"),
            "spec/llmgateway.yaml:{line}:5: environments.prod.replicas: must be a valid integer, "
            "not 'many'",
        ),
        (
            ("environments.prod.image.tag", "not a tag"),
            "environments.prod.image.tag: 'not a tag' does not match the pattern",
        ),
        (
            ("environments.prod.image.tagg", "v1"),
            "error: environments.prod.image.tagg: unknown field 'tagg'; did you mean 'tag'?",
        ),
        (
            ("--env", "stage", "replicas", "2"),
            "error: environments.stage: no environment 'stage' in the spec "
            "(environments: dev, prod)",
        ),
        (
            ("environments.prod.storage", "5Gi"),
            "error: environments.prod.storage is not a single value (a mapping or a list); "
            "set one of its fields, or edit the spec",
        ),
        (
            ("environments.prod..replicas", "5"),
            "error: 'environments.prod..replicas' is not a field path",
        ),
    ],
    ids=["too-small", "not-a-number", "bad-tag", "unknown-field", "unknown-env", "mapping", "path"],
)
def test_invalid_values_exit_2_and_touch_nothing(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    unified_prod(project)  # prod: the unified Deployment's `replicas: 3`
    assert run_cli("compile").code == 0
    before = read_tree(project)
    line = lines(project).index("    replicas: 3\n") + 1  # prod's
    result = run_cli("set", *args)
    assert result.code == 2
    assert message.format(line=line) in result.err
    assert "Traceback" not in result.err
    assert read_tree(project) == before  # the spec byte for byte, and the tree


def test_set_refuses_a_value_shared_through_an_anchor(project: Path) -> None:
    spec = project / SPEC
    text = spec.read_text()
    text = text.replace("  replicas: 1\n", "  replicas: &pods 1\n", 1)
    text = text.replace("    replicas: 1\n", "    replicas: *pods\n", 1)
    spec.write_text(text)
    result = run_cli("set", "--env", "dev", "replicas", "2")
    assert result.code == 2
    assert "environments.dev.replicas is shared through a YAML anchor or alias" in result.err
    assert spec.read_text() == text


def test_set_keeps_crlf_line_endings(project: Path) -> None:
    spec = project / SPEC
    spec.write_bytes(spec.read_bytes().replace(b"\n", b"\r\n"))
    before = spec.read_bytes()
    assert run_cli("set", "--env", "prod", "image.tag", "v1.4.2").code == 0
    after = spec.read_bytes()
    assert b"\n    image:\r\n      tag: v1.4.2\r\n" in after
    assert after.replace(b"    image:\r\n      tag: v1.4.2\r\n", b"") == before
