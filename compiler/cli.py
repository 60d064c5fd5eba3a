"""Command line: parse arguments, call the stages, map exceptions to exit codes.

Nothing else in the package prints or exits. Exit codes (errors.ExitCode):
0 success, 1 drift or differences found, 2 invalid spec or usage, 3 external tool or
filesystem failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from compiler import __version__, tools
from compiler.completion import SHELLS
from compiler.errors import CompilerError, ExitCode, Problem, UsageError
from compiler.tools import DEFAULT_TIMEOUT

EXIT_CODES_HELP = """exit codes:
  0  success (validate: valid; compile: written; check: no drift; diff: no differences)
  1  drift or differences found (check: drift; diff: changes; build: stale overlay)
  2  invalid spec or usage
  3  an external tool (kustomize, git) or the filesystem failed
"""


COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1"}


def painted(text: str, colour: str | None, on: bool) -> str:
    return f"\033[{COLOURS[colour]}m{text}\033[0m" if on and colour else text


class Output:
    """Where commands write: results to stdout, diagnostics to stderr.

    Colour is decided per stream: `lint 2>log` on a terminal colours stdout only.
    """

    def __init__(self, out: TextIO, err: TextIO, colour: bool = False) -> None:
        self.out = out
        self.err = err
        self.out_colour = colour
        self.err_colour = colour
        # Every known secret value is hidden from what we print (secretenv.redact_text);
        # only `secret` writes a value, to stdout, bypassing it.
        self.secrets: list[str] = []

    def choose_colour(self, mode: str, environ: Mapping[str, str]) -> None:
        """--color: always, never, or auto (a terminal, and NO_COLOR unset), per stream."""
        for stream, attribute in ((self.out, "out_colour"), (self.err, "err_colour")):
            if mode == "auto":
                setattr(self, attribute, stream.isatty() and not environ.get("NO_COLOR"))
            else:
                setattr(self, attribute, mode == "always")

    def paint(self, text: str, colour: str) -> str:
        """Text for stdout, coloured when stdout is."""
        return painted(text, colour, self.out_colour)

    def redact(self, text: str) -> str:
        from compiler.secretenv import redact_text

        return redact_text(text, self.secrets) if self.secrets else text

    def say(self, text: str = "") -> None:
        print(self.redact(text), file=self.out)

    def note(self, text: str, colour: str | None = None) -> None:
        print(painted(self.redact(text), colour, self.err_colour), file=self.err)

    def write(self, text: str) -> None:
        """Results as they are (no newline added), redacted like every line."""
        self.out.write(self.redact(text))

    def finding(self, line: str, severity: str) -> None:
        self.note(line, "red" if severity == "error" else "yellow")


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


def build_parser(prog: str = PROGRAM) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str, summary: str, description: str, epilog: str = ""
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
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

    from compiler.terraform import variables_help

    importer = command(
        "import-terraform",
        "write a spec from the Terraform module's variables",
        "Read the Terraform module's variables from a .tfvars file and TF_VAR_* environment "
        "variables (the file wins) and write a commented spec that compiles to the resources "
        "the module created, with its JSON Schema beside it. The auth secret's value is "
        "never copied; no value of a sensitive variable is ever printed.",
        epilog=variables_help(),
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
        "kubectl kustomize) and its version.",
    )
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


def print_warnings(warnings: Sequence[Problem], output: Output) -> None:
    for warning in warnings:
        output.note(warning.render(), "yellow")


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
    from compiler.write import write_file

    written = write_file(Path(args.output), text)
    output.say(f"  written {args.output}" if written else f"unchanged {args.output}")
    return ExitCode.OK


def run_compile(args: argparse.Namespace, output: Output) -> int:
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import write_tree

    spec = load_spec(args.spec)
    print_warnings(spec.warnings, output)
    changes = write_tree(Path(), plan_tree(spec))
    for line in changes.lines():
        if args.quiet and line.lstrip().startswith("unchanged"):
            continue
        output.say(line)
    from compiler.secretignore import IGNORE_RULE, ensure_ignore_rule, left_behind

    if ensure_ignore_rule(Path(), spec):
        output.say(f"  updated .gitignore (added {IGNORE_RULE}: secret.env stays out of git)")
    for stray in left_behind(Path(), spec):
        output.note(f"warning: {stray.warning()}", "yellow")
    counts = (
        f"{len(changes.created)} created, {len(changes.updated)} updated, "
        f"{len(changes.deleted)} deleted, {len(changes.unchanged)} unchanged"
    )
    output.say(counts)
    from compiler.golden import snapshot_note, stale_goldens

    note = snapshot_note(
        stale_goldens(
            changes.created + changes.updated + changes.deleted,
            [name for name, _ in spec.enabled()],
        )
    )
    if note:
        output.note(note)
    return ExitCode.OK


def run_set(args: argparse.Namespace, output: Output) -> int:
    from compiler.setfield import field_path, set_field

    edit = set_field(args.spec, field_path(args.field, args.env), args.value)
    before = edit.old if edit.old is not None else "(not set)"
    output.say(f"set {edit.path}: {before} -> {edit.new} in {args.spec}")
    args.quiet = True
    return run_compile(args, output)


def overlay_name(argument: str) -> str:
    """`prod` from `overlays/prod` (relative to the project root)."""
    parts = Path(argument).parts
    if len(parts) != 2 or parts[0] != "overlays":
        raise UsageError(
            f"{argument!r} is not an overlay directory; expected overlays/<environment>"
        )
    return parts[1]


def run_build(args: argparse.Namespace, output: Output) -> int:
    from compiler.files import read_regular
    from compiler.fingerprint import Cache, inputs_digest, is_current, sha256
    from compiler.kustomize import find_kustomize
    from compiler.render import redact, render

    names = [overlay_name(a.rstrip("/")) for a in args.overlays]
    root = Path(".")
    spec = None
    # The fingerprint says whether the overlays are current without loading the spec;
    # only when it cannot is the spec compiled and compared, which names what drifted.
    if not is_current(root, Path(args.spec), names):
        spec = stale_build_check(args, names, output)
        if spec is None:
            return ExitCode.DIFFERENCES
    kustomize = find_kustomize()
    cache = Cache(root)
    overlays = [Path("overlays", n) for n in names]
    keys = [inputs_digest(o, kustomize.build_command) for o in overlays]
    cached = [cache.get("render", k) if k else None for k in keys]
    todo = [i for i, text in enumerate(cached) if text is None]
    # The real secret.env of a secretGenerator is read here, and its values hidden.
    for index, text in zip(
        todo, render(kustomize, [overlays[i] for i in todo], real_secrets=True), strict=True
    ):
        cached[index] = text
        key = keys[index]
        if key is not None:
            cache.put("render", key, text)
    rendered = [redact(text or "") for text in cached]
    if not args.no_validate:
        spec_bytes = read_regular(args.spec)  # a regular file: loaded or fingerprinted above
        lint_key = sha256(spec_bytes + b"\0" + "\0".join(rendered).encode())
        found = cache.get_json("lint", lint_key)
        if not isinstance(found, list) or not all(
            isinstance(i, dict) and isinstance(i.get("line"), str) and "severity" in i
            for i in found
        ):
            from compiler.check import lint_all
            from compiler.load import load_spec

            spec = spec or load_spec(args.spec)
            found = [
                {"line": f.render(), "severity": f.severity}
                for f in lint_all(spec, names, rendered)
            ]
            cache.put("lint", lint_key, json.dumps(found))
        for item in found:
            output.finding(item["line"], item["severity"])
        if any(item["severity"] == "error" for item in found):
            output.note(
                "error: the rendered manifests fail validation (see above); --no-validate skips it"
            )
            return ExitCode.DIFFERENCES
    text = "---\n".join(r if r.endswith("\n") or not r else r + "\n" for r in rendered)
    if args.output:
        from compiler.write import write_file

        write_file(Path(args.output), output.redact(text))
    else:
        output.write(text)
    return ExitCode.OK


def stale_build_check(args: argparse.Namespace, names: list[str], output: Output) -> Any:
    """Load the spec, check the environments exist and the overlays are current.

    Returns the spec, or None after reporting that the generated files are stale.
    """
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import diff_tree

    spec = load_spec(args.spec)
    enabled = dict(spec.enabled())
    for name in names:
        if name not in spec.environments:
            known = ", ".join(enabled) or "none"
            raise UsageError(f"no environment {name!r} in {args.spec} (environments: {known})")
        if name not in enabled:
            raise UsageError(f"environment {name!r} is disabled in {args.spec}; it has no overlay")
    changes = diff_tree(Path("."), plan_tree(spec))
    stale = [
        path
        for path in changes.created + changes.updated + changes.deleted
        if path.startswith("base/") or any(path.startswith(f"overlays/{n}/") for n in names)
    ]
    if not stale:
        return spec
    output.note("error: the generated files do not match the spec:")
    for path in sorted(stale):
        output.note(f"  {path}")
    output.note("run: python -m compiler compile")
    return None


def run_check(args: argparse.Namespace, output: Output) -> int:
    from compiler.check import check
    from compiler.load import load_spec
    from compiler.plan import plan_tree

    spec = load_spec(args.spec)
    report = check(spec, plan_tree(spec), Path("."), render=not args.no_render)
    if args.output == "json":
        output.say(json.dumps(report.as_json(), indent=2, default=str))
        return ExitCode.DIFFERENCES if report.failed else ExitCode.OK
    for note in report.notes:
        output.note(f"note: {note}")
    if report.files:
        count = len(report.files)
        files = "1 generated file differs" if count == 1 else f"{count} generated files differ"
        output.say(f"drift: {files} from what {args.spec} compiles to (committed -> from spec):")
        for item in report.files:
            state = {"missing": "unexpected", "unexpected": "missing"}.get(item.state, item.state)
            output.say(f"  {output.paint(f'{state:<10}', 'red')} {item.path}")
            for line in item.details:
                output.say(f"               {line}")
        if report.effects:
            output.say("hand edits, by their effect on the rendered resources:")
            for effect in report.effects:
                output.say(f"  {effect.environment}: {effect.describe()}")
                if effect.keep:
                    output.say(f"      to keep it: set {effect.keep} in {args.spec}")
        if report.hand_edited:
            output.say(
                "fix: python -m compiler compile (it reverts the hand edits; to keep one, "
                "set it in the spec first)"
            )
        else:
            output.say("fix: python -m compiler compile")
    if report.golden:
        output.say("golden: what kustomize renders differs from tests/golden/:")
        for golden in report.golden:
            suffix = {
                "changed": " (golden -> rendered now)",
                "unexpected": " (no such environment)",
            }.get(golden.state, "")
            output.say(f"  {output.paint(f'{golden.state:<10}', 'red')} {golden.path}{suffix}")
            for line in golden.changes:
                output.say(f"               {line}")
        output.say("fix: review the change, then python -m compiler snapshot")
    for finding in report.findings:
        output.finding(finding.render(), finding.severity)
    if any(f.severity == "error" for f in report.findings):
        output.say("lint: the rendered manifests fail validation (findings on stderr)")
    for problem in report.secrets:
        output.say(f"{output.paint('secret:', 'red')} {problem}")
    if report.failed:
        return ExitCode.DIFFERENCES
    output.say(
        f"{args.spec}: base/ and overlays/ are up to date"
        + ("; rendered manifests match tests/golden/ and pass lint" if report.rendered else "")
    )
    return ExitCode.OK


def run_snapshot(args: argparse.Namespace, output: Output) -> int:
    from compiler.check import file_drift
    from compiler.golden import write_goldens
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.plan import plan_tree

    spec = load_spec(args.spec)
    tree = plan_tree(spec)
    root = Path(".")
    if file_drift(root, tree):
        output.note(
            "error: the generated files do not match the spec; run: python -m compiler compile"
        )
        return ExitCode.DIFFERENCES
    names = [name for name, _ in spec.enabled()]
    from compiler.render import render

    rendered = render(find_kustomize(), [Path("overlays", n) for n in names])
    for line in write_goldens(root, dict(zip(names, rendered, strict=True))):
        output.say(line)
    return ExitCode.OK


def run_diff(args: argparse.Namespace, output: Output) -> int:
    import tempfile

    from compiler import git
    from compiler.compare import load_documents
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.render import render
    from compiler.review import diff_environments, to_json, to_markdown, to_text

    if args.live:
        return run_live_diff(args, output)
    spec = load_spec(args.spec)
    tree = plan_tree(spec)
    revision = args.base or git.default_base()
    short = git.short_revision(revision)
    if args.base:
        label = f"{args.base} ({short})"
    elif revision == "HEAD":
        label = f"HEAD ({short})"
    else:
        label = f"merge base with origin/main ({short})"
    kustomize = find_kustomize()
    old_names = git.overlay_names(revision)
    new_names = [name for name, _ in spec.enabled()]
    wanted = set(old_names) | set(new_names)
    if args.env:
        unknown = sorted(set(args.env) - wanted)
        if unknown:
            raise UsageError(
                f"no environment {', '.join(unknown)} at {revision} or in {args.spec} "
                f"(environments: {', '.join(sorted(wanted)) or 'none'})"
            )
        wanted = set(args.env)
    # Only base/ and the overlays compared are exported and written.
    scopes = ("base", *(f"overlays/{n}" for n in sorted(wanted)))
    prefixes = tuple(f"{scope}/" for scope in scopes)
    with tempfile.TemporaryDirectory(prefix="llmgw-diff-") as scratch:
        old_root = Path(scratch) / "ref"
        new_root = Path(scratch) / "work"
        git.export_tree(revision, old_root, paths=scopes)
        for rel, data in tree.items():
            if not rel.startswith(prefixes):
                continue
            path = new_root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        old_dirs = [n for n in old_names if n in wanted]
        new_dirs = [n for n in new_names if n in wanted]
        rendered = render(
            kustomize,
            [old_root / "overlays" / n for n in old_dirs]
            + [new_root / "overlays" / n for n in new_dirs],
        )
    old = {n: load_documents(t) for n, t in zip(old_dirs, rendered[: len(old_dirs)], strict=True)}
    new = {n: load_documents(t) for n, t in zip(new_dirs, rendered[len(old_dirs) :], strict=True)}
    review = diff_environments(label, old, new)
    if args.format == "text":
        output.write(to_text(review, output.paint))
    else:
        output.write(to_markdown(review) if args.format == "markdown" else to_json(review))
    if args.fail_on == "risky":
        return ExitCode.DIFFERENCES if review.risks else ExitCode.OK
    return ExitCode.DIFFERENCES if review.has_differences else ExitCode.OK


def lint_rendered(
    spec: Any, names: Sequence[str], rendered: Sequence[str], output: Output, *, strict: bool
) -> bool:
    """Lint rendered environments, print the findings to stderr; True when they pass."""
    from compiler.check import lint_all

    findings = lint_all(spec, list(names), list(rendered))
    for found in findings:
        output.finding(found.render(), found.severity)
    return not any(f.severity == "error" or strict for f in findings)


def run_lint(args: argparse.Namespace, output: Output) -> int:
    from compiler.check import lint_all
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.render import render

    spec = load_spec(args.spec)
    enabled = dict(spec.enabled())
    names = [overlay_name(a.rstrip("/")) for a in args.overlays] or list(enabled)
    for name in names:
        if name not in enabled:
            raise UsageError(f"no enabled environment {name!r} in {args.spec}")
    rendered = render(find_kustomize(), [Path("overlays", n) for n in names])
    if args.output == "json":
        findings = lint_all(spec, names, rendered)
        failing = [f for f in findings if f.severity == "error" or args.strict]
        document = {"ok": not failing, "findings": [f.__dict__ for f in findings]}
        output.say(json.dumps(document, indent=2))
        return ExitCode.DIFFERENCES if failing else ExitCode.OK
    if not lint_rendered(spec, names, rendered, output, strict=args.strict):
        return ExitCode.DIFFERENCES
    output.say(f"lint: {', '.join(names)}: schemas and policy pass")
    return ExitCode.OK


def run_secret(args: argparse.Namespace, output: Output) -> int:
    from compiler.load import load_spec
    from compiler.secret import secret_env_file, secret_manifest, secret_values

    spec = load_spec(args.spec)
    env = spec.environments.get(args.env)
    if env is None:
        raise UsageError(f"no environment {args.env!r} in {args.spec}")
    if env.auth_secret.source == "external-secrets":
        raise UsageError(
            f"environment {args.env!r} takes its Secret from the External Secrets Operator; "
            "put the values in the store instead"
        )
    values = secret_values(env, os.environ, generate=args.generate)
    if env.auth_secret.source == "generator" and args.format == "yaml":
        # kustomize's secretGenerator reads overlays/<env>/secret.env, not a manifest.
        output.note(
            f"warning: environment {args.env!r} makes its Secret with a secretGenerator, "
            "which does not use this YAML manifest; write its env file instead: "
            f"python -m compiler secret --env {args.env}"
            + (" --generate" if args.generate else "")
            + f" --format env > overlays/{args.env}/secret.env",
            "yellow",
        )
    if args.format == "env":
        output.out.write(secret_env_file(values))
    else:
        output.out.write(secret_manifest(env, values))
    return ExitCode.OK


def run_docs(args: argparse.Namespace, output: Output) -> int:
    from compiler.docs import DOCS_PATH
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import write_tree

    tree = {DOCS_PATH: plan_tree(load_spec(args.spec))[DOCS_PATH]}
    changes = write_tree(Path("."), tree, only_planned=True)  # only the page itself
    for line in changes.lines():
        output.say(line)
    return ExitCode.OK


def run_import_terraform(args: argparse.Namespace, output: Output) -> int:
    from compiler.terraform import import_terraform

    result = import_terraform(
        args.tfvars,
        args.env_name,
        args.namespace,
        args.output,
        force=args.force,
        environ=os.environ,
    )
    for path in result.written:
        output.say(f"  written {path}")
    for risk in result.imported.risks:
        output.note(f"warning: {risk}", "yellow")
    spec = "" if args.output == "spec/llmgateway.yaml" else f" --spec {args.output}"
    output.say(f"next: python -m compiler compile{spec}   (writes base/ and overlays/)")
    output.say(
        f"      python -m compiler snapshot{spec}  (after review: the rendered manifests "
        "in tests/golden/)"
    )
    hint = (
        "the value given to llmgateway_auth_secret was not copied; "
        if result.imported.secret_given
        else ""
    )
    output.note(
        f"note: {hint}create the Secret outside git, keeping the module's AUTH_SECRET and "
        "generating the GATEWAY_API_KEY_HASH_SECRET the app also needs: "
        f"LLMGATEWAY_AUTH_SECRET=<the value> python -m compiler secret --env {args.env_name} "
        "--generate | kubectl apply -f -"
    )
    return ExitCode.OK


def run_live_diff(args: argparse.Namespace, output: Output) -> int:
    from compiler.live import live_diff
    from compiler.review import diff_environments, to_json, to_markdown, to_text

    if args.base or args.env:
        raise UsageError("--live compares one overlay with the cluster; drop --base and --env")
    name = overlay_name(args.live.rstrip("/"))
    live, merged = live_diff(Path("overlays", name))
    review = diff_environments(
        "the cluster (kubectl diff --server-side)", {name: live}, {name: merged}
    )
    if args.format == "text":
        output.write(to_text(review, output.paint))
    else:
        output.write(to_markdown(review) if args.format == "markdown" else to_json(review))
    if args.fail_on == "risky":
        return ExitCode.DIFFERENCES if review.risks else ExitCode.OK
    return ExitCode.DIFFERENCES if review.has_differences else ExitCode.OK


def run_doctor(args: argparse.Namespace, output: Output) -> int:
    from compiler.kustomize import find_kustomize

    kustomize = find_kustomize()
    output.say(f"kustomize: {kustomize.describe()}")
    output.say(f"version: {kustomize.version()}")
    return ExitCode.OK


def run_completion(args: argparse.Namespace, output: Output) -> int:
    from compiler.completion import completion_script, environment_names

    if args.environments:
        output.out.write("".join(f"{name}\n" for name in environment_names(args.spec)))
    elif args.shell is None:
        raise UsageError(f"completion: name a shell ({', '.join(SHELLS)})")
    else:
        output.out.write(completion_script(build_parser(), args.shell))
    return ExitCode.OK


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit code."""
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
    tools.TIMEOUT = args.timeout
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
        tools.stop_all_tools()
        output.note("interrupted")
        return 130
    except tools.Terminated:
        tools.stop_all_tools()
        output.note("terminated")
        return 143
