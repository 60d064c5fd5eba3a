"""The planner's rules that no spec reaches today, checked against their definitions.

The kustomize invariant checks every overlay the spec can produce; these rules matter for
shapes it does not produce yet (a key with `~`, a Service port that changes, duplicate
keys), so they are checked here against what they implement: RFC 6901 for JSON pointers,
the Kubernetes API's patchMergeKey of each list, and kustomize's labels transformer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.compare import load_documents
from compiler.emit import dump
from compiler.kustomize import Kustomize
from compiler.plan import (
    NeedsJsonPatch,
    OverlayFields,
    apply_fields,
    json_patch,
    keyed_list_patch,
    merge_key,
    patch_for,
    pointer,
)
from tests.test_lowering_sides import DEFAULTS


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


def thing(**fields: Any) -> dict[str, Any]:
    """A resource of a kind kustomize has no schema for: any field may hold any shape."""
    return {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "c"}, **fields}


def applied(before: dict[str, Any], patch: Any, tmp_path: Path, kustomize: Kustomize) -> Any:
    """What kustomize makes of ``before`` with the planner's ``patch`` (either format)."""
    (tmp_path / "base.yaml").write_text(dump(before))
    (tmp_path / "patch.yaml").write_text(dump(patch))
    target = {"kind": before["kind"], "name": before["metadata"]["name"]}
    (tmp_path / "kustomization.yaml").write_text(
        dump(
            {
                "resources": ["base.yaml"],
                "patches": [{"path": "patch.yaml", "target": target}],
            }
        )
    )
    (rendered,) = load_documents(kustomize.build(tmp_path))
    return rendered


@pytest.mark.parametrize(
    ("before", "after", "patch"),
    [
        # a field that changes shape: kustomize's strategic merge fails on it ("wrong node
        # kind"), a JSON 6902 replace does it
        (
            thing(spec={"a": {"b": "1"}}),
            thing(spec={"a": "x"}),
            [{"op": "replace", "path": "/spec/a", "value": "x"}],
        ),
        (
            thing(spec={"a": [{"x": "1"}]}),
            thing(spec={"a": "s"}),
            [{"op": "replace", "path": "/spec/a", "value": "s"}],
        ),
        (
            thing(spec={"a": "s"}),
            thing(spec={"a": ["1"]}),
            [{"op": "replace", "path": "/spec/a", "value": ["1"]}],
        ),
        (
            thing(spec={"a": ["1"]}),
            thing(spec={"a": {"b": "1"}}),
            [{"op": "replace", "path": "/spec/a", "value": {"b": "1"}}],
        ),
        # a list of scalars becomes a list of mappings without a merge key: the planner
        # does not guess how kustomize merges such a list, it says it index by index
        (
            thing(spec={"a": ["1"]}),
            thing(spec={"a": [{"x": "1"}]}),
            [{"op": "replace", "path": "/spec/a/0", "value": {"x": "1"}}],
        ),
        # the metadata a patch changes is kept with the name it targets
        (
            thing(spec={"a": "1"}),
            {**thing(spec={"a": "1"}), "metadata": {"name": "c", "annotations": {"n": "v"}}},
            {
                "apiVersion": "example.com/v1",
                "kind": "Thing",
                "metadata": {"name": "c", "annotations": {"n": "v"}},
            },
        ),
    ],
    ids=[
        "mapping-to-scalar",
        "list-to-scalar",
        "scalar-to-list",
        "list-to-mapping",
        "scalars-to-mappings",
        "metadata-changed",
    ],
)
def test_patch_for_a_changed_shape(
    before: dict[str, Any],
    after: dict[str, Any],
    patch: Any,
    tmp_path: Path,
    kustomize: Kustomize,
) -> None:
    assert patch_for(before, after) == patch
    assert applied(before, patch, tmp_path, kustomize) == after


