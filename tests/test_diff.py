"""diff: resources matched by identity, field changes, risky changes flagged, secrets hidden."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compiler.kustomize import Kustomize
from compiler.load import parse_spec
from compiler.lower import lower_environment
from compiler.review import MARKDOWN_LIMIT, Review, diff_environments, to_json, to_markdown, to_text
from tests.conftest import CASES, ROOT
from tests.helpers import UNIFIED_PROD_CASE, run_cli, unified_prod

# The unified prod of before the switch to the split topology (the committed prod until
# 2026-11): its claim, replicas and access mode are what these reviews change.
UNIFIED = UNIFIED_PROD_CASE.read_text()


def rendered(spec_text: str) -> dict[str, list[Any]]:
    spec = parse_spec(spec_text.encode(), "spec.yaml")
    return {name: lower_environment(env, name) for name, env in spec.enabled()}


def review_of(before: str, after: str) -> Review:
    return diff_environments("before", rendered(before), rendered(after))


def risks_of(review: Review) -> list[tuple[str, str, str]]:
    return [(r.environment, r.resource, r.what) for r in review.risks]


def edit(old: str, new: str, text: str = UNIFIED) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_no_change_no_differences() -> None:
    review = review_of(UNIFIED, UNIFIED)
    assert not review.has_differences
    assert review.risks == []
    assert to_text(review).splitlines()[-1] == "prod: no changes"


def test_replicas_change_is_a_plain_change() -> None:
    review = review_of(UNIFIED, edit("replicas: 3", "replicas: 5"))
    prod = next(e for e in review.environments if e.name == "prod")
    assert [(c.label, c.change) for c in prod.changes] == [
        ("Deployment/llmgateway/llmgateway", "changed")
    ]
    assert [(f.path, f.old, f.new) for f in prod.changes[0].fields] == [("spec.replicas", 3, 5)]
    assert review.risks == []


def test_storage_class_change_is_risky() -> None:
    after = edit(
        "      accessMode: ReadWriteMany\n",
        "      accessMode: ReadWriteMany\n      className: ceph\n",
    )
    review = review_of(UNIFIED, after)
    assert risks_of(review) == [
        (
            "prod",
            "PersistentVolumeClaim/llmgateway/llmgateway-data",
            "spec.storageClassName: 'longhorn' -> 'ceph'",
        )
    ]
    assert "cannot change in place" in review.risks[0].why


def test_access_mode_change_is_risky() -> None:
    after = edit("      accessMode: ReadWriteOnce\n", "      accessMode: ReadWriteMany\n")
    review = review_of(UNIFIED, after)
    assert [r.what for r in review.risks] == [
        "spec.accessModes[0]: 'ReadWriteOnce' -> 'ReadWriteMany'"
    ]


def test_storage_shrink_is_risky_but_growth_is_not() -> None:
    shrink = edit("    size: 10Gi\n", "    size: 5Gi\n")
    review = review_of(UNIFIED, shrink)
    assert {(r.environment, r.what) for r in review.risks} == {
        ("dev", "storage request shrinks: spec.resources.requests.storage: '10Gi' -> '5Gi'"),
        ("prod", "storage request shrinks: spec.resources.requests.storage: '10Gi' -> '5Gi'"),
    }
    grow = edit("    size: 10Gi\n", "    size: 20Gi\n")
    assert review_of(UNIFIED, grow).risks == []


def test_removing_the_volume_is_risky() -> None:
    after = edit(
        "      acknowledgeSharedDataDirectory: true\n",
        "      mode: external\n      secretName: llmgateway-database\n",
    )
    review = review_of(UNIFIED, after)
    assert (
        "prod",
        "PersistentVolumeClaim/llmgateway/llmgateway-data",
        "the data volume claim is removed",
    ) in risks_of(review)


def test_namespace_change_is_risky() -> None:
    review = review_of(UNIFIED, edit("namespace: llmgateway-dev", "namespace: gateway-dev"))
    whats = [r.what for r in review.risks if r.environment == "dev"]
    assert "namespace changes from llmgateway-dev to gateway-dev" in whats
    assert "the data volume claim is removed" in whats


def test_environment_removed_is_risky() -> None:
    after = edit("  dev:\n", "  dev:\n    enabled: false\n")
    review = review_of(UNIFIED, after)
    dev = next(e for e in review.environments if e.name == "dev")
    assert dev.status == "removed"
    assert ("dev", "(environment)", "environment dev is removed from the spec") in risks_of(review)


def manifests_pair(change: str) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Changes no spec can make (the compiler keeps these fields fixed), made by hand."""
    before = rendered(UNIFIED)
    after = copy.deepcopy(before)
    dev = {r["kind"]: r for r in after["dev"]}
    if change == "selector":
        dev["Deployment"]["spec"]["selector"]["matchLabels"]["tier"] = "web"
    elif change == "clusterIP":
        dev["Service"]["spec"]["clusterIP"] = "10.0.0.12"
    elif change == "strategy":
        dev["Deployment"]["spec"]["strategy"] = {"type": "RollingUpdate"}
    return before, after


