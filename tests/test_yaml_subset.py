"""The YAML the spec takes: plain values only. Tags, merge keys, keys that are not
strings and numbers Python cannot read are refused at their place, never a traceback.
(The same inputs through `compile` are case folders in tests/cases/hostile/.)
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.errors import Problem, SpecError
from compiler.load import parse_spec, read_yaml

HEAD = """defaults:
  domain: llm.example.com
  ingress:
    tls:
      enabled: false
  auth:
    oauth2ProxyHost: auth.example.com
environments:
  prod:
"""
PLAIN = "the spec takes plain values"

REFUSED = {
    "int tag on a word": (
        "    replicas: !!int abc\n",
        f"10:15: environments.prod.replicas: tag '!!int' is not supported: {PLAIN}",
    ),
    "str tag forcing a number": (
        "    kubernetesVersion: !!str 1.30\n",
        "10:24: environments.prod.kubernetesVersion: tag '!!str' is not supported: "
        f"{PLAIN}; quote the value instead",
    ),
    "str tag on a list": (
        "    adminEmails: !!str [a@example.com]\n",
        f"10:18: environments.prod.adminEmails: tag '!!str' is not supported: {PLAIN}",
    ),
    "set": (
        "    adminEmails: !!set {a@example.com}\n",
        f"10:18: environments.prod.adminEmails: tag '!!set' is not supported: {PLAIN}",
    ),
    "binary": (
        "    namespace: !!binary bGxt\n",
        f"10:16: environments.prod.namespace: tag '!!binary' is not supported: {PLAIN}",
    ),
    "verbatim tag": (
        "    namespace: !<tag:example.com,2000:x> llm\n",
        "10:16: environments.prod.namespace: tag 'tag:example.com,2000:x' is not "
        f"supported: {PLAIN}",
    ),
    "tag on a key": (
        "    !x replicas: 1\n",
        f"10:5: environments.prod: tag '!x' is not supported: {PLAIN}",
    ),
    "merge key with a list": (
        "    <<: [{replicas: 1}]\n",
        "10:5: environments.prod: merge keys ('<<') are not supported: environments "
        "already merge over defaults; write the fields out",
    ),
    "null key": (
        "    ~: 1\n",
        "10:5: environments.prod: key ~ is null, not a string; quote it if it is a name",
    ),
    "boolean key": (
        "    true: 1\n",
        "10:5: environments.prod: key true is a boolean, not a string; quote it if it is a name",
    ),
    "float key": (
        "    1.5: 1\n",
        "10:5: environments.prod: key 1.5 is a number, not a string; quote it if it is a name",
    ),
    "list key": ("    ? [a]\n    : 1\n", "10:7: environments.prod: a list cannot be a key"),
    "mapping key": (
        "    ? {a: 1}\n    : 1\n",
        "10:7: environments.prod: a mapping cannot be a key",
    ),
    "huge integer key": (
        "    ? " + "1" * 4301 + "\n    : 1\n",
        "10:7: environments.prod: a number of 4,301 digits; numbers have at most 4,300",
    ),
}


@pytest.mark.parametrize(("tail", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_at_its_place(tail: str, expected: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec((HEAD + tail).encode(), "spec.yaml")
    assert raised.value.lines() == [f"spec.yaml:{expected}"]


@pytest.mark.parametrize(
    ("tail", "value"),
    [
        ("    namespace: !!str llm-prod\n", {"namespace": "llm-prod"}),  # changes nothing
        ("    namespace: '<<'\n", {"namespace": "<<"}),
        ("    namespace: <<\n", {"namespace": "<<"}),  # a merge sign as a value: text
        ("    replicas: !!int 1\n", {"replicas": 1}),
        ("    a: &n x\n    b: *n\n", {"a": "x", "b": "x"}),
        ("    replicas: " + "0" * 4299 + "1\n", {"replicas": 1}),
        ("    a: &n x\n    b: &n y\n    c: *n\n", {"a": "x", "b": "y", "c": "y"}),
    ],
    ids=[
        "str-tag-on-a-word",
        "quoted-merge-sign",
        "merge-sign",
        "int-tag",
        "alias",
        "4300-digits",
        "anchor-defined-again",  # no warning either: warnings are errors in the tests
    ],
)
def test_plain_yaml_still_loads(tail: str, value: dict[str, object]) -> None:
    data, _ = read_yaml((HEAD + tail).encode(), "spec.yaml")
    assert data["environments"]["prod"] == value


def test_a_quoted_number_is_an_environment_name() -> None:
    """`1:` is refused (a number); `"1":` is the name 1, one overlay, no collision."""
    text = HEAD.replace("  prod:\n", '  "1": {}\n')
    assert list(parse_spec(text.encode(), "spec.yaml").environments) == ["1"]


# Pieces of YAML an attacker combines: tags, anchors, merge keys, directives, flow and
# block collections, odd keys and numbers.
PIECES = [
    *("defaults:", "environments:", "prod:", "domain: llm.example.com", "replicas:"),
    *("\n", "  ", " ", "- ", "? ", ": ", ",", "[", "]", "{", "}", "'", '"', "#", "|", ">"),
    *("!x", "!!omap", "!!str", "!!int", "!!binary", "!!set", "!", "!<tag:x>", "!e!x"),
    *("<<", "&a", "*a", "~", "1", "99999", "1.5", "true", "0x1F", "2024-01-01", "\t"),
    *("---", "...", "%YAML 1.1\n", "%TAG !e! tag:e,2000:\n", "\\", "=", "@", "%"),
]
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20"))


@settings(max_examples=EXAMPLES * 25, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_any_yaml_gives_a_spec_or_a_located_error(pieces: list[str]) -> None:
    problems: list[Problem | None] = []
    try:
        parse_spec("".join(pieces).encode(), "spec.yaml")
    except SpecError as error:  # the only failure allowed
        problems = list(error.problems) or [None]
    assert all(p is not None and p.line >= 1 and p.column >= 1 for p in problems)
