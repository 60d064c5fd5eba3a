"""nox sessions: plain `nox` runs lint, typecheck, tests and policy.

Each session installs what it runs from uv.lock (`uv sync --locked`: the exact versions
committed, and a failure when the lock no longer matches pyproject.toml), so a session
never depends on what happens to be installed where nox runs.

Arguments after `--` go to pytest: `nox -s tests -- -k invariant`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "policy"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv"


def sync(session: nox.Session, *options: str) -> None:
    """Make the session's environment exactly the locked packages ``options`` select."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *options,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite on every core (kustomize runs for real; on CI a missing one
    fails). `nox -s tests -- -n 0` runs it in one process."""
    sync(session, "--extra=test")
    # Many tests start `python -m compiler` (and git hooks, nox) in subprocesses; with
    # PYTHONDONTWRITEBYTECODE set (some CI images set it) each one compiled every module
    # it imports again. An empty value lets Python write and reuse the bytecode caches
    # (git-ignored __pycache__ folders).
    session.env["PYTHONDONTWRITEBYTECODE"] = ""
    # worksteal: a worker that runs out takes half of another's remaining tests, so the
    # two cores end together (tests/conftest.py starts the longest tests first).
    session.run("pytest", "-n", "auto", "--dist", "worksteal", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    sync(session, "--extra=dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy in strict mode over the package, the tests and this file."""
    sync(session, "--extra=test", "--extra=dev")
    session.run("mypy")


@nox.session
def policy(session: nox.Session) -> None:
    """checkov's Kubernetes checks, once per rendered environment; skips carry reasons.

    Each environment is checked alone, in a folder of its own: checks that relate
    resources (a NetworkPolicy for each pod, CKV2_K8S_6) must not match one environment's
    pods with another's policy.
    """
    sync(session)  # the compiler, to render
    rendered = Path(session.create_tmp()) / "rendered"
    shutil.rmtree(rendered, ignore_errors=True)
    folders = [
        render_environment(session, Path("."), overlay.parent.name, rendered)
        for overlay in sorted(Path("overlays").glob("*/kustomization.yaml"))
    ]
    run_checkov(session, folders)


@nox.session(default=False)
def policy_cases(session: nox.Session) -> None:
    """checkov on every environment of every valid case in tests/cases/valid (slow: each
    case is compiled in a folder of its own, then each environment is checked alone).
    `nox -s policy_cases -- split-services minimal` checks only the cases named."""
    sync(session)
    work = Path(session.create_tmp()) / "cases"
    shutil.rmtree(work, ignore_errors=True)
    cases = sorted(Path("tests/cases/valid").glob("*/spec.yaml"))
    if session.posargs:
        cases = [case for case in cases if case.parent.name in session.posargs]
        unknown = set(session.posargs) - {case.parent.name for case in cases}
        if unknown:
            session.error(f"no valid case named {', '.join(sorted(unknown))}")
    folders = []
    for case in cases:
        project = work / "projects" / case.parent.name
        (project / "spec").mkdir(parents=True)
        shutil.copy2(case, project / "spec" / "llmgateway.yaml")
        session.run("python", "-m", "compiler", "compile", "-q", "-C", str(project), silent=True)
        rendered = work / "rendered" / case.parent.name
        folders += [
            render_environment(session, project, overlay.parent.name, rendered)
            for overlay in sorted((project / "overlays").glob("*/kustomization.yaml"))
        ]
    run_checkov(session, folders, JUSTIFIED)


def render_environment(session: nox.Session, project: Path, environment: str, into: Path) -> Path:
    """Render one overlay of ``project`` alone into a new folder of ``into``."""
    folder = into / environment
    folder.mkdir(parents=True)
    overlay = project / "overlays" / environment
    example = overlay / "secret.env.example"
    if project != Path(".") and example.is_file():
        # a case's generator environment: placeholder values (checkov never reads them)
        keys = [line.split("=")[0] for line in example.read_text().splitlines() if "=" in line]
        values = "".join(f"{key}=policy-check-placeholder\n" for key in keys if key[:1] != "#")
        (overlay / "secret.env").write_text(values)
    command = ["python", "-m", "compiler", "build", f"overlays/{environment}"]
    if project != Path("."):
        command += ["-C", str(project)]
    session.run(*command, "-o", str((folder / f"{environment}.yaml").resolve()))
    return folder


