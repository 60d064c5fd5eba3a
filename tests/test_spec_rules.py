"""The spec's field rules and cross-field rules, in-process: each rule at both sides of its
boundary, with its exact message.

The boundaries are Kubernetes' and git's own: a DNS label has at most 63 characters and a
DNS name or object name at most 253 (RFC 1123, k8s.io/apimachinery/pkg/util/validation/
validation.go), an image name at most 255 (github.com/distribution/reference
NameTotalLengthMax), replicas are an int32, a branch name follows `git check-ref-format`.
The case folders (tests/cases/invalid, valid) check the same rules through the CLI with
file positions; these tests are fast enough for `nox -s mutation` to run per mutant.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from compiler import spec
from compiler.spec import (
    EnvironmentSettings,
    RuleViolation,
    Settings,
    Shutdown,
    Spec,
    check_rules,
)

MINIMAL: dict[str, Any] = {
    "domain": "llm.example.com",
    "ingress": {"tls": {"enabled": False}},
    "auth": {"oauth2ProxyHost": "auth.example.com"},
}


def settings(**fields: Any) -> Settings:
    """Settings from MINIMAL with ``fields`` (camelCase, as in the YAML) merged over it."""
    return Settings.model_validate({**MINIMAL, **fields})


def messages(found: list[RuleViolation]) -> list[tuple[tuple[str | int, ...], str, bool]]:
    return [(v.path, v.message, v.warning) for v in found]


def refused(check: Any, value: str) -> str:
    try:
        check(value)
    except ValueError as exc:
        return str(exc)
    pytest.fail(f"{value!r} accepted")


# --- field rules -------------------------------------------------------------------------

LABEL_MESSAGE = (
    "is not a DNS label: use at most 63 lowercase letters, digits and '-', starting and "
    "ending with a letter or digit"
)


@pytest.mark.parametrize("value", ["a", "a" * 63, "a-b", "0", "llmgateway"])
def test_dns_label_accepted(value: str) -> None:
    assert spec.check_dns_label(value) == value


@pytest.mark.parametrize("value", ["", "a" * 64, "-a", "a-", "A", "a.b", "a_b"])
def test_dns_label_refused(value: str) -> None:
    assert refused(spec.check_dns_label, value) == f"{value!r} {LABEL_MESSAGE}"


NAME_MESSAGE = (
    "is not a DNS name: use dot-separated labels of lowercase letters, digits and '-' "
    "(for example 'llm.example.com')"
)
# 253 characters: four labels of 61 and one of 5, joined by dots.
NAME_253 = ".".join(["a" * 61] * 4 + ["a" * 5])


@pytest.mark.parametrize("value", ["a", "llm.example.com", NAME_253, "a" * 63 + ".io"])
def test_dns_name_accepted(value: str) -> None:
    assert spec.check_dns_name(value) == value


@pytest.mark.parametrize(
    "value", ["", NAME_253 + "a", "a..b", "a.", "a" * 64 + ".io", "Llm.example.com", "a_b.io"]
)
def test_dns_name_refused(value: str) -> None:
    assert refused(spec.check_dns_name, value) == f"{value!r} {NAME_MESSAGE}"


def test_name_253_is_253_characters() -> None:
    assert len(NAME_253) == 253


@pytest.mark.parametrize("value", ["10Gi", "0.5Gi", "1.5Ti", "500M", "1k", "2E", "3Pi"])
def test_storage_quantity_accepted(value: str) -> None:
    assert spec.check_storage_quantity(value) == value


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("10GB", "; did you mean '10Gi'?"),
        ("10gb", "; did you mean '10Gi'?"),
        ("10gi", "; did you mean '10Gi'?"),
        ("10 Gi B", "; did you mean '10Gi'?"),  # spaces are ignored for the hint
        ("1.5mib", "; did you mean '1.5Mi'?"),
        ("10K", "; did you mean '10Ki'?"),  # Kubernetes' decimal kilo is "k"
        ("2tB", "; did you mean '2Ti'?"),
        ("10", ""),  # the module's rule wants a unit
        ("10Gx", ""),
        ("Gi", ""),
        ("1.Gi", ""),
        ("10m", "; did you mean '10Mi'?"),  # millibytes: not a storage size
        ("-1Gi", ""),
    ],
)
def test_storage_quantity_refused_with_a_hint(value: str, hint: str) -> None:
    assert refused(spec.check_storage_quantity, value) == (
        f"{value!r} is not a Kubernetes storage quantity such as '10Gi' or '500Mi'{hint}"
    )


@pytest.mark.parametrize("value", ["0Gi", "0.0Mi", "0k", "0E"])
def test_storage_of_nothing_refused(value: str) -> None:
    assert refused(spec.check_storage_quantity, value) == (
        f"{value!r} is no storage at all: request more than zero"
    )


@pytest.mark.parametrize(
    "value", ["100m", "1", "0.5", ".5", "512Mi", "2Gi", "1k", "10u", "7n", "1E", "2Ei"]
)
def test_resource_quantity_accepted(value: str) -> None:
    assert spec.check_resource_quantity(value) == value


@pytest.mark.parametrize("value", ["", "1.", "100x", "1K", "1e3", "m", " 1", "1Gib"])
def test_resource_quantity_refused(value: str) -> None:
    assert refused(spec.check_resource_quantity, value) == (
        f"{value!r} is not a Kubernetes quantity such as '100m', '1', '512Mi' or '2Gi'"
    )


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("1", Fraction(1)),
        ("1000m", Fraction(1)),
        ("100m", Fraction(1, 10)),
        ("5u", Fraction(5, 10**6)),
        ("7n", Fraction(7, 10**9)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(2**10)),
        ("1Mi", Fraction(2**20)),
        ("1Gi", Fraction(2**30)),
        ("10Gi", Fraction(10 * 2**30)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("0.5", Fraction(1, 2)),
    ],
)
def test_quantity_amount(value: str, amount: Fraction) -> None:
    assert spec.quantity(value) == amount


@pytest.mark.parametrize("value", ["1K", "1X", "Gi", "1Gi ", "", "1GiB"])
def test_quantity_refused(value: str) -> None:
    assert refused(spec.quantity, value) == f"{value!r} is not a quantity"


@pytest.mark.parametrize(
    "value", ["admin@example.com", "a.b+c@mail.example.org", "ADMIN@Example.COM", "x@localhost"]
)
def test_email_accepted(value: str) -> None:
    assert spec.check_email(value) == value


@pytest.mark.parametrize(
    "value",
    ["admin", "admin@", "@example.com", "a@b@example.com", "admin@exa_mple.com", "a b@x.io"],
)
def test_email_refused(value: str) -> None:
    assert refused(spec.check_email, value) == f"{value!r} is not an email address"


@pytest.mark.parametrize("value", ["A", "_", "LLM_OPENAI_API_KEY", "a1", "_9"])
def test_env_var_name_accepted(value: str) -> None:
    assert spec.check_env_var_name(value) == value


@pytest.mark.parametrize("value", ["", "1A", "A-B", "A B", "A.B"])
def test_env_var_name_refused(value: str) -> None:
    assert refused(spec.check_env_var_name, value) == (
        f"{value!r} is not an environment variable name"
    )


SUBDOMAIN_253 = ".".join(["a" * 100, "b" * 100, "c" * 51])


@pytest.mark.parametrize("value", ["nginx", "a", "fast.ssd-1", "a" * 253, SUBDOMAIN_253])
def test_dns_subdomain_accepted(value: str) -> None:
    assert spec.check_dns_subdomain(value) == value


@pytest.mark.parametrize("value", ["", "a" * 254, "-a", "a-", "a..b", "A", "a_b", ".a"])
def test_dns_subdomain_refused(value: str) -> None:
    assert refused(spec.check_dns_subdomain, value) == (
        f"{value!r} is not a Kubernetes object name: use at most 253 lowercase letters, "
        "digits, '-' and '.', starting and ending with a letter or digit"
    )


REPOSITORY_MESSAGE = (
    " is not an image repository such as 'ghcr.io/theopenco/llmgateway-unified' "
    "(lowercase path, no tag)"
)


@pytest.mark.parametrize(
    "value",
    [
        "ghcr.io/theopenco/llmgateway-unified",
        "registry.local:5000/llmgateway",
        "llmgateway",
        "a" * 255,
        "Registry.Example.com/a__b/c.d",
    ],
)
def test_image_repository_accepted(value: str) -> None:
    assert spec.check_image_repository(value) == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("ghcr.io/theopenco/llmgateway-unified:latest", None),
        ("upper/Case", None),
        ("", None),
        ("a" * 256, repr("a" * 256)[:77] + "..."),
        ("a/", None),
    ],
)
def test_image_repository_refused(value: str, shown: str | None) -> None:
    assert refused(spec.check_image_repository, value) == (shown or repr(value)) + (
        REPOSITORY_MESSAGE
    )


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (78, repr("b" * 78)),  # 80 characters with the quotes: shown whole
        (79, repr("b" * 79)[:77] + "..."),  # 81: cut to 77 and an ellipsis
    ],
)
def test_short_text_at_80_characters(length: int, shown: str) -> None:
    assert spec.short_text("b" * length) == shown
    assert len(shown) == 80


@pytest.mark.parametrize(
    "value", ["main", "feature/x", "release-1.0", "a@b", "a.b", "deploy/prod.v2", "x.lockx"]
)
def test_git_branch_accepted(value: str) -> None:
    assert spec.check_git_branch(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "@",
        "/main",
        "-main",
        "main/",
        "main.",
        "main.lock",
        "a/.hidden",
        "a.lock/b",
        ".main",
        "a..b",
        "a@{1}",
        "a//b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "a\x7fb",
        "a\tb",
    ],
)
def test_git_branch_refused(value: str) -> None:
    assert refused(spec.check_git_branch, value) == f"{value!r} is not a git branch name"


@pytest.mark.parametrize("value", ["a", "a b", "store/llmgateway", "é"])
def test_text_accepted(value: str) -> None:
    assert spec.check_text(value) == value


@pytest.mark.parametrize("value", [" a", "a ", "a\nb", "a\x00", "\t", "a\u200b"])
def test_text_refused(value: str) -> None:
    assert refused(spec.check_text, value) == (
        f"{value!r} has control characters or leading or trailing spaces"
    )


@pytest.mark.parametrize("value", ["llmgateway", "_", "a" * 63, "db_1", "_x9"])
def test_postgres_name_accepted(value: str) -> None:
    assert spec.check_postgres_name(value) == value


@pytest.mark.parametrize("value", ["", "a" * 64, "1db", "Db", "db-1", "db name"])
def test_postgres_name_refused(value: str) -> None:
    assert refused(spec.check_postgres_name, value) == (
        f"{value!r} is not a PostgreSQL name: use at most 63 lowercase letters, digits and "
        "'_', starting with a letter or '_'"
    )


def test_schema_versions_are_the_installed_releases_in_order() -> None:
    versions = spec.schema_versions()
    assert "1.32" in versions  # the default kubernetesVersion
    pairs = [tuple(int(part) for part in v.split(".")) for v in versions]
    assert pairs == sorted(set(pairs))
    assert all(len(v.split(".")) == 2 for v in versions)


def test_kubernetes_version_refused_names_the_supported_range() -> None:
    versions = spec.schema_versions()
    assert spec.check_kubernetes_version("1.32") == "1.32"
    assert refused(spec.check_kubernetes_version, "1.01") == (
        "no Kubernetes API schemas for '1.01' in the installed kubernetes-validate "
        f"(python -m compiler lint needs them): supported versions from {versions[0]} to "
        f"{versions[-1]}"
    )


def test_kubernetes_version_without_schemas(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A kubernetes-validate without its schema folders supports no version at all."""
    (tmp_path / "kubernetes_validate").mkdir()
    (tmp_path / "kubernetes_validate" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "kubernetes_validate", raising=False)
    spec.schema_versions.cache_clear()
    try:
        assert spec.schema_versions() == ()
        assert refused(spec.check_kubernetes_version, "1.32") == (
            "no Kubernetes API schemas for '1.32' in the installed kubernetes-validate "
            "(python -m compiler lint needs them): supported versions none are installed"
        )
    finally:
        spec.schema_versions.cache_clear()


