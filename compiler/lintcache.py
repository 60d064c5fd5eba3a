"""The lint findings cache of `check` and `lint`: an environment whose rendering did not
change is not validated again.

An environment's findings are a pure function of its rendering (kustomize's text), its
settings (the rules read them), the rules and of the validators: they are kept in
`.llmgw-cache/lint-findings/` under a digest of exactly those. The rules' version is the
digest of the compiler's own source files and schemas (the rules, the facts and names
they read from other modules, the kept JSON Schemas): any change of the compiler's code
is a new version. The validators' versions are the installed kubernetes-validate (and its
Kubernetes schemas), jsonschema, and PyYAML (which reads the rendering). Entries are
checked against their digest on every read (`fingerprint.Cache`), and their content
against the shape of findings: anything else is a miss, recomputed and rewritten.

Nothing here imports pydantic: `build` keys its own cache with `lint_versions` too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.fingerprint import Cache

if TYPE_CHECKING:
    from compiler.lint import Finding

KIND = "lint-findings"
PACKAGE = Path(__file__).resolve().parent
VALIDATORS = ("kubernetes-validate", "jsonschema", "PyYAML")
SEVERITIES = ("error", "warning")


def rules_version(package: Path = PACKAGE) -> str:
    """Digest of the compiler's source files and kept schemas under ``package``."""
    digest = hashlib.sha256()
    for current, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".json")):
                path = Path(current) / name
                relative = path.relative_to(package).as_posix()
                data = path.read_bytes()
                digest.update(f"{len(relative)}:{relative}\0{len(data)}\0".encode())
                digest.update(data)
    return digest.hexdigest()


def installed_version(name: str, paths: Sequence[str] | None = None) -> str | None:
    """The version of distribution ``name`` as the import system finds it: from the first
    entry of ``paths`` (sys.path) holding its `.dist-info` (importlib.metadata's rule,
    without importing it: 40 ms of a cold `build`). None when not found or ambiguous."""
    wanted = normalised(name)
    for entry in sys.path if paths is None else paths:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found = [
            version
            for dist, _, version in (
                n.removesuffix(".dist-info").partition("-")
                for n in names
                if n.endswith(".dist-info")
            )
            if normalised(dist) == wanted
        ]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def validator_versions() -> str | None:
    """The installed versions of the validators (and of the YAML reader); None when one
    cannot be told (then nothing is cached: a changed validator could not be noticed)."""
    found = []
    for name in VALIDATORS:
        version = installed_version(name)
        if version is None:
            return None
        found.append(f"{name} {version}")
    return "\0".join(found)


@cache
def lint_versions() -> str | None:
    """Everything besides the rendering and the settings that findings depend on; None
    when the validators' versions are unknown."""
    validators = validator_versions()
    return None if validators is None else f"rules {rules_version()}\0{validators}"


def findings_key(versions: str, environment: str, settings: str, rendering: str) -> str:
    """The cache key of one environment's findings (``settings``: their JSON)."""
    digest = hashlib.sha256()
    for part in ("lint", versions, environment, settings, rendering):
        data = part.encode()
        digest.update(f"{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


class LintCache:
    """The findings cache of one project, for one set of rules and validators."""

    def __init__(self, root: Path, versions: str | None = None) -> None:
        self.cache = Cache(root)
        self.versions = lint_versions() if versions is None else versions

    def key(self, environment: str, settings: str, rendering: str) -> str | None:
        """The entry of one environment's findings; None: not cached (versions unknown)."""
        if self.versions is None:
            return None
        return findings_key(self.versions, environment, settings, rendering)

    def get(self, key: str, environment: str) -> list[Finding] | None:
        """The findings kept under ``key``, or None (absent, corrupt or not findings)."""
        from compiler.lint import Finding

        value = self.cache.get_json(KIND, key)
        if not isinstance(value, list) or not all(
            isinstance(item, list)
            and len(item) == 4
            and all(isinstance(part, str) for part in item)
            and item[3] in SEVERITIES
            for item in value
        ):
            return None
        return [
            Finding(environment, resource, rule, message, severity)
            for resource, rule, message, severity in value
        ]

    def put(self, key: str, findings: Sequence[Finding]) -> None:
        rows = [[f.resource, f.rule, f.message, f.severity] for f in findings]
        self.cache.put(KIND, key, json.dumps(rows))