@pytest.mark.parametrize(
    ("old", "new", "ops"),
    [
        ({"a": {"b": 1}}, {"a": "x"}, [{"op": "replace", "path": "/a", "value": "x"}]),
        ({"a": [1, 2]}, {"a": "xy"}, [{"op": "replace", "path": "/a", "value": "xy"}]),
        ({"a": [1, 2]}, {"a": 3}, [{"op": "replace", "path": "/a", "value": 3}]),
        ({"a": "xy"}, {"a": [1, 2]}, [{"op": "replace", "path": "/a", "value": [1, 2]}]),
        # an item that is a mapping at one index and a scalar at the same index
        (
            {"l": [{"name": "a"}]},
            {"l": ["x"]},
            [
                {"op": "test", "path": "/l/0/name", "value": "a"},
                {"op": "replace", "path": "/l/0", "value": "x"},
            ],
        ),
        (
            {"l": ["x"]},
            {"l": [{"name": "a"}]},
            [{"op": "replace", "path": "/l/0", "value": {"name": "a"}}],
        ),
    ],
    ids=[
        "mapping-to-scalar",
        "list-to-string",
        "list-to-number",
        "string-to-list",
        "item-mapping-to-scalar",
        "item-scalar-to-mapping",
    ],
)
def test_json_patch_of_a_changed_type(old: Any, new: Any, ops: list[dict[str, Any]]) -> None:
    assert json_patch(old, new) == ops


REGISTRY_IMAGE = "registry.example.com:5000/llmgateway"


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ([{"name": REGISTRY_IMAGE, "newTag": "v2"}], f"{REGISTRY_IMAGE}:v2"),
        (
            [{"name": REGISTRY_IMAGE, "newName": "mirror.example.com/gw"}],
            "mirror.example.com/gw:v1",
        ),
        ([{"name": REGISTRY_IMAGE, "newName": "m/gw", "newTag": "v3"}], "m/gw:v3"),
        ([{"name": "registry.example.com:5000/other", "newTag": "v2"}], f"{REGISTRY_IMAGE}:v1"),
    ],
    ids=["tag", "repository", "both", "another-image"],
)
def test_images_field_as_kustomize_applies_it(
    images: list[dict[str, str]], expected: str, tmp_path: Path, kustomize: Kustomize
) -> None:
    """The planner's simulation of kustomize's images field, against kustomize itself, for
    a repository with a registry port (the spec allows one) and a change of only the tag
    or only the repository."""
    pod = {
        "initContainers": [{"name": "init", "image": f"{REGISTRY_IMAGE}:v1"}],
        "containers": [
            {"name": "app", "image": f"{REGISTRY_IMAGE}:v1"},
            {"name": "side", "image": "busybox:1"},
        ],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llmgateway"},
        "spec": {"template": {"spec": pod}},
    }
    (simulated,) = apply_fields([deployment], OverlayFields(images=images))
    pod_images = [
        c["image"]
        for c in simulated["spec"]["template"]["spec"]["initContainers"]
        + simulated["spec"]["template"]["spec"]["containers"]
    ]
    assert pod_images == [expected, expected, "busybox:1"]
    (tmp_path / "deployment.yaml").write_text(dump(deployment))
    (tmp_path / "kustomization.yaml").write_text(
        dump({"resources": ["deployment.yaml"], "images": images})
    )
    (rendered,) = load_documents(kustomize.build(tmp_path))
    assert simulated["spec"]["template"]["spec"] == rendered["spec"]["template"]["spec"]


# The shared preamble of the lowering's rule-side specs, with split defaults.
SPLIT_DEFAULTS = (
    DEFAULTS
    + """\
  topology: split
  database: {mode: external, secretName: db}
  image:
    tag: v1.0.0
  services:
    api: {replicas: 2}
    gateway: {replicas: 2}
    docs: {}
environments:
"""
)
SPLIT_SERVICES = ("api", "gateway", "ui", "admin", "worker", "docs")
PREFIX = "ghcr.io/theopenco/llmgateway"