@pytest.mark.parametrize(
    ("change", "resource", "what"),
    [
        (
            "selector",
            "Deployment/llmgateway-dev/llmgateway",
            "spec.selector.matchLabels.tier: added 'web'",
        ),
        ("clusterIP", "Service/llmgateway-dev/llmgateway", "spec.clusterIP: added '10.0.0.12'"),
        (
            "strategy",
            "Deployment/llmgateway-dev/llmgateway",
            "spec.strategy.type: 'Recreate' -> 'RollingUpdate'",
        ),
    ],
)
def test_changes_no_spec_can_make_are_flagged(change: str, resource: str, what: str) -> None:
    before, after = manifests_pair(change)
    review = diff_environments("before", before, after)
    assert risks_of(review) == [("dev", resource, what)]


SECRET_VALUES = ("first-secret-value-0123456789abcdef", "second-secret-value-fedcba9876543210")


def secret(data: dict[str, str], string_data: dict[str, str] | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "llmgateway-auth", "namespace": "llmgateway"},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    if string_data is not None:
        resource["stringData"] = string_data
    return resource


def test_secret_values_never_shown_in_any_format() -> None:
    old_value, new_value = SECRET_VALUES
    before = {"prod": [secret({"AUTH_SECRET": old_value, "OLD_KEY": old_value})]}
    after = {
        "prod": [secret({"AUTH_SECRET": new_value, "NEW_KEY": new_value}, {"EXTRA": new_value})],
        "dev": [secret({"AUTH_SECRET": new_value})],
    }
    review = diff_environments("before", before, after)
    outputs = [to_text(review), to_markdown(review), to_json(review)]
    forbidden = [*SECRET_VALUES, *(base64.b64encode(v.encode()).decode() for v in SECRET_VALUES)]
    for output in outputs:
        for value in forbidden:
            assert value not in output
    prod = next(e for e in review.environments if e.name == "prod")
    assert [(f.path, f.kind) for f in prod.changes[0].fields] == [
        ("data.AUTH_SECRET", "changed"),
        ("data.NEW_KEY", "added"),
        ("data.OLD_KEY", "removed"),
        ("stringData.EXTRA", "added"),
    ]
    assert "data.AUTH_SECRET: (hidden) -> (hidden)" in to_text(review)
    dev = next(e for e in review.environments if e.name == "dev")
    assert [(f.path, f.kind) for f in dev.changes[0].fields] == [("data.AUTH_SECRET", "added")]


def test_markdown_snapshot(request: pytest.FixtureRequest) -> None:
    after = edit("replicas: 3", "replicas: 5")
    after = edit(
        "      accessMode: ReadWriteMany\n",
        "      accessMode: ReadWriteMany\n      className: ceph\n",
        after,
    )
    after = edit("  dev:\n", "  dev:\n    enabled: false\n", after)
    text = to_markdown(review_of(UNIFIED, after))
    expected = CASES / "diff" / "replicas-storage-class-dev-removed.md"
    if request.config.getoption("--update-golden"):
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8")


def test_markdown_stays_under_the_limit() -> None:
    before = rendered(UNIFIED)
    after = copy.deepcopy(before)
    for index in range(3000):
        after["prod"][2]["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": f"EXTRA_{index:04d}", "value": "x" * 40}
        )
    review = diff_environments("before", before, after)
    text = to_markdown(review)
    assert len(text) <= MARKDOWN_LIMIT
    assert "| prod | 0 | 1 | 0 | 0 |" in text
    assert "more lines not shown" in text
    assert "Cut to stay under 65,000 characters: details of prod (partly) not shown." in text
    assert len(to_text(review)) > MARKDOWN_LIMIT  # the other formats are not cut


def test_json_format_is_structured() -> None:
    document = json.loads(to_json(review_of(UNIFIED, edit("replicas: 3", "replicas: 5"))))
    prod = next(e for e in document["environments"] if e["name"] == "prod")
    assert prod["changed"] == 1
    assert prod["resources"][0]["fields"] == [
        {"path": "spec.replicas", "change": "changed", "old": 3, "new": 5}
    ]
    assert document["risky"] == []


# --- through git and the real kustomize ---------------------------------------------------


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repository(project: Path) -> Path:
    """A git repository holding the unified prod, compiled, one commit on main."""
    unified_prod(project)
    assert run_cli("compile").code == 0
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "initial")
    return project


