"""`nox -s policy` runs checkov once per environment, each on a folder of its own.

checkov relates resources found in one directory (CKV2_K8S_6: a NetworkPolicy for each
pod): with every environment in one folder, prod's policy hid dev's missing one. The
session is run with a recording stand-in for nox's Session (nox itself is not under test).
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


class RecordingSession:
    def __init__(self, tmp: Path, posargs: list[str] | None = None) -> None:
        self.tmp = tmp
        self.posargs = posargs or []
        self.runs: list[tuple[str, ...]] = []
        self.virtualenv = type("Virtualenv", (), {"location": str(tmp / "venv")})()

    def install(self, *args: str, **options: Any) -> None:
        pass

    def run_install(self, *args: str, **options: Any) -> None:
        pass

    def create_tmp(self) -> str:
        return str(self.tmp)

    def log(self, *args: Any) -> None:
        pass

    def error(self, message: str) -> None:
        raise SessionError(message)

    def run(self, *args: str, **options: Any) -> str | None:
        self.runs.append(args)
        if args[0] == "checkov":
            return "Passed checks: 3, Failed checks: 0, Skipped checks: 1\n"
        if args[:4] == ("python", "-m", "compiler", "compile"):
            # the real compiler: which overlays exist is its answer, not the stand-in's
            subprocess.run([sys.executable, *args[1:]], check=True, capture_output=True)
        if args[:4] == ("python", "-m", "compiler", "build"):
            output = Path(args[args.index("-o") + 1])
            assert output.parent.is_dir()
            output.write_text(f"# {args[4]}\n")
        return None


class SessionError(Exception):
    pass


@functools.cache
def load_noxfile() -> Any:
    """The noxfile, loaded once: nox refuses a session registered twice."""
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    return noxfile


def test_checkov_runs_once_per_environment_in_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    session = RecordingSession(tmp_path)
    load_noxfile().policy(session)
    checkov = [run for run in session.runs if run[0] == "checkov"]
    folders = [Path(run[run.index("--directory") + 1]) for run in checkov]
    assert len(checkov) == 2  # dev and prod
    assert len(set(folders)) == 2
    for folder in folders:
        (only,) = sorted(folder.iterdir())
        assert only.read_text() == f"# overlays/{folder.name}\n"


def test_policy_cases_checks_each_environment_of_each_case_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: checkov on every environment of every valid case. Two cases here (the
    session's own glob lists them all): one with a disabled environment, which has no
    overlay and is therefore not checked, and a split one."""
    monkeypatch.chdir(ROOT)
    session = RecordingSession(tmp_path, ["disabled-environment", "split-services"])
    load_noxfile().policy_cases(session)
    compiled = [run[run.index("-C") + 1] for run in session.runs if run[3:4] == ("compile",)]
    assert [Path(project).name for project in compiled] == [
        "disabled-environment",
        "split-services",
    ]
    checkov = [
        Path(run[run.index("--directory") + 1]) for run in session.runs if run[0] == "checkov"
    ]
    checked = [(folder.parent.name, folder.name) for folder in checkov]
    # the environments each spec enables (read from the two spec.yaml files)
    expected = [
        ("disabled-environment", "prod"),
        ("split-services", "dev"),
        ("split-services", "split"),
        ("split-services", "lab"),
    ]
    assert sorted(checked) == sorted(expected)
    assert len(checked) == len(set(checkov))
    for folder in checkov:
        (only,) = sorted(folder.iterdir())
        assert only.read_text() == f"# overlays/{folder.name}\n"


def test_policy_cases_lists_every_valid_case_and_refuses_an_unknown_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    noxfile = load_noxfile()
    with pytest.raises(SessionError, match="no valid case named no-such-case"):
        noxfile.policy_cases(RecordingSession(tmp_path, ["minimal", "no-such-case"]))


class LosingSession(RecordingSession):
    """A build that writes its output elsewhere (as `-o` relative to `-C` once did)."""

    def run(self, *args: str, **options: Any) -> str | None:
        if args[3:4] == ("build",):
            self.runs.append(args)
            return None
        return super().run(*args, **options)


def test_a_folder_without_its_rendering_fails_instead_of_passing_checkov(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    session = LosingSession(tmp_path)
    with pytest.raises(SessionError, match="expected one rendered environment, found 0"):
        load_noxfile().policy(session)
    assert not [run for run in session.runs if run[0] == "checkov"]


class FailingSession(RecordingSession):
    """checkov finds one failure in dev (exit 1, which the session accepts to go on)."""

    def run(self, *args: str, **options: Any) -> str | None:
        output = super().run(*args, **options)
        if args[0] == "checkov":
            assert 1 in options["success_codes"]
            if args[args.index("--directory") + 1].endswith("dev"):
                return "Passed checks: 2, Failed checks: 1, Skipped checks: 1\n"
        return output


def test_a_failure_fails_the_session_after_every_environment_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    session = FailingSession(tmp_path)
    with pytest.raises(SessionError, match=r"checkov failed in .*/dev$"):
        load_noxfile().policy(session)
    assert len([run for run in session.runs if run[0] == "checkov"]) == 2


def test_a_justified_failure_is_skipped_in_its_case_environment_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    session = RecordingSession(tmp_path, ["service-monitor-and-shutdown"])
    load_noxfile().policy_cases(session)
    skips = {
        Path(run[run.index("--directory") + 1]).name: run[run.index("--skip-check") + 1]
        for run in session.runs
        if run[0] == "checkov" and "--skip-check" in run
    }
    assert skips == {"dev": "CKV2_K8S_6"}  # the case sets networkPolicy.enabled: false in dev
