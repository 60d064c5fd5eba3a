"""Command line: declare the arguments, call one function per command, map exceptions
to exit codes.

Each command's work is a function in the module of its stage (`check.check_command`,
`build.build_command`, ...), called with plain values and the run's one Output
(`compiler.console`), the only way anything reaches a stream. Nothing else exits.
Exit codes (errors.ExitCode): 0 success, 1 drift or differences found, 2 invalid spec
or usage, 3 external tool or filesystem failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from compiler import __version__, early, tools
from compiler.completion import SHELLS
from compiler.console import Output
from compiler.errors import CompilerError, ExitCode, UsageError
from compiler.tools import DEFAULT_TIMEOUT

EXIT_CODES_HELP = """exit codes:
  0  success (validate: valid; compile: written; check: no drift; diff: no differences)
  1  drift or differences found (check: drift; diff: changes; build: stale overlay)
  2  invalid spec or usage
  3  an external tool (kustomize, git) or the filesystem failed
"""


Command = Callable[[argparse.Namespace, Output], int]


def spec_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        default="spec/llmgateway.yaml",
        metavar="PATH",
        help="the spec file (default: %(default)s)",
    )


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


PROGRAM = "python -m compiler"
DIRECTORY_HELP = "run as if started in DIR (the project root holding spec/, base/, overlays/)"


def program_name(argv0: str) -> str:
    """The program as invoked: the console script's name, else `python -m compiler`."""
    name = Path(argv0).name
    if not name or name == "__main__.py" or name.startswith("python") or name == "-c":
        return PROGRAM
    return name


class Parser(argparse.ArgumentParser):
    """A parser whose epilog may start with text made only when its help is printed
    (import-terraform's lists the Terraform module's variables: other commands, build's
    cold path among them, do not import compiler.terraform)."""

    epilog_source: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.epilog_source is not None:
            self.epilog = self.epilog_source() + "\n" + (self.epilog or "")
            self.epilog_source = None
        return super().format_help()


def terraform_variables_help() -> str:
    from compiler.terraform import variables_help

    return variables_help()


