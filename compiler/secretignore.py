"""Keep the secretGenerator's `overlays/<env>/secret.env` files out of git, for good.

A secret.env holds real secret values and is the user's file: compile never writes or
deletes it. The overlay's own `.gitignore` goes when the environment stops using a
generator, so the rule that matters lives in the project's root `.gitignore`, which
compile adds the moment a secret.env can exist and never removes. `check` asks git
itself whether any secret.env is tracked or not ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler import git
from compiler.files import NotRegularFileError, read_regular
from compiler.fingerprint import SECRET_ENV
from compiler.spec import Spec
from compiler.write import write_file

GITIGNORE = ".gitignore"
IGNORE_RULE = f"/overlays/*/{SECRET_ENV}"
IGNORE_BLOCK = (
    f"# secretGenerator values (overlays/<env>/{SECRET_ENV}) never go into git;\n"
    f"# python -m compiler compile adds this rule and never removes it.\n{IGNORE_RULE}\n"
)


def generator_environments(spec: Spec) -> list[str]:
    """Enabled environments whose Secret a secretGenerator makes from a secret.env."""
    return [name for name, env in spec.enabled() if env.auth_secret.source == "generator"]


def env_files_on_disk(root: Path) -> list[str]:
    """Every overlays/<env>/secret.env present, by path relative to ``root``."""
    overlays = root / "overlays"
    if not overlays.is_dir():
        return []
    return sorted(
        f"overlays/{entry.name}/{SECRET_ENV}"
        for entry in overlays.iterdir()
        if (entry / SECRET_ENV).is_file() or (entry / SECRET_ENV).is_symlink()
    )


def has_ignore_rule(root: Path) -> bool:
    try:
        text = read_regular(root / GITIGNORE).decode("utf-8")
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, NotRegularFileError):
        return True  # not ours to rewrite; check asks git whether the files are ignored
    return IGNORE_RULE in (line.strip() for line in text.splitlines())


def ensure_ignore_rule(root: Path, spec: Spec) -> bool:
    """Add IGNORE_RULE to the root .gitignore when a secret.env can exist (a generator
    environment, or one on disk) and the rule is missing; True when the file changed."""
    if not generator_environments(spec) and not env_files_on_disk(root):
        return False
    if has_ignore_rule(root):
        return False
    path = root / GITIGNORE
    try:
        current = read_regular(path).decode("utf-8")
    except FileNotFoundError:
        current = ""
    if current:  # the user's lines stay as they are; a blank line, then the rule
        current = current.rstrip("\n") + "\n\n"
    write_file(path, current + IGNORE_BLOCK)
    return True


@dataclass(frozen=True)
class LeftBehind:
    """A secret.env on disk that no enabled generator environment reads."""

    path: str
    reason: str

    def warning(self) -> str:
        return (
            f"{self.path} is left behind: {self.reason}, so nothing reads it; it still "
            "holds secret values (git-ignored): delete it once they are stored elsewhere"
        )


def left_behind(root: Path, spec: Spec) -> list[LeftBehind]:
    using = set(generator_environments(spec))
    found: list[LeftBehind] = []
    for path in env_files_on_disk(root):
        name = path.split("/")[1]
        if name in using:
            continue
        env = spec.environments.get(name)
        if env is None:
            reason = f"environment {name!r} is no longer in the spec"
        elif not env.enabled:
            reason = f"environment {name!r} is disabled"
        else:
            reason = f"environment {name!r} has authSecret.source {env.auth_secret.source}"
        found.append(LeftBehind(path, reason))
    return found


def exposed_env_files(root: Path, spec: Spec) -> list[str]:
    """Problems that would let a secret.env into git: one line per file tracked by git or
    not ignored. Outside a git work tree (or without git) there is nothing to commit to."""
    paths = sorted(
        set(env_files_on_disk(root))
        | {f"overlays/{name}/{SECRET_ENV}" for name in generator_environments(spec)}
    )
    if not paths:
        return []
    if not git.is_work_tree(root):
        return []
    tracked = git.tracked(paths, root)
    ignored = git.ignored(paths, root)
    problems = [
        f"{path} is tracked by git; it holds secret values: git rm --cached {path}, then "
        "rotate them (they stay in the history)"
        for path in sorted(tracked)
    ]
    problems += [
        f"{path} is not ignored by git; run python -m compiler compile (it adds "
        f"{IGNORE_RULE} to {GITIGNORE}) or add that rule yourself"
        for path in paths
        if path not in tracked and path not in ignored
    ]
    return problems
