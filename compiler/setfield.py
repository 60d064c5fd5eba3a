"""`set`: change one scalar field of the spec in place, for pipelines and bots.

What `kustomize edit set image` and `helm --set` are to their users. The edit is made on
the spec's text: ruamel.yaml's round-trip composer locates the value (its exact start and
end), and only those characters change, so every comment, key order, blank line, quote
style and indentation stays byte for byte. A field the file does not have yet is added
under its nearest existing parent, indented like its siblings. The models decide what
a value is (`replicas 5` is a number, `tag 1.10` stays a string) and the whole spec is
validated before anything is written.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from compiler.console import Output
from compiler.errors import Problem, SpecError, UsageError
from compiler.files import FileTooLargeError, NotRegularFileError, kind_of, read_regular
from compiler.load import (
    MAX_SPEC_BYTES,
    field_map,
    read_yaml,
    unknown_field_message,
    walk_annotation,
)
from compiler.spec import SpecFile
from compiler.write import write_file

INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Edit:
    """One field set: the new spec text and what changed."""

    text: str
    path: str
    old: str | None  # the value as written before; None when the field was added
    new: str  # the value as written now


def field_path(path: str, env: str | None) -> list[str]:
    """The dotted path as keys; with ``env``, relative to `environments.<env>`."""
    full = f"environments.{env}.{path}" if env is not None else path
    keys = full.split(".")
    if not all(keys):
        raise UsageError(f"{full!r} is not a field path such as environments.prod.image.tag")
    return keys


def field_annotation(keys: list[str], environments: list[str]) -> Any:
    """The annotation of the field at ``keys``; UsageError for a path the spec lacks."""
    current: Any = SpecFile
    for depth, key in enumerate(keys):
        where = ".".join(keys[: depth + 1])
        if typing.get_origin(current) is dict:  # environments.<name>
            if key not in environments:
                raise UsageError(
                    f"{where}: no environment {key!r} in the spec "
                    f"(environments: {', '.join(environments) or 'none'})"
                )
            current = typing.get_args(current)[1]
            continue
        fields = field_map(model_in(current))
        if fields is None:
            raise UsageError(f"{'.'.join(keys[:depth])} is a value; it has no field {key!r}")
        if key not in fields:
            raise UsageError(f"{where}: {unknown_field_message(key, sorted(fields))}")
        current = fields[key]
    return current


def model_in(annotation: Any) -> Any:
    """The model, or the dict of environments, that a path can go into from here."""
    for candidate in walk_annotation(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        if typing.get_origin(candidate) is dict:
            return candidate
    return None


def scalar_types(annotation: Any) -> set[type]:
    """The plain types a scalar field takes: bool, int, float, str (empty: not a scalar)."""
    found: set[type] = set()
    for candidate in walk_annotation(annotation):
        if typing.get_origin(candidate) in (list, dict) or model_in(candidate) is not None:
            return set()
        if typing.get_origin(candidate) is Literal:
            found.update(type(arg) for arg in typing.get_args(candidate))
        elif candidate in (bool, int, float, str):
            found.add(candidate)
    return found


def typed(value: str, types: set[type]) -> bool | int | float | str:
    """The command-line text as the field's type; validation judges the result."""
    if bool in types and value in ("true", "false"):
        return value == "true"
    if int in types and INTEGER.fullmatch(value):
        return int(value)
    if float in types and str not in types:
        try:
            return float(value)
        except ValueError:
            pass
    return value