# What a valid case chooses on purpose and checkov then flags, with the reason; passed to
# checkov as --skip-check for that case's environment alone (`nox -s policy_cases`).
JUSTIFIED = {
    ("service-monitor-and-shutdown", "dev"): {
        "CKV2_K8S_6": "the case turns networkPolicy off in dev (lint warns: LLMGW011)",
    },
}
CHECKOV_SUMMARY = re.compile(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)")


def run_checkov(
    session: nox.Session,
    folders: list[Path],
    justified: dict[tuple[str, str], dict[str, str]] | None = None,
) -> None:
    """checkov on each folder; every folder is checked, then the session fails if one did."""
    for folder in folders:  # checkov passes a folder it finds nothing in
        rendered = [path for path in folder.iterdir() if path.stat().st_size > 0]
        if len(rendered) != 1:
            session.error(f"{folder}: expected one rendered environment, found {len(rendered)}")
    sync(session, "--only-group=policy")  # then checkov alone (see pyproject.toml)
    totals = [0, 0, 0]
    failed: list[str] = []
    for folder in folders:
        skips = (justified or {}).get((folder.parent.name, folder.name), {})
        command = ["checkov", "--directory", str(folder), "--framework", "kubernetes", "--compact"]
        if skips:
            command += ["--skip-check", ",".join(sorted(skips))]
        output = session.run(*command, silent=True, success_codes=[0, 1])
        summary = CHECKOV_SUMMARY.search(str(output))
        if summary is None:
            session.error(f"{folder}: checkov reported no result:\n{output}")
        counts = [int(count) for count in summary.groups()]
        totals = [total + count for total, count in zip(totals, counts, strict=True)]
        session.log(f"checkov {folder}: {summary.group(0)}")
        for check, reason in sorted(skips.items()):
            session.log(f"  {check} not run here: {reason}")
        if counts[1]:
            failed.append(str(folder))
            print(output)
    session.log(
        f"checkov, {len(folders)} environments: {totals[0]} passed, {totals[1]} failed, "
        f"{totals[2]} skipped (each skip with its reason in the manifests)"
    )
    if failed:
        session.error(f"checkov failed in {', '.join(failed)}")


# Modules that decide what is deployed and what is reported, each with the fast tests
# that check it. For each mutant, mutmut runs only those of these tests that reach the
# mutated function.
MUTATION_TARGETS = {
    # not test_boundaries.py for spec.py: its rules' sides are case folders, which
    # test_validate_cases.py runs; its renderings with kustomize would run for every mutant
    "compiler/spec.py": ["tests/test_spec_rules.py", "tests/test_validate_cases.py"],
    # the facts tables of the rendering tests, run on the lowering in-process
    # (test_lowered_facts.py), instead of their kustomize renderings for every mutant; the
    # rule sides those specs never take, on small specs lowered in-process; Kubernetes'
    # rules for one resource to find another, and checkov's findings each skipped, on every
    # valid case lowered in-process
    "compiler/lower/*.py": [
        "tests/test_golden_trees.py",
        "tests/test_lowered_facts.py",
        "tests/test_lowering_sides.py",
        "tests/test_lowered_references.py",
        "tests/test_lowered_policy.py",
        # the schemas and policy rules over every valid case's lowering, and the committed
        # tree compiled again (in-process; a golden check of the committed split prod)
        "tests/test_lint.py::test_every_valid_spec_lowers_to_lint_clean_manifests",
        "tests/test_compile.py::test_committed_tree_is_up_to_date",
    ],
    "compiler/plan.py": ["tests/test_golden_trees.py", "tests/test_plan_rules.py"],
    "compiler/compare.py": [
        "tests/test_compare.py",
        "tests/test_redaction.py",
        "tests/test_boundaries.py",
        "tests/test_live_masked.py",
    ],
    "compiler/review.py": [
        "tests/test_review_formats.py",
        "tests/test_review_risks.py",
        "tests/test_review_replaced_policy.py",
        "tests/test_boundaries.py",
        "tests/test_diff.py",
        "tests/test_diff_command.py",
        "tests/test_live.py",
        "tests/test_live_masked.py",
    ],
    "compiler/write.py": [
        "tests/test_write.py",
        "tests/test_write_file.py",
        "tests/test_write_rules.py",
        # the staging writer's child run in this process (mutmut sees no forked child)
        "tests/test_staging_writer.py",
        "tests/test_compile.py",
        "tests/test_hostile.py",
        # not test_interrupt.py: it interrupts compiles in other processes, which mutmut
        # neither traces nor runs mutated
    ],
}
KILLED = ("killed", "timeout", "caught by type check", "segfault")


