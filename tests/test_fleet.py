"""Fleet rendering: one kustomize process for many overlays, split back per overlay by the
instance label, gives the same bytes as rendering each overlay alone, for every case.

Adopted by `Kustomize.build_many` (more overlays than cores) only because of this proof;
anything it cannot split exactly falls back to one process per overlay.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import make_spec
from compiler.errors import KustomizeError
from compiler.fingerprint import SECRET_ENV
from compiler.kustomize import Kustomize, split_fleet
from compiler.load import load_spec, parse_spec
from compiler.plan import plan_tree
from compiler.render import PLACEHOLDER, generator_keys
from tests.conftest import case_id, valid_case_specs
from tests.helpers import write_tree


def overlays_of(root: Path) -> list[Path]:
    """The overlays under ``root``, a generator's secret.env made of placeholders."""
    overlays = sorted(p.parent for p in (root / "overlays").glob("*/kustomization.yaml"))
    for overlay in overlays:
        keys = generator_keys(overlay)
        if keys is not None:
            (overlay / SECRET_ENV).write_text("".join(f"{k}={PLACEHOLDER}\n" for k in keys))
    return overlays


@pytest.mark.parametrize("spec_path", valid_case_specs(), ids=case_id)
def test_a_fleet_renders_each_overlay_as_it_renders_alone(
    spec_path: Path, tmp_path: Path, kustomize: Kustomize
) -> None:
    write_tree(tmp_path, plan_tree(load_spec(spec_path)))
    overlays = overlays_of(tmp_path)
    alone = [kustomize.build(o) for o in overlays]
    assert kustomize.build_fleet(overlays) == alone


def test_many_environments_render_as_fleets_with_the_same_bytes(
    tmp_path: Path, kustomize: Kustomize
) -> None:
    """Every option bench/run.py mixes into its environments, more overlays than cores."""
    write_tree(tmp_path, plan_tree(parse_spec(make_spec(12).encode(), "spec.yaml")))
    overlays = overlays_of(tmp_path)
    assert len(overlays) == 12
    assert kustomize.build_many(overlays) == [kustomize.build(o) for o in overlays]


def test_a_failing_overlay_is_named_as_when_rendered_alone(
    tmp_path: Path, kustomize: Kustomize
) -> None:
    write_tree(tmp_path, plan_tree(parse_spec(make_spec(6).encode(), "spec.yaml")))
    overlays = overlays_of(tmp_path)
    broken = overlays[3] / "kustomization.yaml"
    broken.write_text(
        broken.read_text().replace("  - ../../base\n", "  - ../../base\n  - missing.yaml\n")
    )
    assert kustomize.build_fleet(overlays) is None
    with pytest.raises(KustomizeError, match=f"kustomize failed on {overlays[3]}"):
        kustomize.build_many(overlays)


def test_an_overlay_without_the_instance_label_is_rendered_alone(
    tmp_path: Path, kustomize: Kustomize
) -> None:
    write_tree(tmp_path, plan_tree(parse_spec(make_spec(6).encode(), "spec.yaml")))
    overlays = overlays_of(tmp_path)
    plain = tmp_path / "overlays" / "plain"
    plain.mkdir()
    (plain / "kustomization.yaml").write_text("resources: [configmap.yaml]\n")
    (plain / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: plain\n"
    )
    overlays.append(plain)
    assert kustomize.build_fleet(overlays) is None
    assert kustomize.build_many(overlays) == [kustomize.build(o) for o in overlays]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("kind: A\nmetadata:\n  name: a\n", ["x"]),  # no labels at all
        (
            "kind: A\nmetadata:\n  labels:\n    app.kubernetes.io/instance: y\n  name: a\n",
            ["x"],
        ),  # another instance
        (
            "kind: A\nmetadata:\n  labels:\n    app.kubernetes.io/instance: x\n  name: a\n",
            ["x", "z"],
        ),  # z rendered nothing
        (
            "kind: A\nspec:\n  labels:\n    app.kubernetes.io/instance: x\n",
            ["x"],
        ),  # the label elsewhere than metadata.labels
    ],
    ids=["unlabelled", "unknown-instance", "empty-overlay", "not-metadata"],
)
def test_what_cannot_be_split_exactly_is_not(text: str, names: list[str]) -> None:
    assert split_fleet(text, names) is None


def test_quoted_instance_names_split() -> None:
    text = (
        'kind: A\nmetadata:\n  labels:\n    app.kubernetes.io/instance: "123"\n  name: a\n'
        "---\nkind: B\nmetadata:\n  labels:\n    app.kubernetes.io/instance: x\n  name: b\n"
    )
    assert split_fleet(text, ["x", "123"]) == [
        "kind: B\nmetadata:\n  labels:\n    app.kubernetes.io/instance: x\n  name: b\n",
        'kind: A\nmetadata:\n  labels:\n    app.kubernetes.io/instance: "123"\n  name: a\n',
    ]
