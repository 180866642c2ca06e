"""build_enqueue_body against the real web UI (captured bodies) and a real queue item."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import GUI_EXPORTS

from pytest_invokeai.errors import InputValueError, WorkflowError
from pytest_invokeai.workflow.generators import Mt19937, generator_values
from pytest_invokeai.workflow.graph import build_enqueue_body
from pytest_invokeai.workflow.load import load_workflow

GUI_DIR = Path(__file__).parents[1] / "data" / "gui"
WORKFLOW_NAMES = sorted(p.name.removesuffix(".workflow.json") for p in GUI_DIR.glob("*.workflow.json"))
# Must match scripts/capture_gui_enqueue.py (the only normalisation of a captured body besides placeholders).
GRAPH_ID_PLACEHOLDER = "<random graph id>"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((GUI_DIR / f"{name}.workflow.json").read_text())


def _load(raw: dict[str, Any], name: str = "<test workflow>"):
    return load_workflow(raw, name=name)


def _node(raw: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in raw["nodes"] if n["id"] == node_id)


# -- the oracle: bodies captured from InvokeAI 6.14.2's web UI -----------------------------


def test_every_gui_workflow_has_a_capture():
    assert len(WORKFLOW_NAMES) >= 6
    missing = [n for n in WORKFLOW_NAMES if not (GUI_DIR / f"{n}.enqueue.json").is_file()]
    assert missing == [], "run scripts/capture_gui_enqueue.py --only NAME for these"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_body_equals_the_web_uis(name):
    captured = json.loads((GUI_DIR / f"{name}.enqueue.json").read_text())
    body = build_enqueue_body(load_workflow(GUI_DIR / f"{name}.workflow.json"))
    body["batch"]["graph"]["id"] = GRAPH_ID_PLACEHOLDER
    assert body == captured


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_is_not_mutated(name):
    workflow = load_workflow(GUI_DIR / f"{name}.workflow.json")
    before = copy.deepcopy(workflow.to_json_dict())
    first_node = next(
        n for n in before["nodes"] if n["type"] == "invocation" and "generator" not in n["data"]["inputs"]
    )
    field = next(iter(first_node["data"]["inputs"]))
    build_enqueue_body(workflow, {(first_node["id"], field): "changed"}, board="some-board")
    assert workflow.to_json_dict() == before


# -- (a) a real workflow against the graph the server stored for it -----------------------


@pytest.fixture(scope="module")
def sdxl():
    workflow = load_workflow(GUI_EXPORTS / "sdxl-text-to-image.json")
    item = json.loads((GUI_EXPORTS / "sdxl-text-to-image.queue-item.json").read_text())
    return workflow, build_enqueue_body(workflow)["batch"]["graph"], item["session"]["graph"]


def _edge_key(edge):
    return (
        edge["source"]["node_id"],
        edge["source"]["field"],
        edge["destination"]["node_id"],
        edge["destination"]["field"],
    )


def test_sdxl_nodes_match_the_stored_graph(sdxl):
    _, ours, stored = sdxl
    assert sorted(ours["nodes"]) == sorted(stored["nodes"])
    for node_id, node in ours["nodes"].items():
        for key in ("type", "use_cache", "is_intermediate"):
            assert node[key] == stored["nodes"][node_id][key], (node_id, key)


def test_sdxl_edges_match_the_stored_graph(sdxl):
    _, ours, stored = sdxl
    assert sorted(map(_edge_key, ours["edges"])) == sorted(map(_edge_key, stored["edges"]))


def test_sdxl_inputs_fed_by_edges_are_left_out(sdxl):
    _, ours, stored = sdxl
    fed = {(e["destination"]["node_id"], e["destination"]["field"]) for e in stored["edges"]}
    assert fed
    for node_id, field in fed:
        assert field not in ours["nodes"][node_id]


def test_sdxl_other_values_equal_the_stored_ones(sdxl):
    workflow, ours, stored = sdxl
    fed = {(e["destination"]["node_id"], e["destination"]["field"]) for e in stored["edges"]}
    checked = 0
    for node in workflow.to_json_dict()["nodes"]:
        for name, instance in node["data"]["inputs"].items():
            if (node["id"], name) in fed or name == "board" or instance.get("value") is None:
                continue
            assert ours["nodes"][node["id"]][name] == stored["nodes"][node["id"]][name] == instance["value"]
            checked += 1
    assert checked > 20


# -- values, boards and batch options ------------------------------------------------------


def test_values_replace_inputs_in_graph_and_embedded_workflow():
    workflow = load_workflow(GUI_DIR / "form-layout.workflow.json")
    body = build_enqueue_body(workflow, {("blank", "width"): 128, ("blur", "radius"): 0.5})
    assert body["batch"]["graph"]["nodes"]["blank"]["width"] == 128
    assert body["batch"]["graph"]["nodes"]["blur"]["radius"] == 0.5
    embedded = {n["id"]: n for n in body["batch"]["workflow"]["nodes"]}
    assert embedded["blank"]["data"]["inputs"]["width"]["value"] == 128


def test_a_value_for_an_input_fed_by_an_edge_stays_out_of_the_graph():
    workflow = load_workflow(GUI_DIR / "form-layout.workflow.json")
    body = build_enqueue_body(workflow, {("noise", "seed"): 99})
    assert "seed" not in body["batch"]["graph"]["nodes"]["noise"]
    assert {
        "source": {"node_id": "seed", "field": "value"},
        "destination": {"node_id": "noise", "field": "seed"},
    } in body["batch"]["graph"]["edges"]


def test_values_for_a_batch_node_become_its_items():
    workflow = load_workflow(GUI_DIR / "batches.workflow.json")
    body = build_enqueue_body(workflow, {("fb", "floats"): [3.0, 4.0, 5.0]})
    assert {"node_path": "blur", "field_name": "radius", "items": [3.0, 4.0, 5.0]} in [
        entry for group in body["batch"]["data"] for entry in group
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (("nope", "value"), "cannot set nope.value: no invocation node 'nope'; nodes: blank, blur, noise, save, seed"),
        (
            ("blank", "nope"),
            "cannot set blank.nope: node 'blank' (blank_image) has no input 'nope'; its inputs: board, metadata, width",
        ),
        (("note1", "notes"), "no invocation node 'note1'"),
        ("blank.width", "values must be keyed by (node_id, field_name), found 'blank.width'"),
    ],
)
def test_bad_value_keys_are_named(key, expected):
    workflow = load_workflow(GUI_DIR / "form-layout.workflow.json")
    with pytest.raises(InputValueError) as info:
        build_enqueue_body(workflow, {key: 1})
    assert expected in str(info.value)
    assert "form-layout.workflow.json" in str(info.value)


def test_board_auto_none_and_explicit():
    raw = _fixture("images-boards")
    body = build_enqueue_body(_load(raw), board="the-auto-board")
    nodes = body["batch"]["graph"]["nodes"]
    assert _node(raw, "save")["data"]["inputs"]["board"]["value"] == "auto"
    assert nodes["save"]["board"] == {"board_id": "the-auto-board"}
    assert _node(raw, "blur")["data"]["inputs"]["board"]["value"] == "none"
    assert "board" not in nodes["blur"]
    assert (
        nodes["resize"]["board"] == _node(raw, "resize")["data"]["inputs"]["board"]["value"] == {"board_id": "@BOARD@"}
    )
    # The embedded workflow keeps what the form shows.
    embedded = {n["id"]: n for n in body["batch"]["workflow"]["nodes"]}
    assert embedded["save"]["data"]["inputs"]["board"]["value"] == "auto"


def test_board_auto_without_a_board_is_left_out():
    body = build_enqueue_body(_load(_fixture("images-boards")))
    assert "board" not in body["batch"]["graph"]["nodes"]["save"]


def test_batch_options_pass_through():
    workflow = load_workflow(GUI_DIR / "legacy-v3.workflow.json")
    override = [[{"node_path": "a", "field_name": "value", "items": [1, 2]}]]
    body = build_enqueue_body(
        workflow, origin="pytest", destination="nowhere", runs=3, prepend=True, batch_data=override
    )
    assert body["prepend"] is True
    assert {k: body["batch"][k] for k in ("origin", "destination", "runs", "data")} == {
        "origin": "pytest",
        "destination": "nowhere",
        "runs": 3,
        "data": override,
    }


def test_graph_id_is_a_fresh_uuid4():
    workflow = load_workflow(GUI_DIR / "legacy-v3.workflow.json")
    ids = {build_enqueue_body(workflow)["batch"]["graph"]["id"] for _ in range(2)}
    assert len(ids) == 2
    assert all(uuid.UUID(i).version == 4 for i in ids)


# -- connectors ----------------------------------------------------------------------------


def test_connector_and_direct_edge_to_one_input_give_one_edge():
    raw = _fixture("connectors")
    raw["edges"].append(
        {
            "id": "direct",
            "type": "default",
            "source": "str_a",
            "sourceHandle": "value",
            "target": "join2",
            "targetHandle": "string_left",
        }
    )
    edges = build_enqueue_body(_load(raw))["batch"]["graph"]["edges"]
    to_join2 = [e for e in edges if e["destination"] == {"node_id": "join2", "field": "string_left"}]
    assert to_join2 == [
        {"source": {"node_id": "str_a", "field": "value"}, "destination": {"node_id": "join2", "field": "string_left"}}
    ]


def test_connector_fed_by_nothing_drops_its_edges_and_keeps_the_value():
    raw = _fixture("connectors")
    raw["edges"] = [e for e in raw["edges"] if e["target"] != "c4"]  # int_a no longer feeds c4
    graph = build_enqueue_body(_load(raw))["batch"]["graph"]
    assert not [e for e in graph["edges"] if e["destination"]["node_id"] == "math"]
    assert graph["nodes"]["math"]["a"] == _node(raw, "math")["data"]["inputs"]["a"]["value"]


def test_a_loop_of_connectors_feeds_nothing():
    raw = _fixture("connectors")
    raw["edges"] = [e for e in raw["edges"] if e["target"] != "c1"]
    raw["edges"].append(
        {"id": "loop", "type": "default", "source": "c2", "sourceHandle": "out", "target": "c1", "targetHandle": "in"}
    )
    graph = build_enqueue_body(_load(raw))["batch"]["graph"]
    assert [e for e in graph["edges"] if e["destination"]["field"] == "string_left"] == []
    assert graph["nodes"]["join"]["string_left"] == _node(raw, "join")["data"]["inputs"]["string_left"]["value"]


# -- batches and generators ----------------------------------------------------------------


def test_empty_batch_is_refused():
    raw = _fixture("batches")
    _node(raw, "fb")["data"]["inputs"]["floats"]["value"] = []
    with pytest.raises(
        WorkflowError, match=r"batch node 'fb' has no items; the web UI refuses to enqueue an empty batch"
    ):
        build_enqueue_body(_load(raw))


def test_zip_group_of_different_lengths_is_refused():
    raw = _fixture("batches")
    _node(raw, "ib")["data"]["inputs"]["integers"]["value"] = [1, 2]
    with pytest.raises(
        WorkflowError, match=r"batch group 'Group 1' zips batches of different lengths \(sb has 3, ib has 2\)"
    ):
        build_enqueue_body(_load(raw))


def test_batch_into_a_connector_is_refused():
    raw = _fixture("batches")
    raw["nodes"].append(
        {
            "id": "cx",
            "type": "connector",
            "data": {"id": "cx", "type": "connector", "label": "", "isOpen": True},
            "position": {"x": 0, "y": 0},
        }
    )
    raw["edges"] = [e for e in raw["edges"] if e["source"] != "fb"]
    raw["edges"] += [
        {"id": "e1", "type": "default", "source": "fb", "sourceHandle": "value", "target": "cx", "targetHandle": "in"},
        {
            "id": "e2",
            "type": "default",
            "source": "cx",
            "sourceHandle": "out",
            "target": "blur",
            "targetHandle": "radius",
        },
    ]
    with pytest.raises(WorkflowError, match=r"batch node 'fb' feeds connector 'cx'.*Connect the batch node directly"):
        build_enqueue_body(_load(raw))


@pytest.mark.parametrize(
    ("node_id", "generator", "expected"),
    [
        (
            "sg",
            {"type": "string_generator_dynamic_prompts_random", "input": "{a|b}", "count": 2, "seed": 1},
            "generator node 'sg' (string_generator): generator type 'string_generator_dynamic_prompts_random' is not supported yet: the web UI asks the server",
        ),
        (
            "ig",
            {"type": "integer_generator_random_distribution_uniform", "min": 0, "max": 9, "count": 3, "seed": None},
            "generator node 'ig' (integer_generator): a uniform random generator without a seed uses the browser's Math.random",
        ),
        (
            "ig",
            {"type": "integer_generator_fibonacci"},
            "unknown generator type 'integer_generator_fibonacci' for integer_generator; known: integer_generator_arithmetic_sequence",
        ),
    ],
)
def test_generators_we_cannot_reproduce_are_refused(node_id, generator, expected):
    raw = _fixture("generators")
    _node(raw, node_id)["data"]["inputs"]["generator"]["value"] = generator
    with pytest.raises(WorkflowError) as info:
        build_enqueue_body(_load(raw))
    assert expected in str(info.value)


def test_image_generator_is_refused():
    with pytest.raises(ValueError, match="'image_generator' generators are not supported yet"):
        generator_values("image_generator", {"type": "image_generator_images_from_board", "board_id": "b"})


def test_call_saved_workflow_is_refused():
    raw = _fixture("legacy-v3")
    node = _node(raw, "a")
    node["data"]["type"] = "call_saved_workflow"
    node["data"]["inputs"] = {"workflow_id": {"name": "workflow_id", "label": "", "description": "", "value": "w1"}}
    raw["edges"] = [e for e in raw["edges"] if e["source"] != "a"]
    raw["form"]["elements"]["root"]["data"]["children"].remove("node-field-Wv3c")
    del raw["form"]["elements"]["node-field-Wv3c"]
    with pytest.raises(WorkflowError, match=r"node 'a' is a 'call_saved_workflow' node, which is not supported yet"):
        build_enqueue_body(_load(raw))


def test_mt19937_matches_the_reference():
    # MT19937 seeded with 5489 starts with 3499211612, and C++ requires its 10000th number to be 4123659995.
    rng = Mt19937(5489)
    draws = [rng.random_uint32() for _ in range(10000)]
    assert (draws[0], draws[-1]) == (3499211612, 4123659995)
    assert Mt19937(5489 + 2**32).random_uint32() == 3499211612  # seeds wrap like JavaScript's ``seed >>> 0``


@pytest.mark.parametrize(
    ("node_type", "value", "expected"),
    [
        # JavaScript's Math.round rounds halves up: 0 + round(0.5) is 1 (Python's round gives 0).
        (
            "integer_generator",
            {"type": "integer_generator_linear_distribution", "start": 0, "end": 1, "count": 3},
            [0, 1, 1],
        ),
        (
            "integer_generator",
            {"type": "integer_generator_arithmetic_sequence", "start": 5, "step": 0, "count": 4},
            [5],
        ),
        (
            "integer_generator",
            {"type": "integer_generator_parse_string", "input": "3\n 4x\nfoo", "splitOn": "\\n"},
            [3, 4],
        ),
        (
            "float_generator",
            {"type": "float_generator_parse_string", "input": "1e3|.5|abc| -2", "splitOn": "|", "values": None},
            [1000, 0.5, -2],
        ),
        (
            "float_generator",
            {"type": "float_generator_arithmetic_sequence", "start": 1, "step": 0.5, "count": 2, "values": [9, 8]},
            [9, 8],
        ),
        ("string_generator", {"type": "string_generator_parse_string", "input": "a,b", "splitOn": ""}, ["a,b"]),
    ],
)
def test_generator_values_follow_the_web_ui(node_type, value, expected):
    assert generator_values(node_type, value) == expected