@nox.session(default=False)
def mutation(session: nox.Session) -> None:
    """Mutation score (mutmut) per module; slow, so not part of plain `nox`.

    `nox -s mutation -- compiler/plan.py` scores one module, `-- compiler/lower/split.py`
    one file of a package (with the package's tests). Each module runs in a copy of the
    tracked files (mutmut writes its mutants/ folder there, never in the repository),
    niced, with the module's tests only, one mutant at a time unless the machine is idle
    (a load under 3: two at a time).
    """
    sync(session, "--extra=test", "--extra=mutation")
    modules = session.posargs or list(MUTATION_TARGETS)
    children = "2" if os.getloadavg()[0] < 3 else "1"
    tracked = session.run("git", "ls-files", "-z", silent=True, external=True)
    assert isinstance(tracked, str)
    scores: list[str] = []
    for module in modules:
        target = next(key for key in MUTATION_TARGETS if fnmatch.fnmatchcase(module, key))
        label = module.removeprefix("compiler/").removesuffix(".py").replace("/*", "")
        copy = Path(session.create_tmp()) / "mutation" / label
        shutil.rmtree(copy, ignore_errors=True)
        for name in filter(None, tracked.split("\0")):
            if Path(name).is_file() and not Path(name).is_symlink():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(name, copy / name)
        selection = ", ".join(f'"{test}"' for test in MUTATION_TARGETS[target])
        with (copy / "pyproject.toml").open("a") as pyproject:
            pyproject.write(
                "\n[tool.mutmut]\n"
                'source_paths = ["compiler/"]\n'
                f'only_mutate = ["{module}"]\n'
                'also_copy = ["spec/", "base/", "overlays/", "docs/", "gitops/", "bench/",'
                ' "README.md"]\n'
                'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
                f"pytest_add_cli_args_test_selection = [{selection}]\n"
                "use_git_change_detection = false\n"
                # mutmut stops a mutant after (tests' time + 1 s) x 2 x this many CPU
                # seconds, or half that of wall time: niced on a loaded machine, the
                # default 15 stopped mutants its tests kill in seconds, and counted
                # them as killed by a timeout
                "timeout_multiplier = 60\n"
            )
        # The copy lies inside the checkout (.nox/): git must not find the checkout from
        # there, or the suite's repository_untouched check watches the checkout, where
        # someone may be editing, instead of nothing.
        outside = {"GIT_CEILING_DIRECTORIES": str(copy.resolve())}
        with session.chdir(copy):
            session.run(
                "nice",
                "-n",
                "19",
                "mutmut",
                "run",
                "--max-children",
                children,
                env=outside,
                external=True,
            )
            results = session.run("mutmut", "results", "--all", "true", silent=True)
        assert isinstance(results, str)
        states = [line.rsplit(": ", 1)[-1].strip() for line in results.splitlines() if ": " in line]
        killed = sum(state in KILLED for state in states)
        scores.append(
            f"{module}: {killed}/{len(states)} killed ({killed / max(len(states), 1):.0%})"
        )
        survivors = [line.strip() for line in results.splitlines() if not line.endswith(KILLED)]
        (copy / "survivors.txt").write_text("\n".join(survivors) + "\n")
        session.log(f"{scores[-1]}; not killed: {copy / 'survivors.txt'}")
    for line in scores:
        session.log(line)