def build_parser(prog: str = PROGRAM) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
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
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output: auto (a terminal, and NO_COLOR unset), always or never",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="stop kustomize, kubectl or git after this long, exit 3 (default: %(default)g)",
    )
    parser.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        help=DIRECTORY_HELP,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(
        name: str,
        summary: str,
        description: str,
        epilog: str = "",
        epilog_source: Callable[[], str] | None = None,
    ) -> argparse.ArgumentParser:
        sub: Parser = commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=epilog + ("\n" if epilog else "") + EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        # -C is accepted after the command too (`compiler validate -C DIR`).
        sub.add_argument(
            "-C", dest="directory", metavar="DIR", default=argparse.SUPPRESS, help=DIRECTORY_HELP
        )
        sub.epilog_source = epilog_source
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

    set_ = command(
        "set",
        "change one value of the spec in place, then compile",
        "Set one scalar field of the spec, for pipelines and bots (what `kustomize edit set "
        "image` and `helm --set` do): only that value changes in the file, every comment, "
        "key order and blank line stays. The result is validated first (exit 2 and the file "
        "untouched if invalid), then compiled. Examples:\n"
        "  python -m compiler set environments.prod.image.tag v1.4.2\n"
        "  python -m compiler set --env prod replicas 5",
    )
    spec_argument(set_)
    set_.add_argument(
        "--env",
        metavar="ENV",
        help="FIELD is relative to environments.ENV (e.g. --env prod image.tag)",
    )
    set_.add_argument(
        "field", metavar="FIELD", help="dotted field path, e.g. environments.prod.image.tag"
    )
    set_.add_argument("value", metavar="VALUE", help="the new value, e.g. v1.4.2, 5 or true")
    set_.set_defaults(run=run_set)

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
    build.add_argument(
        "--no-validate", action="store_true", help="skip schema validation and policy (lint)"
    )
    build.set_defaults(run=run_build)

    stamp = command(
        "stamp",
        "record that the overlays were validated (spec/llmgateway.validated.json)",
        "Validate the rendered overlays as build does (schemas and policy) and record, per "
        "environment, the findings with a key of what they depend on: the rendering, the "
        "spec, the compiler's rules and the validators' versions. A build with "
        "a cold cache (a fresh clone) then prints the recorded findings instead of loading "
        "the validators, when the key of what it renders matches; else it validates. check "
        "and lint never read it. Run it after compile and commit "
        "spec/llmgateway.validated.json with the overlays; a stale stamp only makes build "
        "slower. Environments with a secretGenerator are not stamped.",
    )
    spec_argument(stamp)
    stamp.add_argument(
        "environments",
        nargs="*",
        metavar="ENV",
        help="the environments to stamp (default: every enabled one); others' entries stay",
    )
    stamp.set_defaults(run=run_stamp)

    check = command(
        "check",
        "fail when the committed tree drifted from the spec",
        "Compile in memory and compare with the committed base/ and overlays/, then render "
        "each overlay with kustomize and compare with the golden manifests in tests/golden/. "
        "Exit 1 listing every drifted file and field.",
    )
    spec_argument(check)
    check.add_argument(
        "--no-render", action="store_true", help="skip rendering and the golden manifests"
    )
    check.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    check.set_defaults(run=run_check)

    snapshot = command(
        "snapshot",
        "rewrite the golden rendered manifests",
        "Render every overlay with kustomize and write tests/golden/<env>.yaml. Refuses "
        "(exit 1) when the overlays do not match the spec: run compile first.",
    )
    spec_argument(snapshot)
    snapshot.set_defaults(run=run_snapshot)

    diff = command(
        "diff",
        "show what would change in each environment",
        "Render the overlays committed at a git revision and those the current spec compiles "
        "to, and list per environment the resources added, removed and changed, field by "
        "field. Risky changes come first. Secret values are never shown.",
    )
    spec_argument(diff)
    diff.add_argument(
        "--live",
        metavar="OVERLAY",
        help="compare with the cluster instead of git: kubectl diff -k OVERLAY --server-side",
    )
    diff.add_argument(
        "--base",
        metavar="REF",
        help="git revision to compare with (default: merge base with origin/main, else HEAD)",
    )
    diff.add_argument(
        "--env", action="append", metavar="ENV", help="only this environment (repeatable)"
    )
    diff.add_argument(
        "--format",
        "--output",
        dest="format",
        choices=("text", "markdown", "json"),
        default="text",
        help="output format (--output is the same option)",
    )
    diff.add_argument(
        "--fail-on",
        choices=("any", "risky"),
        default="any",
        help="exit 1 on any difference (default) or only on a risky one",
    )
    diff.set_defaults(run=run_diff)

    lint = command(
        "lint",
        "validate rendered manifests: schemas and policy",
        "Render overlays with kustomize and validate every resource against the Kubernetes "
        "API schemas of the environment's kubernetesVersion (strict) and the package's CRD "
        "schemas, then check the policy rules. Errors exit 1; warnings are listed and fail "
        "only with --strict.",
    )
    spec_argument(lint)
    lint.add_argument(
        "overlays",
        nargs="*",
        metavar="OVERLAY",
        help="overlay directories (default: every environment)",
    )
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    lint.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    lint.set_defaults(run=run_lint)

    secret = command(
        "secret",
        "print the Secret an environment needs (stdout only)",
        "Print the Secret of an environment whose authSecret.source is existing (a manifest "
        "for `kubectl apply -f -`) or generator (--format env, for overlays/<env>/secret.env). "
        "The Secret needs two keys in every mode (with external-secrets, put both in the "
        "store): AUTH_SECRET (signs sessions) and GATEWAY_API_KEY_HASH_SECRET (hashes API "
        "keys), plus authSecret.extraKeys. Each value comes from the environment variable "
        "LLMGATEWAY_<KEY> (LLMGATEWAY_AUTH_SECRET, LLMGATEWAY_GATEWAY_API_KEY_HASH_SECRET, "
        "...); --generate makes an independent random value for each of the two when unset. "
        "Nothing is written to disk.",
    )
    spec_argument(secret)
    secret.add_argument("--env", required=True, metavar="ENV", help="the environment")
    secret.add_argument("--generate", action="store_true", help="generate missing random keys")
    secret.add_argument(
        "--format", choices=("yaml", "env"), default="yaml", help="a Secret manifest or an env file"
    )
    secret.set_defaults(run=run_secret)

    docs = command(
        "docs",
        "write docs/environments.md",
        "Write docs/environments.md: per environment, the endpoints (host, port, what it is, "
        "how it is protected), the resources created and a diagram. compile writes it too; "
        "check fails when it is stale.",
    )
    spec_argument(docs)
    docs.set_defaults(run=run_docs)

    importer = command(
        "import-terraform",
        "write a spec from the Terraform module's variables",
        "Read the Terraform module's variables from a .tfvars file and TF_VAR_* environment "
        "variables (the file wins) and write a commented spec that compiles to the resources "
        "the module created, with its JSON Schema beside it. The auth secret's value is "
        "never copied; no value of a sensitive variable is ever printed.",
        epilog_source=terraform_variables_help,
    )
    importer.add_argument("--tfvars", metavar="FILE", help="a .tfvars file of the module")
    importer.add_argument(
        "--env-name", default="prod", metavar="NAME", help="name of the environment (default: prod)"
    )
    importer.add_argument(
        "--output",
        "-o",
        default="spec/llmgateway.yaml",
        metavar="PATH",
        help="where to write the spec (default: %(default)s)",
    )
    importer.add_argument(
        "--namespace",
        default="llmgateway",
        metavar="NAME",
        help="namespace of the environment (default: %(default)s, the module's)",
    )
    importer.add_argument("--force", action="store_true", help="overwrite an existing spec")
    importer.set_defaults(run=run_import_terraform)

    doctor = command(
        "doctor",
        "show which kustomize is used",
        "Show the kustomize the compiler runs ($KUSTOMIZE, else kustomize on PATH, else "
        "kubectl kustomize) and its version, and the operators the spec's environments "
        "need in the cluster (CloudNativePG), which the compiler never installs.",
    )
    spec_argument(doctor)
    doctor.set_defaults(run=run_doctor)

    completion = command(
        "completion",
        "print a shell completion script (bash, zsh, fish)",
        "Print the completion script of llmgateway-compiler (the console script) for a "
        "shell. Options taking an environment complete its names from the spec in the "
        "current directory. Install it, for example:\n"
        "  llmgateway-compiler completion bash > "
        "~/.local/share/bash-completion/completions/llmgateway-compiler\n"
        '  llmgateway-compiler completion zsh > "${fpath[1]}/_llmgateway-compiler"\n'
        "  llmgateway-compiler completion fish > "
        "~/.config/fish/completions/llmgateway-compiler.fish",
    )
    spec_argument(completion)
    completion.add_argument("shell", nargs="?", choices=SHELLS, help="the shell")
    # What the scripts run when Tab is pressed after --env: the spec's environments.
    completion.add_argument("--environments", action="store_true", help=argparse.SUPPRESS)
    completion.set_defaults(run=run_completion)
    return parser


