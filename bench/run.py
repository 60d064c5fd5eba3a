"""Benchmark: wall time and peak memory of every command, at 2 to 1,000 environments.

Run from the project root:  python bench/run.py  [--sizes 2,10,100,1000] [--runs 5]

Each figure is the median of several runs, each in its own process (peak memory is the
process tree's maximum resident set). Bare `kustomize build overlays/prod` is timed in
the same run as the floor of `build`, and every figure is printed with its ratio to that
floor and the target beside it (issue 15). The table is written to bench/results.md,
which the README's Performance section shows.

The render cache's figures: `check` and `diff` with nothing cached, and with one
environment changed since the last run (everything else cached). Rendering every
overlay is compared with its peer, a cdk8s app synthesising the same resources
(bench/cdk8s_app.py, measured when `cdk8s` imports in --cdk8s-python). The split
topology (topology: split, CloudNativePG) is measured at 100 and 1,000 environments, with
the time to create its files alone, so the disk's share of `compile` is visible.
Rendering-heavy figures with nothing cached are measured up to 100 environments.
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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.emit import dump  # noqa: E402
from compiler.kustomize import GO_RUNTIME, find_kustomize  # noqa: E402
from compiler.write import spread_subfolders  # noqa: E402

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
            env=ENV,
        )
        code, elapsed, peak = done.stdout.split()
        if int(code) not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed in {cwd} (exit {code})")
        times.append(float(elapsed))
        peaks.append(float(peak))
    return Figure(statistics.median(times), max(peaks), runs)


def measure_together(
    jobs: Sequence[tuple[str, list[str], Callable[[], None] | None]], cwd: Path, runs: int
) -> dict[str, Figure]:
    """The figures of ``jobs`` measured in turns (one run of each, ``runs`` times): a
    figure and the floor it is divided by then share the machine's drift over the run,
    instead of each taking its own stretch of it."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in jobs}
    peaks: dict[str, list[float]] = {name: [] for name, _, _ in jobs}
    for _ in range(runs):
        for name, command, prepare in jobs:
            figure = measure(command, cwd, 1, prepare)
            times[name].append(figure.seconds)
            peaks[name].append(figure.peak_mib)
    return {name: Figure(statistics.median(times[name]), max(peaks[name]), runs) for name in times}


def environment(index: int, topology: str = "unified") -> dict[str, object]:
    """A varied environment: namespaces and hosts of its own, a mix of the options."""
    env: dict[str, object] = {
        "namespace": f"llm-team-{index:04d}",
        "domain": f"team-{index:04d}.llm.example.com",
    }
    if index % 3 == 1:
        if topology == "split":
            env["services"] = {"api": {"replicas": 2}, "gateway": {"replicas": 2}}
        else:
            env["replicas"] = 2
            env["database"] = {"acknowledgeSharedDataDirectory": True}
    if index % 4 == 2:
        env["ingress"] = {"tls": {"enabled": False}}
    if index % 5 == 3:
        env["image"] = {"tag": f"v1.{index % 7}.0"}
    return env


def make_spec(count: int, topology: str = "unified") -> str:
    """A spec with ``count`` environments, the last one named prod; ``split``: the split
    topology with CloudNativePG (issue 13), every environment its own cluster."""
    names = [f"team-{i:04d}" for i in range(count - 1)] + ["prod"]
    environments = {name: environment(i, topology) for i, name in enumerate(names)}
    environments["prod"] = {"production": True, "image": {"tag": "v1.2.3"}}
    if topology == "split":
        environments["prod"]["services"] = {"api": {"replicas": 3}, "gateway": {"replicas": 3}}
    else:
        environments["prod"]["replicas"] = 3
        environments["prod"]["database"] = {"acknowledgeSharedDataDirectory": True}
    defaults: dict[str, object] = {
        "domain": "llm.example.com",
        "ingress": {"tls": {"issuer": {"kind": "ClusterIssuer", "name": "letsencrypt-prod"}}},
        "auth": {"oauth2ProxyHost": "auth.example.com"},
        "adminEmails": ["admin@example.com"],
        "storage": {"className": "longhorn"},
    }
    if topology == "split":
        defaults = {"topology": "split", "database": {"mode": "cloudnative-pg"}, **defaults}
    return dump({"defaults": defaults, "environments": environments})


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


