"""Moving prod's data from the unified pod's embedded PostgreSQL to the split topology.

`diff` from a unified prod (tests/cases/valid/unified-replicas-shared-data-acknowledged,
the committed prod before the switch) to a split one flags the removed claim holding the
embedded database as risky, with the steps that move the data; through git and the real
kustomize, in every format, with no secret value in any output.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.load import parse_spec
from compiler.lower import lower_environment
from compiler.review import diff_environments
from compiler.spec import shared_data_directory_message
from tests.conftest import CASES, ROOT
from tests.helpers import load_documents, run_cli

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
    # Into the rendered Cluster's current primary, its database and owner.
    assert (
        'kubectl -n llmgateway exec -i "$P" -c postgres -- pg_restore --no-owner '
        "--role=llmgateway --single-transaction -d llmgateway < llmgateway.dump" in do
    )
    assert "kubectl -n llmgateway wait cluster/llmgateway-postgres --for=condition=Ready" in do
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


# --- the README's commands, run against real PostgreSQL servers -------------------------

SECTION = "## Moving prod to the split topology"
STAND_IN = ROOT / "tests" / "stand_in_kubectl.py"
# A schema in the shape drizzle gives llmgateway's: an enum, text and serial keys, foreign
# keys, JSON, a unique index and drizzle's own bookkeeping table (none of upstream's SQL).
SOURCE_SCHEMA = """
CREATE SCHEMA drizzle;
CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL,
  created_at bigint);
INSERT INTO drizzle.__drizzle_migrations (hash, created_at)
  SELECT md5(i::text), 1700000000000 + i FROM generate_series(1, 7) AS i;
