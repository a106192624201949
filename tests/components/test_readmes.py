"""Every component has a README whose input and output tables match its signature, and a direct test."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = sorted(path.parent.name for path in (ROOT / "components").glob("*/component.py"))
PARAMETER_TYPES = {"Dict": "dict", "String": "str", "Integer": "int", "Float": "float", "Boolean": "bool",
                   "List": "list"}
ROW = re.compile(r"^\| `(?P<name>[A-Za-z_]\w*)` \| (?P<type>[^|]+?) \|")


def spec_of(name):
    return getattr(importlib.import_module(f"stainworth.components.{name}"), name).component_spec


def type_name(spec):
    """A parameter's or artifact's type as the README writes it: ``dict``, ``Dataset``, ``list[Model] (optional)``."""
    name = PARAMETER_TYPES.get(spec.type) or spec.type.split("@")[0].removeprefix("system.")
    if getattr(spec, "is_artifact_list", False):
        name = f"list[{name}]"
    return name + (" (optional)" if getattr(spec, "optional", False) else "")


def readme_tables(text):
    """``{"input": {name: type}, "output": {name: type}}`` from the tables headed ``| input |`` and ``| output |``."""
    tables, current = {}, None
    for line in text.splitlines():
        header = re.match(r"^\| (input|output) \| type \| what \|$", line)
        if header:
            current = tables.setdefault(header.group(1), {})
        elif current is not None and (row := ROW.match(line)):
            assert row["name"] not in current, f"{row['name']} listed twice"
            current[row["name"]] = row["type"]
        elif not line.startswith("|"):
            current = None
    return tables


def test_there_are_components():
    assert len(COMPONENTS) >= 15 and "train_task" in COMPONENTS


@pytest.mark.parametrize("name", COMPONENTS)
def test_the_readme_lists_exactly_the_inputs_and_outputs_of_the_signature(name):
    readme = ROOT / "components" / name / "README.md"
    assert readme.is_file(), f"components/{name} has no README.md"
    spec = spec_of(name)
    tables = readme_tables(readme.read_text())
    assert tables.get("input") == {key: type_name(value) for key, value in (spec.inputs or {}).items()}
    assert tables.get("output") == {key: type_name(value) for key, value in (spec.outputs or {}).items()}


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_component_body_has_a_direct_test(name):
    """``tests/components/test_<name>.py`` exists, and it or a fixture of this folder calls the body directly."""
    test = ROOT / "tests" / "components" / f"test_{name}.py"
    fixtures = (ROOT / "tests" / "components" / "conftest.py").read_text()
    assert test.is_file() and f"{name}.python_func(" in test.read_text() + fixtures


def test_a_stale_readme_row_is_caught():
    tables = readme_tables("| input | type | what |\n| --- | --- | --- |\n"
                           "| `config` | dict | x |\n| `gone` | str | y |\n")
    assert tables["input"] != {"config": type_name(spec_of("simulate").inputs["config"])}
    assert tables == {"input": {"config": "dict", "gone": "str"}}