def overlay_name(argument: str) -> str:
    """`prod` from `overlays/prod` (relative to the project root)."""
    parts = Path(argument.rstrip("/")).parts
    if len(parts) != 2 or parts[0] != "overlays":
        raise UsageError(
            f"{argument!r} is not an overlay directory; expected overlays/<environment>"
        )
    return parts[1]


# One function per command: the stage module's command, called with plain values.


def run_validate(args: argparse.Namespace, output: Output) -> int:
    from compiler.validate import validate_command

    return validate_command(output, args.spec, strict=args.strict)


def run_schema(args: argparse.Namespace, output: Output) -> int:
    from compiler.schema import schema_command

    return schema_command(output, args.output)


def run_compile(args: argparse.Namespace, output: Output) -> int:
    from compiler.compile import compile_command

    return compile_command(output, args.spec, quiet=args.quiet)


def run_set(args: argparse.Namespace, output: Output) -> int:
    from compiler.setfield import set_command

    return set_command(output, args.spec, args.field, args.env, args.value)


def run_build(args: argparse.Namespace, output: Output) -> int:
    from compiler.build import build_command

    names = [overlay_name(a) for a in args.overlays]
    return build_command(
        output, args.spec, names, target=args.output, validate=not args.no_validate
    )


def run_stamp(args: argparse.Namespace, output: Output) -> int:
    from compiler.stamp import stamp_command

    return stamp_command(output, args.spec, args.environments)


