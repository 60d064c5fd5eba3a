"""kustomize's output is read with PyYAML's C loader (libyaml), the spec with ruamel.

kustomize writes YAML that a YAML 1.1 reader (PyYAML) reads as a YAML 1.2 reader (ruamel)
does: it quotes every string either would take for something else. Proved here with the
real kustomize on the strings where the two YAML versions disagree, and in
tests/test_invariant.py on every environment the tests render.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from compiler.kustomize import Kustomize
from compiler.rendered import RENDERED_LOADER, load_rendered
from tests.helpers import load_documents

# Strings a YAML 1.1 reader takes for booleans, numbers, dates or null, and a 1.2 reader
# partly does not: written plain, PyYAML and ruamel would disagree on most of them.
AMBIGUOUS = [
    "yes", "no", "on", "off", "y", "n", "Yes", "OFF", "true", "False",
    "0777", "0o17", "0x1F", "0b101", "1_000", "190:20:30", "1e3", "1.", ".5", ".inf", "-.Inf",
    ".NaN", "2024-01-01", "2001-12-14t21:59:43.10-05:00", "~", "null", "Null", "", "=", "<<",
    "12", "-0", "+12", "3.14", "010", "08",
]  # fmt: skip


def test_ambiguous_strings_read_the_same_with_both_readers(
    tmp_path: Path, kustomize: Kustomize
) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [configmap.yaml]\n")
    data = {f"key{i}": value for i, value in enumerate(AMBIGUOUS)}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": data}
    # Written as JSON (every string quoted), so kustomize alone decides how to write them.
    (tmp_path / "configmap.yaml").write_text(json.dumps(configmap))
    text = kustomize.build(tmp_path)
    (rendered,) = load_rendered(text)
    assert rendered["data"] == data  # strings stay strings
    # ruamel agrees on all of them but `=` and `<<`, which it cannot read at all.
    assert "\n  key28: =\n  key29: <<\n" in text
    both = text.replace("  key28: =\n  key29: <<\n", "")
    assert load_rendered(both) == load_documents(both)


def test_the_c_loader_is_used_when_libyaml_is_there() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml: the pure loader is the fallback")
    assert issubclass(RENDERED_LOADER, yaml.CSafeLoader)