PYTHON = [sys.executable, "-m", "compiler"]
NO_STAMP = "build overlays/prod (cold cache, no stamp)"
IMPORTS = "Python start and the rendering's imports"
TUNED = "render one overlay, as the compiler runs kustomize"
FLOOR = "kustomize build overlays/prod (floor)"
STAMPED = "build overlays/prod (cold cache, stamped)"
NO_VALIDATE = "build --no-validate (cold cache)"
WARM = "build overlays/prod"
ONE = "render one overlay"
EVERY = "render every overlay"
CHECK_COLD = "check (nothing cached)"
DIFF_COLD = "diff (nothing cached)"
# Measured as installed: modules compiled once to bytecode and reused (an environment
# that sets PYTHONDONTWRITEBYTECODE recompiles every module in every process).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(ROOT)


def project(base: Path, count: int, topology: str = "unified") -> Path:
    root = base / f"{topology}-{count}"
    (root / "spec").mkdir(parents=True)
    # Two environments: the committed spec itself, the size the targets name.
    if count == 2 and topology == "unified":
        text = (ROOT / "spec" / "llmgateway.yaml").read_text()
    else:
        text = make_spec(count, topology)
    (root / "spec" / "llmgateway.yaml").write_text(text)
    # Golden files only where check renders (up to 100 environments).
    commands = [["compile", "--quiet"], ["snapshot"]] if count <= 100 else [["compile", "--quiet"]]
    for command in commands:
        subprocess.run([*PYTHON, *command], cwd=root, check=True, capture_output=True, env=ENV)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "bench")
    return root


def render_all_command() -> list[str]:
    """One process rendering every overlay (as check and diff do on a cold cache)."""
    script = (
        "from pathlib import Path; from compiler.kustomize import find_kustomize; "
        "from compiler.render import render; "
        "overlays = sorted(p.parent for p in Path('overlays').glob('*/kustomization.yaml')); "
        "render(find_kustomize(), overlays)"
    )
    return [sys.executable, "-c", script]


def has_cdk8s(python: str) -> str | None:
    """Why the cdk8s peer cannot run with ``python``, or None when it can."""
    try:
        done = subprocess.run(
            [python, "-c", "import cdk8s"], capture_output=True, text=True, timeout=300, env=ENV
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python}: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["import failed"])[-1]
        return f"cdk8s does not import with {python} ({last}); pip install cdk8s (needs node)"
    return None


class OneChanged:
    """Before each run, give the first environment an image tag it never had: exactly one
    overlay's inputs changed since the run before (which cached everything)."""

    def __init__(self, root: Path, compile_after: bool) -> None:
        self.spec = root / "spec" / "llmgateway.yaml"
        self.original = self.spec.read_text()
        self.first = "dev" if "\n  dev:\n" in self.original else "team-0000"
        self.compile_after = compile_after
        self.runs = 0

    def __call__(self) -> None:
        self.runs += 1
        tag = f"    image:\n      tag: v9.{self.runs}.0\n"
        marker = f"\n  {self.first}:\n"
        self.spec.write_text(self.original.replace(marker, marker + tag, 1))
        if self.compile_after:
            subprocess.run(
                [*PYTHON, "compile", "--quiet"],
                cwd=self.spec.parent.parent,
                check=True,
                capture_output=True,
                env=ENV,
            )

    def restore(self) -> None:
        self.spec.write_text(self.original)
        subprocess.run(
            [*PYTHON, "compile", "--quiet"],
            cwd=self.spec.parent.parent,
            check=True,
            capture_output=True,
            env=ENV,
        )


