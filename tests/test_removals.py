"""Environments that take things away from the defaults.

The kustomize invariant (test_invariant.py, test_properties.py) checks every rendering
against the lowering; these tests add what the invariant alone does not say: that the
property generator really produces overlays that remove list items (so the invariant is
exercised on those paths), and, for the removal cases of tests/cases/compile, the rendered
values written down by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, settings

from compiler.kustomize import Kustomize
from compiler.load import load_spec, parse_spec
from compiler.plan import plan_tree
from compiler.render import render
from tests.conftest import CASES
from tests.helpers import load_documents, load_rendering, write_tree
from tests.test_properties import to_yaml, valid_specs

AUTH = "AUTH_SECRET"
HASH = "GATEWAY_API_KEY_HASH_SECRET"
MISTRAL = "LLM_MISTRAL_API_KEY"
OPENAI = "LLM_OPENAI_API_KEY"
ANTHROPIC = "LLM_ANTHROPIC_API_KEY"
# The container's env in the module's order (FACTS.md, "Environment variables"), with
# what issue 12 adds from UPSTREAM.md (the API-key hash secret, APP_URL, GATEWAY_URL,
# telemetry off, the drain), before any extra key of the auth Secret.
PLAIN_ENV = [
    "PGDATA",
    AUTH,
    HASH,
    "UI_URL",
    "APP_URL",
    "API_URL",
    "API_BACKEND_URL",
    "ADMIN_URL",
    "GATEWAY_URL",
    "ORIGIN_URLS",
    "COOKIE_DOMAIN",
    "PASSKEY_RP_ID",
    "ADMIN_EMAILS",
    "HOSTED",
    "PAID_MODE",
    "TELEMETRY_ACTIVE",
    "SHUTDOWN_GRACE_PERIOD_MS",
]


def walk(value: Any) -> list[Any]:
    """Every mapping and list inside ``value``, ``value`` included."""
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found += walk(item)
    elif isinstance(value, list):
        for item in value:
            found += walk(item)
    return found


def removals(tree: dict[str, bytes]) -> set[str]:
    """The kinds of removal the overlays of ``tree`` hold."""
    kinds: set[str] = set()
    for path, data in tree.items():
        if not path.startswith("overlays/") or not path.endswith(".yaml"):
            continue
        (document,) = load_documents(data.decode())
        if isinstance(document, list):  # a JSON 6902 patch
            at_index = [
                op
                for op in document
                if op["op"] == "remove" and op["path"].split("/")[-1].isdigit()
            ]
            if at_index:
                kinds.add("json-remove-list-item")
            if len(at_index) >= 2:
                kinds.add("json-remove-several-list-items")
            if any(op["op"] == "remove" and op not in at_index for op in document):
                kinds.add("json-remove-field")
            continue
        if document.get("$patch") == "delete":
            kinds.add("delete-resource")
        items = [
            item
            for node in walk({k: v for k, v in document.items() if k != "$patch"})
            if isinstance(node, list)
            for item in node
            if isinstance(item, dict) and item.get("$patch") == "delete"
        ]
        if items:
            kinds.add("delete-keyed-item")
        if len(items) >= 2:
            kinds.add("delete-several-keyed-items")
    return kinds


@pytest.mark.parametrize(
    "kind",
    [
        "delete-keyed-item",
        "delete-several-keyed-items",
        "json-remove-list-item",
        "json-remove-several-list-items",
        "json-remove-field",
        "delete-resource",
    ],
)
def test_generator_reaches_every_removal(kind: str) -> None:
    """The property generator makes specs whose overlays remove, so the invariant sees them."""

    def removes(spec_data: dict[str, Any]) -> bool:
        return kind in removals(plan_tree(parse_spec(to_yaml(spec_data), "spec.yaml")))

    found = find(
        valid_specs(),
        removes,
        settings=settings(
            max_examples=300,
            database=None,
            phases=[Phase.generate],  # the first example found is enough: no shrinking
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert removes(found)


def rendered(case: str, kustomize: Kustomize, tmp_path: Path) -> dict[str, list[Any]]:
    """Each environment's rendered resources for a compile case."""
    spec = load_spec(CASES / "compile" / case / "spec.yaml")
    write_tree(tmp_path, plan_tree(spec))
    names = [name for name, _ in spec.enabled()]
    texts = render(kustomize, [tmp_path / "overlays" / name for name in names])
    return {name: load_rendering(text) for name, text in zip(names, texts, strict=True)}


def one(documents: list[Any], kind: str) -> Any:
    (found,) = [d for d in documents if d["kind"] == kind]
    return found


def env_names(deployment: Any) -> list[str]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return [entry["name"] for entry in container["env"]]


def test_removed_secret_key_is_gone_from_the_rendered_deployment(
    kustomize: Kustomize, tmp_path: Path
) -> None:
    """The combination that once rendered a wrong manifest: defaults add a key, dev drops it."""
    dev = rendered("extra-secret-key-removed", kustomize, tmp_path)["dev"]
    assert env_names(one(dev, "Deployment")) == PLAIN_ENV


def test_external_secret_keys_removed_in_every_position(
    kustomize: Kustomize, tmp_path: Path
) -> None:
    environments = rendered("external-secret-keys-removed", kustomize, tmp_path)
    for name, kept in (("lab", [MISTRAL]), ("qa", [ANTHROPIC])):
        documents = environments[name]
        assert env_names(one(documents, "Deployment")) == [*PLAIN_ENV, *kept], name
        data = one(documents, "ExternalSecret")["spec"]["data"]
        assert data == [
            {"secretKey": key, "remoteRef": {"key": "llmgateway/prod", "property": key}}
            for key in [AUTH, HASH, *kept]
        ], name
