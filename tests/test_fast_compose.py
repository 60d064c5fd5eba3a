"""The spec reader's libyaml path reads exactly what ruamel reads: the same data, of the
same types, at the same positions, and the same error for every invalid text.

Each text is read twice by `read_yaml`, composed by libyaml (where it takes the text)
and by ruamel alone, over every spec the tests know and hostile inputs: each YAML 1.1 /
1.2 difference, duplicate keys, tabs, a BOM, long lines, deep nesting, anchors, tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bench.run import make_spec
from compiler.errors import SpecError
from compiler.load import WrittenFloat, compose_with_libyaml, read_yaml
from tests.conftest import CASES, ROOT

SPEC_FILES = [ROOT / "spec" / "llmgateway.yaml", *sorted(CASES.glob("**/spec.yaml"))]

SCALARS = [
    # YAML 1.1 booleans, strings in 1.2 (and so in the spec)
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Yes",
    "NO",
    "On",
    "OFF",
    # 1.2 booleans and nulls
    "true",
    "false",
    "True",
    "FALSE",
    "null",
    "Null",
    "NULL",
    "~",
    "",
    # numbers: octal, underscores, sexagesimal, hex, binary, signs, exponents
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "1:20:30.5",
    "+1",
    "-0",
    "007",
    "1e3",
    "1.0e+3",
    "1E-2",
    ".5",
    "5.",
    "-.inf",
    ".inf",
    ".NaN",
    ".nan",
    "+.INF",
    "1.10",
    "12345678901234567890",
    "3.14159265358979323846",
    # timestamps and other YAML 1.1 types
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    # plain strings YAML reads as strings either way
    "v1.2.3",
    "http://a.example.com:80/p?x=1&y=2#f",
    "a#b",
    "a:b",
    "-a",
    "?a",
    "a b",
    "=",
    "<<",
    "!",
    "%",
    "@",
    "`",
]


def quoted(value: str) -> list[str]:
    return [f'"{value}"', f"'{value}'"] if "'" not in value and '"' not in value else []


HOSTILE = [
    *(
        f"defaults:\n  domain: {v}\n  replicas: {v}\nenvironments:\n  {v or 'x'}: {{}}\n"
        for v in SCALARS
    ),
    *(f"a: {q}\n" for v in SCALARS for q in quoted(v)),
    *(f"- {v}\n- [{v}]\n- {{k: {v}}}\n" for v in SCALARS if v),
    # duplicate keys, at the top, nested, in flow, quoted and plain alike
    "a: 1\na: 2\n",
    "a:\n  b: 1\n  b: 2\n",
    "{a: 1, a: 2}\n",
    'a: 1\n"a": 2\n',
    "defaults: {}\nenvironments:\n  prod: {}\n  prod: {}\n",
    # keys that are not strings
    "1: a\n",
    "true: a\n",
    "null: a\n",
    "~: a\n",
    "1.5: a\n",
    "[a]: b\n",
    "{a: b}: c\n",
    "? a\n: b\n",
    "? [a, b]\n: c\n",
    ": a\n",
    # tags, anchors, aliases, merge keys, directives
    "a: !!str 1\n",
    "a: !!int '1'\n",
    "a: !custom x\n",
    "a: !!python/object:os.system x\n",
    "a: !!omap [b: 1]\n",
    "a: ! 1\n",
    "a: &x 1\nb: *x\n",
    "a: &x {c: 1}\nb:\n  <<: *x\n",
    "a:\n  <<: {c: 1}\n",
    "a: *nowhere\n",
    "a: &x 1\nb: &x 2\nc: *x\n",
    "!!map {a: 1}\n",
    "%YAML 1.1\n---\na: yes\nb: 0777\n",
    "%YAML 1.2\n---\na: yes\n",
    "%TAG !e! tag:e.com:\n---\na: !e!x 1\n",
    # documents
    "",
    "# only a comment\n",
    "---\n",
    "...\n",
    "--- a\n",
    "a: 1\n---\nb: 2\n",
    "a: 1\n...\n",
    "--- \na: 1\n",
    "a\n",
    "- a\n- b\n",
    "[a, b]\n",
    "{a: b}\n",
    # empty values and items
    "a:\nb:\n",
    "a:\n  - \n  - 1\n",
    "- \n- a\n",
    "a: []\nb: {}\n",
    "a: [ ]\n",
    "a: [a, , b]\n",
    "{a: , b: 1}\n",
    "{a, b: 1}\n",
    "- a:\n- b\n",
    "a: # c\nb:\n  # d\n",
    # whitespace: tabs, carriage returns, BOM, trailing spaces, no final newline
    "a:\tb\n",
    "a:\n\tb: 1\n",
    "a: b\t\n",
    "a: 'x\ty'\n",
    "a: b\r\nc: d\r\n",
    "a: b\rc: d\n",
    "\ufeffa: b\n",
    "a: b   \n",
    "a: b",
    "a:    b    # c\n",
    "   a: b\n",
    # scalars of several lines, block scalars, escapes
    "a: b\n  c\n",
    "a: 'b\n  c'\n",
    'a: "b\\\n  c"\n',
    "a: |\n  b\n  c\n",
    "a: >-\n  b\n\n  c\n",
    "a: |+\n  b\n\n",
    'a: "\\x41\\u0042\\U00000043\\/\\t\\"\\\\"\n',
    'a: "\\e\\N\\_\\L\\P"\n',
    "a: 'it''s'\n",
    'a: "\\q"\n',
    'a: "\\u00e9"\n',
    "a: caf\u00e9\n",
    "a: \u2028b\n",
    "a: \x85b\n",
    "a: \x07\n",
    "a: \x7f\n",
    "a: '\x00'\n",
    # structure: indentation, nesting, flow inside block, errors
    "a:\n- b\n- c\n",
    "- a: 1\n  b: 2\n- c\n",
    "- - a\n  - b\n",
    "a: [b, [c, {d: e}]]\n",
    "a: {b: [1, 2], c: {d: e}}\n",
    "a: b: c\n",
    "a:\n  b\n  c: d\n",
    "a:\n    b: 1\n  c: 2\n",
    "a: [b\n",
    "a: {b: c\n",
    "a: ]\n",
    "a: b]\n",
    "- a\nb: c\n",
    "a: 'b\n",
    'a: "b\n',
    "a: [b, c]#x\n",
    "a: [b, c] #x\n",
    "a: 'b'c\n",
    "a: -\n",
    "a: - b\n",
    "- - - a\n",
    "[a: b, c]\n",
    "[a:b]\n",
    "{a:b}\n",
    '{"a":b}\n',
    "[? a : b]\n",
    "a: {b, c}\n",
    "a: @b\n",
    "a: `b\n",
    "a: %b\n",
    "a: |b\n",
    "a: >b\n",
    # long lines and keys (libyaml and ruamel both stop implicit keys at 1,024 characters)
    "a: " + "x" * 20000 + "\n",
    "k" * 1023 + ": v\n",
    "k" * 1025 + ": v\n",
    '"' + "k" * 1030 + '": v\n',
    # deep nesting, block and flow
    "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "v: 1\n",
    "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n",
    "".join("  " * i + "-\n" for i in range(70)) + "  " * 70 + "v\n",
    "a: " + "[" * 60 + "]" * 60 + "\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",
    # many values (more than 100,000 is refused after reading, the same code either way)
    "a: [" + ", ".join(["1"] * 1_000) + "]\n",
    make_spec(30, "split"),
    make_spec(30),
]


def same_reading(text: str) -> None:
    """Both readers give the same outcome (when libyaml does not take the text, both are
    ruamel: nothing to compare)."""
    if libyaml_takes(text.removeprefix("\ufeff")):
        assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def outcome(text: str, *, libyaml: bool) -> Any:
    """What read_yaml gives: data with its types, and positions; or the problems."""
    try:
        data, positions = read_yaml(text.encode(), "spec.yaml", libyaml=libyaml)
    except SpecError as exc:
        return ("refused", [p.render() for p in exc.problems])
    except RecursionError:
        return ("recursion",)
    return ("read", typed(data), positions)


def typed(value: Any) -> Any:
    """``value`` with every scalar's exact type (True and 1, 1.10 and 1.1 differ)."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, WrittenFloat):
        return ("float", repr(float(value)), value.written)
    return (type(value).__name__, value)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_of_the_tests_is_read_as_ruamel_reads_it(path: Path) -> None:
    same_reading(path.read_bytes().decode("utf-8", errors="replace"))


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:40]) + f"/{len(t)}")
def test_hostile_yaml_is_read_as_ruamel_reads_it(text: str) -> None:
    same_reading(text)


