"""The split topology's data services, walked over what kustomize really renders.

The expected values are written here from ../shared/UPSTREAM.md ("Built-in data stores":
upstream's chart) and CloudNativePG 1.30.0's documentation (h13-research §3), not read
from the compiler's own tables, so a wrong fact there fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.lint import validate_schemas
from compiler.load import load_spec
from compiler.lower import lower_environment
from compiler.lower.data import connection_env
from compiler.plan import plan_tree
from compiler.render import render
from compiler.spec import Settings
from tests.conftest import CASES
from tests.helpers import load_rendering, run_cli, write_tree

VALID = CASES / "valid"
CNPG_CASE = VALID / "split-cloudnative-pg-redis-in-cluster"
POSTGRES_CASE = VALID / "split-postgres-statefulset"
EXTERNAL_CASE = VALID / "split-external-database-external-redis"
AUTH = "llmgateway-auth"

# What each data service must be, by fact (UPSTREAM.md "Built-in data stores").
POSTGRES_FACTS: dict[str, Any] = {
    "image": "postgres:17-alpine",
    "port": 5432,
    "PGDATA": "/var/lib/postgresql/data/pgdata",
    "mount": "/var/lib/postgresql/data",
    "readiness": (5, 10, 5),
    "liveness": (30, 30, 5),
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
    "uid": 70,  # docker-library/postgres 17/alpine Dockerfile: adduser -u 70
    "gid": 70,
}
REDIS_FACTS: dict[str, Any] = {
    "image": "redis:8-alpine",
    "port": 6379,
    "mount": "/data",
    "readiness": (5, 10, 5),
    "liveness": (15, 30, 5),
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
    "uid": 999,  # docker-library/redis alpine Dockerfile: adduser -u 999, group 1000
    "gid": 1000,
}
# CloudNativePG: the operator's app Secret `<cluster>-app`, key `uri`
# (pkg/specs/secrets.go:44-95); PostgreSQL 17 as upstream's chart and the unified image.
CNPG_APP_SECRET = ("llmgateway-postgres-app", "uri")
CNPG_INSTANCES = {"prod": 3, "staging": 1}  # 3 in production, else 1


def rendered(case: Path, tmp_path: Path, kustomize: Kustomize) -> dict[str, list[Any]]:
    """Each enabled environment's documents, as kustomize builds its overlay."""
    spec = load_spec(case / "spec.yaml")
    write_tree(tmp_path, plan_tree(spec))
    names = [name for name, _ in spec.enabled()]
    texts = render(kustomize, [tmp_path / "overlays" / name for name in names])
    return {name: load_rendering(text) for name, text in zip(names, texts, strict=True)}


def settings_of(case: Path, environment: str) -> Settings:
    return load_spec(case / "spec.yaml").environments[environment]


def one(documents: list[Any], kind: str, name: str) -> Any:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def kinds(documents: list[Any], *wanted: str) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in documents if d["kind"] in wanted]


def env_of(container: Any) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def timings(probe: Any) -> tuple[int, int, int]:
    return (probe["initialDelaySeconds"], probe["periodSeconds"], probe["timeoutSeconds"])


def auth_reference(reference: Any, key: str) -> None:
    """A secretKeyRef to the auth Secret (its generator's hashed name included)."""
    ref = reference["secretKeyRef"]
    assert ref["key"] == key
    assert re.fullmatch(rf"{AUTH}(-[a-z0-9]+)?", ref["name"]), ref["name"]


