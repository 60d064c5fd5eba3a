"""The render cache of `check`, `diff`, `lint` and `snapshot`: kustomize runs only for
overlays whose inputs changed.

A rendering is a pure function of the files kustomize reads and of kustomize itself, so
it is kept in `.llmgw-cache/rendered/` under a digest of exactly those: every file of the
overlay and of `base/` (names and bytes), the kustomize version string (asked of the
binary on every run, so a replaced or upgraded kustomize is never mistaken for the old
one) and the binary's identity. The `--base` side of `diff` is keyed by the git tree ids
of `base/` and the overlay at that revision, read without exporting anything; only the
misses are exported and rendered. Entries are checked against their digest on every read
(`fingerprint.Cache`): a corrupt one is a miss.

These renderings hold placeholders, never secret values (`render.render` without real
secrets). An overlay whose kustomizations name anything outside the overlay and `base/`
(another directory, a URL, a Helm chart) reads what the key does not cover: its
rendering is never stored.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from compiler.errors import CompilerError, ExternalError
from compiler.files import NotRegularFileError, read_regular
from compiler.fingerprint import SECRET_ENV, Cache, is_current, read_fingerprint
from compiler.kustomize import Kustomize

KIND = "rendered"
# Up to EARLY_ONE_CORE overlays, the early rendering's kustomize runs on one core, as one
# process for them all (a fleet: kubectl kustomize v5.5.0 renders the committed dev and
# prod in 0.20 s of CPU together, 0.31 s apart) and the command's own work (imports, the
# spec) has the other; above, on every core. Measured on 2 cores, cold cache, 10 or 12
# runs in turns: `diff` at 2 environments 0.44 s on one core, 0.54 s on both; `check` at
# 10, 1.17 s on one, 1.03 s on both.
EARLY_ONE_CORE = 2
EARLY_WAIT = 0.05  # seconds `start_early` waits at most for kustomize to start


def early_cores(overlays: Sequence[Path]) -> int | None:
    """The cores the early rendering of ``overlays`` uses (None: every core)."""
    return 1 if len(overlays) <= EARLY_ONE_CORE else None


KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Kustomization fields holding paths (lists of them, or entries with a `path`), and the
# generators' file fields (api/types/kustomization.go, api/types/generatorargs.go).
PATH_LISTS = (
    "resources",
    "components",
    "bases",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
PATH_ENTRIES = ("patches", "patchesJson6902", "replacements")
GENERATORS = ("configMapGenerator", "secretGenerator")
# Fields that read from the network or run programs: never cached.
UNCACHEABLE = ("helmCharts", "helmGlobals", "helmChartInflationGenerator", "openapi")


def kustomize_identity(kustomize: Kustomize) -> str:
    """The kustomize version string, with the binary's identity for builds that share a
    version string."""
    binary = Path(kustomize.build_command[0])
    try:
        status = binary.resolve().stat()
    except OSError as exc:
        raise ExternalError(f"cannot read {binary}: {exc.strerror}") from None
    return (
        f"{kustomize.version()}\0{binary.resolve()}\0{status.st_size}\0{status.st_mtime_ns}"
        f"\0{' '.join(kustomize.build_command)}"
    )


def tree_digest(directory: Path, skip: str = "") -> str | None:
    """Digest of every file under ``directory`` (relative names and bytes), or None when
    it holds a link or anything that is not a regular file (kustomize would follow it)."""
    digest = hashlib.sha256()
    try:
        for current, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(current) / name
                relative = path.relative_to(directory).as_posix()
                if relative == skip:
                    continue
                data = read_regular(path)
                digest.update(f"{len(relative)}:{relative}\0{len(data)}\0".encode())
                digest.update(data)
            for name in dirnames:
                if os.path.islink(Path(current) / name):
                    return None
    except (OSError, NotRegularFileError):
        return None
    return digest.hexdigest()


def references(kustomization: Any) -> Iterator[str]:
    """Every path a kustomization names (a URL too); `://` for what reads the network."""
    if not isinstance(kustomization, dict):
        return
    for field in UNCACHEABLE:
        if field in kustomization:
            yield "://"
    for field in PATH_LISTS:
        for item in kustomization.get(field) or []:
            if isinstance(item, str) and "\n" not in item:  # else an inline patch or config
                yield item
    for field in PATH_ENTRIES:
        for entry in kustomization.get(field) or []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                yield entry["path"]
    for field in GENERATORS:
        for generator in kustomization.get(field) or []:
            if not isinstance(generator, dict):
                continue
            for source in ("files", "envs"):
                for item in generator.get(source) or []:
                    if isinstance(item, str):
                        yield item.rpartition("=")[2]  # `key=path` names the key
            if isinstance(generator.get("env"), str):
                yield generator["env"]


def reads_only(root: Path, directories: Sequence[Path]) -> bool:
    """Whether every kustomization under ``directories`` names only paths inside them."""
    from compiler.rendered import RenderedYAMLError, load_rendered

    allowed = [posixpath.normpath(d.relative_to(root).as_posix()) for d in directories]
    for directory in directories:
        for current, _dirnames, filenames in os.walk(directory):
            for name in filenames:
                if name not in KUSTOMIZATION_NAMES:
                    continue
                try:
                    documents = load_rendered(read_regular(Path(current) / name).decode())
                except (OSError, NotRegularFileError, UnicodeDecodeError, RenderedYAMLError):
                    return False  # kustomize reports it, or the next run tries again
                here = Path(current).relative_to(root).as_posix()
                for document in documents:
                    for ref in references(document):
                        if "://" in ref or ref.startswith(("/", "git@", "github.com/")):
                            return False
                        target = posixpath.normpath(posixpath.join(here, ref))
                        if not any(target == a or target.startswith(f"{a}/") for a in allowed):
                            return False
    return True


def overlay_key(overlay: Path, identity: str, bases: dict[Path, str | None]) -> str | None:
    """The cache key of an overlay on disk (`<root>/overlays/<name>`), or None when it
    cannot be cached. ``bases`` memoises the digest of each root's base/."""
    root = overlay.parent.parent
    if root not in bases:
        bases[root] = tree_digest(root / "base")
    base = bases[root]
    # The secretGenerator's real values are replaced by placeholders from the example.
    files = tree_digest(overlay, skip=SECRET_ENV)
    if base is None or files is None:
        return None
    text = f"files\0{identity}\0base {base}\0overlay {files}\0"
    return hashlib.sha256(text.encode()).hexdigest()