CREATE TYPE plan AS ENUM ('free', 'pro');
CREATE TABLE "user" (id text PRIMARY KEY, email text NOT NULL UNIQUE, plan plan NOT NULL
  DEFAULT 'free', created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE api_key (id text PRIMARY KEY, user_id text NOT NULL REFERENCES "user"(id)
  ON DELETE CASCADE, token text NOT NULL);
CREATE TABLE log (id bigserial PRIMARY KEY, api_key_id text REFERENCES api_key(id),
  content jsonb NOT NULL);
INSERT INTO "user" (id, email, plan)
  SELECT 'u' || i, 'user' || i || '@example.com', CASE WHEN i % 2 = 0 THEN 'pro'::plan
  ELSE 'free' END FROM generate_series(1, 20) AS i;
INSERT INTO api_key SELECT 'k' || i, 'u' || (i % 20 + 1), md5('key' || i)
  FROM generate_series(1, 30) AS i;
INSERT INTO log (api_key_id, content) SELECT 'k' || (i % 30 + 1),
  jsonb_build_object('model', 'gpt', 'tokens', i) FROM generate_series(1, 500) AS i;
"""


def migration_blocks() -> list[str]:
    """The bash blocks of the README's section on moving prod's data, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n{SECTION}\n")
    section = text[start : text.index("\n## ", start + 1)]
    return [block.split("\n```", 1)[0] for block in section.split("```bash\n")[1:]]


def postgres_bin() -> Path | None:
    """A directory holding PostgreSQL's server and client programs, if this machine has one."""
    candidates = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    needed = ("initdb", "pg_ctl", "postgres", "psql", "pg_dump", "pg_restore")
    return next((d for d in candidates if all((d / n).is_file() for n in needed)), None)


@dataclass
class Server:
    """A PostgreSQL server on this machine: its data, socket and port."""

    bin: Path
    data: Path
    socket: Path
    port: int
    as_postgres: list[str]

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(self.bin / "psql"), "-h", str(self.socket), "-p", str(self.port), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def sql(self, query: str, database: str, user: str = "postgres") -> str:
        return self.run("-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", query)

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "fast",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(bin_dir: Path, root: Path, name: str, as_postgres: list[str]) -> Server:
    """initdb as the unified image's start script does (trust), then start on localhost."""
    data, sock = root / name, root / f"{name}-socket"
    sock.mkdir()
    if as_postgres:
        owner = pwd.getpwnam("postgres")
        os.chown(sock, owner.pw_uid, owner.pw_gid)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-N"]
    initdb += ["--auth-local=trust", "--auth-host=trust"]
    subprocess.run([*as_postgres, *initdb], capture_output=True, check=True, timeout=120)
    port = free_port()
    options = f"-k {sock} -p {port} -c listen_addresses=localhost"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / f"{name}.log")]
    subprocess.run(
        [*as_postgres, *start, "-o", options, "-w", "start"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return Server(bin_dir, data, sock, port, as_postgres)


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server, Path]]:
    """The unified pod's PostgreSQL and the new primary, on this machine; skipped without
    PostgreSQL's programs (a failure on CI, whose machine has them)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL's programs (initdb, pg_ctl, pg_dump, ...) are needed on CI")
        pytest.skip("PostgreSQL's programs are not installed")
    # PostgreSQL refuses to run as root: as root, the servers run as the postgres user.
    # runuser lives in /usr/sbin (util-linux), which a PATH without the sbin folders misses.
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if os.geteuid() == 0 and runuser is None:
        pytest.fail("running as root needs runuser (util-linux) to start PostgreSQL")
    as_postgres = [str(runuser), "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="llmgw-move-"))
    root.chmod(0o755)
    started: list[Server] = []
    try:
        if as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
        source = start_server(bin_dir, root, "unified", as_postgres)
        started.append(source)
        source.sql("CREATE DATABASE llmgateway", "postgres")
        source.run(
            "-U", "postgres", "-d", "llmgateway", "-v", "ON_ERROR_STOP=1", "-q", stdin=SOURCE_SCHEMA
        )
        primary = start_server(bin_dir, root, "primary", as_postgres)
        started.append(primary)
        # What CloudNativePG's bootstrap.initdb makes: the owner role and its database.
        primary.sql("CREATE ROLE llmgateway LOGIN", "postgres")
        primary.sql("CREATE DATABASE llmgateway OWNER llmgateway", "postgres")
        work = root / "work"
        work.mkdir()
        yield source, primary, work
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def counts(server: Server) -> list[str]:
    query = "SELECT format('%s.%s', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1"
    tables = server.sql(query, "llmgateway").split()
    return [
        f"{table}|{server.sql(f'SELECT count(*) FROM {table}', 'llmgateway').strip()}"
        for table in tables
    ]


def test_the_readme_moves_the_data_into_the_new_primary(
    servers: tuple[Server, Server, Path], tmp_path: Path
) -> None:
    source, primary, work = servers
    before = counts(source)
    assert "drizzle.__drizzle_migrations|7" in before
    assert "public.log|500" in before
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STAND_IN}" "$@"\n')
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STAND_IN_LOG": str(log),
        "STAND_IN_PGBIN": str(source.bin),
        "STAND_IN_SOURCE": "deploy/llmgateway",
        "STAND_IN_SOURCE_CONTAINER": "llmgateway",
        "STAND_IN_SOURCE_PORT": str(source.port),
        "STAND_IN_PRIMARY": "llmgateway-postgres-1",
        "STAND_IN_PRIMARY_SOCKET": str(primary.socket),
        "STAND_IN_PRIMARY_PORT": str(primary.port),
    }
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
        env.pop(name, None)
    outputs = []
    for block in migration_blocks():
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0].splitlines()[0] == "ALTER DATABASE"  # step 2; step 5's diff is silent
    assert (work / "rows-before.txt").read_text() == (work / "rows-after.txt").read_text()
    assert "drizzle.__drizzle_migrations|7" in (work / "rows-after.txt").read_text().split()

    # The new primary holds every table with every row, owned by the app's role.
    assert counts(primary) == before
    owners = primary.sql(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('public', 'drizzle')",
        "llmgateway",
    )
    assert owners.split() == ["llmgateway"]
    assert (
        primary.sql("SELECT count(*) FROM \"user\" WHERE plan = 'pro'", "llmgateway").strip()
        == "10"
    )
    # Sequences continue after the moved rows; the new database accepts writes.
    inserted = primary.sql(
        "INSERT INTO log (api_key_id, content) VALUES ('k1', '{}') RETURNING id",
        "llmgateway",
        user="llmgateway",
    )
    assert inserted.split()[0] == "501"
    # The old one was made read-only before the dump.
    refused = subprocess.run(
        [
            str(source.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(source.port),
            "-U",
            "postgres",
            "-d",
            "llmgateway",
            "-c",
            "INSERT INTO \"user\" (id, email) VALUES ('x', 'x@x.x')",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "read-only transaction" in refused.stderr
    assert (work / "llmgateway.dump").stat().st_size > 0

    # The order: the cluster first, writes frozen before the dump, the split topology after
    # the checks, the claim deleted last.
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # Every command names prod's namespace, but the applies (the manifests carry it).
    assert {c["namespace"] for c in calls if c["args"][0] != "apply"} == {"llmgateway"}
    steps = [" ".join(c["args"]) for c in calls]

    def first(fragment: str) -> int:
        return next(i for i, step in enumerate(steps) if fragment in step)

    assert first("apply --server-side -f overlays/prod/cluster-llmgateway-postgres.yaml") == 0
    assert first("wait cluster/llmgateway-postgres") < first("default_transaction_read_only")
    assert first("scale deployment/llmgateway --replicas=1") < first(
        "default_transaction_read_only"
    )
    assert first("default_transaction_read_only") < first("pg_dump") < first("pg_restore")
    assert first("pg_restore") < first("apply -k overlays/prod")
    assert steps[-1] == "delete persistentvolumeclaim/llmgateway-data"


def readme_commands() -> list[list[str]]:
    """Every kubectl command of the section, split as bash would (continuations joined)."""
    commands = []
    for block in migration_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("P=$("):
                line = line[len("P=$(") : line.rindex(")")]
            if line.startswith("kubectl "):
                commands.append(shlex.split(line.split(" > ")[0].split(" < ")[0]))
    return commands


def switch_renderings() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """prod before the switch (the case) and after it (the committed overlays/prod, as the
    real kustomize renders it)."""
    before = dict(parse_spec(BEFORE_SWITCH.read_bytes(), "spec.yaml").enabled())["prod"]
    built = run_cli("-C", str(ROOT), "build", "overlays/prod")
    assert built.code == 0, built.err
    return lower_environment(before, "prod"), load_documents(built.out)


def test_the_readme_commands_name_what_prod_renders(kustomize: Kustomize) -> None:
    old, new = switch_renderings()
    commands = readme_commands()
    namespaces = {c[c.index("-n") + 1] for c in commands if "-n" in c}
    [namespace] = {r["metadata"].get("namespace") for r in new if r["kind"] != "Namespace"}
    assert namespaces == {namespace}
    # The source: the unified Deployment and its container, whose PGDATA is on the claim.
    [deployment] = [r for r in old if r["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [claim] = [r for r in old if r["kind"] == "PersistentVolumeClaim"]
    sources = {
        (next(a for a in c[c.index("exec") + 1 :] if a != "-i"), c[c.index("-c") + 1])
        for c in commands
        if "exec" in c
    }
    source = (f"deploy/{deployment['metadata']['name']}", container["name"])
    assert source in sources
    # The target: the rendered Cluster, its database and owner, PostgreSQL 17 like the pod.
    [cluster] = [r for r in new if r["kind"] == "Cluster"]
    name = cluster["metadata"]["name"]
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert sources == {source, ("$P", "postgres")}
    [get] = [c for c in commands if "get" in c]
    assert get[get.index("get") :] == [
        "get",
        "cluster",
        name,
        "-o",
        "jsonpath={.status.currentPrimary}",
    ]
    restore = next(c for c in commands if "pg_restore" in c)
    assert f"--role={initdb['owner']}" in restore
    assert restore[restore.index("-d") + 1] == initdb["database"]
    assert ":17" in cluster["spec"]["imageName"]
    assert ["kubectl", "apply", "--server-side", "-f", f"overlays/prod/cluster-{name}.yaml"] in (
        commands
    )
    # The file applied alone is the committed overlay's, holding exactly that Cluster.
    [applied] = load_documents((ROOT / "overlays" / "prod" / f"cluster-{name}.yaml").read_text())
    assert (applied["kind"], applied["metadata"]["name"]) == ("Cluster", name)
    assert applied["spec"] == cluster["spec"]
    # What is left to delete: exactly what the split prod no longer has, the claim last.
    removed = {
        f"{r['kind'].lower()}/{r['metadata']['name']}"
        for r in old
        if (r["kind"], r["metadata"]["name"])
        not in {(n["kind"], n["metadata"]["name"]) for n in new}
    }
    deletes = [c[c.index("delete") + 1 :] for c in commands if "delete" in c]
    assert deletes[-1] == [f"persistentvolumeclaim/{claim['metadata']['name']}"]
    assert sorted(deletes[0] + deletes[-1]) == sorted(removed)


def test_diff_from_the_unified_prod_to_the_committed_one_names_the_claim(
    tmp_path: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13's "Done when": `diff --base <the commit before the switch> --fail-on risky`
    exits 1 and names the removed claim with the migration steps, for the committed spec
    and tree (the before-switch commit holds the unified prod, compiled)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "llmgateway.yaml").write_bytes(BEFORE_SWITCH.read_bytes())
    assert run_cli("compile").code == 0
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "unified prod")
    before = git(tmp_path, "rev-parse", "HEAD").strip()
    # The switch: the committed spec and its committed tree, as they are in this checkout.
    for top in ("base", "overlays", "docs"):
        shutil.rmtree(tmp_path / top)
        shutil.copytree(ROOT / top, tmp_path / top)
    shutil.copy(ROOT / "spec" / "llmgateway.yaml", tmp_path / "spec" / "llmgateway.yaml")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "prod moves to the split topology")
    assert run_cli("check", "--no-render").code == 0  # the committed tree, unchanged

    result = run_cli("diff", "--base", before, "--fail-on", "risky")
    assert result.code == 1, result.err
    risky = result.out.split("RISKY CHANGES")[1].split("\nprod:")[0]
    claim = next(line for line in risky.splitlines() if CLAIM in line)
    assert claim.endswith(f"{CLAIM}: the data volume claim is removed")
    why, do = risky.split(claim)[1].splitlines()[1:3]
    assert "embedded PostgreSQL database of Deployment llmgateway (container llmgateway" in why
    assert do.startswith(f"      do:  move the data before applying this ({README_POINTER}")
    assert DUMP in do
    # Into the committed prod's Cluster: its name, database and owner.
    assert "kubectl -n llmgateway wait cluster/llmgateway-postgres --for=condition=Ready" in do
    assert (
        'kubectl -n llmgateway exec -i "$P" -c postgres -- pg_restore --no-owner '
        "--role=llmgateway --single-transaction -d llmgateway < llmgateway.dump" in do
    )
    # dev keeps its claim: only prod's is flagged.
    assert "llmgateway-dev/llmgateway-data" not in risky