def file_creation(root: Path, runs: int, *, spread: bool = False) -> Figure:
    """Creating the generated files alone (the same bytes, into an empty directory): the
    disk's share of `compile` from an empty tree. ``spread``: each top folder flagged as
    compile flags its staged ones (write.spread_subfolders) while its files are made; on
    ext4 without a journal, the plain loop pays a scan of the inodes freed by the
    previous run's deletion, which compile's layout avoids."""
    tree = {
        p.relative_to(root): p.read_bytes()
        for top in ("base", "overlays", "docs")
        for p in sorted((root / top).rglob("*"))
        if p.is_file()
    }
    times: list[float] = []
    for run in range(runs):
        target = root.parent / f"files-{root.name}-{run}"
        start = time.perf_counter()
        if spread:
            for top in ("base", "overlays", "docs"):
                (target / top).mkdir(parents=True)
                spread_subfolders(target / top)
        for rel, data in tree.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        times.append(time.perf_counter() - start)
        shutil.rmtree(target)
    return Figure(statistics.median(times), 0.0, runs)


def measure_size(count: int, scratch: Path, args: argparse.Namespace) -> dict[str, Figure]:
    """Every figure of the unified topology at ``count`` environments."""
    kustomize = list(find_kustomize().build_command)
    root = project(scratch, count)
    runs = args.runs
    # Rendering everything with nothing cached: one kustomize process per core at 1,000.
    heavy = count <= 100
    figures: dict[str, Figure] = {}

    def fresh() -> None:
        for name in ("base", "overlays", "docs"):
            shutil.rmtree(root / name, ignore_errors=True)

    def cold() -> None:
        shutil.rmtree(root / ".llmgw-cache", ignore_errors=True)

    def run(name: str, command: list[str], prepare: Callable[[], None] | None = None,
            times: int = runs) -> None:  # fmt: skip
        figures[name] = measure(command, root, times, prepare)

    no_stamp = measure([*PYTHON, "build", "overlays/prod"], root, runs, cold)
    # The documented workflow (README "The validation stamp"): compile, stamp, commit. Only
    # prod is stamped: each environment's entry is its own, and this build reads prod's.
    subprocess.run([*PYTHON, "stamp", "prod"], cwd=root, check=True, capture_output=True, env=ENV)
    # build's targets are ratios to the floor: measured in turns with it (the warm build
    # right after the cold stamped one, which fills both caches).
    builds = measure_together(
        [
            (FLOOR, [*kustomize, "overlays/prod"], None),
            (NO_VALIDATE, [*PYTHON, "build", "overlays/prod", "--no-validate"], cold),
            (STAMPED, [*PYTHON, "build", "overlays/prod"], cold),
            (WARM, [*PYTHON, "build", "overlays/prod"], None),
        ],
        root,
        runs,
    )
    figures[FLOOR] = builds[FLOOR]
    figures[NO_STAMP] = no_stamp
    figures[STAMPED] = builds[STAMPED]
    figures[NO_VALIDATE] = builds[NO_VALIDATE]
    figures[WARM] = builds[WARM]
    run("compile (from scratch)", [*PYTHON, "compile", "-q"], fresh)
    run("compile (up to date)", [*PYTHON, "compile", "-q"])
    run("check --no-render", [*PYTHON, "check", "--no-render"])
    # The same process as the compiler runs it (kustomize.GO_RUNTIME): the floors' render.
    tuned = [f"{name}={value}" for name, value in GO_RUNTIME.items()]
    # The "nothing cached" targets are ratios to one render: measured in turns with it.
    renders: list[tuple[str, list[str], Callable[[], None] | None]] = [
        (ONE, [*kustomize, "overlays/prod"], None),
        (TUNED, ["env", *tuned, *kustomize, "overlays/prod"], None),
        (IMPORTS, [sys.executable, "-c", "import compiler.render, compiler.kustomize"], None),
    ]
    if heavy:
        renders += [
            (EVERY, render_all_command(), None),
            (CHECK_COLD, [*PYTHON, "check"], cold),
            (DIFF_COLD, [*PYTHON, "diff"], cold),
        ]
    together = measure_together(renders, root, runs)
    for name in (ONE, TUNED, IMPORTS):
        figures[name] = together[name]
    if heavy:
        figures[EVERY] = together[EVERY]
    else:
        run(EVERY, render_all_command(), None, 1)
    if count >= 100:
        reason = has_cdk8s(args.cdk8s_python)
        if reason is None:
            synth = [args.cdk8s_python, str(ROOT / "bench" / "cdk8s_app.py"), "cdk8s.out"]
            run("cdk8s synth, same resources (peer)", synth, None, runs if heavy else 1)
        else:
            print(f"cdk8s peer not measured: {reason}", file=sys.stderr)
    if heavy:
        figures[CHECK_COLD] = together[CHECK_COLD]
        changed = OneChanged(root, compile_after=True)
        measure([*PYTHON, "check"], root, 1)  # everything cached
        run("check (one environment changed)", [*PYTHON, "check"], changed)
        changed.restore()
        figures[DIFF_COLD] = together[DIFF_COLD]
        changed = OneChanged(root, compile_after=False)
        measure([*PYTHON, "diff"], root, 1)
        run("diff (one environment changed)", [*PYTHON, "diff"], changed)
        changed.restore()
    spec = root / "spec" / "llmgateway.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4", 1))
    run("diff --env prod", [*PYTHON, "diff", "--env", "prod"])
    return figures