def git_key(identity: str, trees: dict[str, str], overlay: str) -> str | None:
    """The cache key of ``overlay`` (`overlays/<name>`) as committed, from git tree ids."""
    if "base" not in trees or overlay not in trees:
        return None
    attributes = trees.get(".gitattributes", "")  # git archive applies its filters
    text = f"git\0{identity}\0base {trees['base']}\0overlay {trees[overlay]}\0{attributes}\0"
    return hashlib.sha256(text.encode()).hexdigest()


def git_tree_id(files: Mapping[str, bytes], kind: str = "sha1") -> str:
    """The object id git gives a directory holding ``files`` (paths relative to it, each
    a regular file of mode 100644, as compile writes them), in the repository's object
    format (``kind``: sha1 or sha256). Git's tree format: entries `<mode> <name>\\0<id>`
    sorted by name, a directory's name compared as if it ended with `/`."""
    blobs: dict[str, bytes] = {}
    directories: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        head, nested, rest = path.partition("/")
        if nested:
            directories.setdefault(head, {})[rest] = data
        else:
            blobs[head] = data
    entries = [
        (name, b"100644", hashlib.new(kind, b"blob %d\0" % len(data) + data).hexdigest())
        for name, data in blobs.items()
    ]
    entries += [(name, b"40000", git_tree_id(sub, kind)) for name, sub in directories.items()]
    entries.sort(key=lambda e: e[0].encode() + (b"/" if e[1] == b"40000" else b""))
    content = b"".join(
        mode + b" " + name.encode() + b"\0" + bytes.fromhex(oid) for name, mode, oid in entries
    )
    return hashlib.new(kind, b"tree %d\0" % len(content) + content).hexdigest()


def cached_render(
    cache: Cache,
    keys: Sequence[str | None],
    render_misses: Callable[[list[int]], list[tuple[str, bool]]],
) -> list[str]:
    """Renderings for ``keys`` from the cache, the misses rendered by ``render_misses``
    (given their indexes, returning each text and whether it may be stored)."""
    found: list[str | None] = [cache.get(KIND, k) if k else None for k in keys]
    misses = [i for i, text in enumerate(found) if text is None]
    if misses:
        for index, (text, storable) in zip(misses, render_misses(misses), strict=True):
            found[index] = text
            key = keys[index]
            if key is not None and storable:
                cache.put(KIND, key, text)
    return [text or "" for text in found]