# --- defaults and derived values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "drain"),
    [(120, 105), (31, 16), (30, 15), (29, 14), (28, 14), (20, 10), (2, 1), (1, 0)],
)
def test_default_drain(grace: int, drain: int) -> None:
    """15 s below the grace period, at least half of it (rounded down)."""
    assert Shutdown(termination_grace_period_seconds=grace).drain == drain


@pytest.mark.parametrize("drain", [0, 7, 119])
def test_explicit_drain(drain: int) -> None:
    assert Shutdown(drain_seconds=drain).drain == drain


@pytest.mark.parametrize(
    ("replicas", "access", "expected"),
    [
        (1, None, "ReadWriteOnce"),
        (2, None, "ReadWriteMany"),
        (1, "ReadWriteMany", "ReadWriteMany"),
        (3, "ReadWriteOnce", "ReadWriteOnce"),
    ],
)
def test_access_mode_in_force(replicas: int, access: str | None, expected: str) -> None:
    fields: dict[str, Any] = {"replicas": replicas, "database": {"mode": "external"}}
    if access:
        fields["storage"] = {"accessMode": access}
    assert settings(**fields).access_mode == expected


def test_scheme_follows_tls() -> None:
    assert settings().scheme == "http"
    tls = {"tls": {"issuer": {"name": "letsencrypt-prod"}}}
    assert settings(ingress=tls).scheme == "https"


