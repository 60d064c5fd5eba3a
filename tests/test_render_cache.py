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


# A fleet (kustomize.build_many: one process for several overlays, from a generated
# kustomization listing them) is logged as a build of each overlay it lists.
LOG_CALL = """\
case "$1 $2" in
  "build "*/llmgw-fleet-*) sed -n 's/^  - "\\(.*\\)"$/build \\1/p' "$2/kustomization.yaml" >> LOG;;
  *) echo "$*" >> LOG;;
esac
"""


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
        + LOG_CALL.replace("LOG", shlex.quote(str(log)))
        + 'if [ "$1" = version ]; then\n'
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


def git(project: Path, *args: str) -> None:
    """git in ``project``, as a test user."""
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def test_diff_renders_only_what_changed_and_reads_the_base_side_from_git(
    logged: Path, project: Path
) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "initial")
    first = run_cli("diff")
    assert first.code == 0, first.err
    # Cold: each overlay once, for both sides (HEAD's overlays are what the spec compiles to).
    assert built(logged) == ["dev", "prod"]
    assert run_cli("diff").out == first.out
    assert built(logged) == []
    edit(project / "spec" / "llmgateway.yaml", "    replicas: 3\n", "    replicas: 4\n")
    changed = run_cli("diff")
    assert changed.code == 1
    assert "spec.replicas: 3 -> 4" in changed.out
    assert built(logged) == ["prod"]  # the spec side of prod; HEAD's side is cached
    # A new commit: the committed side of prod has new tree ids, dev's are the same.
    assert run_cli("compile").code == 0
    git(project, "commit", "-qam", "four replicas")
    assert run_cli("diff", "--base", "HEAD").code == 0
    assert built(logged) == []  # HEAD's prod is the spec's, rendered by the diff before
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


# diff's two sides: an overlay committed at the base revision exactly as the spec compiles
# it (the same git tree ids for base/ and the overlay) is rendered once for both, and the
# overlays on disk start rendering before the spec is read (rendercache.EarlyRender).


def commit(project: Path, message: str = "initial", *, init: str = "") -> None:
    if init:
        git(project, "init", "-q", "-b", "main", f"--object-format={init}")
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_the_plan_s_git_tree_ids_are_git_s(logged: Path, project: Path, object_format: str) -> None:
    from compiler import git
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.render import committed_as_planned
    from compiler.rendercache import git_tree_id

    commit(project, init=object_format)
    tree = plan_tree(load_spec("spec/llmgateway.yaml"))
    trees = git.tree_ids("HEAD", ("base", ".gitattributes", "overlays/"))
    assert len(trees["base"]) == (40 if object_format == "sha1" else 64)
    for directory in ("base", "overlays/dev", "overlays/prod"):
        files = {
            rel.removeprefix(f"{directory}/"): data
            for rel, data in tree.items()
            if rel.startswith(f"{directory}/")
        }
        assert git_tree_id(files, object_format) == trees[directory]
    assert committed_as_planned(trees, tree, ["dev", "prod"]) == ["dev", "prod"]


def test_diff_renders_the_overlays_before_it_reads_the_spec(logged: Path, project: Path) -> None:
    """A diff that fails after reading the spec (an unknown revision) has rendered the
    committed overlays already; the next diff renders nothing."""
    commit(project, init="sha1")
    assert run_cli("diff", "--base", "no-such-revision").code == 3
    assert built(logged) == ["dev", "prod"]
    result = run_cli("diff")
    assert result.code == 0, result.err
    assert built(logged) == []


