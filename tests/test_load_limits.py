"""Hostile YAML is refused with a located message and bounded memory, never a crash."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from compiler.errors import SpecError
from compiler.load import MAX_SPEC_BYTES, parse_spec

MIB = 1024 * 1024


def problems(raw: bytes) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw, "spec.yaml")
    return [p.render() for p in caught.value.problems]


def peak_memory(raw: bytes) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(SpecError):
            parse_spec(raw, "spec.yaml")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_spec_over_one_mib() -> None:
    raw = b"# " + b"x" * MAX_SPEC_BYTES + b"\n"
    assert problems(raw) == [
        f"spec.yaml:1:1: spec is {len(raw):,} bytes; the limit is 1,048,576 (1 MiB)"
    ]


def test_not_utf8() -> None:
    raw = b"defaults:\n  domain: caf\xe9.example.com\n"
    assert problems(raw) == ["spec.yaml:2:14: not UTF-8 text (byte 0xe9)"]


def test_binary_bytes() -> None:
    found = problems(b"defaults:\n  domain: \x00\x01\x02\n")
    assert len(found) == 1
    assert found[0].startswith("spec.yaml:2:11: invalid YAML")


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_with_bounded_memory() -> None:
    found = problems(BILLION_LAUGHS)
    assert len(found) == 1
    assert (
        "spec expands to more than 100,000 values (YAML aliases repeating each other?)" in found[0]
    )
    assert peak_memory(BILLION_LAUGHS) < 64 * MIB


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deep_nesting(depth: int) -> None:
    raw = b"defaults: " + b"[" * depth + b"]" * depth + b"\n"
    found = problems(raw)
    assert len(found) == 1
    assert "nested" in found[0]
    assert peak_memory(raw) < 256 * MIB


def test_duplicate_key_names_the_key() -> None:
    raw = b"defaults:\n  domain: a.example.com\n  domain: b.example.com\nenvironments: {}\n"
    assert problems(raw) == ["spec.yaml:3:3: duplicate key 'domain'"]


def test_unreadable_spec(tmp_path: Path) -> None:
    from compiler.load import load_spec

    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    assert [p.render() for p in caught.value.problems] == [
        f"{tmp_path}:1:1: is a directory, not a spec file"
    ]
