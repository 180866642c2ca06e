"""The example suite's workflows: they load cleanly, their forms read as designed, our graph equals
the web UI's, and they run on a real server (the SD-1.5 one on the tiny local checkpoint).

The workflow files are exports of InvokeAI 6.14.2's web UI ("Save to File"). Copies in
``tests/data/gui/example-<name>.workflow.json`` (the image input named ``@IMAGE_A@`` there) feed
``scripts/capture_gui_enqueue.py``. The SD-1.5 capture needs a server where the tiny checkpoint is
installed under the key the workflow names: install it with that key, then capture with ``--url``.
The SDXL example names a model no test server has; the web UI will not enqueue it, so it has no capture.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from example_workflows_cases import EXAMPLES, _load

from pytest_invokeai.workflow.form import form_inputs
from pytest_invokeai.workflow.graph import build_enqueue_body
from pytest_invokeai.workflow.load import Workflow

GUI_DIR = Path(__file__).parents[1] / "data" / "gui"
GRAPH_ID_PLACEHOLDER = "<random graph id>"  # as scripts/capture_gui_enqueue.py writes it
IMAGE_PLACEHOLDER = "@IMAGE_A@"

#: Form inputs as the author laid them out: (display name, kind), in Form-panel order.
EXPECTED_INPUTS = {
    "noise-texture": [
        ("Width", "integer"),
        ("Height", "integer"),
        ("Seed", "integer"),
        ("Noise amount", "float"),
        ("Blur radius", "float"),
    ],
    "color-blocks": [
        ("Background colour", "color"),
        ("Block colour", "color"),
        ("Block size", "integer"),
        ("Block x", "integer"),
        ("Block y", "integer"),
        ("Hue rotation", "integer"),
    ],
    "image-to-image": [
        ("Image", "image"),
        ("Width", "integer"),
        ("Height", "integer"),
        ("Resampling", "enum"),
        ("Hue rotation", "integer"),
    ],
    "sd15-text-to-image": [
        ("Model", "model"),
        ("Prompt", "string"),
        ("Negative prompt", "string"),
        ("Seed", "integer"),
        ("Width", "integer"),
        ("Height", "integer"),
        ("Steps", "integer"),
        ("CFG scale", "float"),
        ("Scheduler", "enum"),
    ],
    "sdxl-text-to-image": [
        ("Model", "model"),
        ("Prompt", "string"),
        ("Negative prompt", "string"),
        ("Seed", "integer"),
        ("Width", "integer"),
        ("Height", "integer"),
        ("Steps", "integer"),
        ("CFG scale", "float"),
        ("Scheduler", "enum"),
    ],
}
#: Examples whose nodes come from the example suite's own node pack (example_suite/nodes): the shipped schema
#: does not know them, so their form is checked with a server's live schema (tests/server/test_node_packs.py).
CUSTOM_NODE_EXAMPLES = ["checkerboard"]
CAPTURED = ["noise-texture", "color-blocks", "image-to-image", "sd15-text-to-image"]


def _image_inputs(workflow: Workflow) -> dict[tuple[str, str], Any]:
    return {
        (i.node_id, i.field_name): {"image_name": IMAGE_PLACEHOLDER} for i in form_inputs(workflow) if i.kind == "image"
    }


# -- offline: files, forms, graphs ---------------------------------------------------------


def test_every_example_is_covered():
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted([*EXPECTED_INPUTS, *CUSTOM_NODE_EXAMPLES])


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_loads_as_a_4_0_0_export_without_warnings(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        workflow = _load(name)
        inputs = form_inputs(workflow)
    assert workflow.original_version == "4.0.0"
    assert workflow.warnings == []
    assert all(i.warning == "" for i in inputs)


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_form_inputs_are_in_the_designed_order(name):
    inputs = form_inputs(_load(name))
    assert [(i.display_name, i.kind) for i in inputs] == EXPECTED_INPUTS[name]
    assert [i.index for i in inputs] == list(range(len(inputs)))
    assert all(i.settable for i in inputs)
    assert all(i.node_label for i in inputs)  # every node on a form is labelled


@pytest.mark.parametrize("name", sorted(EXPECTED_INPUTS))
def test_forms_have_a_heading_and_an_explanation(name):
    elements = _load(name).to_json_dict()["form"]["elements"]
    kinds = {e["type"] for e in elements.values()}
    assert {"heading", "text", "container", "node-field"} <= kinds


@pytest.mark.parametrize("name", CAPTURED)
def test_the_gui_copy_is_the_example(name):
    example = (EXAMPLES / f"{name}.json").read_text()
    for form_input in form_inputs(_load(name)):
        if form_input.kind == "image":  # the copy names the image the capture script uploads
            example = example.replace(form_input.value["image_name"], IMAGE_PLACEHOLDER)
    assert (GUI_DIR / f"example-{name}.workflow.json").read_text() == example


@pytest.mark.parametrize("name", CAPTURED)
def test_body_equals_the_web_uis(name):
    captured = json.loads((GUI_DIR / f"example-{name}.enqueue.json").read_text())
    workflow = _load(name)
    body = build_enqueue_body(workflow, _image_inputs(workflow))
    body["batch"]["graph"]["id"] = GRAPH_ID_PLACEHOLDER
    assert body == captured


def test_sd15_names_the_tiny_checkpoint_by_hash():
    model = form_inputs(_load("sd15-text-to-image"))[0].value
    assert (model["name"], model["base"], model["type"]) == ("tiny-sd15-1", "sd-1", "main")
    assert model["hash"].startswith("blake3:")


# -- on a real server ----------------------------------------------------------------------
