"""The few git operations the compiler needs: `diff` picks a base revision and exports
its generated tree; `check` asks which secret.env files git tracks or ignores."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from compiler.errors import GitError

EXPORTED = ("base", "overlays")


def git(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def is_work_tree(cwd: Path | None = None) -> bool:
    """Whether ``cwd`` is inside a git work tree (False too when git cannot run)."""
    try:
        return git("rev-parse", "--is-inside-work-tree", cwd=cwd).strip() == "true"
    except GitError:
        return False


def tracked(paths: list[str], cwd: Path | None = None) -> set[str]:
    """Those of ``paths`` that git tracks."""
    return set(git("ls-files", "-z", "--", *paths, cwd=cwd).split("\0")) - {""}


def ignored(paths: list[str], cwd: Path | None = None) -> set[str]:
    """Those of ``paths`` that git ignores (check-ignore exits 1 when it ignores none)."""
    try:
        done = subprocess.run(
            ["git", "check-ignore", "-z", "--stdin"],
            input="\0".join(paths),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}") from None
    if done.returncode not in (0, 1):
        raise GitError(f"git check-ignore failed: {done.stderr.strip() or done.returncode}")
    return set(done.stdout.split("\0")) - {""}


def has_revision(revision: str, cwd: Path | None = None) -> bool:
    try:
        git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", cwd=cwd)
    except GitError:
        return False
    return True


def default_base(cwd: Path | None = None) -> str:
    """The merge base with origin/main when it exists, else HEAD."""
    if has_revision("origin/main", cwd):
        return git("merge-base", "HEAD", "origin/main", cwd=cwd).strip()
    return "HEAD"


def short_revision(revision: str, cwd: Path | None = None) -> str:
    if not has_revision(revision, cwd):
        raise GitError(f"unknown revision {revision!r}")
    return git("rev-parse", "--short", f"{revision}^{{commit}}", cwd=cwd).strip()


def overlay_names(revision: str, cwd: Path | None = None) -> list[str]:
    """Environments with an overlay committed at ``revision``."""
    listing = git("ls-tree", "-r", "--name-only", revision, "--", "overlays", cwd=cwd).split()
    return sorted(
        path.split("/")[1]
        for path in listing
        if path.count("/") == 2 and path.endswith("/kustomization.yaml")
    )


def export_tree(
    revision: str,
    destination: Path,
    cwd: Path | None = None,
    paths: tuple[str, ...] = EXPORTED,
) -> None:
    """Write ``paths`` (default base/ and overlays/) as committed at ``revision``."""
    if not has_revision(revision, cwd):
        raise GitError(f"unknown revision {revision!r}")
    listing = git("ls-tree", "--name-only", revision, "--", *paths, cwd=cwd).split()
    destination.mkdir(parents=True, exist_ok=True)
    if not listing:
        return  # nothing generated at that revision: everything is new
    try:
        done = subprocess.run(
            ["git", "archive", "--format=tar", revision, "--", *listing],
            cwd=cwd,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}") from None
    if done.returncode != 0:
        raise GitError(
            f"git archive {revision} failed: {done.stderr.decode(errors='replace').strip()}"
        )
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(destination, filter="data")
