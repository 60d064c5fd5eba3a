"""The validation stamp (compiler/stamp.py): a cold `build` prints the recorded findings
only when the stamp records exactly what it rendered, with this spec, these rules, these
validators; anything else validates in full (not kustomize's version: a kustomize that
renders other bytes misses, one that renders the same bytes reuses it). `check` and `lint` never
read it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.lintcache import lint_versions
from compiler.render import redact
from compiler.stamp import STAMP_PATH, Findings, read_stamp, stamp_key, stamp_text
from tests.conftest import CASES, ROOT
from tests.helpers import read_tree, run_cli

PLANTED: Findings = [
    {"line": "prod: warning: Planted/x: a finding only the stamp holds", "severity": "warning"}
]
# The committed spec's prod: fresh validation finds these (the split images run `latest`).
FRESH = "prod: warning: Deployment/llmgateway/llmgateway-api: LLMGW003"


def parts(project: Path, kustomize: Kustomize, name: str = "prod") -> dict[str, Any]:
    """What build's key of ``name`` is made of, computed here as build computes it."""
    versions = lint_versions()
    assert versions is not None
    return {
        "versions": versions,
        "environment": name,
        "spec": (project / "spec" / "llmgateway.yaml").read_bytes(),
        "rendering": redact(kustomize.build(Path("overlays", name))),
    }


def plant(project: Path, findings: Findings = PLANTED, name: str = "prod", **key: Any) -> None:
    """A stamp holding one entry: ``findings`` under the key of ``key``'s parts."""
    (project / STAMP_PATH).write_text(stamp_text({name: (stamp_key(**key), findings)}))


def cold_build(project: Path, *overlays: str) -> tuple[int, str]:
    """A build with nothing cached (a fresh clone): its exit code and stderr."""
    shutil.rmtree(project / ".llmgw-cache", ignore_errors=True)
    result = run_cli("build", *(overlays or ("overlays/prod",)))
    return result.code, result.err


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, kustomize: Kustomize) -> Path:
    """The committed spec compiled once for this module; each test gets a copy."""
    root = tmp_path_factory.mktemp("stamp") / "project"
    (root / "spec").mkdir(parents=True)
    shutil.copy(ROOT / "spec" / "llmgateway.yaml", root / "spec" / "llmgateway.yaml")
    with contextlib.chdir(root):
        assert run_cli("compile").code == 0
    return root


@pytest.fixture(scope="module")
def prod_key(template: Path, kustomize: Kustomize) -> dict[str, Any]:
    """The parts of prod's key in the compiled committed spec (the same in every copy)."""
    with contextlib.chdir(template):
        return parts(template, kustomize)