def change_spec(root: Path, *edits: tuple[str, str]) -> None:
    spec = root / "spec" / "llmgateway.yaml"
    text = spec.read_text()
    for old, new in edits:
        text = edit(old, new, text)
    spec.write_text(text)


def test_diff_across_git_history(repository: Path, kustomize: Kustomize) -> None:
    git(repository, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repository, "checkout", "-q", "-b", "bigger-prod")
    change_spec(
        repository,
        ("replicas: 3", "replicas: 5"),
        (
            "      accessMode: ReadWriteMany\n",
            "      accessMode: ReadWriteMany\n      className: ceph\n",
        ),
    )
    assert run_cli("compile").code == 0
    git(repository, "commit", "-qam", "bigger prod")
    result = run_cli("diff", "--format", "markdown")
    assert result.code == 1, result.err
    assert len(result.out) < MARKDOWN_LIMIT
    assert result.out.startswith("### Manifest changes against `merge base with origin/main (")
    assert "| prod | 0 | 2 | 0 | 1 |" in result.out
    assert "  - `spec.replicas`: `3` → `5`" in result.out
    risky = result.out.split("#### ⚠️ Risky changes (1)")[1].split("<details>")[0]
    assert "`PersistentVolumeClaim/llmgateway/llmgateway-data`: spec.storageClassName" in risky
    assert run_cli("diff", "--fail-on", "risky").code == 1
    assert run_cli("diff", "--env", "dev").code == 0
    assert run_cli("diff", "--base", "HEAD").code == 0


def test_diff_of_working_tree_against_head(repository: Path, kustomize: Kustomize) -> None:
    change_spec(repository, ("replicas: 3", "replicas: 4"))
    result = run_cli("diff")
    assert result.code == 1
    assert "      spec.replicas: 3 -> 4" in result.out.splitlines()
    assert run_cli("diff", "--fail-on", "risky").code == 0
    document = json.loads(run_cli("diff", "--format", "json").out)
    assert [e["name"] for e in document["environments"]] == ["dev", "prod"]


@pytest.fixture
def committed_repository(project: Path) -> Path:
    """A git repository holding a copy of the committed project, one commit on main."""
    for top in ("base", "overlays"):
        shutil.copytree(ROOT / top, project / top)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "initial")
    return project


def test_diff_of_the_committed_tree_against_head(
    committed_repository: Path, kustomize: Kustomize
) -> None:
    # The committed prod is split: its gateway runs 3 pods.
    gateway = (
        "      gateway:   # applications' traffic, streams included: "
        "one can drain while two serve\n"
    )
    change_spec(
        committed_repository,
        (f"{gateway}        replicas: 3\n", f"{gateway}        replicas: 4\n"),
    )
    result = run_cli("diff")
    assert result.code == 1
    lines = result.out.splitlines()
    at = lines.index("      spec.replicas: 3 -> 4")
    assert lines[at - 1].endswith("Deployment/llmgateway/llmgateway-gateway"), lines
    assert run_cli("diff", "--fail-on", "risky").code == 0
    document = json.loads(run_cli("diff", "--format", "json").out)
    assert [e["name"] for e in document["environments"]] == ["dev", "prod"]


def test_diff_unknown_revision_exits_3(repository: Path) -> None:
    result = run_cli("diff", "--base", "no-such-branch")
    assert result.code == 3
    assert result.err == "error: unknown revision 'no-such-branch'\n"


def test_diff_unknown_environment_exits_2(repository: Path, kustomize: Kustomize) -> None:
    result = run_cli("diff", "--env", "qa")
    assert result.code == 2
    assert "no environment qa" in result.err


def prod_edit(lines: str, text: str = UNIFIED) -> str:
    """Add indented settings to the prod environment of the committed spec."""
    return edit("    production: true\n", "    production: true\n" + lines, text)


def test_changes_are_ordered_for_a_reviewer_and_policy_annotations_grouped() -> None:
    review = review_of(UNIFIED, prod_edit("    image:\n      tag: v1.2.3\n"))
    assert to_text(review).splitlines()[-4:] == [
        "  ~ Deployment/llmgateway/llmgateway",
        "      spec.template.spec.containers[llmgateway].image: "
        "'ghcr.io/theopenco/llmgateway-unified:latest' -> "
        "'ghcr.io/theopenco/llmgateway-unified:v1.2.3'",
        "      spec.template.spec.containers[llmgateway].imagePullPolicy: 'Always' -> "
        "'IfNotPresent'",
        "      policy annotations changed (1 checkov.io/* annotation)",
    ]
    markdown = to_markdown(review)
    assert "  - policy annotations changed (1 checkov.io/* annotation)" in markdown
    assert "checkov.io/skip" not in markdown
    # Tools still get every field, in the same order.
    fields = json.loads(to_json(review))["environments"][1]["resources"][0]["fields"]
    assert [f["path"] for f in fields][-1].startswith("metadata.annotations.checkov.io/skip")


