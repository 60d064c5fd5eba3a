"""The invariant: kustomize's rendering of each overlay is exactly its environment's lowering.

Checked with the real kustomize for every environment of the committed spec and of every
valid test case, and for base/ against the defaults.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from deepdiff import DeepDiff

from compiler.kustomize import Kustomize
from compiler.load import load_spec
from compiler.lower import lower_environment
from compiler.plan import plan_tree
from compiler.render import PLACEHOLDER, render
from compiler.rendered import load_rendered
from compiler.spec import Settings
from tests.conftest import case_id, valid_case_specs
from tests.helpers import by_identity, load_documents, write_tree


@pytest.mark.parametrize("spec_path", valid_case_specs(), ids=case_id)
def test_rendered_overlays_equal_lowering(
    spec_path: Path, tmp_path: Path, kustomize: Kustomize
) -> None:
    spec = load_spec(spec_path)
    write_tree(tmp_path, plan_tree(spec))
    environments: list[tuple[str, Settings, str | None]] = [("base", spec.defaults, None)]
    environments += [(f"overlays/{name}", env, name) for name, env in spec.enabled()]
    rendered = render(kustomize, [tmp_path / d for d, _, _ in environments])
    for (directory, settings, instance), text in zip(environments, rendered, strict=True):
        documents = load_documents(text)
        # The compiler reads renderings with PyYAML's C loader: the same data, every time.
        assert load_rendered(text) == documents, f"{directory}: the two YAML readers differ"
        lowered = lower_environment(settings, instance)
        if instance is not None and settings.auth_secret.source == "generator":
            documents = without_generated_secret(documents, settings, lowered)
        got = by_identity(documents)
        want = by_identity(lowered)
        assert sorted(got) == sorted(want), f"{directory}: different resources"
        for key, resource in want.items():
            if same(resource, got[key]):
                continue  # DeepDiff would find nothing either; it only explains a difference
            difference = DeepDiff(resource, got[key])
            assert not difference, f"{directory} {key}: {difference.pretty()}"


def same(a: Any, b: Any) -> bool:
    """Equal values of the very same types all the way down (1 is not 1.0 or True), as
    strict as DeepDiff's comparison and much cheaper."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def secret_references(node: Any, name: str) -> int:
    """How many secretKeyRef entries in ``node`` name the Secret ``name``."""
    if isinstance(node, list):
        return sum(secret_references(item, name) for item in node)
    if not isinstance(node, dict):
        return 0
    own = int((node.get("secretKeyRef") or {}).get("name") == name)
    return own + sum(secret_references(value, name) for value in node.values())


def without_generated_secret(
    documents: list[Any], settings: Settings, lowered: list[Any]
) -> list[Any]:
    """The rendering less the generator's Secret, its hashed name put back to the plain one.

    The lowering has no Secret (it never knows a value); kustomize makes it from
    secret.env, with a hash suffix that every reference of the lowering follows (one per
    key in the unified Deployment; each split container's own).
    """
    name = settings.auth_secret.name
    (secret,) = [d for d in documents if d["kind"] == "Secret"]
    hashed = secret["metadata"]["name"]
    assert hashed.startswith(f"{name}-")
    assert hashed != name
    # Every key of the Secret, the data services' passwords included.
    assert sorted(secret["data"]) == sorted(settings.secret_keys)
    assert {base64.b64decode(v).decode() for v in secret["data"].values()} == {PLACEHOLDER}
    rest = json.dumps([d for d in documents if d is not secret])
    references = secret_references(lowered, name)
    assert references >= len(settings.secret_keys)
    assert rest.count(f'"{hashed}"') == references, "references not renamed"
    rest = rest.replace(f'"{hashed}"', f'"{name}"')
    result: list[Any] = json.loads(rest)
    return result


def test_disabled_environment_has_no_overlay() -> None:
    for spec_path in valid_case_specs():
        spec = load_spec(spec_path)
        tree = plan_tree(spec)
        for name, env in spec.environments.items():
            has_overlay = f"overlays/{name}/kustomization.yaml" in tree
            assert has_overlay == env.enabled, f"{spec_path}: {name}"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"a": 1}, {"a": 1.0}),
        ({"a": 1}, {"a": True}),
        ({"a": "1"}, {"a": 1}),
        ({"a": None}, {"a": ""}),
        ({"a": [1, 2]}, {"a": [2, 1]}),
        ({"a": [1]}, {"a": [1, 1]}),
        ({"a": {}}, {"a": []}),
        ({"a": 1}, {"a": 1, "b": None}),
    ],
)
def test_same_finds_a_difference_exactly_when_deepdiff_does(a: Any, b: Any) -> None:
    """The invariant's fast path skips DeepDiff only where DeepDiff finds nothing."""
    assert same(a, b) == (not DeepDiff(a, b))
