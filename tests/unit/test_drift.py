"""Index maps and drift checks, on real GUI exports edited the way people edit workflows in the GUI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pytest_invokeai.workflow.content_hash import content_hash
from pytest_invokeai.workflow.drift import (
    MAP_FORMAT_VERSION,
    IndexMap,
    IndexMapError,
    check_drift,
)
from pytest_invokeai.workflow.form import form_inputs
from pytest_invokeai.workflow.load import load_workflow

STATUS_KEYS = {"unchanged", "moved", "missing", "new", "changed"}


@pytest.fixture
def sdxl(gui_exports: Path) -> dict:
    return json.loads((gui_exports / "sdxl-text-to-image.json").read_text())


@pytest.fixture
def flux(gui_exports: Path) -> dict:
    return json.loads((gui_exports / "flux-image-to-image.json").read_text())


def load(doc: dict):
    return load_workflow(copy.deepcopy(doc), name="<edited export>")


def root_children(doc: dict) -> list[str]:
    return doc["form"]["elements"][doc["form"].get("rootElementId", "root")]["data"]["children"]


def rename_node(doc: dict, old: str, new: str) -> None:
    """What the GUI does when a node is deleted and re-added (or copied and pasted): same node, new id."""
    for node in doc["nodes"]:
        if node["id"] == old:
            node["id"] = new
            node["data"]["id"] = new
    for edge in doc["edges"]:
        for end in ("source", "target"):
            if edge[end] == old:
                edge[end] = new
    for element in doc["form"]["elements"].values():
        ident = (element.get("data") or {}).get("fieldIdentifier")
        if ident and ident["nodeId"] == old:
            ident["nodeId"] = new
    for ident in doc.get("exposedFields", []):
        if ident["nodeId"] == old:
            ident["nodeId"] = new


def field_of(doc: dict, position: int) -> tuple[str, str]:
    ident = doc["form"]["elements"][root_children(doc)[position]]["data"]["fieldIdentifier"]
    return ident["nodeId"], ident["fieldName"]


def node_of(doc: dict, node_id: str) -> dict:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def add_form_field(doc: dict, node_id: str, field_name: str) -> None:
    element_id = f"node-field-added-{field_name}"
    doc["form"]["elements"][element_id] = {
        "id": element_id,
        "type": "node-field",
        "parentId": "root",
        "data": {"fieldIdentifier": {"nodeId": node_id, "fieldName": field_name}, "showDescription": False},
    }
    root_children(doc).append(element_id)


# -- unchanged ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sdxl", "flux"])
def test_an_unedited_workflow_has_no_drift(name: str, request: pytest.FixtureRequest) -> None:
    doc = request.getfixturevalue(name)
    saved = IndexMap.from_workflow(load(doc))
    report = check_drift(load(doc), saved)
    assert not report.has_drift
    assert len(report.unchanged) == len(form_inputs(load(doc))) > 0
    assert report.moved == report.missing == report.new == report.changed == []
    assert report.text() == f"no drift: all {len(saved.inputs)} inputs are where the map says"


def test_the_map_records_every_input_in_order(sdxl: dict) -> None:
    workflow = load(sdxl)
    saved = IndexMap.from_workflow(workflow)
    expected = form_inputs(workflow)
    assert saved.workflow_name == sdxl["name"]
    assert saved.content_hash == content_hash(workflow)
    assert [e.index for e in saved.inputs] == [i.index for i in expected]
    assert [
        (e.identity, e.node_id, e.field_name, e.node_type, e.display_name, e.label, e.kind) for e in saved.inputs
    ] == [(i.identity, i.node_id, i.field_name, i.node_type, i.display_name, i.label, i.kind) for i in expected]


# -- moved, missing, new, changed ------------------------------------------------------------


def test_swapping_two_form_fields_reports_both_as_moved(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    children = root_children(sdxl)
    children[3], children[5] = children[5], children[3]

    report = check_drift(load(sdxl), saved)

    assert report.has_drift
    assert [(m.saved.index, m.current.index) for m in report.moved] == [(3, 5), (5, 3)]
    assert len(report.unchanged) == len(saved.inputs) - 2
    text = report.text()
    assert text.splitlines()[0] == f"drift: 2 moved ({len(saved.inputs) - 2} unchanged)"
    assert f"index 3 '{saved.inputs[3].display_name}' moved to 5" in text
    assert f"index 5 '{saved.inputs[5].display_name}' moved to 3" in text


def test_deleting_a_form_field_reports_it_missing_and_shifts_the_rest(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    removed = root_children(sdxl).pop(6)
    del sdxl["form"]["elements"][removed]

    report = check_drift(load(sdxl), saved)

    gone = saved.inputs[6]
    assert [m.saved for m in report.missing] == [gone]
    assert f"index 6 '{gone.display_name}' is missing (node {gone.node_id} field {gone.field_name})" in report.text()
    # Everything after it moved up by one: an index-based test would now set the wrong fields.
    assert [(m.saved.index, m.current.index) for m in report.moved] == [(i, i - 1) for i in range(7, len(saved.inputs))]
    assert [u.saved.index for u in report.unchanged] == list(range(6))


def test_adding_a_form_field_reports_a_new_input(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    noise_id = next(n["id"] for n in sdxl["nodes"] if n["data"]["type"] == "noise")
    add_form_field(sdxl, noise_id, "seed")

    report = check_drift(load(sdxl), saved)

    assert len(report.new) == 1 and report.has_drift
    added = report.new[0].current
    assert (added.node_id, added.field_name, added.index) == (noise_id, "seed", len(saved.inputs))
    assert f"new input at index {added.index} '{added.display_name}'" in report.text()
    assert len(report.unchanged) == len(saved.inputs)


def test_relabelling_a_field_in_place_reports_it_changed(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    node_id, field_name = field_of(sdxl, 3)
    node_of(sdxl, node_id)["data"]["inputs"][field_name]["label"] = "Image width"

    report = check_drift(load(sdxl), saved)

    assert [c.saved.index for c in report.changed] == [3]
    old_name = saved.inputs[3].display_name
    assert f"index 3 '{old_name}' changed: name '{old_name}' -> 'Image width'" in report.text()
    assert report.has_drift


def test_a_kind_change_is_reported_with_both_kinds(sdxl: dict) -> None:
    workflow = load(sdxl)
    current = IndexMap.from_workflow(workflow)
    old_map = current.to_json()
    prompt = old_map["inputs"][1]
    new_kind = "integer" if prompt["kind"] != "integer" else "string"
    prompt["kind"] = new_kind

    report = check_drift(workflow, IndexMap.from_json(old_map))

    assert f"index 1 '{prompt['display_name']}' changed: kind {new_kind} -> {current.inputs[1].kind}" in report.text()
    [item] = report.to_json()["changed"]
    assert item["changes"] == [{"what": "kind", "from": new_kind, "to": current.inputs[1].kind}]


def test_a_field_moved_and_relabelled_is_moved_with_the_change_carried(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    node_id, field_name = field_of(sdxl, 4)
    node_of(sdxl, node_id)["data"]["inputs"][field_name]["label"] = "Image height"
    children = root_children(sdxl)
    children.insert(0, children.pop(4))

    report = check_drift(load(sdxl), saved)

    assert report.changed == []
    moved = {m.saved.index: m for m in report.moved}
    assert moved[4].current.index == 0
    assert [(c.what, c.new) for c in moved[4].changes] == [("name", "Image height")]
    old_name = saved.inputs[4].display_name
    assert f"index 4 '{old_name}' moved to 0, and changed: name '{old_name}' -> 'Image height'" in report.text()


# -- regenerated node ids ---------------------------------------------------------------------


def test_a_regenerated_node_id_in_place_is_noted_but_not_drift(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    old_id, _ = field_of(sdxl, 5)  # denoise_latents: three form fields (steps, cfg_scale, scheduler)
    rename_node(sdxl, old_id, "denoise_latents:regenerated")

    report = check_drift(load(sdxl), saved)

    assert not report.has_drift
    assert report.missing == report.new == []
    renamed = report.node_id_changes
    assert [r.saved.index for r in renamed] == [e.index for e in saved.inputs if e.node_id == old_id]
    assert len(renamed) == 3
    assert f"node id changed from {old_id} to denoise_latents:regenerated" in report.text()
    assert report.text().startswith("no drift")
    item = report.to_json()["unchanged"][5]
    assert item["node_id_changed"] == {"from": old_id, "to": "denoise_latents:regenerated"}
    assert item["previous_identity"] == saved.inputs[5].identity
    assert item["identity"] == f"denoise_latents:regenerated.{saved.inputs[5].field_name}"


def test_a_regenerated_node_id_that_also_moved_is_one_moved_input(flux: dict) -> None:
    saved = IndexMap.from_workflow(load(flux))
    old_id, _ = field_of(flux, 1)  # the image node
    rename_node(flux, old_id, "image-pasted-again")
    children = root_children(flux)
    children.append(children.pop(1))

    report = check_drift(load(flux), saved)

    assert report.missing == report.new == []
    moved = {m.saved.index: m for m in report.moved}
    last = len(saved.inputs) - 1
    assert moved[1].current.index == last and moved[1].node_id_changed
    assert (
        f"index 1 '{saved.inputs[1].display_name}' moved to {last} "
        f"(node id changed from {old_id} to image-pasted-again)"
    ) in report.text()


def test_an_ambiguous_regenerated_node_is_missing_plus_new(sdxl: dict) -> None:
    """Two pasted copies of a deleted node both fit: guessing would be wrong half the time."""
    saved = IndexMap.from_workflow(load(sdxl))
    old_id, field_name = field_of(sdxl, 1)  # the positive prompt 'string' node
    copy_node = copy.deepcopy(node_of(sdxl, old_id))
    copy_node["id"] = copy_node["data"]["id"] = "string:second-copy"
    sdxl["nodes"].append(copy_node)
    add_form_field(sdxl, "string:second-copy", field_name)
    rename_node(sdxl, old_id, "string:first-copy")

    report = check_drift(load(sdxl), saved)

    assert [m.saved.index for m in report.missing] == [1]
    assert sorted(n.current.node_id for n in report.new) == ["string:first-copy", "string:second-copy"]


def test_a_relabelled_regenerated_node_is_not_guessed(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    old_id, field_name = field_of(sdxl, 2)
    rename_node(sdxl, old_id, "string:new")
    node_of(sdxl, "string:new")["data"]["inputs"][field_name]["label"] = "Something else"

    report = check_drift(load(sdxl), saved)

    assert [m.saved.index for m in report.missing] == [2]
    assert [n.current.node_id for n in report.new] == ["string:new"]


def test_drift_of_form_inputs_without_a_workflow(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    inputs = form_inputs(load(sdxl))
    report = check_drift(list(reversed(inputs)), saved)  # indexes stay, so nothing moved
    assert not report.has_drift
    assert report.content_changed is None  # no workflow, no hash to compare
    report = check_drift(inputs[:-1], saved)
    assert [m.saved.index for m in report.missing] == [len(inputs) - 1]


# -- JSON and text shape -----------------------------------------------------------------------


def test_report_json_shape(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    children = root_children(sdxl)
    children[0], children[1] = children[1], children[0]
    removed = children.pop(8)
    del sdxl["form"]["elements"][removed]
    noise_id = next(n["id"] for n in sdxl["nodes"] if n["data"]["type"] == "noise")
    add_form_field(sdxl, noise_id, "seed")
    node_id, field_name = field_of(sdxl, 2)
    node_of(sdxl, node_id)["data"]["inputs"][field_name]["label"] = "Relabelled"

    data = json.loads(json.dumps(check_drift(load(sdxl), saved).to_json()))

    assert set(data) >= STATUS_KEYS
    assert data["has_drift"] is True
    assert {len(data[k]) for k in ("moved", "missing", "new", "changed")} == {1, 2}
    for status in STATUS_KEYS:
        for item in data[status]:
            assert {"identity", "display_name", "node_id", "field_name", "kind"} <= set(item)
            assert ({"from", "to"} <= set(item)) if status == "moved" else ("index" in item)
    assert [(m["from"], m["to"], m["identity"]) for m in data["moved"]] == [
        (0, 1, saved.inputs[0].identity),
        (1, 0, saved.inputs[1].identity),
    ]
    assert [(m["index"], m["identity"]) for m in data["missing"]] == [(8, saved.inputs[8].identity)]
    assert [(n["index"], n["identity"]) for n in data["new"]] == [(8, f"{noise_id}.seed")]
    assert data["changed"][0]["index"] == 2
    assert data["changed"][0]["changes"] == [{"what": "name", "from": saved.inputs[2].display_name, "to": "Relabelled"}]


def test_a_content_change_alone_is_a_note_not_drift(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    node_id, field_name = field_of(sdxl, 5)
    node_of(sdxl, node_id)["data"]["inputs"][field_name]["value"] = 12345

    report = check_drift(load(sdxl), saved)

    assert not report.has_drift and report.content_changed is True
    assert "note: the workflow's content" in report.text()
    assert report.to_json()["content_hash"] == {"saved": saved.content_hash, "current": content_hash(load(sdxl))}


def test_a_map_of_another_workflow_is_named_in_the_report(sdxl: dict) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    sdxl["name"] = "renamed-workflow"
    text = check_drift(load(sdxl), saved).text()
    assert (
        "note: the map was saved for workflow 'sdxl-text-to-image', this workflow is named 'renamed-workflow'" in text
    )


# -- content hash -------------------------------------------------------------------------


def test_content_hash_ignores_what_only_the_editor_draws(sdxl: dict) -> None:
    before = content_hash(load(sdxl))
    edited = copy.deepcopy(sdxl)
    for node in edited["nodes"]:
        node["position"] = {"x": 1.0, "y": 2.0}
        node["data"]["isOpen"] = not node["data"].get("isOpen", True)
        node["data"]["notes"] = "moved around"
        node["width"] = 999
    edited["nodes"].reverse()
    edited["edges"].reverse()
    edited["notes"] = "different workflow notes"
    edited["description"] = "another description"
    edited["nodes"].append(
        {
            "id": "a-note",
            "type": "notes",
            "data": {"id": "a-note", "type": "notes", "label": "", "notes": "hi", "isOpen": True},
            "position": {"x": 0, "y": 0},
        }
    )
    heading = {"id": "heading-x", "type": "heading", "parentId": "root", "data": {"content": "Settings"}}
    edited["form"]["elements"]["heading-x"] = heading
    root_children(edited).insert(2, "heading-x")
    edited = json.loads(json.dumps(edited, sort_keys=True))  # key order of the file does not matter either

    assert content_hash(load(edited)) == before
    assert before.startswith("sha256:") and len(before) == len("sha256:") + 64


@pytest.mark.parametrize("edit", ["value", "use_cache", "intermediate", "edge", "form_order", "node_id"])
def test_content_hash_changes_with_what_reaches_the_server(sdxl: dict, edit: str) -> None:
    before = content_hash(load(sdxl))
    node_id, field_name = field_of(sdxl, 3)
    node = node_of(sdxl, node_id)
    if edit == "value":
        node["data"]["inputs"][field_name]["value"] += 8
    elif edit == "use_cache":
        node["data"]["useCache"] = not node["data"].get("useCache", True)
    elif edit == "intermediate":
        node["data"]["isIntermediate"] = not node["data"].get("isIntermediate", True)
    elif edit == "edge":
        del sdxl["edges"][0]
    elif edit == "form_order":
        children = root_children(sdxl)
        children[0], children[1] = children[1], children[0]
    else:
        rename_node(sdxl, node_id, "noise:new-id")
    assert content_hash(load(sdxl)) != before


# -- saving and loading maps ---------------------------------------------------------------------


def test_a_saved_map_loads_back_equal_and_leaves_no_temp_file(sdxl: dict, tmp_path: Path) -> None:
    saved = IndexMap.from_workflow(load(sdxl))
    path = tmp_path / "sdxl.index-map.json"
    saved.save(path)
    saved.save(path)  # overwriting works too
    assert IndexMap.load(path) == saved
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    data = json.loads(path.read_text())
    assert data["format_version"] == MAP_FORMAT_VERSION
    assert set(data["inputs"][0]) == {
        "index",
        "identity",
        "node_id",
        "field_name",
        "node_type",
        "display_name",
        "label",
        "kind",
    }


def test_saving_creates_missing_folders(sdxl: dict, tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "map.json"
    IndexMap.from_workflow(load(sdxl)).save(target)
    assert IndexMap.load(target).to_json() == IndexMap.from_workflow(load(sdxl)).to_json()


def test_a_failed_save_names_the_file(sdxl: dict, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / "a-file" / "map.json"
    with pytest.raises(IndexMapError, match="cannot write the index map") as info:
        IndexMap.from_workflow(load(sdxl)).save(target)
    assert str(target) in str(info.value)


def _valid_map_json(doc: dict) -> dict:
    return IndexMap.from_workflow(load(doc)).to_json()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: None, "no such index map file"),
        (lambda m: "{not json", "not valid JSON (line 1, column 2): Expecting property name enclosed in double quotes"),
        (lambda m: "", "is empty"),
        (lambda m: [], "not an index map"),
        (lambda m: {**m, "format": "something else"}, "not an index map"),
        (
            lambda m: {**m, "format_version": 99},
            "unknown index map format_version 99; this pytest-invokeai reads version 1",
        ),
        (lambda m: {k: v for k, v in m.items() if k != "inputs"}, '"inputs" must be a list'),
        (lambda m: {**m, "inputs": [{"index": 0}]}, "input lacks identity, node_id"),
        (
            lambda m: {**m, "inputs": [{**m["inputs"][0], "index": "zero"}]},
            "index must be a whole number >= 0, found 'zero'",
        ),
        (lambda m: {**m, "inputs": [{**m["inputs"][0], "kind": 3}]}, "kind must be a string, found 3"),
        (
            lambda m: {**m, "inputs": [m["inputs"][0], {**m["inputs"][1], "index": 0}]},
            "index 0 appears twice in the map",
        ),
    ],
    ids=[
        "missing",
        "not-json",
        "empty",
        "not-object",
        "other-format",
        "future-version",
        "no-inputs",
        "entry-lacks-keys",
        "bad-index",
        "bad-kind",
        "duplicate-index",
    ],
)
def test_an_unreadable_map_names_the_file_and_the_problem(sdxl: dict, tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "map.json"
    content = make(_valid_map_json(sdxl))
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(IndexMapError) as info:
        IndexMap.load(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
