"""The workflow document's plain reader: what it keeps, what it converts, what it refuses, and that
collecting a suite loads a workflow without pydantic or the server side."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_invokeai.errors import WorkflowError
from pytest_invokeai.workflow.document import FieldInstance, FormElement, Node, WorkflowDocument
from pytest_invokeai.workflow.load import load_workflow

REPO = Path(__file__).resolve().parents[2]
NOISE = REPO / "example_suite" / "workflows" / "noise-texture.json"


def document(**node_data: Any) -> dict[str, Any]:
    """One invocation node with one input, and whatever ``node_data`` adds to (or changes in) its data."""
    data = {"id": "n1", "type": "integer", "inputs": {"value": {"name": "value", "label": "", "value": 3}}}
    data.update(node_data)
    return {"meta": {"version": "4.0.0"}, "nodes": [{"id": "n1", "type": "invocation", "data": data}], "edges": []}


def test_collecting_a_workflow_imports_neither_pydantic_nor_the_server_side() -> None:
    """The plugin and a loaded workflow's form inputs are what collection needs; none of these modules is."""
    heavy = ("pydantic", "httpx", "socketio", "numpy", "PIL", "imagehash")
    script = (
        "import sys, pytest_invokeai.plugin\n"
        "from pytest_invokeai.workflow.load import load_workflow\n"
        "from pytest_invokeai.workflow.form import form_inputs\n"
        f"assert len(form_inputs(load_workflow({str(NOISE)!r}))) == 5\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_keys_come_after_the_declared_fields_and_no_default_is_written() -> None:
    raw = {
        "zIndex": 7,
        "id": "n1",
        "data": {"inputs": {}, "type": "integer", "nodePack": "invokeai", "id": "n1"},
        "type": "invocation",
    }
    node = Node.from_json(raw)
    assert node.dump(json=True) == {
        "id": "n1",
        "type": "invocation",
        "data": {"id": "n1", "type": "integer", "inputs": {}, "nodePack": "invokeai"},
        "zIndex": 7,
    }
    assert list(node.dump(json=True)) == ["id", "type", "data", "zIndex"]
    assert node.zIndex == 7 and node.data.nodePack == "invokeai"  # read as attributes, as before
    assert node.data.label == "" and node.data.isIntermediate is True  # defaults, not written back


def test_a_field_assigned_after_loading_is_written_back() -> None:
    instance = FieldInstance.from_json({"name": "seed"})
    assert not instance.has_value
    instance.value = 5
    assert instance.has_value
    assert instance.dump(json=True) == {"name": "seed", "value": 5}


def test_a_float_that_is_not_finite_is_written_as_null() -> None:
    instance = FieldInstance.from_json({"name": "x", "value": [1.5, float("nan")]})
    assert math.isnan(instance.value[1])
    assert instance.dump(json=True) == {"name": "x", "value": [1.5, None]}


def test_values_of_another_type_are_converted_as_pydantic_converts_them(tmp_path: Path) -> None:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(document(isIntermediate="false", useCache=0)))
    workflow = load_workflow(path)
    (node,) = workflow.nodes
    assert node.data.isIntermediate is False and node.data.useCache is False
    saved = workflow.to_json_dict()["nodes"][0]["data"]
    assert (saved["isIntermediate"], saved["useCache"]) == (False, False)


@pytest.mark.parametrize(
    ("change", "json_path", "message"),
    [
        ({"label": 5}, "$.nodes[0].data.label", "Input should be a valid string"),
        ({"isIntermediate": "maybe"}, "$.nodes[0].data.isIntermediate", "Input should be a valid boolean"),
        ({"inputs": {"value": {"label": "no name"}}}, "$.nodes[0].data.inputs.value.name", "Field required"),
        ({"inputs": []}, "$.nodes[0].data.inputs", "Input should be a valid dictionary"),
    ],
)
def test_a_value_that_does_not_fit_is_named_with_its_json_path(
    tmp_path: Path, change: dict[str, Any], json_path: str, message: str
) -> None:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(document(**change)))
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert caught.value.json_path == json_path
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    raw = document()
    del raw["nodes"][0]["data"]["type"]
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert caught.value.json_path == "$.nodes[0].data.type"
    assert "Field required" in str(caught.value)


def test_a_form_element_built_in_code_is_checked_as_one_read_from_a_file() -> None:
    element = FormElement(id="root", type="container", data={"layout": "column", "children": ["a"]})
    assert element.children == ["a"]
    assert element.dump(json=True) == {
        "id": "root",
        "type": "container",
        "data": {"layout": "column", "children": ["a"]},
    }
    with pytest.raises(ValueError, match="Input should be a valid string"):
        FormElement(id=1, type="container")


def test_documents_compare_by_their_values() -> None:
    first = WorkflowDocument.from_json(document())
    assert first == WorkflowDocument.from_json(document())
    assert first != WorkflowDocument.from_json(document(label="other"))
