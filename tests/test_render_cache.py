"""The render cache of check, diff, lint and snapshot: kustomize runs only for overlays
whose inputs changed, and every input it reads invalidates the entry.

kustomize is the real one behind a logging wrapper ($KUSTOMIZE), whose `version` answer
comes from a file, so a test can change the version string without touching the binary.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.kustomize import Kustomize
from tests.conftest import ROOT
from tests.helpers import run_cli

SECRET = "s3cr3t-value-that-must-never-be-cached-0123456789abcdef"


def logging_kustomize(directory: Path, kustomize: Kustomize) -> tuple[Path, Path]:
    """A kustomize in ``directory`` that logs every call, then runs the real kustomize;
    its path and its log's. Its `version` answer comes from kustomize.version there."""
    log = directory / "kustomize.log"
    version = directory / "kustomize.version"
    version.write_text("v5.5.0\n")
    wrapper = directory / "bin" / "kustomize"
    wrapper.parent.mkdir()
    real = shlex.join(kustomize.build_command)
    wrapper.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {shlex.quote(str(log))}\n'
        'if [ "$1" = version ]; then\n'
        f"  printf 'Kustomize Version: %s\\n' \"$(cat {shlex.quote(str(version))})\"; exit 0\n"
        "fi\n"
        "shift\n"
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.fixture(scope="session")
def snapshotted(tmp_path_factory: pytest.TempPathFactory, kustomize: Kustomize) -> Path:
    """The committed spec compiled and snapshotted through a logging kustomize, its render
    cache removed: made once, copied by each test (the files each test made before)."""
    root = tmp_path_factory.mktemp("snapshotted")
    (root / "spec").mkdir()
    shutil.copy(ROOT / "spec" / "llmgateway.yaml", root / "spec" / "llmgateway.yaml")
    wrapper, _ = logging_kustomize(tmp_path_factory.mktemp("kustomize"), kustomize)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("KUSTOMIZE", str(wrapper))
        monkeypatch.chdir(root)
        assert run_cli("compile").code == 0
        assert run_cli("snapshot").code == 0
    shutil.rmtree(root / ".llmgw-cache")  # each test starts cold
    return root


