"""The JSON Schema of the spec file, generated from the models.

Editors read it through the spec's `yaml-language-server` modeline. Environments are
partial overrides of the defaults, so their schema is the models' with nothing
required and no defaults (an omitted field inherits from `defaults`, not from the model).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from compiler.console import Output
from compiler.errors import ExitCode
from compiler.spec import SpecFile

SCHEMA_PATH = "spec/llmgateway.schema.json"
GENERATED_NOTE = "Generated from compiler/spec.py by `python -m compiler schema`; do not edit."
PARTIAL = "Partial"


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec/llmgateway.yaml."""
    schema = SpecFile.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = schema["$defs"]
    for name in list(defs):
        defs[PARTIAL + name] = partial(defs[name])
    env_ref = schema["properties"]["environments"]["additionalProperties"]["$ref"]
    partial_env = env_ref.replace("#/$defs/", f"#/$defs/{PARTIAL}")
    schema["properties"]["environments"]["additionalProperties"] = {
        "anyOf": [{"$ref": partial_env}, {"type": "null"}]
    }
    schema["properties"]["environments"]["propertyNames"] = {
        "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        "description": "Environment name: a DNS label.",
    }
    del defs["EnvironmentSettings"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": GENERATED_NOTE,
        **schema,
    }


def partial(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy of a model's schema where every field is optional and has no default."""
    out = copy.deepcopy(definition)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.pop("required", None)
                for field in node["properties"].values():
                    if isinstance(field, dict):
                        field.pop("default", None)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = ref.replace("#/$defs/", f"#/$defs/{PARTIAL}")
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(out)
    return out


def render_schema() -> str:
    """The schema as the bytes-stable text committed to the repository."""
    return json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"


def schema_command(output: Output, target: str) -> int:
    """`schema`: write the JSON Schema to ``target`` ('-': stdout), only when it changed."""
    from pathlib import Path

    from compiler.write import write_file

    text = render_schema()
    if target == "-":
        output.write(text)
        return ExitCode.OK
    written = write_file(Path(target), text)
    output.say(f"  written {target}" if written else f"unchanged {target}")
    return ExitCode.OK
