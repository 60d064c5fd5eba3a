"""Property-based tests: valid specs across the option space compile, are stable and obey
the kustomize invariant; mutated specs fail only with located spec errors.

Example counts stay CI-friendly (HYPOTHESIS_EXAMPLES overrides them for a longer run).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.emit import dump
from compiler.errors import SpecError
from compiler.fingerprint import SECRET_ENV
from compiler.kustomize import Kustomize, find_kustomize
from compiler.load import deep_merge, parse_spec
from compiler.lower import lower_environment
from compiler.plan import plan_tree
from compiler.write import apply_changes, diff_tree
from tests.helpers import by_identity, load_rendering

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20"))
NAMES = ["dev", "staging", "prod", "qa", "team-a", "eu1"]
ENDPOINTS = ["ui", "api", "admin"]
SECRET_KEYS = [
    "LLM_OPENAI_API_KEY",
    "LLM_ANTHROPIC_API_KEY",
    "LLM_MISTRAL_API_KEY",
]
EMAILS = ["ops@example.com", "admin@example.org", "sre@example.net"]
RESOURCES = {
    "requests": {"cpu": "250m", "memory": "1Gi"},
    "limits": {"cpu": "2", "memory": "4Gi"},
}


def sublist(draw: st.DrawFn, items: list[Any]) -> list[Any]:
    """Some of ``items``, order kept: any item may go, in any position, several at once."""
    return [item for item in items if draw(st.booleans())]


@st.composite
def defaults_settings(draw: st.DrawFn) -> dict[str, Any]:
    """Defaults that carry what environments then take away or shrink."""
    replicas = draw(st.integers(min_value=1, max_value=4))
    defaults: dict[str, Any] = {
        "domain": "llm.example.com",
        "replicas": replicas,
        "ingress": {"tls": {"enabled": draw(st.booleans()), "issuer": {"name": "letsencrypt"}}},
        "auth": {
            "oauth2ProxyHost": "auth.example.com",
            "publicEndpoints": sublist(draw, ENDPOINTS),
        },
        "storage": {
            "className": draw(st.sampled_from(["longhorn", "standard"])),
            "size": draw(st.sampled_from(["10Gi", "20Gi"])),
        },
        "adminEmails": sublist(draw, EMAILS),
    }
    if draw(st.booleans()):
        defaults["database"] = {"mode": "external", "secretName": "llm-db"}
    else:
        defaults["database"] = {"acknowledgeSharedDataDirectory": replicas > 1}
        if replicas == 1 and draw(st.booleans()):
            defaults["storage"]["accessMode"] = "ReadWriteOnce"
    source = draw(st.sampled_from(["existing", "external-secrets", "generator"]))
    defaults["authSecret"] = {"source": source, "extraKeys": sublist(draw, SECRET_KEYS)}
    if source == "external-secrets":
        defaults["authSecret"]["externalSecrets"] = {
            "store": {"name": "vault"},
            "remoteKey": "llm/defaults",
        }
    if draw(st.booleans()):
        defaults["networkPolicy"] = {"enabled": True, "restrictEgress": draw(st.booleans())}
    if draw(st.booleans()):
        defaults["resources"] = RESOURCES
    return defaults


@st.composite
def overrides(draw: st.DrawFn, defaults: dict[str, Any], index: int) -> dict[str, Any]:
    """One environment's overrides of ``defaults``, made valid once merged over them."""
    env: dict[str, Any] = {"namespace": f"llm-{index}"}
    # Environments share no host (the first may keep the defaults' domain).
    if index > 0 or draw(st.booleans()):
        parent = draw(st.sampled_from(["a.example.com", "llm.example.org", "x.io"]))
        env["domain"] = f"env{index}.{parent}"
    if draw(st.booleans()):
        env["replicas"] = draw(st.integers(min_value=1, max_value=5))
    if draw(st.booleans()):
        env["database"] = draw(
            st.sampled_from([{"mode": "embedded"}, {"mode": "external", "secretName": "llm-db"}])
        )
    if draw(st.booleans()):
        env["storage"] = {"size": draw(st.sampled_from(["5Gi", "10Gi", "20Gi"]))}
    if draw(st.booleans()):
        env["storage"] = {
            **env.get("storage", {}),
            "accessMode": draw(st.sampled_from(["ReadWriteOnce", "ReadWriteMany"])),
        }
    if draw(st.booleans()):
        env["ingress"] = {"tls": {"enabled": draw(st.booleans())}}
    if draw(st.booleans()):
        public = defaults["auth"]["publicEndpoints"]
        if draw(st.booleans()):
            env["auth"] = {"publicEndpoints": sublist(draw, public)}
        else:
            env["auth"] = {
                "publicEndpoints": draw(st.lists(st.sampled_from(ENDPOINTS), unique=True))
            }
    secret: dict[str, Any] = {}
    if draw(st.booleans()):
        secret["source"] = draw(st.sampled_from(["existing", "external-secrets", "generator"]))
    if draw(st.booleans()):
        # Take keys away (any of them, several at once), sometimes add one at the end.
        secret["extraKeys"] = sublist(draw, defaults["authSecret"]["extraKeys"])
        if draw(st.booleans()):
            secret["extraKeys"].append("LLM_GOOGLE_API_KEY")
    if secret:
        env["authSecret"] = secret
    if draw(st.booleans()):
        env["adminEmails"] = sublist(draw, defaults["adminEmails"])
    if draw(st.booleans()):
        env["image"] = {"tag": draw(st.sampled_from(["latest", "v1.2.3", "2025.01"]))}
    env["production"] = draw(st.booleans())
    if draw(st.booleans()):
        env["networkPolicy"] = {
            "enabled": draw(st.booleans()),
            "restrictEgress": draw(st.booleans()),
        }
    if draw(st.booleans()):
        env["resources"] = draw(
            st.sampled_from(
                [
                    {"requests": {"cpu": "100m", "memory": "512Mi"}},
                    {"limits": {"cpu": "1000m", "memory": "2Gi"}},
                    RESOURCES,
                ]
            )
        )
    make_valid(draw, defaults, env, index)
    env["enabled"] = draw(st.booleans()) if index > 0 else True
    return env


