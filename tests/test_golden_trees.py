"""Golden cases: a spec in, the expected base/ and overlays/ out, as files in a folder.

tests/cases/compile/<case>/spec.yaml is compiled; the result must equal
tests/cases/compile/<case>/expected/ byte for byte, and compiling twice must give the
same bytes. `pytest --update-golden` rewrites the expected trees: review their diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.load import load_spec
from compiler.plan import plan_tree
from tests.conftest import CASES
from tests.helpers import read_tree, write_tree

COMPILE_CASES = sorted(p.parent for p in (CASES / "compile").glob("*/spec.yaml"))


@pytest.mark.parametrize("case", COMPILE_CASES, ids=lambda p: p.name)
def test_compiled_tree_matches_expected(
    case: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case)
    tree = plan_tree(load_spec("spec.yaml"))
    assert plan_tree(load_spec("spec.yaml")) == tree, "compiling twice differs"
    expected_dir = case / "expected"
    if request.config.getoption("--update-golden"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        write_tree(expected_dir, tree)
    expected = read_tree(expected_dir)
    missing = sorted(set(expected) - set(tree))
    unexpected = sorted(set(tree) - set(expected))
    changed = sorted(p for p in set(tree) & set(expected) if tree[p] != expected[p])
    assert (missing, unexpected, changed) == ([], [], []), (
        "the compiled tree differs from expected/ (pytest --update-golden rewrites it)"
    )


def test_there_are_golden_cases() -> None:
    assert len(COMPILE_CASES) >= 2