@pytest.fixture
def compiled(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def test_a_planted_entry_with_the_right_key_is_what_build_prints(
    compiled: Path, prod_key: dict[str, Any]
) -> None:
    """The control of every test below: an entry with the key of what build renders is
    used as it is (so an entry that is not used was refused for its key alone)."""
    plant(compiled, **prod_key)
    code, err = cold_build(compiled)
    assert code == 0
    assert err.splitlines() == [PLANTED[0]["line"]]


def other_rules(key: dict[str, Any]) -> None:
    rules, _, validators = key["versions"].partition("\0")
    assert rules.startswith("rules ")
    key["versions"] = f"rules {'0' * 64}\0{validators}"


def other_validator(key: dict[str, Any]) -> None:
    assert "\0jsonschema " in key["versions"]
    lines = key["versions"].split("\0")
    key["versions"] = "\0".join(
        "jsonschema 0.0.1" if line.startswith("jsonschema ") else line for line in lines
    )


def other_spec(key: dict[str, Any]) -> None:
    key["spec"] += b"# another comment\n"


def other_environment(key: dict[str, Any]) -> None:
    key["environment"] = "dev"


@pytest.mark.parametrize(
    "change",
    [other_rules, other_validator, other_spec, other_environment],
    ids=lambda f: f.__name__.replace("_", " "),
)
def test_an_entry_keyed_for_anything_else_is_not_used(
    compiled: Path, prod_key: dict[str, Any], change: Any
) -> None:
    """A stamp written by another compiler (rules), with other validators, for another
    spec or environment: build validates in full."""
    key = dict(prod_key)
    change(key)
    plant(compiled, **key)
    code, err = cold_build(compiled)
    assert code == 0
    assert PLANTED[0]["line"] not in err
    assert FRESH in err


# A spec edit changing a patch file of prod only, and one changing base/ only.
EDITS = {
    "a patch file": ("      replicas: 3\n", "      replicas: 4\n", "overlays/prod/"),
    "base": ("    className: nginx\n", "    className: nginx-internal\n", "base/"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_changed_rendering_invalidates_the_entry(
    compiled: Path, kustomize: Kustomize, prod_key: dict[str, Any], edit: str
) -> None:
    old, new, changed = EDITS[edit]
    before = prod_key
    files = read_tree(compiled)
    spec = compiled / "spec" / "llmgateway.yaml"
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, new, 1))
    assert run_cli("compile").code == 0
    after = read_tree(compiled)
    edited = {p for p in files.keys() | after.keys() if files.get(p) != after.get(p)}
    assert any(p.startswith(changed) for p in edited)
    assert all(p.startswith((changed, "spec/", "docs/", "overlays/.")) for p in edited)
    now = parts(compiled, kustomize)
    assert now["rendering"] != before["rendering"]
    # Everything as it is now but the rendering it records: not used.
    plant(compiled, **{**now, "rendering": before["rendering"]})
    code, err = cold_build(compiled)
    assert (code, PLANTED[0]["line"] in err, FRESH in err) == (0, False, True)
    plant(compiled, **now)  # the control: the same entry with what build renders now
    assert cold_build(compiled) == (0, PLANTED[0]["line"] + "\n")


# Another kustomize, in front of the real one: reports version v9.9.9, logs each call,
# and appends $OTHER_BYTES to what it renders (other bytes, as an upgrade could print).
OTHER_KUSTOMIZE = """#!/bin/sh
echo "$*" >> "$KUSTOMIZE_LOG"
if [ "$1" = version ]; then echo '{Version:kustomize/v9.9.9}'; exit 0; fi
shift
if [ -n "$OTHER_BYTES" ]; then
  {kubectl} kustomize "$@" && printf '%b' "$OTHER_BYTES"
else
  exec {kubectl} kustomize "$@"
fi
"""


def other_kustomize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kustomize: Kustomize) -> Path:
    """Install OTHER_KUSTOMIZE as $KUSTOMIZE; returns its log."""
    if kustomize.build_command[1] != "kustomize":
        pytest.skip("the stand-in wraps kubectl kustomize")
    script = tmp_path / "kustomize-v9"
    script.write_text(OTHER_KUSTOMIZE.replace("{kubectl}", kustomize.build_command[0]))
    script.chmod(0o755)
    log = tmp_path / "kustomize.log"
    monkeypatch.setenv("KUSTOMIZE", str(script))
    monkeypatch.setenv("KUSTOMIZE_LOG", str(log))
    return log


