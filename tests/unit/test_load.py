"""Loading workflows: real GUI exports, PNG-embedded workflows, migrations and every malformed input."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from pytest_invokeai.errors import WorkflowError
from pytest_invokeai.workflow.load import WorkflowWarning, load_workflow


def small_workflow(version: str = "3.0.0") -> dict:
    """A model-free workflow in the exported format: blank_image -> img_noise -> save_image."""

    def node(node_id: str, node_type: str, inputs: dict, *, intermediate: bool = True) -> dict:
        return {
            "id": node_id,
            "type": "invocation",
            "data": {
                "id": node_id,
                "type": node_type,
                "version": "1.0.0",
                "label": "",
                "notes": "",
                "isOpen": True,
                "isIntermediate": intermediate,
                "useCache": True,
                "nodePack": "invokeai",
                "inputs": {
                    name: {"name": name, "label": "", "description": "", **({"value": v} if v is not ... else {})}
                    for name, v in inputs.items()
                },
            },
            "position": {"x": 0, "y": 0},
        }

    return {
        "name": "noise",
        "author": "",
        "description": "",
        "version": "",
        "contact": "",
        "tags": "",
        "notes": "",
        "exposedFields": [],
        "meta": {"version": version, "category": "user"},
        "nodes": [
            node(
                "blank",
                "blank_image",
                {"width": 64, "height": 64, "mode": "RGB", "color": {"r": 0, "g": 0, "b": 0, "a": 255}},
            ),
            node(
                "noise",
                "img_noise",
                {"image": ..., "seed": 1, "noise_type": "gaussian", "amount": 0.1, "noise_color": True, "size": 1},
            ),
            node("save", "save_image", {"image": ..., "board": ...}, intermediate=False),
        ],
        "edges": [
            {
                "id": "e1",
                "type": "default",
                "source": "blank",
                "sourceHandle": "image",
                "target": "noise",
                "targetHandle": "image",
            },
            {
                "id": "e2",
                "type": "default",
                "source": "noise",
                "sourceHandle": "image",
                "target": "save",
                "targetHandle": "image",
            },
        ],
        "form": {
            "rootElementId": "root",
            "elements": {
                "root": {
                    "id": "root",
                    "type": "container",
                    "data": {
                        "layout": "column",
                        "children": ["heading-1", "seed-el", "divider-1", "text-1", "amount-el"],
                    },
                },
                "heading-1": {"id": "heading-1", "type": "heading", "parentId": "root", "data": {"content": "Noise"}},
                "seed-el": {
                    "id": "seed-el",
                    "type": "node-field",
                    "parentId": "root",
                    "data": {"fieldIdentifier": {"nodeId": "noise", "fieldName": "seed"}, "showDescription": True},
                },
                "divider-1": {"id": "divider-1", "type": "divider", "parentId": "root"},
                "text-1": {"id": "text-1", "type": "text", "parentId": "root", "data": {"content": "How much noise"}},
                "amount-el": {
                    "id": "amount-el",
                    "type": "node-field",
                    "parentId": "root",
                    "data": {"fieldIdentifier": {"nodeId": "noise", "fieldName": "amount"}},
                },
            },
        },
    }


def write_json(tmp_path: Path, data: object, name: str = "wf.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def error_of(source, **kwargs) -> WorkflowError:
    with pytest.raises(WorkflowError) as info:
        load_workflow(source, **kwargs)
    return info.value


# -- real exports --------------------------------------------------------------------------


def test_real_sdxl_export_loads_and_migrates(gui_exports: Path) -> None:
    wf = load_workflow(gui_exports / "sdxl-text-to-image.json")
    assert wf.name == "sdxl-text-to-image"
    assert wf.original_version == "3.0.0"
    assert wf.document.meta.version == "4.0.0"
    assert wf.warnings == []
    assert len(wf.nodes) == 12
    assert wf.node("noise:f4Bv4UWa22").data.type == "noise"


def test_real_flux_export_loads(gui_exports: Path) -> None:
    wf = load_workflow(gui_exports / "flux-image-to-image.json")
    assert wf.document.meta.version == "4.0.0"
    assert wf.form.rootElementId in wf.form.elements


def test_unknown_keys_are_kept(gui_exports: Path) -> None:
    raw = json.loads((gui_exports / "sdxl-text-to-image.json").read_text())
    raw["a_future_key"] = {"kept": True}
    raw["nodes"][0]["data"]["a_future_node_key"] = 5
    out = load_workflow(raw).to_json_dict()
    assert out["a_future_key"] == {"kept": True}
    assert out["nodes"][0]["data"]["a_future_node_key"] == 5
    assert out["nodes"][0]["position"] == raw["nodes"][0]["position"]
    assert out["meta"]["version"] == "4.0.0"


def test_the_callers_dict_is_not_changed() -> None:
    raw = small_workflow("3.0.0")
    before = copy.deepcopy(raw)
    load_workflow(raw)
    assert raw == before


def test_version_4_with_connector_nodes_loads() -> None:
    raw = small_workflow("4.0.0")
    raw["nodes"].append(
        {
            "id": "conn",
            "type": "connector",
            "data": {"id": "conn", "type": "connector", "label": "", "isOpen": True},
            "position": {"x": 1, "y": 1},
        }
    )
    raw["edges"][1] = {
        "id": "e2a",
        "type": "default",
        "source": "noise",
        "sourceHandle": "image",
        "target": "conn",
        "targetHandle": "in",
    }
    raw["edges"].append(
        {
            "id": "e2b",
            "type": "default",
            "source": "conn",
            "sourceHandle": "out",
            "target": "save",
            "targetHandle": "image",
        }
    )
    wf = load_workflow(raw)
    assert wf.original_version == "4.0.0"
    assert wf.node("conn").is_connector


def test_decorations_and_elements_without_data_load() -> None:
    wf = load_workflow(small_workflow())
    assert wf.form.elements["divider-1"].data is None
    assert wf.form.elements["root"].children == ["heading-1", "seed-el", "divider-1", "text-1", "amount-el"]


# -- PNG -----------------------------------------------------------------------------------


def png_bytes(text_chunks: dict[str, str]) -> bytes:
    info = PngInfo()
    for key, value in text_chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_workflow_embedded_in_png(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(png_bytes({"invokeai_workflow": json.dumps(small_workflow()), "invokeai_metadata": "{}"}))
    wf = load_workflow(path)
    assert wf.name == "noise"
    assert wf.node("noise").data.inputs["seed"].value == 1


def test_png_without_workflow_names_the_chunks_it_has(tmp_path: Path) -> None:
    path = tmp_path / "canvas.png"
    path.write_bytes(png_bytes({"invokeai_metadata": "{}", "invokeai_graph": "{}"}))
    err = error_of(path)
    assert str(path) in str(err)
    assert "no embedded workflow" in str(err)
    assert "invokeai_graph, invokeai_metadata" in str(err)


def test_png_with_broken_embedded_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(png_bytes({"invokeai_workflow": "{not json"}))
    err = error_of(path)
    assert "invokeai_workflow chunk" in str(err) and "not valid JSON" in str(err)


# -- malformed input -------------------------------------------------------------------------


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"meta": {"version": "3.0.0"},\n "nodes": [,]}')
    err = error_of(path)
    assert str(err).startswith(f"{path}: not valid JSON")
    assert "line 2" in str(err)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "neither UTF-8 JSON text nor a PNG" in str(error_of(path))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert str(error_of(tmp_path / "nope.json")) == f"{tmp_path / 'nope.json'}: no such file"
    assert "is a directory" in str(error_of(tmp_path))


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    err = error_of(write_json(tmp_path, [1, 2]))
    assert "expected a JSON object, found list" in str(err)


def test_unknown_version(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["meta"]["version"] = "5.0.0"
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.meta.version"
    assert "unsupported workflow version '5.0.0'; supported: 3.0.0, 4.0.0" in str(err)
    assert str(tmp_path / "wf.json") in str(err)


def test_missing_version(tmp_path: Path) -> None:
    raw = small_workflow()
    del raw["meta"]
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.meta.version"
    assert "meta.version is missing" in str(err)


def test_schema_violation_names_the_json_path(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["nodes"][1]["data"]["inputs"] = "oops"
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.nodes[1].data.inputs"


def test_edge_to_missing_node(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["edges"][1]["target"] = "ghost"
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.edges[1].target"
    assert "edge 'e2' points at node 'ghost', which does not exist" in str(err)


def test_duplicate_node_id(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["nodes"][2]["id"] = "noise"
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.nodes[2].id"
    assert "node id 'noise' is used twice (also at nodes[1])" in str(err)


def test_form_child_that_does_not_exist(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["form"]["elements"]["root"]["data"]["children"].insert(1, "node-field-gone")
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.form.elements.root.data.children[1]"
    assert "lists child 'node-field-gone', which does not exist in form.elements" in str(err)


def test_form_cycle(tmp_path: Path) -> None:
    raw = small_workflow()
    elements = raw["form"]["elements"]
    elements["box"] = {
        "id": "box",
        "type": "container",
        "parentId": "root",
        "data": {"layout": "row", "children": ["inner"]},
    }
    elements["inner"] = {
        "id": "inner",
        "type": "container",
        "parentId": "box",
        "data": {"layout": "column", "children": ["box"]},
    }
    elements["root"]["data"]["children"].append("box")
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.form.elements.inner.data.children[0]"
    assert "the form tree has a cycle: 'box' contains itself through 'inner'" in str(err)


def test_form_root_missing(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["form"]["rootElementId"] = "top"
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == "$.form.rootElementId"
    assert "root element 'top' does not exist" in str(err)


def test_unknown_form_element_type(tmp_path: Path) -> None:
    raw = small_workflow()
    raw["form"]["elements"]["text-1"]["type"] = "marquee"
    err = error_of(write_json(tmp_path, raw))
    assert err.json_path == '$.form.elements["text-1"].type'
    assert "unknown form element type 'marquee'" in str(err)


# -- what the web UI repairs on load ---------------------------------------------------------


def test_form_field_of_a_deleted_node_is_dropped_with_a_warning() -> None:
    raw = small_workflow()
    raw["form"]["elements"]["amount-el"]["data"]["fieldIdentifier"]["nodeId"] = "deleted-node"
    with pytest.warns(
        WorkflowWarning, match=r"form field deleted-node\.amount removed from the form: its node does not exist"
    ):
        wf = load_workflow(raw)
    assert "amount-el" not in wf.form.elements
    assert "amount-el" not in wf.form.elements["root"].children
    assert len(wf.warnings) == 1


def test_form_field_of_a_deleted_field_is_dropped_with_a_warning() -> None:
    raw = small_workflow()
    raw["form"]["elements"]["seed-el"]["data"]["fieldIdentifier"]["fieldName"] = "sed"
    with pytest.warns(WorkflowWarning, match=r"node 'noise' has no field 'sed'"):
        wf = load_workflow(raw)
    assert "seed-el" not in wf.form.elements


def test_form_is_built_from_exposed_fields_when_there_is_none() -> None:
    raw = small_workflow()
    del raw["form"]
    raw["exposedFields"] = [
        {"nodeId": "noise", "fieldName": "amount"},
        {"nodeId": "ghost", "fieldName": "x"},
        {"nodeId": "noise", "fieldName": "seed"},
    ]
    with pytest.warns(WorkflowWarning, match=r"exposed field ghost\.x left out of the form: its node does not exist"):
        wf = load_workflow(raw)
    order = [wf.form.elements[c].field_identifier for c in wf.form.elements["root"].children]
    assert [(i.nodeId, i.fieldName) for i in order] == [("noise", "amount"), ("noise", "seed")]
    # Element ids are stable from one load to the next (index maps rely on it).
    with pytest.warns(WorkflowWarning):
        again = load_workflow(raw)
    assert wf.form.elements["root"].children == again.form.elements["root"].children


def test_board_field_without_value_reads_as_auto_and_the_document_is_kept() -> None:
    from pytest_invokeai.workflow.form import form_inputs

    raw = small_workflow()
    raw["form"]["elements"]["board-el"] = {
        "id": "board-el",
        "type": "node-field",
        "parentId": "root",
        "data": {"fieldIdentifier": {"nodeId": "save", "fieldName": "board"}},
    }
    raw["form"]["elements"]["root"]["data"]["children"].append("board-el")
    wf = load_workflow(raw)
    assert not wf.node("save").data.inputs["board"].has_value, "the document stays as exported (the GUI sends it empty)"
    (board,) = [i for i in form_inputs(wf) if i.field_name == "board"]
    assert (board.kind, board.value) == ("board", "auto")


def test_board_field_with_a_value_is_kept() -> None:
    raw = small_workflow()
    raw["nodes"][2]["data"]["inputs"]["board"]["value"] = {"board_id": "b-123"}
    assert load_workflow(raw).node("save").data.inputs["board"].value == {"board_id": "b-123"}
