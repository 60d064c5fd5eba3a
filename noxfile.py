"""nox sessions: plain `nox` runs lint, typecheck, tests and policy.

Each session installs what it runs from uv.lock (`uv sync --locked`: the exact versions
committed, and a failure when the lock no longer matches pyproject.toml), so a session
never depends on what happens to be installed where nox runs.

Arguments after `--` go to pytest: `nox -s tests -- -k invariant`.
"""

from __future__ import annotations

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
    session.run("pytest", "-n", "auto", *session.posargs)


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
    overlays = sorted(p.parent.name for p in Path("overlays").glob("*/kustomization.yaml"))
    for environment in overlays:
        folder = rendered / environment
        folder.mkdir(parents=True)
        session.run(
            "python",
            "-m",
            "compiler",
            "build",
            f"overlays/{environment}",
            "-o",
            str(folder / f"{environment}.yaml"),
        )
    sync(session, "--only-group=policy")  # then checkov alone (see pyproject.toml)
    for environment in overlays:
        session.log(f"checkov: {environment}")
        folder = rendered / environment
        session.run("checkov", "--directory", str(folder), "--framework", "kubernetes", "--compact")