@pytest.mark.parametrize(
    ("environment", "images", "replicas"),
    [
        pytest.param("    {}\n", [], [], id="as-the-defaults"),
        pytest.param(
            "    image: {tag: v1.1.0}\n",
            [{"name": f"{PREFIX}-{s}", "newTag": "v1.1.0"} for s in SPLIT_SERVICES],
            [],
            id="every-service-retagged",
        ),
        pytest.param(
            "    image: {splitRepositoryPrefix: registry.example.com/llmgw}\n",
            [
                {"name": f"{PREFIX}-{s}", "newName": f"registry.example.com/llmgw-{s}"}
                for s in SPLIT_SERVICES
            ],
            [],
            id="every-service-renamed",
        ),
        pytest.param(
            "    services:\n      api: {image: {tag: v2.0.0}, replicas: 3}\n",
            [{"name": f"{PREFIX}-api", "newTag": "v2.0.0"}],
            [{"name": "llmgateway-api", "count": 3}],
            id="one-service",
        ),
        pytest.param(
            "    image: {tag: v1.1.0}\n    services:\n      docs: {}\n",
            [{"name": f"{PREFIX}-{s}", "newTag": "v1.1.0"} for s in SPLIT_SERVICES],
            [],
            id="a-service-the-base-lacks",
        ),
        pytest.param(
            "    image: {splitRepositoryPrefix: 'registry.example.com:5000/llmgw', tag: v1.1.0}\n",
            [
                {
                    "name": f"{PREFIX}-{s}",
                    "newName": f"registry.example.com:5000/llmgw-{s}",
                    "newTag": "v1.1.0",
                }
                for s in SPLIT_SERVICES
            ],
            [],
            id="a-registry-with-a-port",
        ),
        pytest.param(
            "    image: {tag: v1.1.0}\n    services:\n      playground: {}\n      code: {}\n",
            [{"name": f"{PREFIX}-{s}", "newTag": "v1.1.0"} for s in SPLIT_SERVICES],
            [],
            id="services-the-base-lacks-before-the-last",
        ),
        pytest.param(
            "    services:\n      gateway:\n        replicas: 5\n        autoscaling:"
            " {minReplicas: 2, maxReplicas: 6, targetCpuUtilizationPercentage: 70}\n"
            "      worker: {replicas: 1}\n      ui: {replicas: 3}\n",
            [],
            [{"name": "llmgateway-ui", "count": 3}],
            id="autoscaled-or-unchanged-counts",
        ),
    ],
)
def test_kustomize_fields_of_an_environment_of_split_defaults(
    environment: str, images: list[dict[str, str]], replicas: list[dict[str, Any]]
) -> None:
    """When the defaults themselves are split, an environment's overlay retags, renames
    and rescales the base's services with kustomize's `images` (`name` the base's image,
    `newName`/`newTag` only what changes) and `replicas` (`name` the Deployment,
    `count`) fields (kustomize's images and replicas transformers): a split service's
    image is `<image.splitRepositoryPrefix>-<service>:<tag>` (README "The split topology"),
    a service the base does not run is added whole (its image is already right), and an
    autoscaled service gets no count (the HorizontalPodAutoscaler owns it)."""
    from compiler.load import parse_spec
    from compiler.plan import overlay_fields

    spec = parse_spec((SPLIT_DEFAULTS + "  env:\n" + environment).encode(), "spec.yaml")
    fields = overlay_fields(spec.defaults, dict(spec.enabled())["env"], "env")
    assert sorted(fields.images, key=lambda i: i["name"]) == sorted(images, key=lambda i: i["name"])
    assert fields.replicas == replicas


def test_an_environment_split_over_unified_defaults_has_no_images_or_replicas_fields() -> None:
    """An environment that switches to split over unified defaults (the committed prod)
    adds its services whole, each already with its image and count: its overlay has no
    `images` or `replicas` field, not even one for the unified image it deletes."""
    from compiler.load import parse_spec
    from compiler.plan import overlay_fields

    text = SPLIT_DEFAULTS.replace("  topology: split\n", "").replace(
        "  database: {mode: external, secretName: db}\n", ""
    )
    environment = (
        "    topology: split\n    database: {mode: external, secretName: db}\n"
        "    replicas: 1\n    image: {tag: v1.1.0}\n    services:\n      api: {replicas: 3}\n"
    )
    spec = parse_spec((text + "  env:\n" + environment).encode(), "spec.yaml")
    fields = overlay_fields(spec.defaults, dict(spec.enabled())["env"], "env")
    assert (fields.images, fields.replicas) == ([], [])