def check_stateful_set(
    documents: list[Any], name: str, facts: dict[str, Any], claim_size: str, class_name: Any
) -> Any:
    """What every data StatefulSet shares; returns its one container."""
    stateful_set = one(documents, "StatefulSet", name)
    spec = stateful_set["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 1
    assert spec["serviceName"] == name
    labels = spec["template"]["metadata"]["labels"]
    assert labels["app"] == name  # never app: llmgateway (the app pods' label)
    assert all(labels[k] == v for k, v in spec["selector"]["matchLabels"].items())
    (container,) = pod["containers"]
    assert container["image"] == facts["image"]
    assert [p["containerPort"] for p in container["ports"]] == [facts["port"]]
    assert timings(container["readinessProbe"]) == facts["readiness"]
    assert timings(container["livenessProbe"]) == facts["liveness"]
    assert container["resources"] == {"requests": facts["requests"], "limits": facts["limits"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "data"]
    assert mount["mountPath"] == facts["mount"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == claim_size
    assert claim["spec"].get("storageClassName") == class_name
    # Non-root, as the image's own user, without privileges.
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (security["runAsUser"], security["runAsGroup"]) == (facts["uid"], facts["gid"])
    assert security["fsGroup"] == facts["gid"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    # Its Service: same name, the port, the pods.
    service = one(documents, "Service", name)
    assert service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [facts["port"]]
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    return container


def test_cloudnative_pg_cluster_and_redis(tmp_path: Path, kustomize: Kustomize) -> None:
    for environment, documents in rendered(CNPG_CASE, tmp_path, kustomize).items():
        cluster = one(documents, "Cluster", "llmgateway-postgres")
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        spec = cluster["spec"]
        instances = CNPG_INSTANCES[environment]
        assert spec["instances"] == instances
        # The operator's PDBs block every drain of a single instance's node.
        assert spec["enablePDB"] is (instances > 1)
        assert spec["storage"] == {"size": "20Gi", "storageClass": "fast-ssd"}
        assert spec["bootstrap"] == {"initdb": {"database": "llmgateway", "owner": "llmgateway"}}
        assert re.fullmatch(r"ghcr\.io/cloudnative-pg/postgresql:17[.-].*", spec["imageName"])
        affinity = spec["affinity"]
        assert affinity["enablePodAntiAffinity"] is True
        assert affinity["topologyKey"] == "kubernetes.io/hostname"
        assert affinity["podAntiAffinityType"] in ("preferred", "required")
        assert spec["resources"]["limits"]["memory"] == POSTGRES_FACTS["limits"]["memory"]
        # No PostgreSQL StatefulSet beside the Cluster; Redis in the cluster.
        assert kinds(documents, "StatefulSet") == [("StatefulSet", "llmgateway-redis")]
        check_redis(documents, "4Gi", "fast-ssd")
        # The apps read DATABASE_URL from the operator's app Secret.
        database_url = env_of({"env": connection_env(settings_of(CNPG_CASE, environment))})
        reference = database_url["DATABASE_URL"]["secretKeyRef"]
        assert (reference["name"], reference["key"]) == CNPG_APP_SECRET


def check_redis(documents: list[Any], size: str, class_name: Any) -> None:
    container = check_stateful_set(documents, "llmgateway-redis", REDIS_FACTS, size, class_name)
    args = container["args"]
    assert args[:2] == ["--appendonly", "yes"]
    assert args[2:] == ["--requirepass", "$(REDIS_PASSWORD)"]
    env = env_of(container)
    auth_reference(env["REDIS_PASSWORD"], "REDIS_PASSWORD")
    auth_reference(env["REDISCLI_AUTH"], "REDIS_PASSWORD")
    for probe in ("readinessProbe", "livenessProbe"):
        command = " ".join(container[probe]["exec"]["command"])
        # Kubernetes never expands $(VAR) of a secret-sourced variable in an exec probe.
        assert "$(" not in command
        assert "redis-cli ping" in command


def test_postgres_stateful_set_and_redis(tmp_path: Path, kustomize: Kustomize) -> None:
    documents = rendered(POSTGRES_CASE, tmp_path, kustomize)["prod"]
    assert kinds(documents, "Cluster") == []
    container = check_stateful_set(documents, "llmgateway-postgres", POSTGRES_FACTS, "10Gi", None)
    env = env_of(container)
    assert env["POSTGRES_USER"] == env["POSTGRES_DB"] == "gateway"  # database.name
    assert env["PGDATA"] == POSTGRES_FACTS["PGDATA"]
    assert env["PGDATA"].startswith(POSTGRES_FACTS["mount"] + "/")  # not the mount root
    auth_reference(env["POSTGRES_PASSWORD"], "POSTGRES_PASSWORD")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == [
            "pg_isready",
            "-U",
            "gateway",
            "-d",
            "gateway",
        ]
    check_redis(documents, "2Gi", None)
    # The apps' DATABASE_URL names this user, Service, port and database.
    app_env = env_of({"env": connection_env(settings_of(POSTGRES_CASE, "prod"))})
    assert app_env["DATABASE_URL"] == (
        "postgres://gateway:$(POSTGRES_PASSWORD)@llmgateway-postgres:5432/gateway"
    )
    assert app_env["REDIS_HOST"] == "llmgateway-redis"
    assert app_env["REDIS_PORT"] == "6379"


def test_external_data_services_deploy_nothing(tmp_path: Path, kustomize: Kustomize) -> None:
    documents = rendered(EXTERNAL_CASE, tmp_path, kustomize)["prod"]
    assert kinds(documents, "StatefulSet", "Cluster") == []
    names = {d["metadata"]["name"] for d in documents}
    assert "llmgateway-postgres" not in names
    assert "llmgateway-redis" not in names
    references = {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in connection_env(settings_of(EXTERNAL_CASE, "prod"))
    }
    assert references == {
        "DATABASE_URL": ("llmgateway-database", "DATABASE_URL"),
        "REDIS_HOST": ("llmgateway-redis", "REDIS_HOST"),
        "REDIS_PORT": ("llmgateway-redis", "REDIS_PORT"),
        "REDIS_PASSWORD": ("llmgateway-redis", "REDIS_PASSWORD"),
    }


def test_unified_topology_has_no_data_services(tmp_path: Path, kustomize: Kustomize) -> None:
    """redis.mode defaults to in-cluster, which means nothing in the unified topology."""
    documents = rendered(VALID / "minimal", tmp_path, kustomize)["prod"]
    assert kinds(documents, "StatefulSet", "Cluster") == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (CNPG_CASE, ["REDIS_PASSWORD"]),
        (POSTGRES_CASE, ["POSTGRES_PASSWORD", "REDIS_PASSWORD"]),
        (EXTERNAL_CASE, []),
    ],
    ids=["cloudnative-pg", "postgres", "external"],
)
def test_secret_generate_makes_the_data_passwords(
    case: Path, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET", *expected):
        monkeypatch.delenv(f"LLMGATEWAY_{key}", raising=False)
    made = run_cli(
        "-C", str(case), "secret", "--spec", "spec.yaml", "--env", "prod", "--generate",
        "--format", "env",
    )  # fmt: skip
    assert made.code == 0, made.err
    values = dict(line.split("=", 1) for line in made.out.splitlines())
    assert sorted(values) == sorted(["AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET", *expected])
    for key in expected:
        assert re.fullmatch(r"[0-9a-f]{64}", values[key]), key  # hex: safe in a URL
    assert len(set(values.values())) == len(values)  # each its own value


def test_secret_env_example_lists_the_data_passwords() -> None:
    tree = plan_tree(load_spec(POSTGRES_CASE / "spec.yaml"))
    example = tree["overlays/prod/secret.env.example"].decode()
    assert "POSTGRES_PASSWORD=\n" in example
    assert "REDIS_PASSWORD=\n" in example
    required = next(line for line in example.splitlines() if line.startswith("# Required"))
    assert "POSTGRES_PASSWORD" in required.split()
    assert "REDIS_PASSWORD" in required.split()


UNSAFE = "pass/w@rd:with%stuff?#"  # characters a URL's user information must escape


def test_secret_refuses_a_postgres_password_a_url_cannot_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMGATEWAY_POSTGRES_PASSWORD", UNSAFE)
    monkeypatch.delenv("LLMGATEWAY_AUTH_SECRET", raising=False)
    result = run_cli(
        "-C", str(POSTGRES_CASE), "secret", "--spec", "spec.yaml", "--env", "prod",
        "--generate", "--format", "env",
    )  # fmt: skip
    assert result.code == 2
    assert result.out == ""
    assert UNSAFE not in result.err
    assert result.err == (
        "error: LLMGATEWAY_POSTGRES_PASSWORD holds characters a URL must escape (only "
        "letters, digits and - . _ ~): the apps' DATABASE_URL embeds it as it is; use a hex "
        "value (secret --generate)\n"
    )


def test_secret_env_refuses_a_postgres_password_a_url_cannot_hold(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "spec").mkdir(parents=True)
    (project / "spec" / "llmgateway.yaml").write_text((POSTGRES_CASE / "spec.yaml").read_text())
    assert run_cli("-C", str(project), "compile").code == 0
    hexa = "0123456789abcdef" * 4
    (project / "overlays" / "prod" / "secret.env").write_text(
        f"AUTH_SECRET={hexa}\nGATEWAY_API_KEY_HASH_SECRET={hexa[::-1]}\n"
        f"POSTGRES_PASSWORD={UNSAFE}\nREDIS_PASSWORD={hexa}\n"
    )
    result = run_cli("-C", str(project), "build", "overlays/prod")
    assert result.code == 2
    assert result.out == ""
    assert UNSAFE not in result.err
    assert result.err == (
        "error: overlays/prod/secret.env:3: POSTGRES_PASSWORD holds characters a URL must "
        "escape (only letters, digits and - . _ ~): the apps' DATABASE_URL embeds it as it "
        "is; use a hex value (secret --generate)\n"
    )
    # A hex password builds.
    (project / "overlays" / "prod" / "secret.env").write_text(
        f"AUTH_SECRET={hexa}\nGATEWAY_API_KEY_HASH_SECRET={hexa[::-1]}\n"
        f"POSTGRES_PASSWORD={hexa[:32]}\nREDIS_PASSWORD={hexa}\n"
    )
    assert run_cli("-C", str(project), "build", "overlays/prod").code == 0


CNPG_INSTALL = (
    "kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/"
    "cloudnative-pg/release-1.30/releases/cnpg-1.30.0.yaml"
)


def test_doctor_names_the_cloudnative_pg_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli("-C", str(CNPG_CASE), "doctor", "--spec", "spec.yaml")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[2] == (
        "prerequisite: the CloudNativePG operator 1.30.0 (database.mode: cloudnative-pg in "
        "staging, prod); the compiler never installs it. Install it once per cluster:"
    )
    assert lines[3:] == [
        f"  {CNPG_INSTALL}",
        "  kubectl rollout status deployment -n cnpg-system cnpg-controller-manager",
    ]


@pytest.mark.parametrize("case", [POSTGRES_CASE, EXTERNAL_CASE], ids=["postgres", "external"])
def test_doctor_names_no_operator_without_cloudnative_pg(case: Path) -> None:
    result = run_cli("-C", str(case), "doctor", "--spec", "spec.yaml")
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 2
    assert "CloudNativePG" not in result.out


def test_readme_names_the_operator_and_its_install() -> None:
    readme = (CASES.parent.parent / "README.md").read_text()
    assert CNPG_INSTALL in readme
    assert "CloudNativePG operator" in readme


def test_validate_names_the_data_services(monkeypatch: pytest.MonkeyPatch) -> None:
    cnpg = run_cli("-C", str(CNPG_CASE), "validate", "--spec", "spec.yaml")
    assert cnpg.code == 0, cnpg.err
    # The split topology's line (tests/test_split.py): the services, then the data services.
    lines = cnpg.out.splitlines()
    (staging,) = [line for line in lines if line.startswith("  staging: ")]
    assert staging.startswith("  staging: namespace llmgateway-staging, split topology: ")
    assert "; CloudNativePG database of 1 instance, " in staging
    (prod,) = [line for line in lines if line.startswith("  prod: ")]
    assert prod.startswith("  prod: namespace llmgateway-prod, split topology: ")
    assert "; CloudNativePG database of 3 instances, " in prod
    postgres = run_cli("-C", str(POSTGRES_CASE), "validate", "--spec", "spec.yaml")
    assert "; PostgreSQL StatefulSet, " in postgres.out


def test_cluster_is_validated_offline_against_its_schema() -> None:
    """The Cluster's CRD schema (CloudNativePG 1.30.0) is read without a cluster."""
    settings = settings_of(CNPG_CASE, "prod")
    resources = lower_environment(settings, "prod")
    assert validate_schemas("prod", resources, settings.kubernetes_version) == []
    cluster = next(r for r in resources if r["kind"] == "Cluster")
    cluster["spec"]["instances"] = "three"
    cluster["spec"]["bootstrap"]["initdb"]["databse"] = "llmgateway"
    assert sorted(f.render() for f in validate_schemas("prod", resources, "1.32")) == [
        "prod: error: Cluster/llmgateway-prod/llmgateway-postgres: spec.bootstrap.initdb."
        "databse: unknown field 'databse'",
        "prod: error: Cluster/llmgateway-prod/llmgateway-postgres: spec.instances: 'three' "
        "is not of type 'integer'",
    ]
