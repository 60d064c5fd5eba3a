"""Know that an overlay is current without running the compiler, and cache what is costly.

`compile` writes `overlays/.fingerprint`: the hash of the spec's bytes and the
compiler's version, then the hash of every generated file. `build` checks it by hashing
a few files (no spec parsing, no pydantic): when the spec and the overlay's files are
what the fingerprint records, the overlay is current. Anything else falls back to the
full comparison, which names what drifted.

The cache (`.llmgw-cache/`, ignored by git through its own `.gitignore`) keeps
kustomize's output keyed by the hashes of every input file and of the kustomize binary,
and lint's findings keyed by the rendered text. Overlays with a secretGenerator are never
cached: their rendering holds secret values.

Nothing here imports pydantic or the YAML library.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from compiler import __version__
from compiler.emit import HEADER_MARK, header

FINGERPRINT_PATH = "overlays/.fingerprint"
CACHE_DIR = ".llmgw-cache"
SECRET_ENV = "secret.env"  # the generator's values, git-ignored, never written by us


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec_digest(spec_bytes: bytes) -> str:
    return sha256(spec_bytes + b"\0" + __version__.encode())


def fingerprint_text(spec_path: str, spec_bytes: bytes, tree: Mapping[str, bytes]) -> str:
    """The fingerprint of a planned tree (itself excluded)."""
    lines = [header(spec_path).rstrip("\n"), f"spec {spec_digest(spec_bytes)}"]
    lines += [
        f"{sha256(data)} {path}" for path, data in sorted(tree.items()) if path != FINGERPRINT_PATH
    ]
    return "\n".join(lines) + "\n"


def read_fingerprint(root: Path) -> tuple[str, dict[str, str]] | None:
    try:
        text = (root / FINGERPRINT_PATH).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.splitlines()
    if len(lines) < 2 or not lines[1].startswith("spec "):
        return None
    files: dict[str, str] = {}
    for line in lines[2:]:
        digest, _, path = line.partition(" ")
        files[path] = digest
    return lines[1].removeprefix("spec "), files


def generated_files_in(directory: Path, root: Path) -> Iterable[str]:
    """Generated files (by their header) directly or deeper under ``directory``."""
    for current, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in filenames:
            path = Path(current) / name
            if path.is_symlink():
                continue
            with open(path, "rb") as handle:
                first = handle.read(80)
            if HEADER_MARK.encode() in first.split(b"\n", 1)[0]:
                yield path.relative_to(root).as_posix()


def is_current(root: Path, spec_path: Path, environments: Iterable[str]) -> bool:
    """Whether base/ and these overlays are exactly what the spec compiles to."""
    recorded = read_fingerprint(root)
    if recorded is None:
        return False
    digest, files = recorded
    try:
        if spec_digest((root / spec_path).read_bytes()) != digest:
            return False
        scopes = ["base/", *(f"overlays/{name}/" for name in environments)]
        expected = {p: d for p, d in files.items() if p.startswith(tuple(scopes))}
        present: set[str] = set()
        for scope in scopes:
            if not (root / scope).is_dir():
                return False
            present.update(generated_files_in(root / scope, root))
        if present != set(expected):
            return False
        return all(sha256((root / p).read_bytes()) == d for p, d in expected.items())
    except OSError:
        return False


def inputs_digest(overlay: Path, command: tuple[str, ...]) -> str | None:
    """Hash of everything kustomize reads for ``overlay``, or None when not cacheable."""
    if (overlay / f"{SECRET_ENV}.example").exists():
        return None  # a secretGenerator: its output holds secret values
    digest = hashlib.sha256()
    binary = Path(command[0])
    try:
        stat = binary.stat()
        digest.update(f"{binary.resolve()} {stat.st_size} {stat.st_mtime_ns} {command}\n".encode())
        for directory in (overlay.parent.parent / "base", overlay):
            for current, dirnames, filenames in os.walk(directory):
                dirnames.sort()
                for name in sorted(filenames):
                    path = Path(current) / name
                    digest.update(f"{path.relative_to(overlay.parent.parent)}\n".encode())
                    digest.update(path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


class Cache:
    """A directory of small files keyed by content hashes; failures only mean misses."""

    def __init__(self, root: Path) -> None:
        self.directory = root / CACHE_DIR

    def get(self, kind: str, key: str) -> str | None:
        try:
            return (self.directory / kind / key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, kind: str, key: str, text: str) -> None:
        try:
            (self.directory / kind).mkdir(parents=True, exist_ok=True)
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# llmgateway-compiler's cache; safe to delete.\n*\n")
            temp = self.directory / kind / f"{key}.tmp{os.getpid()}"
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, self.directory / kind / key)
        except OSError:
            pass  # a cache that cannot be written is only slower

    def get_json(self, kind: str, key: str) -> object | None:
        text = self.get(kind, key)
        return None if text is None else json.loads(text)
