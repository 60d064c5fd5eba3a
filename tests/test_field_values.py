"""Field values a pattern must refuse whole: a valid value with a character appended.

A regex tested with `$` also matches before a final newline, so `"prod\n"` once passed as
an environment name and became a directory. Every string of a valid spec, and every
environment name, is spoiled in turn here and must give exit 2 at that very field.
"""

from __future__ import annotations

import ast
import functools
import os
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from compiler.emit import dump
from compiler.errors import SpecError
from compiler.load import dotted, parse_spec, read_yaml
from tests.conftest import CASES, ROOT, case_id, valid_case_specs
from tests.helpers import load_documents

SUFFIXES = ["\n", "\r", " ", "\x00"]
EVERY_FIELD = CASES / "valid" / "every-field" / "spec.yaml"

Location = tuple[str | int, ...]
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20"))


def string_locations(data: Any, prefix: Location = ()) -> list[tuple[Location, bool]]:
    """Every string value (False) and every environment name (True) of a spec."""
    found: list[tuple[Location, bool]] = []
    if isinstance(data, dict):
        for key, item in data.items():
            if prefix == ("environments",):
                found.append(((*prefix, key), True))
            found += string_locations(item, (*prefix, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found += string_locations(item, (*prefix, index))
    elif isinstance(data, str):
        found.append((prefix, False))
    return found


def spoil(data: Any, location: Location, is_key: bool, suffix: str) -> tuple[Any, Location]:
    """A copy of ``data`` with ``suffix`` appended at ``location``; and where it now is."""
    if not location:
        return data + suffix, ()
    head, rest = location[0], location[1:]
    if isinstance(data, list):
        assert isinstance(head, int)
        inner, where = spoil(data[head], rest, is_key, suffix)
        return [*data[:head], inner, *data[head + 1 :]], (head, *where)
    assert isinstance(head, str)
    if is_key and not rest:
        return {(k + suffix if k == head else k): v for k, v in data.items()}, (head + suffix,)
    inner, where = spoil(data[head], rest, is_key, suffix)
    return {**data, head: inner}, (head, *where)


def positions(data: Any) -> dict[Location, tuple[int, int]]:
    """Where each key and item of ``data`` is once dumped; appending to a value or a key
    moves none of them."""
    return read_yaml(dump(data).encode(), "spec.yaml")[1]


def assert_refused_at(
    data: Any, at: dict[Location, tuple[int, int]], location: Location, is_key: bool, suffix: str
) -> None:
    spoiled, where = spoil(data, location, is_key, suffix)
    line, column = at[location]
    with pytest.raises(SpecError) as raised:
        parse_spec(dump(spoiled).encode(), "spec.yaml")
    rendered = [problem.render() for problem in raised.value.problems]
    for problem in rendered:
        assert not set(problem) & set("\n\r\x00"), f"not one line: {problem!r}"
    expected = f"spec.yaml:{line}:{column}: {dotted(where)}: "
    assert any(problem.startswith(expected) for problem in rendered), (expected, rendered)


EVERY_FIELD_DATA = load_documents(EVERY_FIELD.read_text())[0]
EVERY_FIELD_AT = positions(EVERY_FIELD_DATA)


@pytest.mark.parametrize("suffix", SUFFIXES, ids=repr)
@pytest.mark.parametrize(
    ("location", "is_key"), string_locations(EVERY_FIELD_DATA), ids=lambda v: str(v)
)
def test_every_string_field_refuses_a_trailing_character(
    location: Location, is_key: bool, suffix: str
) -> None:
    assert_refused_at(EVERY_FIELD_DATA, EVERY_FIELD_AT, location, is_key, suffix)


def model_string_fields(model: Any, prefix: str = "") -> set[str]:
    """Dotted names of every string-valued field of the models (list items included)."""
    from compiler.load import model_of, walk_annotation

    found: set[str] = set()
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        nested = model_of(info.annotation)
        if nested is not None:
            found |= model_string_fields(nested, f"{key}.")
        elif any(a is str or isinstance(a, str) for a in walk_annotation(info.annotation)):
            found.add(key)
    return found


def test_every_field_case_sets_every_string_field() -> None:
    """The case above covers each string field the models have, in defaults and an env."""
    from compiler.spec import EnvironmentSettings, Settings

    def covered(section: Location) -> set[str]:
        return {
            dotted(tuple(p for p in location[len(section) :] if not isinstance(p, int)))
            for location, is_key in string_locations(EVERY_FIELD_DATA)
            if not is_key and location[: len(section)] == section
        }

    missing = {
        "defaults": model_string_fields(Settings) - covered(("defaults",)),
        "environments.prod": model_string_fields(EnvironmentSettings)
        - covered(("environments", "prod")),
    }
    assert missing == {"defaults": set(), "environments.prod": set()}, (
        f"set these string fields in {EVERY_FIELD.relative_to(ROOT)} so the tests above "
        "spoil them too"
    )


@functools.cache
def specs() -> list[tuple[str, Any, dict[Location, tuple[int, int]]]]:
    """Every valid spec with its positions: read when the test below first runs, not when
    the tests are collected (in every worker)."""
    return [
        (case_id(path), data, positions(data))
        for path in valid_case_specs()
        for data in load_documents(path.read_text())
    ]


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(data=st.data())
def test_valid_specs_refuse_a_trailing_character_anywhere(data: st.DataObject) -> None:
    _, spec, at = data.draw(st.sampled_from(specs()), label="spec")
    location, is_key = data.draw(st.sampled_from(string_locations(spec)), label="field")
    suffix = data.draw(st.sampled_from(SUFFIXES), label="suffix")
    assert_refused_at(spec, at, location, is_key, suffix)


RE_FUNCTIONS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall"}


def end_anchors(pattern: str) -> bool:
    """Whether ``pattern`` has a `$` outside a character class and not escaped."""
    in_class = escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            return True
    return False


def regex_literals(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, pattern, is_pydantic) for every literal regex of a module."""
    found: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id == "re"
            and function.attr in RE_FUNCTIONS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value, False))
        for keyword in node.keywords:
            if keyword.arg == "pattern" and isinstance(keyword.value, ast.Constant):
                found.append((node.lineno, str(keyword.value.value), True))
    return found


def test_no_python_regex_in_the_compiler_anchors_with_a_dollar() -> None:
    """Python's `$` matches before a final newline: use fullmatch (or `\\Z`) instead."""
    found = []
    for source in sorted((ROOT / "compiler").rglob("*.py")):
        for line, pattern, is_pydantic in regex_literals(ast.parse(source.read_text())):
            if end_anchors(pattern) and not is_pydantic:
                found.append(f"{source.relative_to(ROOT)}:{line}: {pattern}")
    assert found == []


def test_the_scan_finds_a_dollar() -> None:
    tree = ast.parse('import re\nA = re.compile(r"^a$")\nB = re.fullmatch(r"[$]b\\$", x)\n')
    assert [end_anchors(p) for _, p, _ in regex_literals(tree)] == [True, False]


def test_pydantic_patterns_anchor_at_the_very_end() -> None:
    """Field(pattern=...) is compiled by pydantic-core's Rust engine, where `$` is the end
    of the text only; no model may switch to Python's engine."""
    from compiler.spec import Model

    assert Model.model_config.get("regex_engine", "rust-regex") == "rust-regex"
    adapter = TypeAdapter(Annotated[str, Field(pattern=r"^a$")], config=Model.model_config)
    assert adapter.validate_python("a") == "a"
    with pytest.raises(ValidationError):
        adapter.validate_python("a\n")