def test_workloads_come_first_and_policy_only_changes_last() -> None:
    before = rendered(UNIFIED)
    after = copy.deepcopy(before)
    prod = {r["kind"]: r for r in after["prod"]}
    prod["Deployment"]["metadata"]["annotations"]["checkov.io/skip1"] = "CKV_K8S_1=changed"
    prod["Service"]["metadata"]["labels"]["tier"] = "web"
    prod["PersistentVolumeClaim"]["metadata"]["labels"]["tier"] = "web"
    prod["Namespace"]["metadata"]["labels"]["tier"] = "web"
    review = diff_environments("before", before, after)
    changes = next(e for e in review.environments if e.name == "prod").changes
    assert [c.id[1] for c in changes] == [
        "Service",
        "PersistentVolumeClaim",
        "Namespace",
        "Deployment",
    ]


def test_an_endpoint_made_public_is_risky() -> None:
    review = review_of(UNIFIED, prod_edit("    auth:\n      publicEndpoints: [ui]\n"))
    assert risks_of(review) == [
        (
            "prod",
            "Ingress/llmgateway/llmgateway-ui",
            "the oauth2-proxy sign-in is removed: llm.chrislee.local becomes public",
        )
    ]


def test_a_networkpolicy_removed_or_loosened_is_risky() -> None:
    removed = review_of(UNIFIED, prod_edit("    networkPolicy:\n      enabled: false\n"))
    assert risks_of(removed) == [
        ("prod", "NetworkPolicy/llmgateway/llmgateway", "the NetworkPolicy is removed")
    ]
    other_source = review_of(
        UNIFIED, prod_edit("    networkPolicy:\n      ingressControllerNamespace: traefik\n")
    )
    assert risks_of(other_source) == [
        (
            "prod",
            "NetworkPolicy/llmgateway/llmgateway",
            "the NetworkPolicy is loosened: it allows more ingress traffic",
        )
    ]
    restricted = prod_edit("    networkPolicy:\n      restrictEgress: true\n")
    assert risks_of(review_of(UNIFIED, restricted)) == []  # tightened: no risk
    assert risks_of(review_of(restricted, UNIFIED)) == [
        (
            "prod",
            "NetworkPolicy/llmgateway/llmgateway",
            "the NetworkPolicy is loosened: it no longer restricts Egress",
        )
    ]


@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_a_service_exposed_outside_the_cluster_is_risky(service_type: str) -> None:
    review = review_of(UNIFIED, prod_edit(f"    serviceType: {service_type}\n"))
    assert risks_of(review) == [
        (
            "prod",
            "Service/llmgateway/llmgateway",
            f"the Service becomes {service_type} (was ClusterIP)",
        )
    ]


def generated(kind: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "llmgateway"},
        "data": data,
    }


def test_a_generated_secret_with_a_new_hash_is_one_changed_resource() -> None:
    before = {
        "prod": [
            generated("Secret", "llmgateway-auth-4b8h7f2m9k", {"AUTH_SECRET": "b2xk", "A": "eA=="}),
            generated("ConfigMap", "settings-2g5d6c7b8t", {"x": "1"}),
        ]
    }
    after = {
        "prod": [
            generated("Secret", "llmgateway-auth-tm9k2f4b8h", {"AUTH_SECRET": "bmV3", "A": "eA=="}),
            generated("ConfigMap", "settings-9d8c7b6g5f", {"x": "2"}),
        ]
    }
    review = diff_environments("before", before, after)
    prod = review.environments[0]
    assert [(c.label, c.change) for c in prod.changes] == [
        ("ConfigMap/llmgateway/settings-9d8c7b6g5f", "changed"),
        ("Secret/llmgateway/llmgateway-auth-tm9k2f4b8h", "changed"),
    ]
    assert [describe(f) for f in prod.changes[1].fields] == [
        "data.AUTH_SECRET: (hidden) -> (hidden)",
        "metadata.name: 'llmgateway-auth-4b8h7f2m9k' -> 'llmgateway-auth-tm9k2f4b8h'",
    ]
    assert "bmV3" not in to_text(review)
    assert "b2xk" not in to_text(review)
    # A name that is not kustomize's hash (vowels, wrong length) is never paired.
    plain = diff_environments(
        "before",
        {"prod": [generated("ConfigMap", "settings-aaaaaaaaaa", {})]},
        {"prod": [generated("ConfigMap", "settings-bbbbbbbbbb", {})]},
    )
    assert [c.change for c in plain.environments[0].changes] == ["removed", "added"]


def describe(change: Any) -> str:
    from compiler.compare import describe_change

    return describe_change(change)