@pytest.fixture
def logged(
    project: Path,
    tmp_path: Path,
    kustomize: Kustomize,
    snapshotted: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A $KUSTOMIZE that logs every call, then runs the real kustomize; the log's path.
    The project is compiled and snapshotted, with no render cache."""
    wrapper, log = logging_kustomize(tmp_path, kustomize)
    monkeypatch.setenv("KUSTOMIZE", str(wrapper))
    shutil.copytree(snapshotted, project, symlinks=True, dirs_exist_ok=True)
    log.write_text("")
    return log


def built(log: Path) -> list[str]:
    """The environments kustomize rendered since the last call (sorted), and reset the log."""
    names = sorted(
        Path(line.split(" ", 1)[1]).name
        for line in log.read_text().splitlines()
        if line.startswith("build ")
    )
    log.write_text("")
    return names


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_second_check_renders_nothing(logged: Path) -> None:
    first = run_cli("check")
    assert first.code == 0, first.out + first.err
    assert built(logged) == ["dev", "prod"]
    again = run_cli("check")
    assert (again.code, again.out) == (0, first.out)
    assert built(logged) == []


def test_a_changed_patch_file_renders_that_overlay_again(logged: Path, project: Path) -> None:
    assert run_cli("check").code == 0
    built(logged)
    edit(
        project / "spec" / "llmgateway.yaml",
        "    topology: split\n",
        "    topology: split\n    ingress:\n      className: traefik\n",
    )
    assert run_cli("compile").code == 0
    result = run_cli("check")
    assert built(logged) == ["prod"]  # overlays/prod/patch-ingress-llmgateway-*.yaml
    assert result.code == 1
    assert (
        "               Ingress/llmgateway/llmgateway-ui: spec.ingressClassName: "
        "'nginx' -> 'traefik'" in result.out.splitlines()
    )


def test_a_changed_base_renders_every_overlay_again(logged: Path, project: Path) -> None:
    assert run_cli("check").code == 0
    built(logged)
    edit(project / "spec" / "llmgateway.yaml", "      memory: 512Mi\n", "      memory: 640Mi\n")
    assert run_cli("compile").code == 0
    result = run_cli("check")
    assert built(logged) == ["dev", "prod"]
    assert result.code == 1
    assert "'512Mi' -> '640Mi'" in result.out


def test_another_kustomize_version_renders_everything_again(logged: Path, tmp_path: Path) -> None:
    assert run_cli("check").code == 0
    built(logged)
    (tmp_path / "kustomize.version").write_text("v5.5.1\n")  # the same binary, another version
    assert run_cli("check").code == 0
    assert built(logged) == ["dev", "prod"]
    assert run_cli("check").code == 0
    assert built(logged) == []


@pytest.mark.parametrize(
    "corruption",
    [b"", b"\xff\xfe not text", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted}\n"],
    ids=["empty", "not-utf8", "content-without-its-digest"],
)
def test_a_corrupt_entry_is_a_miss(corruption: bytes, logged: Path, project: Path) -> None:
    first = run_cli("check", "--output", "json")
    built(logged)
    entries = sorted((project / ".llmgw-cache" / "rendered").iterdir())
    assert len(entries) == 2
    for entry in entries:
        entry.write_bytes(corruption)
    again = run_cli("check", "--output", "json")
    assert (again.code, again.out) == (0, first.out)
    assert built(logged) == ["dev", "prod"]
    assert "planted" not in again.out
    assert all(entry.read_bytes() != corruption for entry in entries)


def test_a_tampered_entry_is_a_miss(logged: Path, project: Path) -> None:
    """An entry whose content no longer matches its digest is never trusted."""
    assert run_cli("check").code == 0
    built(logged)
    for entry in (project / ".llmgw-cache" / "rendered").iterdir():
        digest, _, content = entry.read_bytes().partition(b"\n")
        planted = b"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planted\n"
        entry.write_bytes(digest + b"\n" + content + planted)
    result = run_cli("check", "--output", "json")
    assert result.code == 0, result.out
    assert "planted" not in result.out
    assert built(logged) == ["dev", "prod"]


def test_an_overlay_reading_outside_itself_is_never_cached(logged: Path, project: Path) -> None:
    """kustomize reads what the key does not cover: rendered every time, so a change there
    shows (lint renders the committed overlays as they are)."""
    extra = project / "extra"
    extra.mkdir()
    (extra / "kustomization.yaml").write_text("resources: [configmap.yaml]\n")
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  value: {}\n"
    (extra / "configmap.yaml").write_text(configmap.format("one"))
    edit(
        project / "overlays" / "prod" / "kustomization.yaml",
        "  - ../../base\n",
        "  - ../../base\n  - ../../extra\n",
    )
    for value in ("one", "two"):
        (extra / "configmap.yaml").write_text(configmap.format(value))
        done = run_cli("lint", "overlays/prod", "--output", "json")
        assert done.code in (0, 1), done.err
        assert built(logged) == ["prod"]


def test_diff_renders_only_what_changed_and_reads_the_base_side_from_git(
    logged: Path, project: Path
) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=project,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "initial")
    first = run_cli("diff")
    assert first.code == 0, first.err
    assert built(logged) == ["dev", "dev", "prod", "prod"]  # both sides, cold
    assert run_cli("diff").out == first.out
    assert built(logged) == []
    edit(project / "spec" / "llmgateway.yaml", "    replicas: 3\n", "    replicas: 4\n")
    changed = run_cli("diff")
    assert changed.code == 1
    assert "spec.replicas: 3 -> 4" in changed.out
    assert built(logged) == ["prod"]  # the spec side of prod; HEAD's side is cached
    # A new commit: the committed side of prod has new tree ids, dev's are the same.
    assert run_cli("compile").code == 0
    git("commit", "-qam", "four replicas")
    assert run_cli("diff", "--base", "HEAD").code == 0
    assert built(logged) == ["prod"]
    back = run_cli("diff", "--base", "HEAD~1")
    assert back.code == 1
    assert "spec.replicas: 3 -> 4" in back.out
    assert built(logged) == []


def test_no_secret_value_reaches_the_cache(logged: Path, project: Path) -> None:
    edit(
        project / "spec" / "llmgateway.yaml",
        "  prod:\n",
        "  prod:\n    authSecret:\n      source: generator\n",
    )
    assert run_cli("compile").code == 0
    assert run_cli("snapshot").code == 0
    (project / "overlays" / "prod" / "secret.env").write_text(
        f"AUTH_SECRET={SECRET}\nGATEWAY_API_KEY_HASH_SECRET={SECRET}x\n"
        f"REDIS_PASSWORD={SECRET}y\n"  # prod's in-cluster Redis
    )
    shutil.rmtree(project / ".llmgw-cache")
    built(logged)
    assert run_cli("check").code == 0
    assert built(logged) == ["dev", "prod"]
    assert run_cli("check").code == 0
    assert built(logged) == []
    cached = b"".join(p.read_bytes() for p in (project / ".llmgw-cache").rglob("*") if p.is_file())
    assert base64.b64encode(b"placeholder-not-a-secret") in cached  # a Secret's data
    for value in (SECRET, f"{SECRET}x", f"{SECRET}y"):
        assert value.encode() not in cached
        assert base64.b64encode(value.encode()) not in cached
