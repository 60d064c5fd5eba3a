"""Moving prod's data from the unified pod's embedded PostgreSQL to the split topology.

`diff` from a unified prod (tests/cases/valid/unified-replicas-shared-data-acknowledged,
the committed prod before the switch) to a split one flags the removed claim holding the
embedded database as risky, with the steps that move the data; through git and the real
kustomize, in every format, with no secret value in any output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.load import parse_spec
from compiler.lower import lower_environment
from compiler.review import diff_environments
from compiler.spec import shared_data_directory_message
from tests.conftest import CASES, ROOT
from tests.helpers import run_cli

BEFORE_SWITCH = CASES / "valid" / "unified-replicas-shared-data-acknowledged" / "spec.yaml"
CLAIM = "PersistentVolumeClaim/llmgateway/llmgateway-data"
README_POINTER = 'README.md, "Moving prod to the split topology"'
# What the unified pod's dump command must be, for the committed prod's names.
DUMP = (
    "kubectl -n llmgateway exec deploy/llmgateway -c llmgateway -- "
    "/usr/lib/postgresql/17/bin/pg_dump -h 127.0.0.1 -U postgres -d llmgateway -Fc "
    "> llmgateway.dump"
)
# Values of the auth Secret (generator source) that must never be printed.
SECRET_VALUES = {
    "AUTH_SECRET": "auth-value-never-shown-0123456789abcdef0123",
    "GATEWAY_API_KEY_HASH_SECRET": "hash-value-never-shown-0123456789abcdef",
    "REDIS_PASSWORD": "redis-value-never-shown-0123456789abcdef",
}
GENERATOR = "  authSecret:\n    source: generator\n"
SPLIT_PROD = """  prod:
    production: true
    topology: split
    database:
      mode: cloudnative-pg
      instances: 3
    redis:
      mode: in-cluster
    services:
      gateway:
        replicas: 3
      api:
        replicas: 2
      ui:
        replicas: 2
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def to_split(text: str) -> str:
    """The before-switch spec with prod moved to split, CloudNativePG and in-cluster Redis."""
    head, found, _ = text.partition("  prod:\n")
    assert found
    return head + SPLIT_PROD


def with_generator(text: str) -> str:
    marker = "  adminEmails:\n"
    assert marker in text
    return text.replace(marker, GENERATOR + marker, 1)


@pytest.fixture
def unified_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A git repository whose one commit holds the unified prod, compiled; cwd is its root."""
    (tmp_path / "spec").mkdir()
    spec = tmp_path / "spec" / "llmgateway.yaml"
    spec.write_text(with_generator(BEFORE_SWITCH.read_text()))
    monkeypatch.chdir(tmp_path)
    assert run_cli("compile").code == 0
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "unified prod")
    return tmp_path, git(tmp_path, "rev-parse", "HEAD").strip()


def write_secret_env(root: Path, keys: list[str]) -> None:
    lines = [f"{key}={SECRET_VALUES[key]}" for key in keys]
    (root / "overlays" / "prod" / "secret.env").write_text("\n".join(lines) + "\n")


def test_diff_to_split_names_the_embedded_database_claim_and_the_steps(
    unified_repository: tuple[Path, str],
    kustomize: Kustomize,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, before = unified_repository
    write_secret_env(root, ["AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET"])
    spec = root / "spec" / "llmgateway.yaml"
    spec.write_text(to_split(spec.read_text()))
    assert run_cli("compile").code == 0
    write_secret_env(root, ["AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET", "REDIS_PASSWORD"])
    for key, value in SECRET_VALUES.items():
        monkeypatch.setenv(f"LLMGATEWAY_{key}", value)

    result = run_cli("diff", "--base", before, "--fail-on", "risky")
    assert result.code == 1, result.err
    risky = result.out.split("RISKY CHANGES")[1].split("\nprod:")[0]
    claim = next(line for line in risky.splitlines() if CLAIM in line)
    assert claim.endswith(f"{CLAIM}: the data volume claim is removed")
    why = risky.split(claim)[1].splitlines()[1]
    do = risky.split(claim)[1].splitlines()[2]
    assert "embedded PostgreSQL database of Deployment llmgateway (container llmgateway" in why
    assert do.startswith(f"      do:  move the data before applying this ({README_POINTER}")
    assert DUMP in do
    assert "default_transaction_read_only = on" in do
    assert "pg_restore --no-owner" in do
    assert "compare the row counts" in do
    # dev keeps its claim: only prod's is flagged.
    assert "llmgateway-dev/llmgateway-data" not in risky

    markdown = run_cli("diff", "--base", before, "--format", "markdown", "--env", "prod")
    assert markdown.code == 1
    assert f"`{CLAIM}`: the data volume claim is removed" in markdown.out
    document = json.loads(run_cli("diff", "--base", before, "--format", "json").out)
    [risk] = [r for r in document["risky"] if r["resource"] == CLAIM]
    assert DUMP in risk["action"]

    for output in (result.out + result.err, markdown.out + markdown.err, json.dumps(document)):
        for value in SECRET_VALUES.values():
            assert value not in output


def cnpg_cluster(name: str, database: str | None, owner: str | None) -> dict[str, Any]:
    """A CloudNativePG Cluster as the operator's API takes it (initdb fields optional)."""
    initdb = {k: v for k, v in (("database", database), ("owner", owner)) if v is not None}
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": "llmgateway"},
        "spec": {"instances": 3, "bootstrap": {"initdb": initdb}},
    }


