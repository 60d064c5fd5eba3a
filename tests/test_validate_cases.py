"""Data-driven tests of `validate`: every folder under tests/cases/ is one case.

- tests/cases/invalid/<name>/spec.yaml with expected.txt: the exact stderr lines of
  `python -m compiler -C <case> validate --spec spec.yaml`, exit code 2.
- tests/cases/valid/<name>/spec.yaml: exit code 0 and no stderr (except the warnings
  listed in EXPECTED_WARNINGS below).

A new case is a new folder; nothing here needs to change.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli import main

CASES = Path(__file__).parent / "cases"
INVALID = CASES / "invalid"
VALID = CASES / "valid"

# Warnings a valid case prints on stderr (they turn into errors with --strict).
PRODUCTION_LATEST = "production-latest-tag"
EXPECTED_WARNINGS: dict[str, list[str]] = {
    PRODUCTION_LATEST: [
        "spec.yaml:6:5: warning: defaults.image.tag: production runs the moving tag 'latest': "
        "pods may start different versions; pin a release, for example image.tag: v1.2.3 "
        "(see the image's releases) (in environment 'prod')",
    ],
    # The committed prod as it was before the split topology, `latest` included.
    "unified-replicas-shared-data-acknowledged": [
        "spec.yaml:10:5: warning: defaults.image.tag: production runs the moving tag 'latest': "
        "pods may start different versions; pin a release, for example image.tag: v1.2.3 "
        "(see the image's releases) (in environment 'prod')",
    ],
}

# One invalid case also run through a real `python -m compiler` process.
SUBPROCESS_CASE = "several-problems-in-line-order"

LINE = re.compile(r"^spec\.yaml:(\d+):(\d+): (?:warning: )?(.*)$")


def case_dirs(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.is_dir())


def expected_lines(case: Path) -> list[str]:
    return (case / "expected.txt").read_text(encoding="utf-8").splitlines()


def run_validate(
    case: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *extra: str
) -> tuple[int, str, str]:
    """Run `validate` in-process in ``case``; the cwd is restored after the test."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    err = io.StringIO()
    code = main(
        ["-C", str(case), "validate", "--spec", "spec.yaml", *extra],
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


def sort_key(line: str) -> tuple[int, int, str]:
    match = LINE.match(line)
    assert match, f"not a spec.yaml:LINE:COL: line: {line!r}"
    return int(match.group(1)), int(match.group(2)), match.group(3)


@pytest.mark.parametrize("case", case_dirs(INVALID), ids=lambda path: path.name)
def test_invalid_case(case: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    expected = expected_lines(case)
    code, out, err = run_validate(case, monkeypatch, tmp_path)
    assert "Traceback" not in out + err
    assert err.splitlines() == expected
    assert code == 2


@pytest.mark.parametrize("case", case_dirs(INVALID), ids=lambda path: path.name)
def test_invalid_case_expectation_is_well_formed(case: Path) -> None:
    """Every expected.txt is non-empty, located in spec.yaml and sorted by position."""
    expected = expected_lines(case)
    assert expected, f"{case.name}/expected.txt is empty"
    assert expected == sorted(expected, key=sort_key)


@pytest.mark.parametrize("case", case_dirs(VALID), ids=lambda path: path.name)
def test_valid_case(case: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, out, err = run_validate(case, monkeypatch, tmp_path)
    assert "Traceback" not in out + err
    assert err.splitlines() == EXPECTED_WARNINGS.get(case.name, [])
    assert code == 0
    assert out.startswith("spec.yaml: valid, ")


def test_cases_exist() -> None:
    assert len(case_dirs(INVALID)) >= 20
    assert len(case_dirs(VALID)) >= 9
    assert all(name in {p.name for p in case_dirs(VALID)} for name in EXPECTED_WARNINGS)


def test_strict_turns_warning_into_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, out, err = run_validate(VALID / PRODUCTION_LATEST, monkeypatch, tmp_path, "--strict")
    assert "Traceback" not in out + err
    assert err.splitlines() == [
        line.replace(": warning: ", ": ", 1) for line in EXPECTED_WARNINGS[PRODUCTION_LATEST]
    ]
    assert code == 2
    assert out == ""


def test_validate_leaves_cwd_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The helper's monkeypatch.chdir undoes main()'s os.chdir after each test."""
    run_validate(VALID / "minimal", monkeypatch, tmp_path)
    assert Path.cwd().resolve() == (VALID / "minimal").resolve()
    monkeypatch.undo()
    assert Path.cwd().resolve() != (VALID / "minimal").resolve()


def test_invalid_case_in_subprocess(tmp_path: Path) -> None:
    case = INVALID / SUBPROCESS_CASE
    result = subprocess.run(
        [sys.executable, "-m", "compiler", "-C", str(case), "validate", "--spec", "spec.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == expected_lines(case)
    assert result.returncode == 2
    assert result.stdout == ""