SPLIT: dict[str, Any] = {"topology": "split", "database": {"mode": "cloudnative-pg"}}


def test_endpoints_and_hosts() -> None:
    unified = settings(services={"docs": {}, "code": {}})
    assert not unified.split
    assert unified.endpoints == ("ui", "api", "gateway", "admin")
    assert unified.hosts == {
        "ui": "llm.example.com",
        "api": "api.llm.example.com",
        "gateway": "gateway.llm.example.com",
        "admin": "admin.llm.example.com",
    }
    split = settings(**SPLIT)
    assert split.split
    assert split.endpoints == ("ui", "api", "gateway", "admin")
    every = settings(**SPLIT, services={"code": {}, "docs": {}, "playground": {}})
    assert every.endpoints == ("ui", "api", "gateway", "admin", "playground", "docs", "code")
    assert every.hosts == {
        "ui": "llm.example.com",
        "api": "api.llm.example.com",
        "gateway": "gateway.llm.example.com",
        "admin": "admin.llm.example.com",
        "playground": "playground.llm.example.com",
        "docs": "docs.llm.example.com",
        "code": "code.llm.example.com",
    }
    docs_only = settings(**SPLIT, services={"docs": {}, "gateway": {"enabled": False}})
    assert docs_only.endpoints == ("ui", "api", "gateway", "admin", "docs")