def measure_split(count: int, scratch: Path, runs: int) -> dict[str, Figure]:
    """The split topology's compile and check --no-render, and its files' creation."""
    root = project(scratch, count, "split")
    figures: dict[str, Figure] = {}

    def fresh() -> None:
        for name in ("base", "overlays", "docs"):
            shutil.rmtree(root / name, ignore_errors=True)

    figures["compile (from scratch)"] = measure([*PYTHON, "compile", "-q"], root, runs, fresh)
    figures["creating its files alone"] = file_creation(root, runs)
    figures["creating its files alone, spread as compile does"] = file_creation(
        root, runs, spread=True
    )
    figures["compile (up to date)"] = measure([*PYTHON, "compile", "-q"], root, runs)
    figures["check --no-render"] = measure([*PYTHON, "check", "--no-render"], root, runs)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,10,100,1000")
    parser.add_argument("--split-sizes", default="100,1000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--cdk8s-python",
        default=sys.executable,
        help="a Python where `import cdk8s` works (the peer of rendering every overlay)",
    )
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    split_sizes = [int(s) for s in args.split_sizes.split(",") if s]
    results: dict[int, dict[str, Figure]] = {}
    split: dict[int, dict[str, Figure]] = {}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="llmgw-bench-") as scratch:
        for count in sizes:
            results[count] = measure_size(count, Path(scratch), args)
            print(f"{count} environments measured", file=sys.stderr)
        for count in split_sizes:
            split[count] = measure_split(count, Path(scratch), args.runs)
            print(f"{count} split environments measured", file=sys.stderr)
    after = os.getloadavg()
    table = report(results, split, (load, after))
    print(table)
    Path(args.output).write_text(table)
    return 0


