"""Benchmark: wall time and peak memory of every command, at 2 to 1,000 environments.

Run from the project root:  python bench/run.py  [--sizes 2,10,100,1000] [--runs 5]

Each figure is the median of several runs, each in its own process (peak memory is the
process tree's maximum resident set). Bare `kustomize build overlays/prod` is timed in
the same run as the floor of `build`, and every figure is printed with its ratio to that
floor and the target beside it. The table is written to bench/results.md, which the
README's Performance section shows.

Rendering-heavy figures (check with rendering, rendering every overlay, diff of every
environment) take one kustomize process per overlay; they are measured up to 100
environments (at 1,000 a single run takes minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.emit import dump  # noqa: E402
from compiler.kustomize import find_kustomize  # noqa: E402

MEASURE = """\
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(code, elapsed, peak)
"""


@dataclass
class Figure:
    seconds: float
    peak_mib: float
    runs: int


def measure(
    command: list[str], cwd: Path, runs: int, prepare: Callable[[], None] | None = None
) -> Figure:
    """Median wall time and the largest peak RSS of ``runs`` runs, each in a new process."""
    times: list[float] = []
    peaks: list[float] = []
    for _ in range(runs):
        if prepare is not None:
            prepare()
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *command],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        code, elapsed, peak = done.stdout.split()
        if int(code) not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed in {cwd} (exit {code})")
        times.append(float(elapsed))
        peaks.append(float(peak))
    return Figure(statistics.median(times), max(peaks), runs)


def environment(index: int) -> dict[str, object]:
    """A varied environment: namespaces and hosts of its own, a mix of the options."""
    env: dict[str, object] = {
        "namespace": f"llm-team-{index:04d}",
        "domain": f"team-{index:04d}.llm.example.com",
    }
    if index % 3 == 1:
        env["replicas"] = 2
        env["database"] = {"acknowledgeSharedDataDirectory": True}
    if index % 4 == 2:
        env["ingress"] = {"tls": {"enabled": False}}
    if index % 5 == 3:
        env["image"] = {"tag": f"v1.{index % 7}.0"}
    return env


def make_spec(count: int) -> str:
    """A spec with ``count`` environments, the last one named prod."""
    names = [f"team-{i:04d}" for i in range(count - 1)] + ["prod"]
    environments = {name: environment(i) for i, name in enumerate(names)}
    environments["prod"] = {
        "production": True,
        "replicas": 3,
        "image": {"tag": "v1.2.3"},
        "database": {"acknowledgeSharedDataDirectory": True},
    }
    spec = {
        "defaults": {
            "domain": "llm.example.com",
            "ingress": {"tls": {"issuer": {"kind": "ClusterIssuer", "name": "letsencrypt-prod"}}},
            "auth": {"oauth2ProxyHost": "auth.example.com"},
            "adminEmails": ["admin@example.com"],
            "storage": {"className": "longhorn"},
        },
        "environments": environments,
    }
    return dump(spec)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def project(base: Path, count: int) -> Path:
    root = base / f"envs-{count}"
    (root / "spec").mkdir(parents=True)
    # Two environments: the committed spec itself, the size the targets name.
    text = (ROOT / "spec" / "llmgateway.yaml").read_text() if count == 2 else make_spec(count)
    (root / "spec" / "llmgateway.yaml").write_text(text)
    compiler = [sys.executable, "-m", "compiler"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*compiler, "compile", "-q"], cwd=root, check=True, capture_output=True, env=env)
    subprocess.run([*compiler, "snapshot"], cwd=root, check=True, capture_output=True, env=env)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "bench")
    return root


def render_all_command(root: Path, kustomize: list[str]) -> list[str]:
    """One process rendering every overlay in parallel (as check and diff do)."""
    script = (
        "import sys; from pathlib import Path; from compiler.kustomize import find_kustomize; "
        "from compiler.render import render; "
        "overlays = sorted(p.parent for p in Path('overlays').glob('*/kustomization.yaml')); "
        "render(find_kustomize(), overlays)"
    )
    return [sys.executable, "-c", script]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,10,100,1000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kustomize = list(find_kustomize().build_command)
    python = [sys.executable, "-m", "compiler"]
    results: dict[int, dict[str, Figure]] = {}
    with tempfile.TemporaryDirectory(prefix="llmgw-bench-") as scratch:
        for count in sizes:
            root = project(Path(scratch), count)
            # One kustomize process per overlay: at 1,000 environments these take minutes
            # per run, so they are measured up to 100 environments.
            heavy = count <= 100
            figures: dict[str, Figure] = {}

            def fresh(root: Path = root) -> None:
                for name in ("base", "overlays", "docs"):
                    shutil.rmtree(root / name, ignore_errors=True)

            figures["kustomize build overlays/prod (floor)"] = measure(
                [*kustomize, "overlays/prod"], root, args.runs
            )

            def cold(root: Path = root) -> None:
                shutil.rmtree(root / ".llmgw-cache", ignore_errors=True)

            figures["build overlays/prod (cold cache)"] = measure(
                [*python, "build", "overlays/prod"], root, args.runs, cold
            )
            figures["build --no-validate (cold cache)"] = measure(
                [*python, "build", "overlays/prod", "--no-validate"], root, args.runs, cold
            )
            figures["build overlays/prod"] = measure(
                [*python, "build", "overlays/prod"], root, args.runs
            )
            figures["compile (from scratch)"] = measure(
                [*python, "compile", "-q"], root, args.runs, fresh
            )
            figures["compile (up to date)"] = measure([*python, "compile", "-q"], root, args.runs)
            figures["check --no-render"] = measure(
                [*python, "check", "--no-render"], root, args.runs
            )
            figures["render one overlay"] = measure([*kustomize, "overlays/prod"], root, args.runs)
            if heavy:
                figures["render every overlay"] = measure(
                    render_all_command(root, kustomize), root, args.runs
                )
                figures["check (with rendering)"] = measure([*python, "check"], root, args.runs)
            spec = root / "spec" / "llmgateway.yaml"
            spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4", 1))
            figures["diff --env prod"] = measure(
                [*python, "diff", "--env", "prod"], root, args.runs
            )
            if heavy:
                figures["diff (every environment)"] = measure([*python, "diff"], root, args.runs)
            results[count] = figures
            print(f"{count} environments measured", file=sys.stderr)
    table = report(results)
    print(table)
    Path(args.output).write_text(table)
    return 0


def report(results: dict[int, dict[str, Figure]]) -> str:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}"
    )
    lines = [
        f"Machine: {machine}. Median of the runs shown; peak = largest resident set of the "
        "process tree.",
        "",
        "| environments | command | seconds | x floor | peak MiB | runs | target |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    targets: dict[str, Callable[[int, dict[str, Figure]], str]] = {
        "build overlays/prod": lambda n, f: build_target(f, "build overlays/prod"),
        "build overlays/prod (cold cache)": lambda n, f: build_target(
            f, "build overlays/prod (cold cache)"
        ),
        "compile (from scratch)": lambda n, f: size_target(n, f["compile (from scratch)"], 0.5),
        "compile (up to date)": lambda n, f: size_target(n, f["compile (up to date)"], 0.5),
        "check --no-render": lambda n, f: size_target(n, f["check --no-render"], 0.4),
        "render every overlay": lambda n, f: verdict(
            f["render every overlay"].seconds <= 0.6 * n * f["render one overlay"].seconds,
            f"<= 0.6 x {n} x one ({0.6 * n * f['render one overlay'].seconds:.2f} s)",
        ),
    }
    for count, figures in results.items():
        floor = figures["kustomize build overlays/prod (floor)"].seconds
        for name, figure in figures.items():
            target = targets[name](count, figures) if name in targets else ""
            lines.append(
                f"| {count} | {name} | {figure.seconds:.3f} | {figure.seconds / floor:.2f} "
                f"| {figure.peak_mib:.0f} | {figure.runs} | {target} |"
            )
    if 100 in results and 1000 in results:
        for name in ("compile (from scratch)", "compile (up to date)", "check --no-render"):
            growth = results[1000][name].seconds / results[100][name].seconds
            lines.append(
                f"| 100 -> 1000 | {name}: growth | {growth:.1f} x | | | | "
                f"{verdict(growth <= 11, '<= 11 x (linear)')} |"
            )
    return "\n".join(lines) + "\n"


def build_target(figures: dict[str, Figure], name: str) -> str:
    floor = figures["kustomize build overlays/prod (floor)"].seconds
    return verdict(figures[name].seconds / floor <= 1.3, "<= 1.3 x floor")


def verdict(ok: bool, text: str) -> str:
    return f"{'met' if ok else 'MISSED'}: {text}"


def size_target(count: int, figure: Figure, committed_limit: float) -> str:
    """The targets of compile and check: the committed spec, and 1,000 environments."""
    if count == 2:
        return verdict(
            figure.seconds < committed_limit, f"< {committed_limit} s (committed-size spec)"
        )
    if count == 1000:
        return verdict(figure.seconds < 5 and figure.peak_mib < 400, "< 5 s and < 400 MiB")
    return ""


if __name__ == "__main__":
    raise SystemExit(main())
