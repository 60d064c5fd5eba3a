"""The committed overlays still render to the reviewed golden manifests (tests/golden/).

A failure lists what changed per resource and field. Nothing here rewrites the goldens:
review the change, then run `python -m compiler snapshot`.
"""

from __future__ import annotations

import pytest

from compiler.compare import rendered_drift
from compiler.golden import GOLDEN_DIR, existing_goldens
from compiler.kustomize import Kustomize
from compiler.load import load_spec
from tests.conftest import ROOT

ENVIRONMENTS = [name for name, _ in load_spec(ROOT / "spec" / "llmgateway.yaml").enabled()]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendering_matches_golden(environment: str, kustomize: Kustomize) -> None:
    goldens = existing_goldens(ROOT)
    assert environment in goldens, f"{GOLDEN_DIR}/{environment}.yaml is missing"
    rendered = kustomize.build(ROOT / "overlays" / environment)
    changes = rendered_drift(goldens[environment], rendered)
    assert not changes, (
        f"overlays/{environment} renders differently from {GOLDEN_DIR}/{environment}.yaml "
        "(golden -> now):\n  "
        + "\n  ".join(changes)
        + "\nreview, then: python -m compiler snapshot"
    )


def test_no_golden_without_an_environment() -> None:
    assert sorted(existing_goldens(ROOT)) == sorted(ENVIRONMENTS)