def test_enabled_services_in_upstream_order() -> None:
    services = settings(services={"code": {}, "ui": {"enabled": False}}).services
    assert [name for name, _ in services.enabled()] == ["api", "gateway", "admin", "worker", "code"]
    assert services.get("code") is services.code
    assert [name for name, _ in settings().services.enabled()] == [
        "api",
        "gateway",
        "ui",
        "admin",
        "worker",
    ]


@pytest.mark.parametrize(
    ("fields", "instances"),
    [
        ({}, 1),
        ({"production": True}, 3),
        ({"production": True, "database": {"mode": "cloudnative-pg", "instances": 1}}, 1),
        ({"database": {"mode": "cloudnative-pg", "instances": 5}}, 5),
    ],
)
def test_database_instances(fields: dict[str, Any], instances: int) -> None:
    merged = {"database": {"mode": "cloudnative-pg"}, **fields}
    assert settings(topology="split", **merged).database_instances == instances


REQUIRED = ["AUTH_SECRET", "GATEWAY_API_KEY_HASH_SECRET"]


@pytest.mark.parametrize(
    ("fields", "data_keys"),
    [
        ({}, []),  # unified: the image runs its own PostgreSQL and Redis
        ({"database": {"mode": "external", "secretName": "db"}}, []),
        (SPLIT, ["REDIS_PASSWORD"]),
        (
            {"topology": "split", "database": {"mode": "postgres"}},
            ["POSTGRES_PASSWORD", "REDIS_PASSWORD"],
        ),
        (
            {
                "topology": "split",
                "database": {"mode": "postgres"},
                "redis": {"mode": "external", "secretName": "redis"},
            },
            ["POSTGRES_PASSWORD"],
        ),
        (
            {
                "topology": "split",
                "database": {"mode": "external", "secretName": "db"},
                "redis": {"mode": "external", "secretName": "redis"},
            },
            [],
        ),
    ],
)
def test_secret_keys(fields: dict[str, Any], data_keys: list[str]) -> None:
    extra = {"authSecret": {"extraKeys": ["LLM_OPENAI_API_KEY"]}}
    found = settings(**fields, **extra)
    assert found.data_password_keys == data_keys
    assert found.required_secret_keys == [*REQUIRED, *data_keys]
    assert found.secret_keys == [*REQUIRED, *data_keys, "LLM_OPENAI_API_KEY"]
    assert found.auth_secret.keys == [*REQUIRED, "LLM_OPENAI_API_KEY"]


def test_spec_enabled_keeps_the_spec_order() -> None:
    def environment(enabled: bool) -> EnvironmentSettings:
        return EnvironmentSettings.model_validate({**MINIMAL, "enabled": enabled})

    loaded = Spec(
        path="spec.yaml",
        defaults=settings(),
        environments={
            "prod": environment(True),
            "dev": environment(False),
            "alpha": environment(True),
        },
    )
    assert [name for name, _ in loaded.enabled()] == ["prod", "alpha"]


