"""`nox -s policy` runs checkov once per environment, each on a folder of its own.

checkov relates resources found in one directory (CKV2_K8S_6: a NetworkPolicy for each
pod): with every environment in one folder, prod's policy hid dev's missing one. The
session is run with a recording stand-in for nox's Session (nox itself is not under test).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


class RecordingSession:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
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

    def run(self, *args: str, **options: Any) -> None:
        self.runs.append(args)
        if args[:4] == ("python", "-m", "compiler", "build"):
            output = Path(args[args.index("-o") + 1])
            assert output.parent.is_dir()
            output.write_text(f"# {args[4]}\n")


def test_checkov_runs_once_per_environment_in_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    monkeypatch.chdir(ROOT)
    session = RecordingSession(tmp_path)
    noxfile.policy(session)
    checkov = [run for run in session.runs if run[0] == "checkov"]
    folders = [Path(run[run.index("--directory") + 1]) for run in checkov]
    assert len(checkov) == 2  # dev and prod
    assert len(set(folders)) == 2
    for folder in folders:
        (only,) = sorted(folder.iterdir())
        assert only.read_text() == f"# overlays/{folder.name}\n"
