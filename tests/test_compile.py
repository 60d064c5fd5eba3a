"""compile: byte-stable output, only changed files rewritten, users' files kept."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from compiler.emit import HEADER_MARK
from tests.conftest import ROOT
from tests.helpers import read_tree, run_cli, unified_prod


def committed_tree() -> dict[str, bytes]:
    return {
        f"{top}/{rel}": data
        for top in ("base", "overlays", "docs")
        for rel, data in read_tree(ROOT / top).items()
    }


def tree_diff(before: dict[str, bytes], after: dict[str, bytes]) -> str:
    """A unified diff of two trees of files, for a failure message."""
    lines: list[str] = []
    for rel in sorted(set(before) | set(after)):
        old = before.get(rel, b"").decode(errors="replace").splitlines()
        new = after.get(rel, b"").decode(errors="replace").splitlines()
        if rel not in before or rel not in after or old != new:
            lines += difflib.unified_diff(
                old, new, f"committed/{rel}", f"compiled/{rel}", n=1, lineterm=""
            )
    return "\n".join(lines)


def test_committed_tree_is_up_to_date(tmp_path: Path) -> None:
    """Compile a temporary copy of the checkout: a stale tree fails with the diff, and the
    repository itself is never written (so the next run cannot pass by accident)."""
    copy = tmp_path / "checkout"
    for top in ("spec", "base", "overlays", "docs", "gitops"):
        if (ROOT / top).exists():
            shutil.copytree(ROOT / top, copy / top, symlinks=True)
    before = read_tree(copy)
    result = run_cli("-C", str(copy), "compile")
    assert result.code == 0, result.err
    after = read_tree(copy)
    assert after == before, "run python -m compiler compile:\n" + tree_diff(before, after)
    # base/ and dev's unified files, prod's split ones (split services, data services).
    assert result.out.splitlines()[-1] == "0 created, 0 updated, 0 deleted, 55 unchanged"


def test_compile_reports_created_then_unchanged(project: Path) -> None:
    first = run_cli("compile")
    assert first.code == 0, first.err
    assert "  created base/kustomization.yaml" in first.out.splitlines()
    assert "  created overlays/prod/kustomization.yaml" in first.out.splitlines()
    second = run_cli("compile")
    assert second.code == 0
    assert "  created" not in second.out
    assert "unchanged overlays/dev/kustomization.yaml" in second.out


def test_every_generated_file_starts_with_the_header(project: Path) -> None:
    assert run_cli("compile").code == 0
    for rel, data in read_tree(project).items():
        if rel.startswith(("base/", "overlays/")):
            first = data.split(b"\n", 1)[0].decode()
            assert first.startswith(f"# {HEADER_MARK} from spec/llmgateway.yaml"), rel
            assert "python -m compiler compile" in first
            assert b"\r" not in data


def test_unchanged_files_are_not_rewritten(project: Path) -> None:
    unified_prod(project)  # prod: the unified Deployment of 3 pods
    assert run_cli("compile").code == 0
    path = project / "base" / "deployment-llmgateway.yaml"
    os.utime(path, (1_000_000, 1_000_000))
    inode = path.stat().st_ino
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    result = run_cli("compile")
    assert result.code == 0, result.err
    assert "  updated overlays/prod/kustomization.yaml" in result.out.splitlines()
    assert path.stat().st_mtime == 1_000_000
    assert path.stat().st_ino == inode


def run_compile_subprocess(root: Path, **env: str) -> dict[str, bytes]:
    subprocess.run(
        [sys.executable, "-m", "compiler", "compile", "-q"],
        cwd=root,
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    return read_tree(root)


def test_output_is_byte_stable_across_hash_seeds_and_locales(tmp_path: Path) -> None:
    trees = []
    for index, env in enumerate(
        [
            {"PYTHONHASHSEED": "0", "LC_ALL": "C"},
            {"PYTHONHASHSEED": "12345", "LC_ALL": "C.UTF-8", "LANG": "de_DE.UTF-8"},
        ]
    ):
        root = tmp_path / f"run{index}"
        (root / "spec").mkdir(parents=True)
        (root / "spec" / "llmgateway.yaml").write_bytes(
            (ROOT / "spec" / "llmgateway.yaml").read_bytes()
        )
        trees.append(run_compile_subprocess(root, **env))
    assert trees[0] == trees[1]
    generated = {rel: data for rel, data in trees[0].items() if not rel.startswith("spec/")}
    assert generated == committed_tree()


def test_user_files_are_kept_and_reported(project: Path) -> None:
    assert run_cli("compile").code == 0
    mine = project / "overlays" / "prod" / "notes.md"
    mine.write_text("my notes\n")
    result = run_cli("compile")
    assert result.code == 0
    assert "     kept overlays/prod/notes.md (not generated, left alone)" in result.out
    assert mine.read_text() == "my notes\n"


def test_a_user_file_in_the_way_is_never_overwritten(project: Path) -> None:
    mine = project / "base" / "kustomization.yaml"
    mine.parent.mkdir()
    mine.write_text("resources: []\n")
    before = read_tree(project)
    result = run_cli("compile")
    assert result.code == 2
    assert (
        "base/kustomization.yaml: a file without the generated header is in the way" in result.err
    )
    assert read_tree(project) == before


def test_removed_environment_deletes_its_generated_files_only(project: Path) -> None:
    assert run_cli("compile").code == 0
    mine = project / "overlays" / "dev" / "secret.env.example"
    mine.write_text("AUTH_SECRET=\n")
    spec = project / "spec" / "llmgateway.yaml"
    text = spec.read_text()
    start = text.index("  # A single pod for trying changes")
    end = text.index("  # Production: upstream's services")
    spec.write_text(text[:start] + text[end:])
    result = run_cli("compile")
    assert result.code == 0, result.err
    assert "  deleted overlays/dev/kustomization.yaml" in result.out.splitlines()
    assert "  deleted overlays/dev/patch-deployment-llmgateway.yaml" in result.out.splitlines()
    assert "     kept overlays/dev/secret.env.example (not generated, left alone)" in result.out
    assert sorted(p.name for p in (project / "overlays" / "dev").iterdir()) == [
        "secret.env.example"
    ]
    assert (project / "overlays" / "prod" / "kustomization.yaml").exists()


def test_removed_environment_directory_is_pruned(project: Path) -> None:
    assert run_cli("compile").code == 0
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("  dev:\n", "  dev:\n    enabled: false\n"))
    result = run_cli("compile")
    assert result.code == 0, result.err
    assert not (project / "overlays" / "dev").exists()


def test_invalid_spec_writes_nothing(project: Path) -> None:
    unified_prod(project)  # prod: the unified Deployment of 3 pods
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 0"))
    result = run_cli("compile")
    assert result.code == 2
    assert "environments.prod.replicas: must be at least 1, not 0" in result.err
    assert not (project / "base").exists()


def test_emitter_escapes_what_yaml_readers_refuse() -> None:
    from ruamel.yaml import YAML

    from compiler.emit import dump

    value = "a\x7fb\x80c\x85d\x9fe\ufffef\uffffg é ü 😀"
    text = dump({"key": value, value: 1})
    assert not any(ch in text for ch in "\x7f\x80\x85\x9f\ufffe\uffff")
    assert "é ü 😀" in text  # printable characters stay readable
    assert YAML(typ="safe", pure=True).load(text) == {"key": value, value: 1}


def test_compile_says_when_the_golden_manifests_need_a_snapshot(project: Path) -> None:
    first = run_cli("compile")
    assert first.err.splitlines()[-1] == (
        "note: this changes what dev, prod render; review it (python -m compiler diff), "
        "then update the golden manifests: python -m compiler snapshot"
    )
    assert "note:" not in run_cli("compile").err  # nothing changed
    spec = project / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    assert run_cli("compile").err.splitlines()[-1] == (
        "note: this changes what prod renders; review it (python -m compiler diff), "
        "then update the golden manifests: python -m compiler snapshot"
    )
    staging = (
        "  staging:\n    namespace: llmgateway-staging\n    domain: staging.llm.chrislee.local\n"
    )
    spec.write_text(spec.read_text().replace("  prod:\n", staging + "  prod:\n"))
    assert "note: this changes what staging renders;" in run_cli("compile").err
    # Only the documentation page changes: nothing renders differently.
    comment = "  # Production: upstream's services"
    assert comment in spec.read_text()
    spec.write_text(spec.read_text().replace(comment, "  # Production: the services"))
    assert "note:" not in run_cli("compile").err
