"""`build`: the committed overlays rendered, checked and printed, as fast as a bare
kustomize when nothing changed.

The fingerprint says whether the overlays are current without loading the spec; only
when it cannot is the spec compiled and compared, which names what drifted. kustomize's
output and lint's findings are cached by the hashes of their inputs. With a cold cache,
the committed validation stamp (compiler/stamp.py) gives the findings when it records
this exact rendering, spec, rules and validators; else they are computed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler import early
from compiler.console import Output
from compiler.errors import ExitCode, UsageError
from compiler.stamp import Findings, is_findings, read_stamp, stamp_key, stamped_findings

if TYPE_CHECKING:
    from compiler.fingerprint import Cache
    from compiler.kustomize import Kustomize


def build_command(
    output: Output, spec_path: str, names: list[str], *, target: str | None, validate: bool
) -> int:
    """Render the overlays of ``names`` (validated unless told not to) to stdout or a file."""
    from compiler.files import read_regular
    from compiler.fingerprint import Cache, inputs_digest, is_current, sha256
    from compiler.kustomize import find_kustomize
    from compiler.render import redact, render

    root = Path(".")
    spec = None
    if not is_current(root, Path(spec_path), names):
        early.discard()  # kustomize started early is not used when the spec is loaded
        spec = stale_build_check(output, spec_path, names)
        if spec is None:
            return ExitCode.DIFFERENCES
    kustomize = find_kustomize()
    cache = Cache(root)
    overlays = [Path("overlays", n) for n in names]
    keys = [inputs_digest(o, kustomize.build_command) for o in overlays]
    cached = [cache.get("render", k) if k else None for k in keys]
    todo = [i for i, text in enumerate(cached) if text is None]
    if not todo:
        early.discard()
    stamp = read_stamp(root) if validate and stampable(overlays) else None
    # A stamped build of one overlay defers the check of kustomize's output (libyaml: the
    # PyYAML import and a parse) until it knows whether the stamp records this rendering.
    deferred = list(todo) if stamp is not None and len(todo) == 1 else []
    cache_late = bool(deferred)  # cached once checked (deferred is emptied then)
    versions = None
    if validate:
        from compiler.lintcache import lint_versions

        # The findings depend on the rules and the validators too (lintcache). Asked
        # before the rendering: kustomize may be running already (compiler.early).
        versions = lint_versions()
    # The real secret.env of a secretGenerator is read here, and its values hidden.
    texts = render(kustomize, [overlays[i] for i in todo], real_secrets=True, check=not deferred)
    for index, text in zip(todo, texts, strict=True):
        cached[index] = text
        if (
            keys[index] is not None
            and inputs_digest(overlays[index], kustomize.build_command) != keys[index]
        ):
            keys[index] = None  # its files changed while kustomize read them: not cached
    rendered = [redact(text or "") for text in cached]
    if not cache_late:
        cache_renderings(cache, keys, cached, todo)
    found: Any = None
    if validate:
        spec_bytes = read_regular(spec_path)  # a regular file: loaded or fingerprinted above
        lint_key = sha256(
            f"{versions}".encode() + b"\0" + spec_bytes + b"\0" + "\0".join(rendered).encode()
        )
        found = cache.get_json("lint", lint_key) if versions is not None else None
        if not is_findings(found):
            found = None
            if stamp is not None and versions is not None:
                found = from_stamp(stamp, versions, names, spec_bytes, rendered)
            # A rendering the stamp records as it is (nothing redacted) passed the same
            # check when it was stamped, by these same sources (the rules' version is in
            # its key): checking it again cannot fail. Anything else is checked here.
            if found is None or any(rendered[i] != cached[i] for i in deferred):
                check_outputs(kustomize, overlays, cached, deferred)
            if found is None:
                from compiler.check import lint_all
                from compiler.load import load_spec

                spec = spec or load_spec(spec_path)
                found = [
                    {"line": f.render(), "severity": f.severity}
                    for f in lint_all(spec, names, rendered)
                ]
            if versions is not None:
                cache.put("lint", lint_key, json.dumps(found))
        else:
            check_outputs(kustomize, overlays, cached, deferred)
    if cache_late:  # checked above, or recorded by the stamp as it is
        cache_renderings(cache, keys, cached, todo)
    if validate:
        for item in found:
            output.finding(item["line"], item["severity"])
        if any(item["severity"] == "error" for item in found):
            output.note(
                "error: the rendered manifests fail validation (see above); --no-validate skips it"
            )
            return ExitCode.DIFFERENCES
    text = "---\n".join(r if r.endswith("\n") or not r else r + "\n" for r in rendered)
    if target:
        from compiler.write import write_file

        write_file(Path(target), output.redact(text))
    else:
        output.write(text)
    return ExitCode.OK


def check_outputs(
    kustomize: Kustomize, overlays: Sequence[Path], cached: Sequence[str | None], todo: list[int]
) -> None:
    """The check `Kustomize.build` leaves to the caller with check=False, of the
    renderings at ``todo`` (emptied: each is checked once)."""
    for index in todo:
        kustomize.check_output(cached[index] or "", overlays[index])
    todo.clear()


def cache_renderings(
    cache: Cache, keys: Sequence[str | None], cached: Sequence[str | None], todo: Sequence[int]
) -> None:
    """Keep the new renderings (checked) in the render cache."""
    for index in todo:
        key = keys[index]
        if key is not None:
            cache.put("render", key, cached[index] or "")


def stampable(overlays: Sequence[Path]) -> bool:
    """Whether the stamp may hold these overlays: none has a secretGenerator (whose
    rendering depends on the git-ignored secret.env)."""
    from compiler.fingerprint import SECRET_ENV

    return not any((o / f"{SECRET_ENV}.example").exists() for o in overlays)


def from_stamp(
    stamp: dict[str, tuple[str, Findings]],
    versions: str,
    names: Sequence[str],
    spec_bytes: bytes,
    rendered: Sequence[str],
) -> Findings | None:
    """The stamp's findings of ``names`` when it records exactly these renderings, spec,
    rules and validators; else None (validated in full)."""
    keys = [
        stamp_key(versions, name, spec_bytes, text)
        for name, text in zip(names, rendered, strict=True)
    ]
    return stamped_findings(stamp, names, keys)


def stale_build_check(
    output: Output, spec_path: str, names: Sequence[str], spec: Any = None
) -> Any:
    """Load the spec (unless given), check the environments exist and the overlays are
    current.

    Returns the spec, or None after reporting that the generated files are stale.
    """
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.write import diff_tree

    spec = spec or load_spec(spec_path)
    enabled = dict(spec.enabled())
    for name in names:
        if name not in spec.environments:
            known = ", ".join(enabled) or "none"
            raise UsageError(f"no environment {name!r} in {spec_path} (environments: {known})")
        if name not in enabled:
            raise UsageError(f"environment {name!r} is disabled in {spec_path}; it has no overlay")
    changes = diff_tree(Path("."), plan_tree(spec))
    stale = [
        path
        for path in changes.created + changes.updated + changes.deleted
        if path.startswith("base/") or any(path.startswith(f"overlays/{n}/") for n in names)
    ]
    if not stale:
        return spec
    output.note("error: the generated files do not match the spec:")
    for path in sorted(stale):
        output.note(f"  {path}")
    output.note("run: python -m compiler compile")
    return None