def make_valid(draw: st.DrawFn, defaults: dict[str, Any], env: dict[str, Any], index: int) -> None:
    """Add to ``env`` what its merge over ``defaults`` needs to pass the spec rules."""
    merged = deep_merge(defaults, env)
    replicas = merged["replicas"]
    database = merged.get("database", {})
    if database.get("mode", "embedded") == "embedded" and replicas > 1:
        env.setdefault("database", {})["acknowledgeSharedDataDirectory"] = True
        if merged["storage"].get("accessMode") == "ReadWriteOnce":
            env.setdefault("storage", {})["accessMode"] = "ReadWriteMany"
    secret = merged["authSecret"]
    if secret["source"] == "external-secrets" and "externalSecrets" not in secret:
        env["authSecret"]["externalSecrets"] = {
            "store": {"name": "vault"},
            "remoteKey": f"llm/{index}",
        }
    if set(merged["auth"]["publicEndpoints"]) == set(ENDPOINTS) and draw(st.booleans()):
        env.setdefault("auth", {})["oauth2ProxyHost"] = None


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    defaults = draw(defaults_settings())
    environments = {name: draw(overrides(defaults, index)) for index, name in enumerate(names)}
    return {"defaults": defaults, "environments": environments}


def to_yaml(spec: dict[str, Any]) -> bytes:
    return dump(spec).encode()


KUSTOMIZE: Kustomize | None = None


def kustomize() -> Kustomize:
    global KUSTOMIZE
    if KUSTOMIZE is None:
        KUSTOMIZE = find_kustomize()
    return KUSTOMIZE


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec_data=valid_specs())
def test_valid_specs_compile_stably_and_render_as_lowered(
    spec_data: dict[str, Any], tmp_path_factory: Any
) -> None:
    spec = parse_spec(to_yaml(spec_data), "spec.yaml")
    tree = plan_tree(spec)
    assert plan_tree(parse_spec(to_yaml(spec_data), "spec.yaml")) == tree
    root: Path = tmp_path_factory.mktemp("prop")
    changes = diff_tree(root, tree)
    apply_changes(root, tree, changes)
    again = diff_tree(root, tree)
    assert again.created == again.updated == again.deleted == []
    enabled = list(spec.enabled())
    for name, env in enabled:
        if env.auth_secret.source == "generator":
            (root / "overlays" / name / SECRET_ENV).write_text(
                "".join(f"{key}=x\n" for key in env.auth_secret.keys)
            )
    rendered = kustomize().build_many([root / "overlays" / name for name, _ in enabled])
    for (name, env), text in zip(enabled, rendered, strict=True):
        documents = [d for d in load_rendering(text) if d["kind"] != "Secret"]
        if env.auth_secret.source == "generator":
            hashed = next(d for d in load_rendering(text) if d["kind"] == "Secret")["metadata"][
                "name"
            ]
            documents = [rename(d, hashed, env.auth_secret.name) for d in documents]
        assert by_identity(documents) == by_identity(lower_environment(env, name)), name


def rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [rename(v, old, new) for v in value]
    return new if value == old else value


BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "Bad_Name", "../x", "10GB", "not an email", "latest", "a" * 300]),
    st.just([]),
    st.just({}),
    st.just({"unknownKey": 1}),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(spec_data=valid_specs(), data=st.data())
def test_mutated_specs_fail_only_with_located_spec_errors(
    spec_data: dict[str, Any], data: st.DataObject
) -> None:
    mutated = copy.deepcopy(spec_data)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths(mutated)))
        parent: Any = mutated
        for part in path[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["replcas", "extra", "Domain", "tls"]))] = 1
        else:
            parent[path[-1]] = data.draw(BAD_VALUES)
    problems: list[Any] = []
    try:
        parse_spec(to_yaml(mutated), "spec.yaml")
    except SpecError as error:  # the only outcome allowed besides success
        problems = list(error.problems) or [None]
    for problem in problems:
        assert problem is not None, "a SpecError without problems"
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.message
        assert problem.render().startswith("spec.yaml:")
