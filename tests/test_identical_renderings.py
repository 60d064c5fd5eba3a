"""`diff` compares only renderings that differ: a rendering byte-identical on both sides
has no change by construction, and it is not parsed nor compared.

Proved on kustomize's real renderings of the environments of cases of both topologies, a
Secret generator and every field: the full
comparison of an identical pair finds nothing (so skipping it loses nothing), and a
one-byte difference in a value is still found, exactly as the full comparison finds it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler.compare import field_changes, identical
from compiler.kustomize import Kustomize
from compiler.load import load_spec
from compiler.plan import plan_tree
from compiler.render import render
from compiler.rendered import load_rendered
from compiler.review import diff_environments, diff_renderings
from tests.conftest import CASES, ROOT
from tests.helpers import write_tree

SPECS = [
    ROOT / "spec" / "llmgateway.yaml",
    *(
        CASES / "valid" / name / "spec.yaml"
        for name in (
            "every-field",
            "secret-generator",
            "split-cloudnative-pg-redis-in-cluster",
            "split-postgres-statefulset",
            "split-services",
        )
    ),
]

# `key: value` lines whose value a one-byte edit changes in meaning (a hashed name's
# suffix is compared without it, a Secret's values are redacted: both left out).
VALUE_LINE = re.compile(r"^ *(?:- )?(?!name:)[A-Za-z]+: ([A-Za-z0-9.]+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def renderings(tmp_path_factory: pytest.TempPathFactory, kustomize: Kustomize) -> dict[str, str]:
    """kustomize's rendering of every environment of these specs, by `case/env`."""
    root = tmp_path_factory.mktemp("cases")
    overlays: dict[str, Path] = {}
    for index, spec_path in enumerate(SPECS):
        spec = load_spec(spec_path)
        write_tree(root / str(index), plan_tree(spec))
        for name, _ in spec.enabled():
            overlays[f"{spec_path.parent.name}/{name}"] = root / str(index) / "overlays" / name
    texts = render(kustomize, list(overlays.values()))
    return dict(zip(overlays, texts, strict=True))


def one_byte_edits(text: str, count: int = 8) -> list[str]:
    """Copies of a rendering, each with the last character of one value changed (about
    ``count`` values spread over the documents, outside Secrets), each one byte apart."""
    places: list[int] = []
    offset = 0
    for document in text.split("\n---\n"):
        if "\nkind: Secret\n" not in f"\n{document}\n":
            places += [offset + m.end(1) - 1 for m in VALUE_LINE.finditer(document)]
        offset += len(document) + len("\n---\n")
    edits: list[str] = []
    for at in places[:: max(1, len(places) // count)]:
        old = text[at]
        new = "1" if old == "0" else ("0" if old.isdigit() else ("b" if old == "a" else "a"))
        edits.append(text[:at] + new + text[at + 1 :])
    return edits


def test_an_identical_pair_has_no_change(renderings: dict[str, str]) -> None:
    assert len(renderings) >= 10
    for name, text in renderings.items():
        full = diff_environments("base", {name: load_rendered(text)}, {name: load_rendered(text)})
        (env,) = full.environments
        assert (env.status, env.changes, env.risks) == ("unchanged", [], []), name
        assert diff_renderings("base", {name: text}, {name: text}) == full


def test_a_one_byte_difference_is_still_found(renderings: dict[str, str]) -> None:
    checked = 0
    for name, text in renderings.items():
        for edited in one_byte_edits(text):
            assert len(edited) == len(text)
            assert sum(a != b for a, b in zip(text, edited, strict=True)) == 1
            review = diff_renderings("base", {name: text}, {name: edited})
            (env,) = review.environments
            assert env.status == "changed", (name, edited)
            assert env.changes
            full = diff_environments(
                "base", {name: load_rendered(text)}, {name: load_rendered(edited)}
            )
            assert review == full
            checked += 1
    assert checked >= 60


def test_environments_on_one_side_only_are_added_and_removed(renderings: dict[str, str]) -> None:
    text = renderings["spec/prod"]
    review = diff_renderings("base", {"old": text, "both": text}, {"new": text, "both": text})
    assert [(e.name, e.status) for e in review.environments] == [
        ("both", "unchanged"),
        ("new", "added"),
        ("old", "removed"),
    ]
    parsed = load_rendered(text)
    assert review == diff_environments(
        "base", {"old": parsed, "both": parsed}, {"new": parsed, "both": parsed}
    )
    (removed,) = [e for e in review.environments if e.name == "old"]
    assert "environment old is removed from the spec" in [r.what for r in removed.risks]


@pytest.mark.parametrize(
    ("old", "new"),
    [(1, True), (0, False), (1, 1.0), ("1", 1), (None, ""), ([], {}), ([1, 2], [2, 1])],
    ids=repr,
)
def test_values_equal_in_python_but_not_the_same_are_changes(old: object, new: object) -> None:
    # Resources equal to each other are not compared (no deepdiff): never these.
    assert not identical({"a": old}, {"a": new})
    assert field_changes({"a": old}, {"a": new})


def test_the_same_document_in_another_key_order_has_no_change() -> None:
    old = {"a": 1, "b": {"c": [1, {"d": None, "e": 1.5}]}}
    new = {"b": {"c": [1, {"e": 1.5, "d": None}]}, "a": 1}
    assert identical(old, new)
    assert field_changes(old, new) == []
