"""Field descriptions of the JSON Schema come from compiler/spec.py's attribute docstrings,
read when the schema is generated, not by pydantic at every import of the models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from compiler import spec
from compiler.schema import attribute_docstrings, described, render_schema

CONFIG_OFF = "use_attribute_docstrings=False,"
CONFIG_ON = "use_attribute_docstrings=True,"

# Each rule of pydantic's attribute docstrings: inherited, redeclared with and without a
# docstring, an explicit description, an explicit title, an alias, a multi-line text,
# strings that document nothing (class docstring, after a plain assignment, after a
# method, a class variable's, two in a row).
RULES_SOURCE = '''
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Base(BaseModel):
    """The base."""

    model_config = ConfigDict(CONFIG populate_by_name=True)

    inherited: int = 1
    """Inherited as it is."""
    replaced: int = 2
    """Replaced by the subclass's docstring."""
    dropped: int = 3
    """Dropped: the subclass declares the field again without one."""


class Child(Base):
    """The child."""

    replaced: int = 4
    """The subclass's own text."""
    dropped: int = 5
    explicit: int = Field(default=6, description="The explicit description.")
    """Loses to the explicit description."""
    titled: int = Field(default=13, title="Titled", examples=[13])
    """Kept with the explicit title and examples."""
    aliased: int = Field(default=7, alias="otherName")
    """Under the alias."""
    multi_line: int = 8
    """First line,
        indented continuation.

    Last paragraph.
    """
    _plain = 9
    """After a plain assignment: no field."""
    undocumented: int = 10
    counter: ClassVar[int] = 11
    """A class variable, not a field."""
    last: int = 12

    def method(self) -> None:
        """A method."""

    """After a method: documents nothing."""
    nested: Base = Base()
    """The nested model."""
    """A second string: documents nothing."""
'''


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> ModuleType:
    """Import ``source`` as module ``name`` from a file, as pydantic reads classes' source."""
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    monkeypatch.setitem(sys.modules, name, module)
    module_spec.loader.exec_module(module)
    return module


def generated(model: type[BaseModel], module: ModuleType) -> dict[str, Any]:
    """``model``'s JSON Schema with the descriptions read from ``module``'s docstrings."""
    core_schema = described(model.__pydantic_core_schema__, attribute_docstrings(module))
    return GenerateJsonSchema(by_alias=True).generate(core_schema, mode="validation")


def test_the_models_extract_no_attribute_docstrings() -> None:
    render_schema()
    assert spec.Model.model_config.get("use_attribute_docstrings") is not True
    # Generating the schema leaves the models as they are: no description on them.
    assert spec.Image.model_fields["tag"].description is None
    image = spec.SpecFile.model_json_schema(by_alias=True)["$defs"]["Image"]
    assert "description" not in image["properties"]["tag"]


def test_every_attribute_docstring_of_the_spec_is_its_description(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(spec.__file__).read_text(encoding="utf-8")
    assert source.count(CONFIG_OFF) == 1
    pydantic_reads = load(
        tmp_path, monkeypatch, "spec_docstrings", source.replace(CONFIG_OFF, CONFIG_ON)
    )
    expected = pydantic_reads.SpecFile.model_json_schema(by_alias=True, mode="validation")
    assert generated(spec.SpecFile, spec) == expected
    assert expected["$defs"]["Image"]["properties"]["tag"]["description"].startswith("Image tag.")


def test_descriptions_follow_pydantics_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = load(tmp_path, monkeypatch, "rules_off", RULES_SOURCE.replace("CONFIG", CONFIG_OFF))
    pydantic_reads = load(
        tmp_path, monkeypatch, "rules_on", RULES_SOURCE.replace("CONFIG", CONFIG_ON)
    )
    expected = pydantic_reads.Child.model_json_schema(by_alias=True, mode="validation")
    assert generated(ours.Child, ours) == expected
    descriptions = {
        name: field.get("description") for name, field in expected["properties"].items()
    }
    assert descriptions == {
        "inherited": "Inherited as it is.",
        "replaced": "The subclass's own text.",
        "dropped": None,
        "explicit": "The explicit description.",
        "titled": "Kept with the explicit title and examples.",
        "otherName": "Under the alias.",
        "multi_line": "First line,\n    indented continuation.\n\nLast paragraph.",
        "undocumented": None,
        "last": None,
        "nested": "The nested model.",
    }
    assert ours.Child.model_fields["inherited"].description is None
