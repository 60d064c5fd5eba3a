"""The planner's rules that no spec reaches today, checked against their definitions.

The kustomize invariant checks every overlay the spec can produce; these rules matter for
shapes it does not produce yet (a key with `~`, a Service port that changes, duplicate
keys), so they are checked here against what they implement: RFC 6901 for JSON pointers,
the Kubernetes API's patchMergeKey of each list, and kustomize's labels transformer.
"""

from __future__ import annotations

from typing import Any

import pytest

from compiler.plan import (
    NeedsJsonPatch,
    OverlayFields,
    apply_fields,
    keyed_list_patch,
    merge_key,
    pointer,
)


def test_json_pointer_escapes_as_rfc_6901() -> None:
    # RFC 6901 section 3: '~' is written '~0' and '/' is written '~1' (in that order).
    assert pointer(["metadata", "annotations", "checkov.io/skip1"]) == (
        "/metadata/annotations/checkov.io~1skip1"
    )
    assert pointer(["a~b", "m~1n", 0]) == "/a~0b/m~01n/0"
    assert pointer([]) == ""


@pytest.mark.parametrize(
    ("kind", "path", "key"),
    [
        # patchMergeKey in the Kubernetes API: ServiceSpec.ports by port, PodSpec lists by
        # name, Container.volumeMounts by mountPath, Container.ports by containerPort.
        ("Service", ("spec", "ports"), "port"),
        ("Service", ("spec", "selector"), None),
        ("Deployment", ("spec", "ports"), None),
        ("Deployment", ("spec", "template", "spec", "containers"), "name"),
        ("Deployment", ("spec", "template", "spec", "initContainers"), "name"),
        ("Deployment", ("spec", "template", "spec", "containers", "env"), "name"),
        ("Deployment", ("spec", "template", "spec", "containers", "volumeMounts"), "mountPath"),
        ("Deployment", ("spec", "template", "spec", "containers", "ports"), "containerPort"),
        ("Deployment", ("spec", "containers"), None),  # not in a pod template
        ("Ingress", ("spec", "rules"), None),
        ("Ingress", ("spec", "template", "rules"), None),
    ],
)
def test_merge_keys_are_the_apis(kind: str, path: tuple[str, ...], key: str | None) -> None:
    assert merge_key(kind, path) == key


def test_duplicate_keys_fall_back_to_a_json_patch() -> None:
    """A strategic merge cannot say which of two items with one key it means."""
    path = ("spec", "template", "spec", "containers", "env")
    one = {"name": "A", "value": "1"}
    with pytest.raises(NeedsJsonPatch):
        keyed_list_patch([one], [one, dict(one)], "name", "Deployment", path)
    with pytest.raises(NeedsJsonPatch):
        keyed_list_patch([one, dict(one)], [one], "name", "Deployment", path)


def test_new_keyed_item_is_patched_in_whole_at_its_place() -> None:
    path = ("spec", "template", "spec", "containers", "env")
    a, b, c = ({"name": n, "value": n.lower()} for n in "ABC")
    # C comes in before B: kustomize puts the patch's items first, then the items it does
    # not name, so the patch names A by key and C whole, and B keeps its place after them.
    assert keyed_list_patch([a, b], [a, c, b], "name", "Deployment", path) == [{"name": "A"}, c]
    # C comes first: the patch is C alone, A and B follow as they were.
    assert keyed_list_patch([a, b], [c, a, b], "name", "Deployment", path) == [c]
    # B goes: only its deletion; A and C are an untouched tail.
    assert keyed_list_patch([a, b, c], [a, c], "name", "Deployment", path) == [
        {"name": "B", "$patch": "delete"}
    ]


def test_instance_label_on_resources_and_templates_without_labels() -> None:
    """kustomize's labels field (includeTemplates) adds the label even where none was."""
    resources: list[Any] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "llmgateway", "namespace": "x"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": []}}},
        },
    ]
    out = apply_fields(resources, OverlayFields(instance="dev"))
    assert out[0]["metadata"]["labels"] == {"app.kubernetes.io/instance": "dev"}
    assert out[1]["metadata"]["labels"] == {"app.kubernetes.io/instance": "dev"}
    assert out[1]["spec"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/instance": "dev"}
    assert "labels" not in resources[0]["metadata"]  # the input is left alone
