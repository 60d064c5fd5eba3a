"""README's "Errors" example is what `validate` prints, not an old wording.

The example's spec is the refused unified prod of
tests/cases/invalid/unified-three-replicas-production-unacknowledged (three pods of the
unified image, production, no acknowledgement) with a typo in a dev environment.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CASES, ROOT
from tests.helpers import run_cli

REFUSED = CASES / "invalid" / "unified-three-replicas-production-unacknowledged" / "spec.yaml"
DEV_WITH_A_TYPO = (
    "  dev:\n    namespace: llmgateway-dev\n    domain: dev.llm.example.com\n    replcas: 1\n"
)


def readme_errors_example() -> list[str]:
    section = (ROOT / "README.md").read_text().split("### Errors\n", 1)[1]
    return section.split("```\n", 2)[1].splitlines()


def test_the_readme_errors_example_is_what_validate_prints(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    text = REFUSED.read_text()
    assert text.count("environments:\n") == 1
    spec = text.replace("environments:\n", "environments:\n" + DEV_WITH_A_TYPO)
    (tmp_path / "spec" / "llmgateway.yaml").write_text(spec)
    result = run_cli("-C", str(tmp_path), "validate")
    assert result.code == 2
    printed = result.err.splitlines()
    example = readme_errors_example()
    assert len(example) == len(printed)
    for shown, real in zip(example, printed, strict=True):
        # A long message may be cut with " ..." in the README; the rest is verbatim.
        if shown.endswith(" ..."):
            assert real.startswith(shown[: -len(" ...")]), (shown, real)
            assert len(shown) > 80  # cut late enough to show the concrete failure
        else:
            assert shown == real
    # The refusal names the concrete failure, at the replicas line of prod.
    (replicas,) = [line for line in printed if "environments.prod.replicas" in line]
    assert replicas.startswith("spec/llmgateway.yaml:19:5: environments.prod.replicas: ")
    for failure in ("postmaster.pid", "initdb", "its own Redis"):
        assert failure in replicas
