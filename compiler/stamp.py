"""The validation stamp: a committed record that each environment's rendering was validated,
and what validation found, so a `build` with a cold cache prints the findings without
loading the spec's models or the validators (issue 15: a cold build near kustomize).

`python -m compiler stamp` writes `spec/llmgateway.validated.json` (after compile; commit
it with the overlays). For each environment it records a key and the findings `build`
prints for it. The key is a digest of everything those findings depend on: the rendering `build`
validates (kustomize's output, Secret values redacted), the spec's bytes (the rules read
the settings), the rules' version (`lintcache.rules_version`: the compiler's sources and
schemas) and the validators' versions (`lintcache.validator_versions`). Not kustomize's
version: the findings are a function of the rendering, which is in the key; another
kustomize that renders the same bytes gets the same findings, and one that renders other
bytes misses (kustomize's version keys the render cache, inputs -> rendering, not this).
So a cold build starts no second kubectl process to ask it.
`build` computes the key of what it just rendered and prints the recorded findings only
when the keys of every environment it builds match; anything else (no stamp, another
key, an unreadable, corrupt or oddly shaped file, a link or FIFO in its place) validates
in full as without a stamp. A stale stamp only costs speed.

`check` and `lint` never read it: they validate everything themselves, so CI never relies
on it. Environments with a secretGenerator are never stamped (their rendering depends on
the values of the git-ignored secret.env).

Nothing here imports pydantic, the validators or a YAML library.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.console import Output

# Beside the spec it validates (outside base/ and overlays/, which compile owns).
STAMP_PATH = "spec/llmgateway.validated.json"
FORMAT = 2  # 2: kustomize's version left the key (format 1 stamps are not used)
MAX_STAMP_BYTES = 16 * 1024 * 1024  # far above any real stamp; a larger file is not ours
SEVERITIES = ("error", "warning")
KEY = re.compile(r"[0-9a-f]{64}")

Findings = list[dict[str, str]]  # [{"line": ..., "severity": ...}], as build prints them


def stamp_key(versions: str, environment: str, spec: bytes, rendering: str) -> str:
    """The key of one environment's findings (``versions``: `lintcache.lint_versions()`)."""
    digest = hashlib.sha256()
    for part in (
        f"stamp {FORMAT}".encode(),
        versions.encode(),
        environment.encode(),
        spec,
        rendering.encode(),
    ):
        digest.update(f"{len(part)}\0".encode())
        digest.update(part)
    return digest.hexdigest()


def is_findings(value: object) -> bool:
    """Whether ``value`` is a list of findings as `build` prints them."""
    return isinstance(value, list) and all(
        isinstance(item, dict)
        and set(item) == {"line", "severity"}
        and isinstance(item["line"], str)
        and item["severity"] in SEVERITIES
        for item in value
    )


def read_stamp(root: Path) -> dict[str, tuple[str, Findings]] | None:
    """Each stamped environment's key and findings; None when there is no usable stamp
    (absent, not a regular file, unreadable, not JSON, or not exactly the stamp's shape)."""
    from compiler.files import FileTooLargeError, NotRegularFileError, read_regular

    try:
        data = read_regular(root / STAMP_PATH, MAX_STAMP_BYTES)
        value: Any = json.loads(data.decode("utf-8"))
    except (OSError, NotRegularFileError, FileTooLargeError, UnicodeDecodeError, ValueError):
        return None
    if len(data) > MAX_STAMP_BYTES or not isinstance(value, dict):
        return None
    environments = value.get("environments")
    if set(value) != {"format", "environments"} or value["format"] != FORMAT:
        return None
    if not isinstance(environments, dict):
        return None
    found: dict[str, tuple[str, Findings]] = {}
    for name, entry in environments.items():
        if not (
            isinstance(entry, dict)
            and set(entry) == {"key", "findings"}
            and isinstance(entry["key"], str)
            and KEY.fullmatch(entry["key"])
            and is_findings(entry["findings"])
        ):
            return None
        found[name] = (entry["key"], entry["findings"])
    return found


def stamped_findings(
    stamp: dict[str, tuple[str, Findings]], names: Sequence[str], keys: Sequence[str]
) -> Findings | None:
    """The recorded findings of ``names`` in order, when every one's key is ``keys``'s;
    else None (validate in full)."""
    found: Findings = []
    for name, key in zip(names, keys, strict=True):
        entry = stamp.get(name)
        if entry is None or entry[0] != key:
            return None
        found.extend(entry[1])
    return found


def stamp_text(entries: dict[str, tuple[str, Findings]]) -> str:
    """The stamp file's text: sorted, one environment's key and findings per entry."""
    environments = {
        name: {"key": key, "findings": findings}
        for name, (key, findings) in sorted(entries.items())
    }
    return json.dumps({"format": FORMAT, "environments": environments}, indent=2) + "\n"


def stamp_command(output: Output, spec_path: str, names: Sequence[str]) -> int:
    """Validate the overlays of ``names`` (default: every enabled environment) as `build`
    does and record their findings in the stamp; other environments' entries stay."""
    from compiler.build import stale_build_check, stampable
    from compiler.check import lint_all
    from compiler.errors import ExitCode, ExternalError
    from compiler.files import read_regular
    from compiler.kustomize import find_kustomize
    from compiler.lintcache import VALIDATORS, lint_versions
    from compiler.load import load_spec
    from compiler.render import redact, render
    from compiler.write import write_file

    loaded = load_spec(spec_path)
    enabled = [name for name, _ in loaded.enabled()]
    chosen = list(names) or enabled
    spec = stale_build_check(output, spec_path, chosen, loaded)
    if spec is None:
        return ExitCode.DIFFERENCES
    root = Path(".")
    skipped = [n for n in chosen if not stampable([root / "overlays" / n])]
    for name in skipped:
        output.note(
            f"overlays/{name} not stamped: its secretGenerator's values (secret.env) are "
            "part of its rendering; build validates it every time"
        )
    chosen = [n for n in chosen if n not in skipped]
    versions = lint_versions()
    if versions is None:
        raise ExternalError(
            "cannot tell the installed versions of the validators "
            f"({', '.join(VALIDATORS)}); nothing stamped"
        )
    kustomize = find_kustomize()
    rendered = [
        redact(text)
        for text in render(kustomize, [root / "overlays" / n for n in chosen], real_secrets=True)
    ]
    spec_bytes = read_regular(spec_path)
    entries = {n: e for n, e in (read_stamp(root) or {}).items() if n in enabled}
    failed = False
    for name, text in zip(chosen, rendered, strict=True):
        findings = lint_all(spec, [name], [text])
        found = [{"line": f.render(), "severity": f.severity} for f in findings]
        for item in found:
            output.finding(item["line"], item["severity"])
        failed = failed or any(item["severity"] == "error" for item in found)
        entries[name] = (stamp_key(versions, name, spec_bytes, text), found)
    write_file(root / STAMP_PATH, stamp_text(entries))
    output.note(f"{STAMP_PATH}: {', '.join(chosen) or 'nothing'} stamped; commit it")
    if failed:
        output.note("error: the rendered manifests fail validation (see above)")
        return ExitCode.DIFFERENCES
    return ExitCode.OK