def test_another_kustomize_rendering_the_same_bytes_reuses_the_entry(
    compiled: Path,
    prod_key: dict[str, Any],
    kustomize: Kustomize,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The findings are a function of the rendering: a kustomize of another version that
    renders the same bytes gets the recorded findings, and build never asks its version
    (no second kustomize process on the cold path)."""
    log = other_kustomize(tmp_path, monkeypatch, kustomize)
    plant(compiled, **prod_key)
    assert cold_build(compiled) == (0, PLANTED[0]["line"] + "\n")
    calls = log.read_text().splitlines()
    assert calls
    assert all(call.startswith("build ") for call in calls)


def test_another_kustomize_rendering_other_bytes_misses_the_entry(
    compiled: Path,
    prod_key: dict[str, Any],
    kustomize: Kustomize,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a kustomize upgrade that changes its output produces: another rendering, so
    the entry is not used and build validates in full."""
    other_kustomize(tmp_path, monkeypatch, kustomize)
    monkeypatch.setenv("OTHER_BYTES", "# rendered by kustomize v9.9.9\\n")
    plant(compiled, **prod_key)
    code, err = cold_build(compiled)
    assert (code, PLANTED[0]["line"] in err, FRESH in err) == (0, False, True)


def test_output_the_stamp_does_not_record_is_checked(
    compiled: Path,
    prod_key: dict[str, Any],
    kustomize: Kustomize,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stamped build leaves kustomize's output check until it knows whether the stamp
    records the rendering: output the stamp does not record fails as without a stamp."""
    other_kustomize(tmp_path, monkeypatch, kustomize)
    monkeypatch.setenv("OTHER_BYTES", "---\\n- not a resource\\n")
    unstamped = cold_build(compiled)
    plant(compiled, **prod_key)
    stamped = cold_build(compiled)
    assert stamped == unstamped
    assert stamped[0] == 3
    assert "kustomize produced a document that is not a mapping at line" in stamped[1]
    assert PLANTED[0]["line"] not in stamped[1]


def entry(key: dict[str, Any]) -> dict[str, Any]:
    """A stamp's JSON that build would use (the planted control)."""
    value: dict[str, Any] = json.loads(stamp_text({"prod": (stamp_key(**key), PLANTED)}))
    return value


def corrupt(value: dict[str, Any], how: str) -> object:
    prod = value["environments"]["prod"]
    if how == "another format":
        value["format"] = 1  # the format before kustomize's version left the key
    elif how == "an extra field":
        value["signed"] = True
    elif how == "an extra field in an entry":
        prod["by"] = "me"
    elif how == "a short key":
        prod["key"] = prod["key"][:-1]
    elif how == "an upper-case key":
        prod["key"] = prod["key"].upper()
    elif how == "an unknown severity":
        prod["findings"][0]["severity"] = "info"
    elif how == "a finding that is not text":
        prod["findings"][0]["line"] = 7
    elif how == "findings that are not a list":
        prod["findings"] = "none"
    elif how == "entries in a list":
        value["environments"] = [prod]
    elif how == "a list":
        return [value]
    return value


CORRUPTIONS = [
    "another format",
    "an extra field",
    "an extra field in an entry",
    "a short key",
    "an upper-case key",
    "an unknown severity",
    "a finding that is not text",
    "findings that are not a list",
    "entries in a list",
    "a list",
]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_stamp_of_another_shape_is_not_read(
    compiled: Path, prod_key: dict[str, Any], how: str
) -> None:
    (compiled / STAMP_PATH).write_text(json.dumps(entry(prod_key)))
    assert read_stamp(compiled) == {"prod": (stamp_key(**prod_key), PLANTED)}  # the control
    (compiled / STAMP_PATH).write_text(json.dumps(corrupt(entry(prod_key), how)))
    assert read_stamp(compiled) is None


@pytest.mark.parametrize(
    "data", [b"{", b"\xff\xfe", b"", b"null"], ids=["cut", "not-utf-8", "empty", "null"]
)
def test_an_unreadable_stamp_is_not_read(compiled: Path, data: bytes) -> None:
    (compiled / STAMP_PATH).write_bytes(data)
    assert read_stamp(compiled) is None


def test_a_corrupt_stamp_is_validated_in_full(compiled: Path, prod_key: dict[str, Any]) -> None:
    text = json.dumps(entry(prod_key))
    (compiled / STAMP_PATH).write_text(text[: len(text) // 2])
    code, err = cold_build(compiled)
    assert (code, PLANTED[0]["line"] in err, FRESH in err) == (0, False, True)


def test_a_link_or_fifo_in_the_stamps_place_is_not_read(
    compiled: Path, prod_key: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "stamp.json"
    elsewhere.write_text(json.dumps(entry(prod_key)))
    (compiled / STAMP_PATH).symlink_to(elsewhere)
    code, err = cold_build(compiled)
    assert (code, PLANTED[0]["line"] in err, FRESH in err) == (0, False, True)
    (compiled / STAMP_PATH).unlink()
    os.mkfifo(compiled / STAMP_PATH)  # never opened for a blocking read
    code, err = cold_build(compiled)
    assert (code, FRESH in err) == (0, True)


def test_the_stamp_command_records_what_build_prints(
    compiled: Path, prod_key: dict[str, Any]
) -> None:
    """stamp, then a cold build: the same output and exit code as without a stamp, the
    recorded findings used (the control's entry shape), and nothing heavy imported."""
    command = [sys.executable, "-X", "importtime", "-m", "compiler", "build", "overlays/prod"]

    def cold() -> subprocess.CompletedProcess[str]:
        shutil.rmtree(compiled / ".llmgw-cache", ignore_errors=True)
        return subprocess.run(command, cwd=compiled, capture_output=True, text=True, check=False)

    fresh = cold()
    assert "kubernetes_validate" in fresh.stderr  # no stamp: validated
    result = run_cli("stamp")
    assert result.code == 0, result.err
    assert result.err.splitlines()[-1] == f"{STAMP_PATH}: dev, prod stamped; commit it"
    stamp = json.loads((compiled / STAMP_PATH).read_text())
    assert sorted(stamp["environments"]) == ["dev", "prod"]
    assert stamp["environments"]["dev"]["findings"] == []
    assert stamp["environments"]["prod"]["key"] == stamp_key(**prod_key)
    stamped = cold()
    assert (
        (stamped.returncode, stamped.stdout)
        == (fresh.returncode, fresh.stdout)
        == (
            0,
            fresh.stdout,
        )
    )

    def messages(err: str) -> list[str]:
        return [line for line in err.splitlines() if not line.startswith("import time:")]

    assert messages(stamped.stderr) == messages(fresh.stderr)
    assert FRESH in "\n".join(messages(stamped.stderr))
    # PyYAML too: the output check of a rendering the stamp records is not repeated.
    heavy_modules = ("pydantic", "kubernetes_validate", "jsonschema", "ruamel", "yaml")
    # compiler.terraform: import-terraform's help is made only when printed.
    for heavy in (*heavy_modules, "compiler.lint", "compiler.terraform"):
        assert f" {heavy}\n" not in stamped.stderr
        assert f" {heavy}." not in stamped.stderr


def test_stamping_one_environment_keeps_the_others(
    compiled: Path, prod_key: dict[str, Any]
) -> None:
    assert run_cli("stamp").code == 0
    first = json.loads((compiled / STAMP_PATH).read_text())
    spec = compiled / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text() + "# a comment: every key changes\n")
    result = run_cli("stamp", "prod")
    assert (result.code, result.err.splitlines()[-1]) == (
        0,
        f"{STAMP_PATH}: prod stamped; commit it",
    )
    second = json.loads((compiled / STAMP_PATH).read_text())
    assert second["environments"]["dev"] == first["environments"]["dev"]
    assert second["environments"]["prod"]["key"] != first["environments"]["prod"]["key"]
    now = {**prod_key, "spec": spec.read_bytes()}  # the rendering is the same
    assert second["environments"]["prod"]["key"] == stamp_key(**now)


def test_stamp_refuses_stale_overlays_and_unknown_environments(compiled: Path) -> None:
    spec = compiled / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("      replicas: 3\n", "      replicas: 4\n", 1))
    result = run_cli("stamp")
    assert result.code == 1
    assert result.err.splitlines()[-1] == "run: python -m compiler compile"
    assert not (compiled / STAMP_PATH).exists()
    result = run_cli("stamp", "qa")
    assert result.code == 2
    assert result.err == (
        "error: no environment 'qa' in spec/llmgateway.yaml (environments: dev, prod)\n"
    )
    assert not (compiled / STAMP_PATH).exists()


def test_stamp_never_writes_through_a_link(
    compiled: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "target.json"
    elsewhere.write_text("mine\n")
    (compiled / STAMP_PATH).symlink_to(elsewhere)
    result = run_cli("stamp")
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"error: {STAMP_PATH}: is a symbolic link, not a regular file; refusing to write it"
    )
    assert elsewhere.read_text() == "mine\n"


def test_an_environment_with_a_secret_generator_is_not_stamped(
    project: Path, kustomize: Kustomize
) -> None:
    shutil.copy(
        CASES / "valid" / "secret-generator" / "spec.yaml", project / "spec" / "llmgateway.yaml"
    )
    assert run_cli("compile").code == 0
    generated = sorted(p.parent.name for p in project.glob("overlays/*/secret.env.example"))
    assert generated
    for name in generated:
        result = run_cli("secret", "--env", name, "--generate", "--format", "env")
        (project / "overlays" / name / "secret.env").write_text(result.out)
    result = run_cli("stamp")
    assert result.code == 0, result.err
    stamp = json.loads((project / STAMP_PATH).read_text())
    assert not set(generated) & set(stamp["environments"])
    assert (
        f"overlays/{generated[0]} not stamped: its secretGenerator's values (secret.env) are "
        "part of its rendering; build validates it every time"
    ) in result.err.splitlines()


def failing_dev(project: Path) -> None:
    """dev as a production environment without a NetworkPolicy: LLMGW008, an error."""
    spec = project / "spec" / "llmgateway.yaml"
    old = "    storage:\n      accessMode: ReadWriteOnce\n"
    assert old in spec.read_text()
    spec.write_text(
        spec.read_text().replace(
            old, old + "    production: true\n    networkPolicy:\n      enabled: false\n", 1
        )
    )


LLMGW008 = (
    "dev: error: Namespace/llmgateway-dev: LLMGW008 networkpolicy-in-production: no "
    "NetworkPolicy selects the gateway pods (app=llmgateway); set networkPolicy.enabled in "
    "the spec"
)


def test_check_and_lint_never_read_the_stamp(project: Path, kustomize: Kustomize) -> None:
    """A stamp claiming "no findings" for a rendering with an error: build trusts it (what
    a stamp is for), check, lint and a stamp-less build still fail on the error."""
    failing_dev(project)
    assert run_cli("compile").code == 0
    assert run_cli("snapshot").code == 0
    result = run_cli("stamp", "dev")
    assert (result.code, LLMGW008 in result.err.splitlines()) == (1, True)
    assert json.loads((project / STAMP_PATH).read_text())["environments"]["dev"]["findings"]
    plant(project, [], "dev", **parts(project, kustomize, "dev"))
    assert cold_build(project, "overlays/dev")[0] == 0
    shutil.rmtree(project / ".llmgw-cache")
    result = run_cli("check")
    assert (result.code, LLMGW008 in result.err.splitlines()) == (1, True)
    shutil.rmtree(project / ".llmgw-cache")
    result = run_cli("lint", "overlays/dev")
    assert (result.code, LLMGW008 in result.err.splitlines()) == (1, True)
    (project / STAMP_PATH).unlink()
    code, err = cold_build(project, "overlays/dev")
    assert (code, LLMGW008 in err.splitlines()) == (1, True)


def test_stamp_help_names_the_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("stamp", "--help").code == 0
    assert "Run it after compile and commit spec/llmgateway.validated.json with the " + (
        "overlays"
    ) in " ".join(capsys.readouterr().out.split())


def test_every_built_environment_needs_its_entry(compiled: Path, prod_key: dict[str, Any]) -> None:
    """build overlays/dev overlays/prod with prod's entry alone: both validated in full."""
    plant(compiled, **prod_key)
    code, err = cold_build(compiled, "overlays/dev", "overlays/prod")
    assert (code, PLANTED[0]["line"] in err, FRESH in err) == (0, False, True)


def test_a_disabled_environment_leaves_the_stamp(compiled: Path) -> None:
    assert run_cli("stamp").code == 0
    spec = compiled / "spec" / "llmgateway.yaml"
    old = "  dev:\n"
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, old + "    enabled: false\n", 1))
    assert run_cli("compile").code == 0
    assert run_cli("stamp").code == 0
    stamp = json.loads((compiled / STAMP_PATH).read_text())
    assert sorted(stamp["environments"]) == ["prod"]
