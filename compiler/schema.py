"""The JSON Schema of the spec file, generated from the models.

Editors read it through the spec's `yaml-language-server` modeline. Environments are
partial overrides of the defaults, so their schema is the models' with nothing
required and no defaults (an omitted field inherits from `defaults`, not from the model).
A field's description is its attribute docstring in compiler/spec.py, read here from the
source rather than by pydantic at every import of the models (`use_attribute_docstrings`).
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from compiler import spec
from compiler.console import Output
from compiler.errors import ExitCode
from compiler.spec import SpecFile

SCHEMA_PATH = "spec/llmgateway.schema.json"
GENERATED_NOTE = "Generated from compiler/spec.py by `python -m compiler schema`; do not edit."
PARTIAL = "Partial"


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec/llmgateway.yaml."""
    docstrings = attribute_docstrings(spec)
    core_schema = described(SpecFile.__pydantic_core_schema__, docstrings)
    schema = GenerateJsonSchema(by_alias=True).generate(core_schema, mode="validation")
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


# "module.Class" -> each attribute annotated in the class body -> its docstring or None.
Docstrings = dict[str, dict[str, str | None]]


def attribute_docstrings(module: ModuleType) -> Docstrings:
    """The annotated attributes of a module's top-level classes, with their docstrings.

    An attribute's docstring is a string statement right after its annotated assignment,
    cleaned as `inspect.cleandoc` cleans docstrings: pydantic's `use_attribute_docstrings`.
    """
    classes: Docstrings = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.ClassDef):
            following: list[ast.stmt | None] = [*node.body[1:], None]
            classes[f"{module.__name__}.{node.name}"] = {
                statement.target.id: string_statement(after)
                for statement, after in zip(node.body, following, strict=True)
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
            }
    return classes


def string_statement(statement: ast.stmt | None) -> str | None:
    """The cleaned text of a statement that is a string literal alone, else None."""
    if (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    ):
        return inspect.cleandoc(statement.value.value)
    return None


def field_docstring(model: type[BaseModel], field: str, docstrings: Docstrings) -> str | None:
    """The docstring of ``field`` in the nearest class of ``model`` that annotates it.

    A subclass that declares a field again replaces its docstring, none included, as it
    replaces the field.
    """
    for cls in model.__mro__:
        annotated = docstrings.get(f"{cls.__module__}.{cls.__qualname__}", {})
        if field in annotated:
            return annotated[field]
    return None


def described(core_schema: Any, docstrings: Docstrings) -> Any:
    """A copy of a pydantic core schema whose model fields have their docstrings as JSON
    Schema descriptions, where pydantic puts a field's `Field(description=...)`, which wins.

    That place is the field's `pydantic_js_updates` core metadata; the test comparing
    with pydantic's own `use_attribute_docstrings` catches a pydantic that moves it.
    """
    if isinstance(core_schema, list):
        return [described(item, docstrings) for item in core_schema]
    if not isinstance(core_schema, dict):
        return core_schema
    out = {key: described(value, docstrings) for key, value in core_schema.items()}
    if out.get("type") == "model" and out["schema"]["type"] == "model-fields":
        model: type[BaseModel] = out["cls"]
        for name, field in out["schema"]["fields"].items():
            docstring = field_docstring(model, name, docstrings)
            if docstring is not None and model.model_fields[name].description is None:
                metadata = field.setdefault("metadata", {})
                updates = metadata.get("pydantic_js_updates", {})
                metadata["pydantic_js_updates"] = {**updates, "description": docstring}
    return out


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
