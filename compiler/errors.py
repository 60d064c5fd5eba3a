"""The one exception hierarchy of the compiler and the exit codes it maps to.

Nothing below the CLI prints or exits: stages raise these, and ``cli.run`` turns them
into one line per problem and an exit code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """Exit codes, the single table the README repeats."""

    OK = 0
    DIFFERENCES = 1  # drift found, or differences reported
    INVALID = 2  # invalid spec or command-line usage
    EXTERNAL = 3  # an external tool (kustomize, git) or the filesystem failed


@dataclass(frozen=True, order=True)
class Problem:
    """One finding in a spec, pointing at the file, line and column it comes from.

    ``line`` and ``column`` are 1-based. ``path`` is the dotted field path in the spec
    (``environments.prod.replicas``); it is empty for problems with the file itself.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    warning: bool = False

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        kind = "warning: " if self.warning else ""
        field = f"{self.path}: " if self.path else ""
        return f"{where}{kind}{field}{self.message}"


class CompilerError(Exception):
    """Root of every error the compiler reports to a user."""

    exit_code: ExitCode = ExitCode.INVALID

    def lines(self) -> list[str]:
        """The lines shown to the user, without a traceback."""
        return [f"error: {self}"]


class UsageError(CompilerError):
    """The command line asks for something that cannot be done."""


class SpecError(CompilerError):
    """The spec is invalid; carries every problem found, sorted by position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Sequence[Problem] = sorted(set(problems))
        super().__init__("\n".join(p.render() for p in self.problems))

    def lines(self) -> list[str]:
        return [p.render() for p in self.problems]


class ExternalError(CompilerError):
    """An external tool or the filesystem failed."""

    exit_code = ExitCode.EXTERNAL


class KustomizeError(ExternalError):
    """kustomize is missing or failed; carries its stderr."""

    def __init__(self, message: str, stderr: str = "") -> None:
        self.stderr = stderr.strip()
        super().__init__(message)

    def lines(self) -> list[str]:
        out = [f"error: {self}"]
        out.extend(f"  {line}" for line in self.stderr.splitlines())
        return out


class GitError(ExternalError):
    """git is missing or failed."""


class WriteError(ExternalError):
    """Writing the generated tree failed; the tree on disk was left as it was."""


class SecretFileError(CompilerError):
    """A generator's secret.env is malformed; each line names the file and line, never
    the content."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return [f"error: {p}" for p in self.problems]