def run_check(args: argparse.Namespace, output: Output) -> int:
    from compiler.check import check_command

    return check_command(output, args.spec, render=not args.no_render, fmt=args.output)


def run_snapshot(args: argparse.Namespace, output: Output) -> int:
    from compiler.golden import snapshot_command

    return snapshot_command(output, args.spec)


def run_diff(args: argparse.Namespace, output: Output) -> int:
    if args.live:
        from compiler.review import live_diff_command

        if args.base or args.env:
            raise UsageError("--live compares one overlay with the cluster; drop --base and --env")
        name = overlay_name(args.live)
        return live_diff_command(output, name, fmt=args.format, fail_on=args.fail_on)
    from compiler.rendercache import early_render
    from compiler.review import diff_command

    # The overlays on disk render while the spec loads (used when they are what compile
    # wrote: the base revision's committed as planned, or the spec's); never left running.
    early = early_render(args.spec, args.env)
    try:
        return diff_command(
            output,
            args.spec,
            base=args.base,
            environments=args.env,
            fmt=args.format,
            fail_on=args.fail_on,
            early=early,
        )
    except (KeyboardInterrupt, tools.Terminated):
        early.abandon()  # its kustomize is not waited for (after an error it is: cached)
        raise
    finally:
        early.done()


def run_lint(args: argparse.Namespace, output: Output) -> int:
    from compiler.check import lint_command

    names = [overlay_name(a) for a in args.overlays]
    return lint_command(output, args.spec, names, strict=args.strict, fmt=args.output)


def run_secret(args: argparse.Namespace, output: Output) -> int:
    from compiler.secret import secret_command

    return secret_command(
        output, args.spec, args.env, generate=args.generate, fmt=args.format, environ=os.environ
    )


def run_docs(args: argparse.Namespace, output: Output) -> int:
    from compiler.docs import docs_command

    return docs_command(output, args.spec)


def run_import_terraform(args: argparse.Namespace, output: Output) -> int:
    from compiler.terraform import import_terraform_command

    return import_terraform_command(
        output,
        args.tfvars,
        args.env_name,
        args.namespace,
        args.output,
        force=args.force,
        environ=os.environ,
    )


def run_doctor(args: argparse.Namespace, output: Output) -> int:
    from compiler.kustomize import doctor_command

    return doctor_command(output, args.spec)


def run_completion(args: argparse.Namespace, output: Output) -> int:
    from compiler.completion import completion_command

    return completion_command(
        output, build_parser(), args.spec, args.shell, environments=args.environments
    )


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit code."""
    # `build <overlay>`'s kustomize runs while the rest starts (`python -m compiler` starts
    # it before importing this module); it is always ended by the time we return.
    early.start(sys.argv[1:] if argv is None else argv)
    try:
        return run_command(argv, out, err)
    finally:
        early.discard()


def run_command(argv: Sequence[str] | None, out: TextIO | None, err: TextIO | None) -> int:
    output = Output(out or sys.stdout, err or sys.stderr)
    parser = build_parser(PROGRAM if argv is not None else program_name(sys.argv[0]))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error
        return int(exc.code or 0) if isinstance(exc.code, int) else ExitCode.INVALID
    if args.command is None:
        parser.print_help(output.err)
        return ExitCode.INVALID
    output.choose_colour(args.color, os.environ)
    # Restored afterwards: a later call in this process (the tests') gets its own default.
    previous_timeout, tools.TIMEOUT = tools.TIMEOUT, args.timeout
    tools.open_tools()  # closed by an earlier call in this process that was interrupted
    try:
        with tools.terminate_by_exception():
            if args.directory:
                try:
                    os.chdir(args.directory)
                except OSError as exc:
                    raise UsageError(f"cannot change to {args.directory}: {exc.strerror}") from None
            from compiler.secretenv import known_secret_values

            output.secrets = known_secret_values(Path("."), os.environ)
            run: Command = args.run
            return run(args, output)
    except CompilerError as exc:
        if args.debug:
            output.note("".join(traceback.format_exception(exc)).rstrip())
        for line in exc.lines():
            output.note(line, "red")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        tools.close_tools()
        output.note("interrupted")
        return 130
    except tools.Terminated:
        tools.close_tools()
        output.note("terminated")
        return 143
    finally:
        tools.TIMEOUT = previous_timeout