def yaml_scalar(value: bool | int | float | str, old: str | None) -> str:
    """``value`` written as YAML that reads back as the same value; a string keeps the
    quotes the old value had, and gets quotes only when plain text would not read back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return repr(value)
    quote = old[0] if old and old[0] in "'\"" else ""
    if not quote:
        try:
            reads_back = YAML(typ="safe", pure=True).load(value) == value
        except Exception:  # anything that does not parse as a plain scalar needs quotes
            reads_back = False
        if reads_back and "\n" not in value:
            return value
        quote = '"'
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)


def set_value(text: str, keys: list[str], value: str) -> Edit:
    """The spec ``text`` with the scalar at ``keys`` set to ``value``, all else unchanged."""
    types = scalar_types(field_annotation(keys, environment_names(text)))
    dotted = ".".join(keys)
    if not types:
        raise UsageError(
            f"{dotted} is not a single value (a mapping or a list); set one of its fields, "
            "or edit the spec"
        )
    new_value = typed(value, types)
    offset = 1 if text.startswith("\ufeff") else 0
    node: Node = YAML(typ="rt", pure=True).compose(text[offset:])
    unit = indent_unit(node)
    for depth, key in enumerate(keys):
        where = ".".join(keys[:depth]) or "the spec"
        if not isinstance(node, MappingNode) or node.flow_style:
            raise UsageError(f"{where} is not a block mapping; set cannot add {key!r} to it")
        entry = next((pair for pair in node.value if scalar_text(pair[0]) == key), None)
        if entry is None:
            if any(scalar_text(k) == "<<" for k, _ in node.value):
                raise UsageError(f"{where} uses a merge key (<<); edit the spec by hand")
            first_key = node.value[0][0]
            at = entry_start(text, offset + first_key.start_mark.index)
            lines = new_lines(keys[depth:], first_key.start_mark.column, unit, new_value)
            return added(text, at, lines, dotted)
        key_node, node = entry
        if node.start_mark.index < key_node.end_mark.index or node.anchor is not None:
            raise UsageError(
                f"{'.'.join(keys[: depth + 1])} is shared through a YAML anchor or alias; "
                "edit the spec by hand"
            )
        if depth < len(keys) - 1 and is_empty(node):  # `prod:` with nothing under it yet
            line_end = text.find("\n", offset + key_node.end_mark.index)
            at = len(text) if line_end < 0 else line_end + 1
            column = key_node.start_mark.column + unit
            return added(text, at, new_lines(keys[depth + 1 :], column, unit, new_value), dotted)
    if not isinstance(node, ScalarNode) or node.style in ("|", ">"):
        raise UsageError(f"{dotted} is not written as a one-line value; edit the spec by hand")
    start, end = offset + node.start_mark.index, offset + node.end_mark.index
    old = text[start:end]
    written = yaml_scalar(new_value, old)
    return Edit(text[:start] + written + text[end:], dotted, old, written)


def environment_names(text: str) -> list[str]:
    data: Any = YAML(typ="safe", pure=True).load(text)
    environments = data.get("environments") if isinstance(data, dict) else None
    return [str(name) for name in environments] if isinstance(environments, dict) else []


def scalar_text(node: Node) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.start_mark.index == node.end_mark.index


def indent_unit(root: Node) -> int:
    """How far the spec indents a nested mapping: the column of the first key under the
    first top-level key (`defaults:`), else 2."""
    if isinstance(root, MappingNode) and root.value:
        inner = root.value[0][1]
        if isinstance(inner, MappingNode) and inner.value and not inner.flow_style:
            return max(1, int(inner.value[0][0].start_mark.column))
    return 2


def entry_start(text: str, first_key: int) -> int:
    """Where a new first entry of a block mapping goes: before the comment and blank lines
    that lead into its first key (they stay with that key), after its parent's line."""
    at = text.rfind("\n", 0, first_key) + 1
    while at > 0:
        previous = text.rfind("\n", 0, at - 1) + 1
        line = text[previous:at].strip()
        if line and not line.startswith("#"):
            break
        at = previous
    return at


def new_lines(keys: list[str], column: int, unit: int, value: Any) -> list[str]:
    """``keys`` as nested block mapping lines, the last one holding ``value``."""
    lines = [" " * (column + unit * level) + f"{key}:" for level, key in enumerate(keys)]
    lines[-1] += " " + yaml_scalar(value, None)
    return lines


def added(text: str, at: int, lines: list[str], dotted: str) -> Edit:
    newline = "\r\n" if "\r\n" in text else "\n"
    block = newline.join(lines) + newline
    if at > 0 and not text[:at].endswith("\n"):
        block = newline + block
    return Edit(text[:at] + block + text[at:], dotted, None, lines[-1].split(": ", 1)[1])


def set_field(spec: str, keys: list[str], value: str) -> Edit:
    """Set one field of the spec file in place: validated first, written whole or not
    at all; SpecError (file untouched) when the result is not a valid spec."""
    from compiler.load import parse_spec

    path = Path(spec)
    try:
        raw = read_regular(path, MAX_SPEC_BYTES)  # a link or special file: refused
    except FileTooLargeError as exc:
        message = f"spec is {exc.size:,} bytes; the limit is {MAX_SPEC_BYTES:,} (1 MiB)"
        raise SpecError([Problem(spec, 1, 1, "", message)]) from None
    except NotRegularFileError as exc:
        message = f"is {kind_of(exc.mode)}, not a regular file; refusing to read it"
        raise SpecError([Problem(spec, 1, 1, "", message)]) from None
    except OSError as exc:
        raise SpecError([Problem(spec, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    read_yaml(raw, spec)  # the same limits and YAML errors as every command
    edit = set_value(raw.decode("utf-8"), keys, value)
    parse_spec(edit.text.encode("utf-8"), spec)
    if edit.text.encode("utf-8") != raw:
        write_file(path, edit.text)
    return edit


def set_command(output: Output, spec_path: str, field: str, env: str | None, value: str) -> int:
    """`set`: change one scalar of the spec in place (validated first), then compile."""
    from compiler.compile import compile_command

    edit = set_field(spec_path, field_path(field, env), value)
    before = edit.old if edit.old is not None else "(not set)"
    output.say(f"set {edit.path}: {before} -> {edit.new} in {spec_path}")
    return compile_command(output, spec_path, quiet=True)