def holds_renderings(cache: Cache) -> bool:
    """Whether the render cache holds any entry (none: every lookup would miss)."""
    if not cache.usable(KIND):
        return False
    try:
        with os.scandir(cache.directory / KIND) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


class RenderCache:
    """The render cache of one project, for one kustomize."""

    def __init__(self, root: Path, kustomize: Kustomize) -> None:
        self.cache = Cache(root)
        self.kustomize = kustomize
        self._identity: str | None = None
        self._bases: dict[Path, str | None] = {}

    @property
    def identity(self) -> str | None:
        """kustomize's version and identity, asked once; None (nothing cached) when the
        binary cannot tell its version: rendering then reports what is wrong with it."""
        if self._identity is None:
            try:
                self._identity = kustomize_identity(self.kustomize)
            except ExternalError:
                self._identity = ""
        return self._identity or None

    def keys(self, overlays: Sequence[Path]) -> list[str | None]:
        """The key of each overlay on disk (None: not cached)."""
        identity = self.identity
        if identity is None:
            return [None] * len(overlays)
        self._bases.clear()  # base/ may have been written since the last call
        return [overlay_key(o, identity, self._bases) for o in overlays]

    def git_keys(self, trees: dict[str, str], names: Sequence[str]) -> list[str | None]:
        """The key of each overlay committed with these tree ids (`git.tree_ids`)."""
        identity = self.identity
        if identity is None:
            return [None] * len(names)
        return [git_key(identity, trees, f"overlays/{name}") for name in names]


class EarlyRender:
    """The overlays rendered into the render cache in a thread from the start of `check`
    and `diff` (``only``: of these environments), while the spec is loaded and planned:
    kustomize's time overlaps the spec's (issue 15: at a few environments a process's
    fixed costs dominate). Only when the fingerprint
    says base/ and the overlays are exactly what compile wrote from this spec (so nothing
    is rendered that check itself would not render), and for at most ``LIMIT`` overlays
    (with more, a tree that drifted anyway would waste a fleet's rendering). The cache's
    own keys decide what is used later: a rendering whose inputs changed is never used."""

    LIMIT = 10

    def __init__(self, root: Path, spec_path: str, only: Sequence[str] | None = None) -> None:

        self.root = root.resolve()  # the thread's paths never depend on the current directory
        self.cache: RenderCache | None = None
        self.thread: threading.Thread | None = None
        self.starting = threading.Event()  # set as the thread starts kustomize
        recorded = read_fingerprint(self.root)
        files = recorded[1] if recorded else {}
        names = sorted(
            {p.split("/")[1] for p in files if p.startswith("overlays/") and p.count("/") >= 2}
        )
        if only:
            names = [name for name in names if name in only]
        if not 0 < len(names) <= self.LIMIT:
            return
        try:
            current = is_current(self.root, Path(spec_path), names)
        except CompilerError:
            current = False  # check reports it
        if current:
            # Imported here, not in the thread: two threads importing at once wait on
            # each other's module locks, and kustomize would start later.
            import compiler.render  # noqa: F401

            overlays = [self.root / "overlays" / name for name in names]
            self.thread = threading.Thread(target=self.run, args=(overlays,))
            self.thread.start()

    def wait_for_kustomize(self, limit: float | None = None) -> None:
        """Return once the thread is starting kustomize (at most ``limit`` seconds): the
        imports that follow hold the interpreter's lock for long stretches, and a thread
        starting a process meanwhile waits for it (measured on 2 cores: kustomize started
        8-11 ms after the thread alone, 90-160 ms after it during `check`'s imports)."""
        if self.thread is not None:
            self.starting.wait(EARLY_WAIT if limit is None else limit)

    def run(self, overlays: list[Path]) -> None:
        from compiler.kustomize import find_kustomize
        from compiler.render import render as render_overlays

        try:
            kustomize = find_kustomize()
            cache = RenderCache(self.root, kustomize)
            if holds_renderings(cache.cache):
                self.starting.set()  # kustomize's identity first, for the keys
                cacheable = [o for o, k in zip(overlays, cache.keys(overlays), strict=True) if k]
                render_overlays(kustomize, cacheable, cache=cache, cores=early_cores(cacheable))
            else:
                self.render_while_asking(cache, overlays)
            self.cache = cache
        except Exception:  # a thread's own: nothing would report it
            pass  # rendered again where it is needed, which reports it
        finally:
            self.starting.set()

    def render_while_asking(self, cache: RenderCache, overlays: list[Path]) -> None:
        """With nothing to look up, the overlays render while kustomize is asked its
        identity (which only the keys need, to store them): one process less before them.
        Stored as `render.render` stores: when no file changed meanwhile (their digests
        before and after, kustomize's identity aside) and nothing outside was read."""
        from compiler.render import render as render_overlays

        before = [overlay_key(o, "", {}) for o in overlays]
        cacheable = [o for o, digest in zip(overlays, before, strict=True) if digest]
        asking = threading.Thread(target=lambda: cache.identity)
        asking.start()
        self.starting.set()
        try:
            texts = render_overlays(cache.kustomize, cacheable, cores=early_cores(cacheable))
        finally:
            asking.join()
        keys = cache.keys(cacheable)
        digests = [d for d in before if d]
        for overlay, text, digest, key in zip(cacheable, texts, digests, keys, strict=True):
            unchanged = overlay_key(overlay, "", {}) == digest
            if key and unchanged and reads_only(self.root, [self.root / "base", overlay]):
                cache.cache.put(KIND, key, text)

    def abandon(self) -> None:
        """Not needed any more (an error, an interrupt): kill its kustomize, start no
        other (`tools.close_tools`), and wait for the thread to end."""
        if self.thread is not None and self.thread.is_alive():
            from compiler.tools import close_tools

            close_tools()
        self.done()

    def done(self) -> RenderCache | None:
        """Wait for the rendering; its cache (kustomize's identity asked once), or None."""
        if self.thread is not None:
            self.thread.join()
        return self.cache


