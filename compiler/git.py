"""The few git operations the compiler needs: `diff` picks a base revision and exports
its generated tree; `check` asks which secret.env files git tracks or ignores."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from compiler.errors import ExternalError, GitError
from compiler.tools import Completed, run_tool

EXPORTED = ("base", "overlays")


def run_git(*args: str, cwd: Path | None = None) -> Completed:
    try:
        return run_tool(["git", *args], tool=f"git {args[0]}", cwd=cwd)
    except ExternalError as exc:
        raise GitError(str(exc)) from None


def git(*args: str, cwd: Path | None = None) -> str:
    done = run_git(*args, cwd=cwd)
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        raise GitError(f"git {' '.join(args)} failed: {stderr or done.returncode}")
    return done.stdout.decode("utf-8", errors="replace")


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
    done = run_git("-c", "core.quotePath=false", "check-ignore", "--", *paths, cwd=cwd)
    if done.returncode not in (0, 1):
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        raise GitError(f"git check-ignore failed: {stderr or done.returncode}")
    return set(done.stdout.decode("utf-8", errors="replace").splitlines())


def has_revision(revision: str, cwd: Path | None = None) -> bool:
    # A git that cannot run or hangs is an error, not a missing revision.
    done = run_git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", cwd=cwd)
    return done.returncode == 0


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


def tree_ids(revision: str, paths: tuple[str, ...], cwd: Path | None = None) -> dict[str, str]:
    """The object ids of ``paths`` at ``revision`` (`dir/` lists the entries of dir),
    read without exporting anything: a tree id is a digest of everything under it."""
    ids: dict[str, str] = {}
    for entry in git("ls-tree", "-z", revision, "--", *paths, cwd=cwd).split("\0"):
        meta, _, path = entry.partition("\t")
        if path:
            ids[path] = meta.split()[2]
    return ids


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
    done = run_git("archive", "--format=tar", revision, "--", *listing, cwd=cwd)
    if done.returncode != 0:
        raise GitError(
            f"git archive {revision} failed: {done.stderr.decode(errors='replace').strip()}"
        )
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        # The "data" filter refuses absolute links, links out of the tree and special
        # files; a commit holding one is reported, never followed.
        try:
            archive.extractall(destination, filter="data")
        except tarfile.FilterError as exc:
            member = exc.tarinfo.name
            raise GitError(
                f"{member} at {revision} is unsafe to export ({exc}); "
                "compare with a revision without it"
            ) from None
        except (tarfile.TarError, OSError) as exc:
            raise GitError(f"cannot export {revision}: {exc}") from None
