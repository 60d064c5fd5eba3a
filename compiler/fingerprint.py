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

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from compiler import __version__
from compiler.early import SECRET_ENV as SECRET_ENV  # where check, render and tests find it
from compiler.emit import HEADER_MARK, header
from compiler.errors import UsageError
from compiler.files import (
    FileTooLargeError,
    NotRegularFileError,
    create_new,
    read_head,
    read_regular,
)

FINGERPRINT_PATH = "overlays/.fingerprint"
CACHE_DIR = ".llmgw-cache"
MAX_SPEC_BYTES = 1024 * 1024  # as load.MAX_SPEC_BYTES (that module imports pydantic)
MAX_CACHE_ENTRY = 64 * 1024 * 1024  # far above any rendering; a larger entry is not ours


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
        text = read_regular(root / FINGERPRINT_PATH, MAX_CACHE_ENTRY).decode("utf-8")
    except (OSError, UnicodeDecodeError, FileTooLargeError, NotRegularFileError):
        return None  # the full comparison then names what is wrong
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
            try:
                first = read_head(path, 80)
            except NotRegularFileError as exc:
                if stat.S_ISLNK(exc.mode):
                    continue  # a user's link: never generated, never followed
                raise
            if HEADER_MARK.encode() in first.split(b"\n", 1)[0]:
                yield path.relative_to(root).as_posix()


def is_current(root: Path, spec_path: Path, environments: Iterable[str]) -> bool:
    """Whether base/ and these overlays are exactly what the spec compiles to."""
    recorded = read_fingerprint(root)
    if recorded is None:
        return False
    digest, files = recorded
    try:
        spec_bytes = read_regular(root / spec_path, MAX_SPEC_BYTES)
        if spec_digest(spec_bytes) != digest:
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
        return all(sha256(read_regular(root / p)) == d for p, d in expected.items())
    except (OSError, FileTooLargeError):
        return False
    except NotRegularFileError as exc:
        if exc.path == str(root / spec_path):
            return False  # load_spec reports it
        raise


def inputs_digest(overlay: Path, command: tuple[str, ...]) -> str | None:
    """Hash of everything kustomize reads for ``overlay``, or None when not cacheable."""
    if (overlay / f"{SECRET_ENV}.example").exists():
        return None  # a secretGenerator: its output holds secret values
    digest = hashlib.sha256()
    binary = Path(command[0])
    try:
        status = binary.stat()
        identity = f"{binary.resolve()} {status.st_size} {status.st_mtime_ns} {command}\n"
        digest.update(identity.encode())
        for directory in (overlay.parent.parent / "base", overlay):
            for current, dirnames, filenames in os.walk(directory):
                dirnames.sort()
                for name in sorted(filenames):
                    path = Path(current) / name
                    digest.update(f"{path.relative_to(overlay.parent.parent)}\n".encode())
                    digest.update(read_regular(path))
    except OSError:
        return None
    except NotRegularFileError as exc:
        if stat.S_ISLNK(exc.mode):
            return None  # kustomize follows links: what it reads is unknown here
        raise
    return digest.hexdigest()


class Cache:
    """A directory of small files keyed by content hashes; failures only mean misses.

    Each entry starts with the digest of its content, checked on every read: a corrupt
    or tampered entry is deleted and recomputed. The directory is used only when it is
    a real directory (a link to elsewhere is never read nor written through).
    """

    def __init__(self, root: Path) -> None:
        self.directory = root / CACHE_DIR

    def usable(self, kind: str) -> bool:
        for path in (self.directory, self.directory / kind):
            try:
                if not stat.S_ISDIR(path.lstat().st_mode):
                    return False
            except FileNotFoundError:
                return True  # created on the first put
            except OSError:
                return False
        return True

    def get(self, kind: str, key: str) -> str | None:
        if not self.usable(kind):
            return None
        path = self.directory / kind / key
        try:
            data = read_regular(path, MAX_CACHE_ENTRY)
        except FileNotFoundError:
            return None
        except (OSError, UsageError):
            data = b""
        digest, _, content = data.partition(b"\n")
        if digest == sha256(content).encode() and len(data) <= MAX_CACHE_ENTRY:
            try:
                return content.decode("utf-8")
            except UnicodeDecodeError:
                pass
        with contextlib.suppress(OSError):
            path.unlink()  # corrupt: recomputed by the caller
        return None

    def put(self, kind: str, key: str, text: str) -> None:
        if not self.usable(kind):
            return
        content = text.encode("utf-8")
        temp = self.directory / kind / f"{key}.tmp{os.getpid()}"
        try:
            (self.directory / kind).mkdir(parents=True, exist_ok=True)
            if not self.usable(kind):
                return
            ignore = self.directory / ".gitignore"
            if not ignore.exists() and not ignore.is_symlink():
                create_new(ignore, b"# llmgateway-compiler's cache; safe to delete.\n*\n")
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()  # a leftover of a killed run with the same pid
            create_new(temp, sha256(content).encode() + b"\n" + content)
            os.replace(temp, self.directory / kind / key)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()
            # a cache that cannot be written is only slower

    def get_json(self, kind: str, key: str) -> object | None:
        text = self.get(kind, key)
        if text is None:
            return None
        try:
            value: object = json.loads(text)
        except ValueError:
            return None
        return value