class Started:
    """The early rendering `python -m compiler` started before the command line's imports,
    with what it was started for."""

    def __init__(self, spec_path: str, environments: tuple[str, ...]) -> None:
        self.spec_path = spec_path
        self.environments = environments
        self.directory = os.getcwd()
        self.rendering = EarlyRender(Path("."), spec_path, list(environments) or None)
        self.taken = False


_started: Started | None = None
_sigterm: list[Any] = []  # the handler before ours, while ours is installed


def start_early(spec_path: str, environments: tuple[str, ...]) -> None:
    """Start rendering the overlays on disk now, for a `check` or `diff` of ``spec_path``
    (`early.render_request` read them from the command line before it is parsed). Until
    the command line handles SIGTERM, it raises `tools.Terminated` (`python -m compiler`
    then ends the rendering)."""
    global _started
    if _started is not None:
        return
    if not _sigterm:
        _sigterm.append(signal.signal(signal.SIGTERM, _terminated))
    try:
        _started = Started(spec_path, environments)
    except (OSError, CompilerError):
        return  # the command starts its own, and reports what is wrong
    _started.rendering.wait_for_kustomize()


def _terminated(signum: int, frame: object) -> None:
    from compiler.tools import Terminated

    raise Terminated


def early_render(spec_path: str, environments: Sequence[str] | None = None) -> EarlyRender:
    """The rendering started early for exactly this spec, these environments and the
    current directory; else a new one (one started for other arguments is waited for
    first: its renderings are in the cache, under their own keys)."""
    started = _started
    if started is not None and not started.taken:
        started.taken = True
        wanted = (spec_path, tuple(environments or ()), os.getcwd())
        if (started.spec_path, started.environments, started.directory) == wanted:
            return started.rendering
        started.rendering.done()
    return EarlyRender(Path("."), spec_path, environments)


def finish_early() -> None:
    """End the early rendering as the process ends: waited for when a command took it
    (it is done already, unless the command was stopped before waiting), ended when none
    did (a usage error, an interrupt before the command ran: its kustomize is killed and
    no other starts). No thread or kustomize is left running behind the process. Then
    put back the SIGTERM handler."""
    global _started
    started, _started = _started, None
    if started is not None:
        if started.taken:
            started.rendering.done()
        else:
            started.rendering.abandon()
    if _sigterm:
        signal.signal(signal.SIGTERM, _sigterm.pop())