def test_a_field_rule_reaches_pydantic() -> None:
    """The checks run as validators of their fields (one example; the cases cover the rest)."""
    with pytest.raises(ValidationError) as raised:
        settings(namespace="Bad")
    assert raised.value.errors()[0]["msg"] == f"Value error, 'Bad' {LABEL_MESSAGE}"


# --- cross-field rules -------------------------------------------------------------------


def test_minimal_settings_break_no_rule() -> None:
    assert check_rules(settings()) == []


TLS_MESSAGE = (
    "TLS is enabled but no issuer is set: add ingress.tls.issuer (kind and name of a "
    "cert-manager issuer) or set ingress.tls.enabled: false"
)


def test_tls_needs_an_issuer() -> None:
    assert messages(check_rules(settings(ingress={}))) == [
        (("ingress", "tls", "issuer"), TLS_MESSAGE, False)
    ]
    issuer = {"tls": {"issuer": {"name": "letsencrypt-prod"}}}
    assert check_rules(settings(ingress=issuer)) == []


def rwo_message(replicas: int) -> str:
    return (
        f"ReadWriteOnce storage cannot serve {replicas} replicas: pods on other nodes cannot "
        "mount it; use ReadWriteMany (or leave accessMode unset) or set replicas: 1"
    )


ACKNOWLEDGED = {"acknowledgeSharedDataDirectory": True}


@pytest.mark.parametrize(
    ("replicas", "access", "database", "expected"),
    [
        (1, "ReadWriteOnce", {}, []),
        (1, None, {}, []),
        (2, "ReadWriteOnce", ACKNOWLEDGED, [(("storage", "accessMode"), rwo_message(2))]),
        (3, "ReadWriteOnce", ACKNOWLEDGED, [(("storage", "accessMode"), rwo_message(3))]),
        (2, "ReadWriteMany", ACKNOWLEDGED, []),
        (2, None, ACKNOWLEDGED, []),
        (2, None, {}, [(("replicas",), spec.shared_data_directory_message(2))]),
        (
            2,
            "ReadWriteOnce",
            {},
            [
                (("storage", "accessMode"), rwo_message(2)),
                (("replicas",), spec.shared_data_directory_message(2)),
            ],
        ),
        (2, "ReadWriteOnce", {"mode": "external", "secretName": "db"}, []),
        (1, None, {"acknowledgeSharedDataDirectory": False}, []),
    ],
)
def test_unified_replica_rules(
    replicas: int,
    access: str | None,
    database: dict[str, Any],
    expected: list[tuple[tuple[str, ...], str]],
) -> None:
    fields: dict[str, Any] = {"replicas": replicas, "database": database}
    if access:
        fields["storage"] = {"accessMode": access}
    assert messages(check_rules(settings(**fields))) == [(p, m, False) for p, m in expected]


def test_shared_data_directory_message() -> None:
    assert spec.shared_data_directory_message(4) == (
        "4 replicas of the unified image each start their own PostgreSQL on the one data "
        "directory: the image's start script removes postmaster.pid whenever its own server "
        "does not answer (always, in a new pod), so it deletes the running server's lock and "
        "starts a second server on the same files, and on a fresh volume every pod runs "
        "initdb at once; each pod also runs its own Redis, so caches, rate limits and queues "
        "diverge between pods. Use topology: split with database.mode: cloudnative-pg, or "
        "replicas: 1; only to accept the corruption risk knowingly, set "
        "database.acknowledgeSharedDataDirectory: true"
    )


EMBEDDED_IN_SPLIT = (
    "the embedded database runs inside the unified image, which the split topology does "
    "not use: choose database.mode: cloudnative-pg (highly available, needs the "
    "CloudNativePG operator), postgres (one StatefulSet) or external (with "
    "database.secretName)"
)


def split_only(mode: str) -> str:
    return (
        f"database.mode: {mode} needs topology: split; the unified image always starts its "
        "own PostgreSQL and Redis (use mode: embedded or external with the unified topology)"
    )


@pytest.mark.parametrize(
    ("topology", "mode", "expected"),
    [
        ("unified", "embedded", []),
        ("unified", "postgres", [split_only("postgres")]),
        ("unified", "cloudnative-pg", [split_only("cloudnative-pg")]),
        ("split", "embedded", [EMBEDDED_IN_SPLIT]),
        ("split", "postgres", []),
        ("split", "cloudnative-pg", []),
    ],
)
def test_database_mode_and_topology(topology: str, mode: str, expected: list[str]) -> None:
    found = check_rules(settings(topology=topology, database={"mode": mode}))
    assert messages(found) == [(("database", "mode"), m, False) for m in expected]