def test_diff_waits_for_the_early_rendering_and_asks_kustomize_s_identity_once(
    logged: Path,
    project: Path,
    kustomize: Kustomize,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However long the early rendering takes, diff uses it (here each build first waits
    1.5 s, longer than the spec's load), and the identity its cache asked."""
    commit(project, init="sha1")
    slow = tmp_path / "slow-kustomize"
    logging = shlex.quote(str(logged.parent / "bin" / "kustomize"))
    slow.write_text(f'#!/bin/sh\n[ "$1" = version ] || sleep 1.5\nexec {logging} "$@"\n')
    slow.chmod(0o755)
    monkeypatch.setenv("KUSTOMIZE", str(slow))
    result = run_cli("diff")
    assert result.code == 0, result.err
    calls = logged.read_text().splitlines()
    assert sum(call.startswith("version") for call in calls) == 1
    assert built(logged) == ["dev", "prod"]


def test_diff_of_one_environment_renders_only_it(logged: Path, project: Path) -> None:
    commit(project, init="sha1")
    result = run_cli("diff", "--env", "prod")
    assert result.code == 0, result.err
    assert built(logged) == ["prod"]  # once, early, for both sides


def test_an_overlay_changed_on_either_side_is_rendered_from_its_own_inputs(
    logged: Path, project: Path
) -> None:
    """No rendering is shared unless both sides' files are the same: the spec's side
    changed (not compiled), then the base revision's side (compiled and committed)."""
    spec = project / "spec" / "llmgateway.yaml"
    commit(project, init="sha1")
    edit(spec, "    replicas: 3\n", "    replicas: 4\n")
    changed = run_cli("diff")
    assert changed.code == 1
    assert "spec.replicas: 3 -> 4" in changed.out
    assert "dev: no changes" in changed.out
    assert built(logged) == ["dev", "prod", "prod"]  # dev once; prod's two sides
    assert run_cli("compile").code == 0
    commit(project, "four replicas")
    shutil.rmtree(project / ".llmgw-cache")
    back = run_cli("diff", "--base", "HEAD~1")
    assert back.code == 1
    assert back.out.split("\n", 1)[1] == changed.out.split("\n", 1)[1]  # the label aside
    assert built(logged) == ["dev", "prod", "prod"]


@pytest.mark.parametrize("extra", ["overlays/prod/NOTES.md", ".gitattributes"])
def test_committed_files_the_plan_lacks_are_never_shared(
    logged: Path, project: Path, extra: str
) -> None:
    """A file committed in the overlay beside the generated ones, or a .gitattributes (which
    git archive applies): that overlay's committed side is exported and rendered itself."""
    (project / extra).write_text("# mine\n")
    commit(project, init="sha1")
    result = run_cli("diff")
    assert result.code == 0, result.err
    assert "prod: no changes" in result.out
    # NOTES.md: dev early (shared); prod early, its committed side, the plan's side.
    # .gitattributes: both early (the plan's side), both committed sides.
    renders = {"overlays/prod/NOTES.md": ["dev", "prod", "prod", "prod"]}
    assert built(logged) == renders.get(extra, ["dev", "dev", "prod", "prod"])


def test_a_changed_base_shares_nothing(logged: Path, project: Path) -> None:
    """Only base/ changed: every overlay's committed side renders with its own base."""
    commit(project, init="sha1")
    edit(project / "spec" / "llmgateway.yaml", "admin@chrislee.local", "root@chrislee.local")
    result = run_cli("diff")
    assert result.code == 1
    assert "dev: no changes" not in result.out
    assert "prod: no changes" not in result.out
    assert "root@chrislee.local" in result.out
    assert built(logged) == ["dev", "dev", "prod", "prod"]


def test_an_early_rendering_that_reads_outside_or_whose_files_changed_is_not_kept(
    logged: Path,
    project: Path,
    kustomize: Kustomize,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dev holds a kustomization of the user's naming a file outside the overlay; prod's
    files change while kustomize renders it. Neither rendering is kept."""
    from compiler.rendercache import EarlyRender

    mine = project / "overlays" / "dev" / "mine"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text("resources:\n  - ../../../outside.yaml\n")
    edited = "echo '# edited' >> overlays/prod/kustomization.yaml"
    wrapper = tmp_path / "editing-kustomize"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then\n'
        f"  exec {shlex.quote(kustomize.build_command[0])} version --client\nfi\nshift\n"
        f'{shlex.join(kustomize.build_command)} "$@" || exit 1\n'
        # prod alone, or in a fleet (a generated kustomization listing it).
        'case "$1 $(cat "$1/kustomization.yaml")" in *overlays/prod*)'
        f" cd {shlex.quote(str(project))} && {edited};; esac\n"
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("KUSTOMIZE", str(wrapper))
    cache = EarlyRender(project, "spec/llmgateway.yaml").done()
    assert cache is not None
    assert not list((project / ".llmgw-cache").glob("rendered/*"))


def test_kustomize_s_identity_is_asked_while_the_overlays_render(
    logged: Path,
    project: Path,
    kustomize: Kustomize,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing cached, the early rendering does not wait for `kustomize version`
    (only the keys need it): here `version` answers only once a build has started."""
    from compiler.rendercache import EarlyRender

    started = tmp_path / "a-build-started"
    wrapper = tmp_path / "waiting-kustomize"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then\n'
        f"  i=0; while [ ! -e {shlex.quote(str(started))} ] && [ $i -lt 100 ]; do\n"
        "    sleep 0.05; i=$((i+1)); done\n"
        f"  [ -e {shlex.quote(str(started))} ] || exit 1\n"
        f"  exec {shlex.quote(kustomize.build_command[0])} version --client\n"
        "fi\n"
        f"touch {shlex.quote(str(started))}\nshift\n"
        f'exec {shlex.join(kustomize.build_command)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("KUSTOMIZE", str(wrapper))
    early = EarlyRender(project, "spec/llmgateway.yaml")
    cache = early.done()
    assert cache is not None
    assert cache.identity is not None  # answered: a build had started
    keys = cache.keys([project / "overlays" / "dev", project / "overlays" / "prod"])
    assert all(key and cache.cache.get("rendered", key) for key in keys)


def test_a_committed_side_cached_under_its_git_keys_writes_no_file(
    logged: Path, project: Path, tmp_path: Path
) -> None:
    """The first diff renders the committed-as-planned overlays once and keeps them under
    their git keys too; a later diff finds them there: nothing of the plan is written
    (at 100 environments, hundreds of files) and nothing is rendered."""
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.render import render, render_revision
    from compiler.rendercache import RenderCache

    commit(project, init="sha1")
    assert run_cli("diff").code == 0
    assert built(logged) == ["dev", "prod"]
    tree = plan_tree(load_spec("spec/llmgateway.yaml"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    cache = RenderCache(project, find_kustomize())
    texts = render_revision(cache.kustomize, "HEAD", ["dev", "prod"], scratch, cache, tree)
    assert list(scratch.iterdir()) == []
    overlays = [project / "overlays" / name for name in ("dev", "prod")]
    assert texts == render(cache.kustomize, overlays, cache=cache)
    assert built(logged) == []