@pytest.mark.parametrize(
    ("database", "owner", "restore"),
    [
        ("llmgateway", "llmgateway", "--role=llmgateway --single-transaction -d llmgateway"),
        # The operator's defaults: database app, owner the database's name.
        (None, None, "--role=app --single-transaction -d app"),
        ("gw", None, "--role=gw --single-transaction -d gw"),
    ],
)
def test_restore_goes_to_the_clusters_current_primary(
    database: str | None, owner: str | None, restore: str
) -> None:
    spec = parse_spec(BEFORE_SWITCH.read_bytes(), "spec.yaml")
    old = {name: lower_environment(env, name) for name, env in spec.enabled()}
    new = {name: [r for r in old[name] if r["kind"] != "PersistentVolumeClaim"] for name in old}
    new["prod"].append(cnpg_cluster("llmgateway-postgres", database, owner))
    review = diff_environments("before", old, new)
    [risk] = [r for r in review.risks if r.environment == "prod"]
    assert risk.resource == CLAIM
    assert (
        "kubectl -n llmgateway wait cluster/llmgateway-postgres --for=condition=Ready"
        in risk.action
    )
    assert (
        "P=$(kubectl -n llmgateway get cluster llmgateway-postgres -o "
        "jsonpath='{.status.currentPrimary}')" in risk.action
    )
    assert (
        f'kubectl -n llmgateway exec -i "$P" -c postgres -- pg_restore --no-owner {restore} '
        "< llmgateway.dump" in risk.action
    )
    assert DUMP in risk.action


def test_a_claim_no_database_lives_on_keeps_the_plain_warning() -> None:
    spec = parse_spec(BEFORE_SWITCH.read_bytes(), "spec.yaml")
    old = {name: lower_environment(env, name) for name, env in spec.enabled()}
    for resource in old["prod"]:
        if resource["kind"] == "Deployment":
            container = resource["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [e for e in container["env"] if e["name"] != "PGDATA"]
    new = {name: [r for r in old[name] if r["kind"] != "PersistentVolumeClaim"] for name in old}
    [risk] = [r for r in diff_environments("before", old, new).risks if r.environment == "prod"]
    assert risk.why.startswith("deleting the claim deletes the volume")
    assert risk.action == "back up the database first, or keep the claim out of pruning"


def test_the_before_switch_case_is_todays_unified_prod() -> None:
    """The case the diff starts from renders the unified prod the module ran."""
    spec = parse_spec(BEFORE_SWITCH.read_bytes(), "spec.yaml")
    prod = dict(spec.enabled())["prod"]
    assert (prod.topology, prod.database.mode, prod.replicas, prod.access_mode) == (
        "unified",
        "embedded",
        3,
        "ReadWriteMany",
    )


def test_a_namespace_move_or_a_removed_environment_gets_no_migration_steps() -> None:
    """The steps are for leaving the embedded database, not for moving it elsewhere."""
    text = BEFORE_SWITCH.read_text()
    spec = parse_spec(text.encode(), "spec.yaml")
    moved = parse_spec(
        text.replace("namespace: llmgateway-dev", "namespace: gateway-dev").encode(), "spec.yaml"
    )
    old = {name: lower_environment(env, name) for name, env in spec.enabled()}
    new = {name: lower_environment(env, name) for name, env in moved.enabled()}
    new_without_dev = {"prod": old["prod"]}
    for after in (new, new_without_dev):
        [risk] = [
            r
            for r in diff_environments("before", old, after).risks
            if r.resource == "PersistentVolumeClaim/llmgateway-dev/llmgateway-data"
        ]
        assert risk.action == "back up the database first, or keep the claim out of pruning"


def test_readme_states_the_concrete_failure_of_unified_replicas() -> None:
    """The README says what breaks, as the spec's message does, and names both case folders."""
    text = " ".join((ROOT / "README.md").read_text().split())
    start = text.index("Several pods of the unified image on one volume")
    paragraph = text[start : text.index("show both sides.", start)]
    for failure in (
        "removes `postmaster.pid` whenever its own server does not answer",
        "starts a second server on the same files",
        "every pod runs `initdb` at once",
        "caches, rate limits and queues diverge between pods",
        "`production: true` included",
    ):
        assert failure in paragraph
    message = shared_data_directory_message(3)
    for failure in ("removes postmaster.pid", "second server on the same files", "initdb"):
        assert failure in message
    for case in (
        "valid/unified-replicas-shared-data-acknowledged",
        "invalid/unified-three-replicas-production-unacknowledged",
    ):
        assert f"tests/cases/{case}" in paragraph
        assert (CASES / case / "spec.yaml").is_file()