SPLIT_RWM = (
    "the split topology gives each PostgreSQL instance its own ReadWriteOnce claim (no app "
    "pod mounts a volume): remove storage.accessMode or set ReadWriteOnce"
)


@pytest.mark.parametrize(
    ("access", "expected"),
    [("ReadWriteMany", [SPLIT_RWM]), ("ReadWriteOnce", []), (None, [])],
)
def test_split_access_mode(access: str | None, expected: list[str]) -> None:
    storage = {"accessMode": access} if access else {}
    found = check_rules(settings(**SPLIT, storage=storage))
    assert messages(found) == [(("storage", "accessMode"), m, False) for m in expected]
    # The unified topology takes ReadWriteMany for its one volume.
    assert check_rules(settings(storage=storage)) == []


EXTERNAL_REDIS = (
    "an external Redis needs redis.secretName: the Secret providing REDIS_HOST, REDIS_PORT "
    "and REDIS_PASSWORD"
)


def test_external_redis_needs_a_secret() -> None:
    found = check_rules(settings(**SPLIT, redis={"mode": "external"}))
    assert messages(found) == [(("redis", "secretName"), EXTERNAL_REDIS, False)]
    named = {"mode": "external", "secretName": "redis"}
    assert check_rules(settings(**SPLIT, redis=named)) == []
    assert check_rules(settings(**SPLIT, redis={"mode": "in-cluster"})) == []
    # The unified topology reads Redis from the image or the database Secret.
    assert check_rules(settings(redis={"mode": "external"})) == []


@pytest.mark.parametrize("service", spec.SERVICE_NAMES)
def test_autoscaling_bounds(service: str) -> None:
    def scaled(low: int, high: int) -> Settings:
        scaling = {"minReplicas": low, "maxReplicas": high}
        return settings(**SPLIT, services={service: {"autoscaling": scaling}})

    assert check_rules(scaled(3, 3)) == []
    assert check_rules(scaled(2, 5)) == []
    assert messages(check_rules(scaled(4, 3))) == [
        (
            ("services", service, "autoscaling", "minReplicas"),
            "minReplicas 4 is more than maxReplicas 3, which Kubernetes refuses",
            False,
        )
    ]


EXTERNAL_DATABASE = (
    "an external database needs database.secretName: the Secret providing DATABASE_URL, "
    "REDIS_HOST, REDIS_PORT and REDIS_PASSWORD"
)


@pytest.mark.parametrize("topology", ["unified", "split"])
def test_external_database_needs_a_secret(topology: str) -> None:
    found = check_rules(settings(topology=topology, database={"mode": "external"}))
    assert messages(found) == [(("database", "secretName"), EXTERNAL_DATABASE, False)]
    named = {"mode": "external", "secretName": "db"}
    assert check_rules(settings(topology=topology, database=named)) == []


EXTERNAL_SECRETS = (
    "source external-secrets needs authSecret.externalSecrets: the store (kind and name) and "
    "the remoteKey to read"
)


def test_external_secrets_need_a_store() -> None:
    found = check_rules(settings(authSecret={"source": "external-secrets"}))
    assert messages(found) == [(("authSecret", "externalSecrets"), EXTERNAL_SECRETS, False)]
    store = {"store": {"name": "vault"}, "remoteKey": "llmgateway"}
    given = {"source": "external-secrets", "externalSecrets": store}
    assert check_rules(settings(authSecret=given)) == []
    assert check_rules(settings(authSecret={"source": "generator"})) == []


def twice(keys: str, hint: str = "") -> tuple[tuple[str, ...], str, bool]:
    return (
        ("authSecret", "extraKeys"),
        f"key {keys} is listed twice; each Secret key becomes one environment variable{hint}",
        False,
    )


def required_already(keys: str) -> str:
    return (
        f"; {keys} is a required key already (authSecret.key, authSecret.apiKeyHashKey, or a "
        "data service's password): remove it from extraKeys"
    )


