"""The suite's own scheduling (tests/conftest.py): the longest tests start first."""

from __future__ import annotations

from tests.conftest import LONGEST_FIRST, ROOT


def test_the_longest_tests_started_first_exist() -> None:
    """A renamed test would silently lose its place at the front."""
    for name in LONGEST_FIRST:
        path, function = name.split("::")
        assert f"def {function}(" in (ROOT / path).read_text(), name
