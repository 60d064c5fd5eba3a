"""Find and run kustomize: `$KUSTOMIZE`, else `kustomize` on PATH, else `kubectl kustomize`."""

from __future__ import annotations

import importlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from compiler import early, tools
from compiler.console import Output
from compiler.early import GO_RUNTIME, build_environment
from compiler.errors import ExitCode, ExternalError, KustomizeError
from compiler.tools import run_tool, stop_all_tools, wait_tool

__all__ = ["GO_RUNTIME", "Kustomize", "find_kustomize"]  # GO_RUNTIME: bench/run.py's

T = TypeVar("T")
# Overlays rendered by one kustomize process of a fleet (build_many). kustomize's CPU time
# an overlay grows with the fleet (measured, kubectl kustomize v5.5.0, 2 cores, user+sys,
# Go's default collector: 45 ms an overlay in fleets of 20, 49 ms in 50, 65 ms in 100,
# 135 ms in 250); with early.GO_RUNTIME's collector, 32-35 ms in fleets of 15 to 40. A fleet of
# 500 did not finish within the default 120 s timeout (then every overlay renders alone).
FLEET_SIZE = 25
INSTALL_HINT = (
    "install kustomize v5 (https://kubectl.docs.kubernetes.io/installation/kustomize/) "
    "or kubectl (which includes it), or set $KUSTOMIZE to the kustomize binary"
)