SHADOW_END = (
    " would set the same environment variable as a required key; remove it from extraKeys "
    "(or name the required key so with authSecret.key / authSecret.apiKeyHashKey)"
)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"authSecret": {"extraKeys": ["A", "B"]}}, []),
        ({"authSecret": {"extraKeys": ["B", "A", "B"]}}, [twice("B")]),
        ({"authSecret": {"extraKeys": ["B", "A", "B", "A", "B"]}}, [twice("A, B")]),
        (
            {"authSecret": {"key": "SESSION", "extraKeys": ["SESSION"]}},
            [twice("SESSION", required_already("SESSION"))],
        ),
        (
            {
                "authSecret": {
                    "key": "S1",
                    "apiKeyHashKey": "S2",
                    "extraKeys": ["S2", "S1", "X", "X"],
                }
            },
            [twice("S1, S2, X", required_already("S1, S2"))],
        ),
        (
            {**SPLIT, "authSecret": {"extraKeys": ["REDIS_PASSWORD"]}},
            [twice("REDIS_PASSWORD", required_already("REDIS_PASSWORD"))],
        ),
        # unified: REDIS_PASSWORD is no data password, so an ordinary extra key
        ({"authSecret": {"extraKeys": ["REDIS_PASSWORD"]}}, []),
        (
            {"authSecret": {"key": "SESSION", "extraKeys": ["AUTH_SECRET"]}},
            [(("authSecret", "extraKeys"), "extra key AUTH_SECRET" + SHADOW_END, False)],
        ),
        (
            {
                "authSecret": {
                    "key": "S1",
                    "apiKeyHashKey": "S2",
                    "extraKeys": ["GATEWAY_API_KEY_HASH_SECRET", "AUTH_SECRET"],
                }
            },
            [
                (
                    ("authSecret", "extraKeys"),
                    "extra key AUTH_SECRET, GATEWAY_API_KEY_HASH_SECRET" + SHADOW_END,
                    False,
                )
            ],
        ),
        # the required key itself named AUTH_SECRET (the default): listed twice, no shadow
        (
            {"authSecret": {"extraKeys": ["AUTH_SECRET"]}},
            [twice("AUTH_SECRET", required_already("AUTH_SECRET"))],
        ),
    ],
)
def test_secret_key_rules(
    fields: dict[str, Any], expected: list[tuple[tuple[str, ...], str, bool]]
) -> None:
    assert messages(check_rules(settings(**fields))) == expected


def drain_message(drain: int, grace: int) -> str:
    return (
        f"the gateway's drain ({drain} s) must be below the pod's grace period ({grace} s), or "
        "Kubernetes kills the pod mid-drain; lower shutdown.drainSeconds or raise "
        "shutdown.terminationGracePeriodSeconds"
    )


@pytest.mark.parametrize(
    ("grace", "drain", "expected"),
    [
        (60, 59, []),
        (60, 60, [drain_message(60, 60)]),
        (60, 61, [drain_message(61, 60)]),
        (1, None, []),  # the default drain of a 1 s grace period: 0 s
        (1, 0, []),
    ],
)
def test_drain_below_grace(grace: int, drain: int | None, expected: list[str]) -> None:
    shutdown: dict[str, Any] = {"terminationGracePeriodSeconds": grace}
    if drain is not None:
        shutdown["drainSeconds"] = drain
    found = check_rules(settings(shutdown=shutdown))
    assert messages(found) == [(("shutdown", "drainSeconds"), m, False) for m in expected]


def request_message(kind: str, request: str, limit: str) -> tuple[tuple[str, ...], str, bool]:
    return (
        ("resources", "requests", kind),
        f"the {kind} request {request} is more than its limit {limit}, which Kubernetes "
        f"refuses: lower it or raise resources.limits.{kind}",
        False,
    )


@pytest.mark.parametrize(
    ("requests", "limits", "expected"),
    [
        (("1", "1Gi"), ("1000m", "1024Mi"), []),  # equal amounts in other units
        (("1001m", "1Gi"), ("1", "1Gi"), [request_message("cpu", "1001m", "1")]),
        (("1", "1Gi"), ("1", "1G"), [request_message("memory", "1Gi", "1G")]),
        (
            ("2", "3Gi"),
            ("1", "2Gi"),
            [request_message("cpu", "2", "1"), request_message("memory", "3Gi", "2Gi")],
        ),
    ],
)
def test_requests_within_limits(
    requests: tuple[str, str], limits: tuple[str, str], expected: list[Any]
) -> None:
    resources = {
        "requests": {"cpu": requests[0], "memory": requests[1]},
        "limits": {"cpu": limits[0], "memory": limits[1]},
    }
    assert messages(check_rules(settings(resources=resources))) == expected


