"""Command line: parse arguments, call the stages, map exceptions to exit codes.

Nothing else in the package prints or exits. Exit codes (errors.ExitCode):
0 success, 1 drift or differences found, 2 invalid spec or usage, 3 external tool or
filesystem failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from compiler import __version__
from compiler.errors import CompilerError, ExitCode, Problem, UsageError

EXIT_CODES_HELP = """exit codes:
  0  success (validate: valid; compile: written; build: rendered)
  1  drift or differences found (build: the overlay is stale, run compile)
  2  invalid spec or usage
  3  an external tool (kustomize, git) or the filesystem failed
"""


class Output:
    """Where commands write: results to stdout, diagnostics to stderr."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def note(self, text: str) -> None:
        print(text, file=self.err)


Command = Callable[[argparse.Namespace, Output], int]


def spec_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        default="spec/llmgateway.yaml",
        metavar="PATH",
        help="the spec file (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compiler",
        description=(
            "Compile the typed LLM Gateway spec (spec/llmgateway.yaml) into a Kustomize "
            "base/ and one overlay per environment under overlays/."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        help="run as if started in DIR (the project root holding spec/, base/, overlays/)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        return sub

    validate = command(
        "validate",
        "check the spec and summarise it",
        "Validate the spec: every problem is reported as FILE:LINE:COLUMN: FIELD: MESSAGE. "
        "Warnings go to stderr and do not fail the command unless --strict.",
    )
    spec_argument(validate)
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.set_defaults(run=run_validate)

    schema = command(
        "schema",
        "write the spec's JSON Schema",
        "Write spec/llmgateway.schema.json, the JSON Schema of the spec generated from the "
        "models, which editors use through the spec's yaml-language-server modeline.",
    )
    schema.add_argument(
        "--output",
        "-o",
        default="spec/llmgateway.schema.json",
        metavar="FILE",
        help="where to write it, '-' for stdout (default: %(default)s)",
    )
    schema.set_defaults(run=run_schema)

    compile_ = command(
        "compile",
        "write base/ and overlays/ from the spec",
        "Compile the spec into base/ and overlays/<env>/. Only changed files are written, "
        "all or nothing; files without the generated header are never touched.",
    )
    spec_argument(compile_)
    compile_.add_argument("--quiet", "-q", action="store_true", help="do not list unchanged files")
    compile_.set_defaults(run=run_compile)

    build = command(
        "build",
        "render overlays with kustomize",
        "Render overlays with kustomize and print the manifests. Refuses (exit 1) an "
        "overlay that no longer matches the spec: run compile first.",
    )
    spec_argument(build)
    build.add_argument(
        "overlays", nargs="+", metavar="OVERLAY", help="overlay directory, e.g. overlays/prod"
    )
    build.add_argument(
        "--output", "-o", metavar="FILE", help="write the manifests to FILE instead of stdout"
    )
    build.set_defaults(run=run_build)

    doctor = command(
        "doctor",
        "show which kustomize is used",
        "Show the kustomize the compiler runs ($KUSTOMIZE, else kustomize on PATH, else "
        "kubectl kustomize) and its version.",
    )
    doctor.set_defaults(run=run_doctor)
    return parser


def print_warnings(warnings: Sequence[object], output: Output) -> None:
    for warning in warnings:
        if isinstance(warning, Problem):
            output.note(warning.render())


def run_validate(args: argparse.Namespace, output: Output) -> int:
    from compiler.load import load_spec
    from compiler.lower import hosts

    spec = load_spec(args.spec, strict=args.strict)
    print_warnings(spec.warnings, output)
    enabled = list(spec.enabled())
    output.say(f"{args.spec}: valid, {len(enabled)} environment{'s' if len(enabled) != 1 else ''}")
    for name, env in spec.environments.items():
        if not env.enabled:
            output.say(f"  {name}: disabled")
            continue
        database = "embedded database" if env.database.mode == "embedded" else "external database"
        storage = (
            f", {env.access_mode} {env.storage.size}" if env.database.mode == "embedded" else ""
        )
        output.say(
            f"  {name}: namespace {env.namespace}, {env.replicas} "
            f"replica{'s' if env.replicas != 1 else ''}, {database}{storage}, "
            f"image tag {env.image.tag}"
        )
        output.say(f"    hosts: {', '.join(f'{env.scheme}://{h}' for h in hosts(env).values())}")
    return ExitCode.OK


def run_schema(args: argparse.Namespace, output: Output) -> int:
    from compiler.schema import render_schema

    text = render_schema()
    if args.output == "-":
        output.out.write(text)
        return ExitCode.OK
    target = Path(args.output)
    if target.exists() and target.read_text(encoding="utf-8") == text:
        output.say(f"unchanged {args.output}")
        return ExitCode.OK
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(target.name + ".llmgw-tmp")
        temp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(temp, target)
    except OSError as exc:
        from compiler.errors import WriteError

        raise WriteError(f"cannot write {args.output}: {exc.strerror}") from None
    output.say(f"  written {args.output}")
    return ExitCode.OK


def run_compile(args: argparse.Namespace, output: Output) -> int:
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import apply_changes, diff_tree

    spec = load_spec(args.spec)
    print_warnings(spec.warnings, output)
    tree = plan_tree(spec)
    root = Path()
    changes = diff_tree(root, tree)
    apply_changes(root, tree, changes)
    for line in changes.lines():
        if args.quiet and line.lstrip().startswith("unchanged"):
            continue
        output.say(line)
    counts = (
        f"{len(changes.created)} created, {len(changes.updated)} updated, "
        f"{len(changes.deleted)} deleted, {len(changes.unchanged)} unchanged"
    )
    output.say(counts)
    return ExitCode.OK


def overlay_name(argument: str) -> str:
    """`prod` from `overlays/prod` (relative to the project root)."""
    parts = Path(argument).parts
    if len(parts) != 2 or parts[0] != "overlays":
        raise UsageError(
            f"{argument!r} is not an overlay directory; expected overlays/<environment>"
        )
    return parts[1]


def run_build(args: argparse.Namespace, output: Output) -> int:
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import diff_tree

    names = [overlay_name(a.rstrip("/")) for a in args.overlays]
    spec = load_spec(args.spec)
    enabled = dict(spec.enabled())
    for name in names:
        if name not in spec.environments:
            known = ", ".join(enabled) or "none"
            raise UsageError(f"no environment {name!r} in {args.spec} (environments: {known})")
        if name not in enabled:
            raise UsageError(f"environment {name!r} is disabled in {args.spec}; it has no overlay")
    tree = plan_tree(spec)
    changes = diff_tree(Path(), tree)
    stale = [
        path
        for path in changes.created + changes.updated + changes.deleted
        if path.startswith("base/") or any(path.startswith(f"overlays/{n}/") for n in names)
    ]
    if stale:
        output.note("error: the generated files do not match the spec:")
        for path in sorted(stale):
            output.note(f"  {path}")
        output.note("run: python -m compiler compile")
        return ExitCode.DIFFERENCES
    kustomize = find_kustomize()
    rendered = kustomize.build_many([f"overlays/{n}" for n in names])
    text = "---\n".join(r if r.endswith("\n") or not r else r + "\n" for r in rendered)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8", newline="\n")
        except OSError as exc:
            from compiler.errors import WriteError

            raise WriteError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        output.out.write(text)
    return ExitCode.OK


def run_doctor(args: argparse.Namespace, output: Output) -> int:
    from compiler.kustomize import find_kustomize

    kustomize = find_kustomize()
    output.say(f"kustomize: {kustomize.describe()}")
    output.say(f"version: {kustomize.version()}")
    return ExitCode.OK


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit code."""
    output = Output(out or sys.stdout, err or sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error
        return int(exc.code or 0) if isinstance(exc.code, int) else ExitCode.INVALID
    if args.command is None:
        parser.print_help(output.err)
        return ExitCode.INVALID
    try:
        if args.directory:
            try:
                os.chdir(args.directory)
            except OSError as exc:
                raise UsageError(f"cannot change to {args.directory}: {exc.strerror}") from None
        run: Command = args.run
        return run(args, output)
    except CompilerError as exc:
        if args.debug:
            output.note("".join(traceback.format_exception(exc)).rstrip())
        for line in exc.lines():
            output.note(line)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        output.note("interrupted")
        return 130