def libyaml_takes(text: str) -> bool:
    return compose_with_libyaml(text, YAML(typ="rt", pure=True).resolver) is not None


def test_libyaml_reads_the_committed_spec_and_large_fleets() -> None:
    """The point of it: the usual specs take the fast path (else both readers are ruamel
    and the tests above prove nothing)."""
    assert libyaml_takes((ROOT / "spec" / "llmgateway.yaml").read_text())
    assert libyaml_takes(make_spec(200, "split"))
    taken = [
        path
        for path in SPEC_FILES
        if path.name == "spec.yaml" and libyaml_takes(path.read_text(errors="replace"))
    ]
    assert len(taken) >= 100, len(taken)
    assert sum(libyaml_takes(text) for text in HOSTILE) >= 150


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # tags
        "%YAML 1.1\n---\na: yes\n",  # directives (1.1 reads yes as true)
        "a:\tb\n",  # tabs
        "a: b\r\n",  # carriage returns
        "a: caf\u00e9\n",  # beyond ASCII (YAML 1.1 breaks lines at U+0085, U+2028, U+2029)
        "a: |\n  b\n",  # block scalars
        "a: b\n  c\n",  # scalars of several lines
        "- \n- a\n",  # an empty item: ruamel and libyaml place it differently
        ": a\n",  # an empty key
        "a: 1\n---\nb: 2\n",  # two documents
        "a: [b\n",  # what libyaml refuses: ruamel says why
        "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "v: 1\n",
    ],
    ids=repr,
)
def test_what_libyaml_may_read_differently_is_left_to_ruamel(text: str) -> None:
    assert not libyaml_takes(text)