def domain_of(length: int) -> str:
    """A DNS name of exactly ``length`` characters."""
    labels, rest = [], length
    while rest > 63:
        labels.append("a" * 61)
        rest -= 62
    labels.append("b" * rest)
    name = ".".join(labels)
    assert len(name) == length
    return name


def host_message(endpoint: str, prefix: str, length: int) -> tuple[tuple[str, ...], str, bool]:
    return (
        ("domain",),
        f"the {endpoint} host '{prefix}<domain>' is {length} characters, more than the 253 of "
        f"a host name: use a domain of at most {253 - len(prefix)} characters",
        False,
    )


@pytest.mark.parametrize(
    ("fields", "length", "expected"),
    [
        # gateway. is the longest prefix of the unified topology (8 characters)
        ({}, 245, []),
        ({}, 246, [host_message("gateway", "gateway.", 254)]),
        # playground. (11) when the split topology serves it
        ({**SPLIT, "services": {"playground": {}}}, 242, []),
        (
            {**SPLIT, "services": {"playground": {}}},
            243,
            [host_message("playground", "playground.", 254)],
        ),
        ({**SPLIT, "services": {"docs": {}}}, 246, [host_message("gateway", "gateway.", 254)]),
    ],
)
def test_derived_host_length(fields: dict[str, Any], length: int, expected: list[Any]) -> None:
    found = check_rules(settings(**fields, domain=domain_of(length)))
    assert messages(found) == expected


def oauth_message(names: str, plural: bool) -> tuple[tuple[str, ...], str, bool]:
    return (
        ("auth", "oauth2ProxyHost"),
        f"no oauth2-proxy host to protect the {names} endpoint{'s' if plural else ''}: set "
        "auth.oauth2ProxyHost, or list the endpoints to serve without login under "
        "auth.publicEndpoints",
        False,
    )


@pytest.mark.parametrize(
    ("fields", "public", "expected"),
    [
        ({}, [], [oauth_message("ui, api, admin", True)]),
        ({}, ["ui", "api"], [oauth_message("admin", False)]),
        ({}, ["ui"], [oauth_message("api, admin", True)]),
        ({}, ["admin", "api", "ui"], []),
        # docs exists only in the split topology, where it is protected too
        ({"services": {"docs": {}}}, ["admin", "api", "ui"], []),
        (
            {**SPLIT, "services": {"docs": {}}},
            ["admin", "api", "ui"],
            [oauth_message("docs", False)],
        ),
        (
            {**SPLIT, "services": {"docs": {}, "code": {}, "playground": {}}},
            ["ui"],
            [oauth_message("api, admin, playground, docs, code", True)],
        ),
    ],
)
def test_oauth2_proxy_host_for_protected_endpoints(
    fields: dict[str, Any], public: list[str], expected: list[Any]
) -> None:
    found = check_rules(
        Settings.model_validate({**MINIMAL, **fields, "auth": {"publicEndpoints": public}})
    )
    assert messages(found) == expected


LATEST = (
    "production runs the moving tag 'latest': pods may start different versions; pin a "
    "release, for example image.tag: v1.2.3 (see the image's releases)"
)


@pytest.mark.parametrize(
    ("production", "tag", "expected"),
    [
        (True, "latest", [(("image", "tag"), LATEST, True)]),
        (True, "v1.2.3", []),
        (False, "latest", []),
    ],
)
def test_production_latest_is_a_warning(production: bool, tag: str, expected: list[Any]) -> None:
    found = check_rules(settings(production=production, image={"tag": tag}))
    assert messages(found) == expected


def test_rules_are_reported_in_order() -> None:
    """Every rule at once, in check_rules' order (the CLI sorts by position later)."""
    found = check_rules(
        Settings.model_validate(
            {
                "domain": domain_of(246),
                "production": True,
                "replicas": 2,
                "storage": {"accessMode": "ReadWriteOnce"},
                "database": {"mode": "external"},
                "authSecret": {"source": "external-secrets", "extraKeys": ["A", "A"]},
                "shutdown": {"terminationGracePeriodSeconds": 10, "drainSeconds": 10},
                "resources": {
                    "requests": {"cpu": "2", "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
            }
        )
    )
    assert [v.path for v in found] == [
        ("ingress", "tls", "issuer"),
        ("database", "secretName"),
        ("authSecret", "externalSecrets"),
        ("authSecret", "extraKeys"),
        ("shutdown", "drainSeconds"),
        ("resources", "requests", "cpu"),
        ("domain",),
        ("auth", "oauth2ProxyHost"),
        ("image", "tag"),
    ]
    assert [v.warning for v in found] == [False] * 8 + [True]
