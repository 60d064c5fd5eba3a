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
from compiler.load import parse_spec
from compiler.lower import lower_environment
from compiler.plan import plan_tree
from compiler.write import apply_changes, diff_tree
from tests.helpers import by_identity, load_documents

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20"))
NAMES = ["dev", "staging", "prod", "qa", "team-a", "eu1"]
ENDPOINTS = ["ui", "api", "admin"]


@st.composite
def overrides(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """One environment's overrides, valid whatever the defaults are."""
    env: dict[str, Any] = {"namespace": f"llm-{index}"}
    # Environments share no host (the first may keep the defaults' domain).
    if index > 0 or draw(st.booleans()):
        parent = draw(st.sampled_from(["a.example.com", "llm.example.org", "x.io"]))
        env["domain"] = f"env{index}.{parent}"
    replicas = draw(st.integers(min_value=1, max_value=5))
    env["replicas"] = replicas
    external = draw(st.booleans())
    if external:
        env["database"] = {"mode": "external", "secretName": "llm-db"}
    else:
        env["database"] = {"mode": "embedded", "acknowledgeSharedDataDirectory": replicas > 1}
        if replicas == 1 and draw(st.booleans()):
            env["storage"] = {
                "accessMode": draw(st.sampled_from(["ReadWriteOnce", "ReadWriteMany"]))
            }
        elif replicas > 1 and draw(st.booleans()):
            env["storage"] = {"accessMode": "ReadWriteMany", "size": "20Gi"}
    tls = draw(st.booleans())
    env["ingress"] = {"tls": {"enabled": tls, "issuer": {"name": "letsencrypt"}}}
    public = draw(st.lists(st.sampled_from(ENDPOINTS), unique=True))
    env["auth"] = {"publicEndpoints": public, "oauth2ProxyHost": "auth.example.com"}
    if set(public) == set(ENDPOINTS) and draw(st.booleans()):
        env["auth"]["oauth2ProxyHost"] = None
    source = draw(st.sampled_from(["existing", "external-secrets", "generator"]))
    secret: dict[str, Any] = {"source": source}
    if draw(st.booleans()):
        secret["extraKeys"] = ["LLM_OPENAI_API_KEY"]
    if source == "external-secrets":
        secret["externalSecrets"] = {"store": {"name": "vault"}, "remoteKey": f"llm/{index}"}
    env["authSecret"] = secret
    if draw(st.booleans()):
        env["image"] = {"tag": draw(st.sampled_from(["latest", "v1.2.3", "2025.01"]))}
    env["production"] = draw(st.booleans())
    if draw(st.booleans()):
        env["networkPolicy"] = {
            "enabled": draw(st.booleans()),
            "restrictEgress": draw(st.booleans()),
        }
    env["enabled"] = draw(st.booleans()) if index > 0 else True
    return env


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    defaults: dict[str, Any] = {
        "domain": "llm.example.com",
        "ingress": {"tls": {"enabled": draw(st.booleans()), "issuer": {"name": "letsencrypt"}}},
        "auth": {"oauth2ProxyHost": "auth.example.com"},
        "storage": {"className": draw(st.sampled_from(["longhorn", "standard"]))},
    }
    environments = {name: draw(overrides(index)) for index, name in enumerate(names)}
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
        documents = [d for d in load_documents(text) if d["kind"] != "Secret"]
        if env.auth_secret.source == "generator":
            hashed = next(d for d in load_documents(text) if d["kind"] == "Secret")["metadata"][
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