@dataclass(frozen=True)
class Kustomize:
    """A way to run kustomize: the command prefix for `build` and where it was found."""

    build_command: tuple[str, ...]
    source: str

    def build(self, directory: str | Path, *, parallel: bool = False, check: bool = True) -> str:
        """Render one kustomization directory; raise KustomizeError with its stderr.

        ``check=False`` leaves `check_output` to the caller (build does it unless the
        committed stamp records this exact rendering, checked when it was stamped)."""
        env = build_environment(os.environ, parallel=parallel)
        command = [*self.build_command, str(directory)]
        # The same process, when `build <overlay>` started it before the imports (early).
        started = early.take(command, env)
        try:
            if started is None:
                done = run_tool(command, tool=self.tool(directory), env=env)
            else:
                done = wait_tool(
                    started.process,
                    tool=self.tool(directory),
                    limit=tools.TIMEOUT,
                    started=started.started,
                )
        except ExternalError as exc:
            raise KustomizeError(str(exc)) from None
        stderr = done.stderr.decode("utf-8", errors="replace")
        if done.returncode != 0:
            raise KustomizeError(
                f"kustomize failed on {directory} (exit {done.returncode})", stderr
            )
        try:
            text = done.stdout.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = done.stdout.count(b"\n", 0, exc.start) + 1
            raise KustomizeError(
                f"kustomize produced bytes that are not UTF-8 for {directory} at line {line}"
            ) from None
        if check:
            self.check_output(text, directory)
        return text

    def check_output(self, text: str, directory: str | Path) -> None:
        """Raise KustomizeError when kustomize's output for ``directory`` is not what it
        writes (`output_problem`)."""
        problem = output_problem(text)
        if problem is not None:
            raise KustomizeError(f"kustomize produced {problem} for {directory}")

    def tool(self, directory: str | Path | None = None) -> str:
        """How messages name this kustomize: `kubectl kustomize overlays/prod`."""
        name = " ".join([Path(self.build_command[0]).name, *self.build_command[1:]])
        return name if directory is None else f"{name} {directory}"

    def build_many(
        self, directories: Sequence[str | Path], *, check: bool = True, cores: int | None = None
    ) -> list[str]:
        """Render several directories in parallel, results in the given order
        (``check=False`` as in `build`, for one directory only: several are always checked).

        With more overlays (`<root>/overlays/<name>`, names distinct) than cores, each
        core renders a fleet: one kustomize process for a generated kustomization listing
        its share of the overlays, its output split back per overlay by the instance
        label every overlay sets. The same bytes as rendering each overlay alone
        (tests/test_fleet.py proves it for every case), in a fraction of the processes
        (issue 15: kustomize's start dominates one overlay's rendering). Anything
        unexpected (a failure, a document without the label) renders each overlay alone,
        which also names the overlay that fails. ``cores``: how many cores to use (the
        early rendering leaves the others to the command's own work), by default all.
        """
        if len(directories) <= 1:
            return [self.build(d, check=check) for d in directories]
        workers = min(len(directories), cores or os.cpu_count() or 2)
        names = [Path(d).name for d in directories]
        overlays = all(Path(d).parent.name == "overlays" for d in directories)
        if len(directories) > workers and overlays and len(set(names)) == len(names):
            # At most FLEET_SIZE overlays a process: kustomize's time per overlay stays
            # flat, and one process stays far below --timeout on a loaded machine.
            size = min(-(-len(directories) // workers), FLEET_SIZE)
            chunks = [list(directories[i : i + size]) for i in range(0, len(directories), size)]
            fleets = self.parallel(self.build_fleet, chunks)
            if all(fleet is not None for fleet in fleets):
                return [text for fleet in fleets for text in fleet or []]
        return self.parallel(lambda d: self.build(d, parallel=True), list(directories))

    def parallel(self, work: Callable[[Any], T], items: list[Any]) -> list[T]:
        """``work`` on each item on every core, results in order; a failure stops every
        kustomize still running."""
        with ThreadPoolExecutor(max_workers=min(len(items), os.cpu_count() or 2)) as pool:
            try:
                return list(pool.map(work, items))
            except BaseException:
                stop_all_tools()  # the pool waits for its threads: end their kustomize now
                raise

    def build_fleet(self, directories: Sequence[str | Path]) -> list[str] | None:
        """The overlays rendered by one kustomize process and split per overlay, or None
        when that cannot be done exactly (then each is rendered alone)."""
        with tempfile.TemporaryDirectory(prefix="llmgw-fleet-") as fleet:
            listing = "".join(
                f"  - {json.dumps(os.path.relpath(Path(d).absolute(), fleet))}\n"
                for d in directories
            )
            (Path(fleet) / "kustomization.yaml").write_text(f"resources:\n{listing}")
            try:
                text = self.build(fleet, parallel=True)
            except KustomizeError:
                return None
        return split_fleet(text, [Path(d).name for d in directories])

    def version(self) -> str:
        """The kustomize version, as the binary reports it."""
        if self.build_command[1] == "kustomize":
            # kubectl kustomize: kubectl reports the kustomize it embeds.
            command = [self.build_command[0], "version", "--client"]
        else:
            command = [self.build_command[0], "version"]
        try:
            done = run_tool(command, tool=" ".join([Path(command[0]).name, *command[1:]]))
        except ExternalError as exc:
            raise KustomizeError(str(exc)) from None
        stdout = done.stdout.decode("utf-8", errors="replace")
        found = re.search(r"v?\d+\.\d+\.\d+[^\s\"]*", stdout.split("Kustomize Version")[-1])
        if done.returncode != 0 or not found:
            raise KustomizeError(
                f"cannot tell the version of {command[0]}",
                done.stderr.decode("utf-8", errors="replace"),
            )
        return found.group(0)

    def describe(self) -> str:
        return f"{' '.join(self.build_command)} (from {self.source})"


def find_kustomize(environ: Mapping[str, str] | None = None) -> Kustomize:
    """The kustomize to use, in discovery order; raise KustomizeError when none exists."""
    environ = os.environ if environ is None else environ
    found = early.kustomize_command(environ)
    if found is not None:
        return Kustomize(*found)
    explicit = environ.get("KUSTOMIZE")
    if explicit:
        raise KustomizeError(
            f"$KUSTOMIZE is {explicit!r}, which is not an executable; {INSTALL_HINT}"
        )
    raise KustomizeError(f"no kustomize found; {INSTALL_HINT}")


INSTANCE_LABEL = "app.kubernetes.io/instance"
# The instance label among a document's metadata.labels, as kustomize writes it: keys
# sorted, two spaces of indentation, plain or double-quoted (a name that looks like a number).
INSTANCE = re.compile(
    r"^metadata:\n(?:  .*\n)*?  labels:\n(?:    .*\n)*?"
    r'    app\.kubernetes\.io/instance: (?:"([a-z0-9-]+)"|([a-z0-9-]+))\n',
    re.MULTILINE,
)


def split_fleet(text: str, names: Sequence[str]) -> list[str] | None:
    """A fleet's output as each overlay alone renders it, by the instance label of each
    document; None when a document has no instance among ``names`` or one has none."""
    parts: dict[str, list[str]] = {name: [] for name in names}
    for document in text.split("\n---\n"):
        body = document.strip("\n") + "\n"
        found = INSTANCE.search(body)
        name = (found.group(1) or found.group(2)) if found else None
        if name not in parts or body.startswith("---"):
            return None
        parts[name].append(body)
    if not all(parts.values()):
        return None
    return ["---\n".join(parts[name]) for name in names]


NULLS = ("", "~", "null")
# Fields every Kubernetes resource holds as mappings, and the diff and lint read as such.
MAPPINGS = ("metadata", "spec", "data", "stringData", "metadata.labels", "metadata.annotations")


def output_problem(text: str) -> str | None:
    """What is wrong with kustomize's output, with the first problem's position, or None.

    Every document must be a mapping with a string apiVersion and kind and a metadata
    mapping with a name; spec, data, labels and annotations must be mappings; no value
    may carry a tag (kustomize writes none). Checked on the
    event stream of libyaml (PyYAML, which kubernetes-validate brings): a few ms for an
    environment, where loading it in pure Python takes 70 ms.
    """
    yaml: Any = importlib.import_module("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def at(mark: Any) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    # One frame per open collection: [is a mapping, items seen, key, what it is].
    stack: list[list[Any]] = []
    root: Any = None
    found: dict[str, bool] = {}
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.DocumentStartEvent):
                stack, found, root = [], {}, None
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                if not stack and frame[3] == "root":
                    for key in ("apiVersion", "kind", "metadata.name"):
                        if not found.get(key):
                            return f"a resource without {key} at {at(root.start_mark)}"
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            if getattr(event, "tag", None) is not None:
                return f"a tagged value ({event.tag}) at {at(event.start_mark)}"
            role = "value"
            if not stack:
                root = event
                role = "root"
                empty = isinstance(event, yaml.ScalarEvent) and event.value in NULLS
                if not isinstance(event, yaml.MappingStartEvent) and not empty:
                    return f"a document that is not a mapping at {at(event.start_mark)}"
            else:
                parent = stack[-1]
                if parent[0] and parent[1] % 2 == 0:  # a key of a mapping
                    parent[2] = event.value if isinstance(event, yaml.ScalarEvent) else None
                    role = "key"
                elif parent[0]:
                    path = f"{parent[3]}.{parent[2]}" if parent[3] != "root" else parent[2]
                    is_text = isinstance(event, yaml.ScalarEvent) and event.value != ""
                    if path in ("apiVersion", "kind", "metadata.name") and is_text:
                        found[path] = True
                    empty = isinstance(event, yaml.ScalarEvent) and event.value in NULLS
                    mapping = isinstance(event, yaml.MappingStartEvent)
                    if path in MAPPINGS and not empty and not mapping:
                        where = at(event.start_mark)
                        return f"a resource whose {path} is not a mapping at {where}"
                    role = str(path)
                parent[1] += 1
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                stack.append([isinstance(event, yaml.MappingStartEvent), 0, None, role])
    except yaml.MarkedYAMLError as exc:
        problem = (exc.problem or "invalid YAML").strip()
        return f"invalid YAML ({problem}) at {at(exc.problem_mark or exc.context_mark)}"
    except yaml.YAMLError as exc:
        return f"invalid YAML ({str(exc).strip() or type(exc).__name__})"
    return None


def doctor_command(output: Output, spec_path: str) -> int:
    """`doctor`: which kustomize runs, its version, and what the cluster needs first."""
    kustomize = find_kustomize()
    output.say(f"kustomize: {kustomize.describe()}")
    output.say(f"version: {kustomize.version()}")
    for line in cluster_prerequisites(spec_path):
        output.say(line)
    return ExitCode.OK


def cluster_prerequisites(spec_path: str) -> list[str]:
    """Operators the spec's environments need in the cluster, which the compiler never
    installs; read from the spec alone (no cluster is asked). No spec: nothing."""
    from compiler import upstream
    from compiler.errors import SpecError
    from compiler.load import load_spec

    if not Path(spec_path).is_file():
        return []
    try:
        spec = load_spec(spec_path)
    except SpecError:
        return [
            f"spec: {spec_path} is invalid (python -m compiler validate); prerequisites unknown"
        ]
    cnpg = [name for name, env in spec.enabled() if env.database.mode == "cloudnative-pg"]
    if not cnpg:
        return []
    return [
        f"prerequisite: the CloudNativePG operator {upstream.CNPG_VERSION} (database.mode: "
        f"cloudnative-pg in {', '.join(cnpg)}); the compiler never installs it. Install it "
        "once per cluster:",
        f"  {upstream.CNPG_INSTALL}",
        "  kubectl rollout status deployment -n cnpg-system cnpg-controller-manager",
    ]