def report(
    results: dict[int, dict[str, Figure]],
    split: dict[int, dict[str, Figure]],
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}"
    )
    lines = [
        f"Machine: {machine}. Load average (1 min) {loads[0][0]:.1f} at the start, "
        f"{loads[1][0]:.1f} at the end (other sessions shared the machine). Median of the "
        "runs shown; peak = largest resident set of the process tree; modules compiled to "
        "bytecode once, as installed.",
        "",
        "| environments | command | seconds | x floor | peak MiB | runs | target |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for count, figures in results.items():
        floor = figures["kustomize build overlays/prod (floor)"].seconds
        for name, figure in figures.items():
            lines.append(row(str(count), name, figure, floor, target(name, count, figures)))
    lines += growth_rows(
        results, ("compile (from scratch)", "compile (up to date)", "check --no-render"), ""
    )
    for count, figures in split.items():
        floor = next(iter(results.values()))["kustomize build overlays/prod (floor)"].seconds
        for name, figure in figures.items():
            verdict_text = split_target(name, count, figure)
            lines.append(row(f"{count} split", name, figure, floor, verdict_text))
    lines += growth_rows(
        split, ("compile (from scratch)", "compile (up to date)", "check --no-render"), " split"
    )
    return "\n".join(lines) + "\n"


def row(count: str, name: str, figure: Figure, floor: float, target: str) -> str:
    peak = f"{figure.peak_mib:.0f}" if figure.peak_mib else ""
    return (
        f"| {count} | {name} | {figure.seconds:.3f} | {figure.seconds / floor:.2f} "
        f"| {peak} | {figure.runs} | {target} |"
    )


def growth_rows(
    results: dict[int, dict[str, Figure]], names: tuple[str, ...], label: str
) -> list[str]:
    if 100 not in results or 1000 not in results:
        return []
    lines = []
    for name in names:
        growth = results[1000][name].seconds / results[100][name].seconds
        lines.append(
            f"| 100 -> 1000{label} | {name}: growth | {growth:.1f} x | | | | "
            f"{verdict(growth <= 11, '<= 11 x (linear)')} |"
        )
    return lines


def target(name: str, count: int, figures: dict[str, Figure]) -> str:
    """Issue 15's target for a figure of the unified topology, met or missed."""
    floor = figures["kustomize build overlays/prod (floor)"].seconds
    one = figures["render one overlay"].seconds
    if name == NO_STAMP:
        return "no target: validates in full (the stamped row is the target's)"
    if name.startswith("build overlays/prod"):
        return verdict(figures[name].seconds <= 1.5 * floor, "<= 1.5 x floor")
    if name in ("check (nothing cached)", "diff (nothing cached)", "render every overlay"):
        # diff renders both sides: twice the overlays.
        renders = 2 * count if name.startswith("diff") else count
        limit = 0.6 * renders * one
        text = f"<= 0.6 x {renders} x one ({limit:.2f} s)"
        peer = figures.get("cdk8s synth, same resources (peer)")
        if name == "render every overlay" and peer is not None:
            ok = figures[name].seconds <= limit and figures[name].seconds < peer.seconds
            return verdict(ok, f"{text}; < cdk8s ({peer.seconds:.2f} s)")
        ok = figures[name].seconds <= limit
        return verdict(ok, text + ("" if ok else fixed_cost(name, figures, limit)))
    if name in ("check (one environment changed)", "diff (one environment changed)"):
        return verdict(figures[name].seconds <= 3, "<= 3 s") if count == 100 else ""
    if name in ("compile (from scratch)", "compile (up to date)", "check --no-render"):
        return size_target(count, figures[name], 0.4 if name.startswith("check") else 0.5)
    return ""


def fixed_cost(name: str, figures: dict[str, Figure], limit: float) -> str:
    """The floor of a missed "nothing cached" figure: what the command cannot skip.
    Rendering every overlay: Python's start and the rendering's imports, then one
    kustomize process as the compiler runs it (the overlays render in parallel).
    `check` and `diff`: the overlays render while the spec loads (`python -m compiler`
    starts them first), so the larger of the two: the spec's load and plan (`check
    --no-render`), or Python's start and one render."""
    one = figures[TUNED].seconds
    imports = figures[IMPORTS].seconds
    if name == "render every overlay":
        floor, what = imports + one, "Python start and imports + one render"
    else:
        spec = figures["check --no-render"].seconds
        floor = max(spec, imports + one)
        what = (
            "spec load and plan (check --no-render)"
            if spec >= imports + one
            else "Python start and imports + one render"
        )
    reach = "cannot be met here" if floor > limit else "within reach"
    return f"; floor {floor:.2f} s = {what}: {reach}"


def split_target(name: str, count: int, figure: Figure) -> str:
    if count != 1000 or name.startswith("creating its files alone"):
        return ""
    return verdict(figure.seconds <= 5 and figure.peak_mib <= 400, "<= 5 s and <= 400 MiB")


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