def test_split_images_of_a_base_pulled_from_a_registry_with_a_port() -> None:
    """kustomize's images field names an image without its tag, and a tag follows the
    last `:` (a registry's port is the first one): with the base's own prefix on a
    registry with a port, each entry names the base's image whole up to its tag."""
    from compiler.load import parse_spec
    from compiler.plan import overlay_fields

    registry = "registry.example.com:5000/llmgateway"
    defaults = SPLIT_DEFAULTS.replace(
        "    tag: v1.0.0\n", f"    tag: v1.0.0\n    splitRepositoryPrefix: '{registry}'\n"
    )
    spec = parse_spec((defaults + "  env:\n    image: {tag: v1.1.0}\n").encode(), "spec.yaml")
    fields = overlay_fields(spec.defaults, dict(spec.enabled())["env"], "env")
    assert sorted(fields.images, key=lambda i: i["name"]) == [
        {"name": f"{registry}-{s}", "newTag": "v1.1.0"} for s in sorted(SPLIT_SERVICES)
    ]


@pytest.mark.parametrize(
    ("defaults_topology", "environment"),
    [
        pytest.param(
            "  replicas: 2\n",
            "    topology: split\n    replicas: 1\n",
            id="split-over-unified-defaults",
        ),
        pytest.param(
            "  topology: split\n",
            "    topology: unified\n    replicas: 2\n",
            id="unified-over-split-defaults",
        ),
    ],
)
def test_a_topology_switch_writes_no_replicas_field_for_the_unified_count(
    defaults_topology: str, environment: str
) -> None:
    """`replicas` counts the unified Deployment's pods (the split topology sets replicas per
    service, spec.py's Settings.replicas): an environment that switches topology adds its
    workloads whole, each with its own count, so even a `replicas` that differs from the
    defaults' gives its overlay no `replicas` field."""
    from compiler.load import parse_spec
    from compiler.plan import overlay_fields

    text = (
        DEFAULTS
        + defaults_topology
        + "  database: {mode: external, secretName: db}\n"
        + "environments:\n  env:\n"
        + environment
    )
    spec = parse_spec(text.encode(), "spec.yaml")
    env = dict(spec.enabled())["env"]
    assert env.replicas != spec.defaults.replicas
    assert overlay_fields(spec.defaults, env, "env").replicas == []


def test_plan_tree_gives_the_sink_every_file_it_returns() -> None:
    """`plan_tree(spec, sink)` hands each file to ``sink`` as it is planned (the writer of a
    tree made from nothing creates exactly what it receives): every file of the tree, the
    generator's ignore rule and example, GitOps documents, docs page and fingerprint
    included, with the bytes the tree holds."""
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from tests.conftest import CASES

    received: dict[str, bytes] = {}

    def sink(path: str, data: bytes) -> None:
        received[path] = data

    tree = plan_tree(load_spec(CASES / "compile" / "generator-gitops-image" / "spec.yaml"), sink)
    tops = {path.split("/")[0] for path in tree}
    assert tops == {"base", "overlays", "gitops", "docs"}
    assert any(path.endswith("/.gitignore") for path in tree)
    assert received == tree


def test_an_unchanged_tail_of_a_keyed_list_ends_the_patch_in_time() -> None:
    """The untouched tail of a keyed list is counted item by item up to its length: the
    patch of a list whose last items stay is computed at once (an alarm fails the test
    instead of letting a count that never grows spin forever)."""
    import signal

    path = ("spec", "template", "spec", "containers", "env")
    a, b, c, d = ({"name": n, "value": n.lower()} for n in "ABCD")

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("keyed_list_patch did not end within 10 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        # A goes: B, C and D are an untouched tail of three items.
        patch = keyed_list_patch([a, b, c, d], [b, c, d], "name", "Deployment", path)
        # D changes: kustomize puts the patch's items first, so the patch names A, B and C
        # (by key alone) before it.
        changed = keyed_list_patch(
            [a, b, c, d], [a, b, c, {"name": "D", "value": "x"}], "name", "Deployment", path
        )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert patch == [{"name": "A", "$patch": "delete"}]
    assert changed == [{"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D", "value": "x"}]
