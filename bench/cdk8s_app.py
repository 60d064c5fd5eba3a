"""The peer of `render every overlay`: a cdk8s (Python) app synthesising the same fleet.

Run from a project root: python bench/cdk8s_app.py OUTDIR. One Chart per enabled
environment of spec/llmgateway.yaml, holding the resources our lowering computes for it
(the same resources kustomize renders from the overlays: tests/test_invariant.py), each
an ApiObject; `app.synth()` writes one manifest per environment, as cdk8s users run it.

cdk8s is an optional benchmark dependency (`pip install cdk8s`: it runs its core in
Node.js through jsii, so `node` must be on PATH); bench/run.py skips this peer, saying
why, when it is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# jsii prints a banner for a Node.js release it no longer supports; the timing is the same.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def main() -> int:
    from cdk8s import ApiObject, App, Chart, JsonPatch  # type: ignore[import-not-found,unused-ignore]

    from compiler.load import load_spec
    from compiler.lower import lower_environment

    spec = load_spec("spec/llmgateway.yaml")
    app = App(outdir=sys.argv[1] if len(sys.argv) > 1 else "dist")
    for name, settings in spec.enabled():
        chart = Chart(app, name)
        for index, resource in enumerate(lower_environment(settings, name)):
            body: dict[str, Any] = dict(resource)
            api = ApiObject(
                chart,
                f"r{index}",
                api_version=body.pop("apiVersion"),
                kind=body.pop("kind"),
                metadata=body.pop("metadata"),
            )
            for key, value in body.items():
                api.add_json_patch(JsonPatch.add(f"/{key}", value))
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
