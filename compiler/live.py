"""`diff --live`: what applying an overlay would change in the cluster, via `kubectl diff`.

kubectl renders the overlay, asks the API server for a server-side dry run, and hands
two directories (live objects, merged result) to `$KUBECTL_EXTERNAL_DIFF`. We point
that at a small script that copies them, then compare them like `diff` does, with the
same formatter and the same redaction of Secret values.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from compiler.compare import load_documents
from compiler.errors import ExternalError
from compiler.secretenv import check_secret_env
from compiler.tools import run_tool

# Fields the API server sets; they differ between live and merged objects by nature.
SERVER_FIELDS = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CAPTURE = """#!/bin/sh
# Called by kubectl diff as: $0 LIVE_DIR MERGED_DIR
cp -R "$1" "$LLMGW_CAPTURE/live" && cp -R "$2" "$LLMGW_CAPTURE/merged"
"""


def without_server_fields(resource: Any) -> Any:
    if not isinstance(resource, dict):
        return resource
    out = {k: v for k, v in resource.items() if k != "status"}
    meta = dict(out.get("metadata") or {})
    for name in SERVER_FIELDS:
        meta.pop(name, None)
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def read_objects(directory: Path) -> list[Any]:
    objects: list[Any] = []
    if not directory.is_dir():
        return objects
    for path in sorted(directory.iterdir()):
        if path.is_file():
            try:
                documents = load_documents(path.read_text(encoding="utf-8"))
            except (YAMLError, UnicodeDecodeError) as exc:
                raise ExternalError(
                    f"kubectl diff produced invalid YAML in {path.name}: {exc}"
                ) from None
            objects.extend(without_server_fields(d) for d in documents)
    return objects


def live_diff(overlay: Path) -> tuple[list[Any], list[Any]]:
    """(live, merged) objects of ``overlay``; ExternalError when no cluster answers."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ExternalError("diff --live needs kubectl on PATH (and a reachable cluster)")
    # kubectl's kustomize reads a generator's secret.env: refuse a malformed one first.
    check_secret_env(overlay)
    with tempfile.TemporaryDirectory(prefix="llmgw-live-") as scratch:
        capture = Path(scratch) / "capture"
        capture.mkdir()
        script = Path(scratch) / "capture.sh"
        script.write_text(CAPTURE)
        script.chmod(0o755)
        done = run_tool(
            [kubectl, "diff", "-k", str(overlay), "--server-side"],
            tool="kubectl diff",
            env={**os.environ, "KUBECTL_EXTERNAL_DIFF": str(script), "LLMGW_CAPTURE": str(capture)},
        )
        captured = (capture / "merged").is_dir()
        if not captured and done.returncode != 0:
            stderr = done.stderr.decode("utf-8", errors="replace")
            reason = (stderr.strip().splitlines() or ["no output"])[-1]
            raise ExternalError(
                f"kubectl diff -k {overlay} failed; is a cluster reachable? ({reason})"
            )
        return read_objects(capture / "live"), read_objects(capture / "merged")
