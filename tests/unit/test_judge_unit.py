"""What the judge records as a case's inputs (pytest_invokeai.run.judge.recorded_inputs), as plain Python."""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.run.judge import recorded_inputs
from pytest_invokeai.workflow.load import load_workflow

GUI = Path(__file__).parents[1] / "data" / "gui"


def test_recorded_inputs_are_by_index_with_names_and_json_safe(tmp_path):
    workflow = load_workflow(GUI / "example-image-to-image.workflow.json")  # 0 Image, 1 Width, 2 Height, ...
    outside = Path("/somewhere/else/cat.png")
    entries = recorded_inputs(
        workflow, {"Height": 64, 1: 32, 0: tmp_path / "images" / "cat.png", "Hue rotation": b"abc"}, tmp_path
    )
    assert entries == [
        {"index": 0, "name": "Image", "value": "images/cat.png"},
        {"index": 1, "name": "Width", "value": 32},
        {"index": 2, "name": "Height", "value": 64},
        {
            "index": 4,
            "name": "Hue rotation",
            "value": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        },
    ]
    assert recorded_inputs(workflow, {0: outside}, tmp_path) == [
        {"index": 0, "name": "Image", "value": "/somewhere/else/cat.png"}
    ]
    assert recorded_inputs(workflow, {3: {"a": [Path(tmp_path / "x.png")]}}, tmp_path) == [
        {"index": 3, "name": "Resampling", "value": {"a": ["x.png"]}}
    ]
