"""Shell completion for bash, zsh and fish, generated from the command line's own parser.

shtab turns the argparse parser into each shell's script, so a new command or option
completes without anyone editing a script. Options that take an environment complete
its names from the spec in the current directory, read when Tab is pressed (a new
environment completes at once); file and directory options complete paths.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compiler.console import Output
from compiler.errors import ExitCode, UsageError

SHELLS = ("bash", "zsh", "fish")
# The scripts complete the console script: a shell completes a command by its first word,
# and `python -m compiler` begins with `python`.
PROGRAM = "llmgateway-compiler"
ENVIRONMENTS = f"{PROGRAM} completion --environments 2>/dev/null"
FILE_OPTIONS = frozenset({"spec", "tfvars"})
DIRECTORY_OPTIONS = frozenset({"directory", "overlays", "live"})  # -C, overlays/<env>


def environment_names(spec: str | Path) -> list[str]:
    """The environments of the spec at ``spec``, in its order; none when it cannot be read
    (completion stays quiet: the commands themselves report a broken spec)."""
    from ruamel.yaml import YAML

    try:
        data: Any = YAML(typ="safe", pure=True).load(Path(spec).read_bytes())
    except Exception:  # any unreadable or invalid spec completes nothing
        return []
    environments = data.get("environments") if isinstance(data, dict) else None
    return [str(name) for name in environments] if isinstance(environments, dict) else []


def all_actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every action of ``parser`` and of its subcommands."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from all_actions(sub)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (one of SHELLS)."""
    import shtab

    parser.prog = PROGRAM
    for action in all_actions(parser):
        if action.dest == "env":
            action.complete = shtab.cmd(ENVIRONMENTS)  # type: ignore[attr-defined]
        elif action.dest in FILE_OPTIONS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.dest in DIRECTORY_OPTIONS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    script: str = shtab.complete(parser, shell=shell)
    return script


def completion_command(
    output: Output,
    parser: argparse.ArgumentParser,
    spec_path: str,
    shell: str | None,
    *,
    environments: bool,
) -> int:
    """`completion`: the script for ``shell`` from the CLI's parser, or (what the scripts
    run on Tab after --env) the spec's environment names."""
    if environments:
        output.write("".join(f"{name}\n" for name in environment_names(spec_path)))
    elif shell is None:
        raise UsageError(f"completion: name a shell ({', '.join(SHELLS)})")
    else:
        output.write(completion_script(parser, shell))
    return ExitCode.OK
