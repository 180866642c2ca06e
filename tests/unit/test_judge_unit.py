"""Judging one finished case against its baseline (pytest_invokeai.run.judge), as plain Python: no server.

The images are made here with Pillow, for two "runs" ``a`` and ``b`` of a noise workflow shaped like
tests/data/gui/form-layout.workflow.json (outputs save, blur, noise, blank): the same noise recipe with
seeds 1 and 2 (32x32, +-115 levels around mid-gray), so the two runs do not match each other with the
default thresholds (measured: phash about 1.41, color 0.34, layout 2.81, sharpness 0.42). Every situation
below is built from them: records are written with the store and the fingerprint functions, never with
the judge. The per-image decision is unit-tested on its own at the end, with expected values by hand.
"""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.report.results import Verdict
from pytest_invokeai.run.judge import (
    recorded_inputs,
)
from pytest_invokeai.workflow.load import load_workflow

GUI = Path(__file__).parents[1] / "data" / "gui"
# Loose enough for seed 1 against seed 2 (see the module docstring), on every signal that differs.


# -- every update mode in every situation --------------------------------------------------------

NONE, MISSING, CHANGED, ALL = UpdateMode.NONE, UpdateMode.MISSING, UpdateMode.CHANGED, UpdateMode.ALL

# situation -> (record before: output -> image names or None, the run's "save" images, compared outputs)
# (situation, mode) -> (verdicts of the save images, passed, the record afterwards when rewritten, else None)


# -- tolerance -----------------------------------------------------------------------------------


# -- recorded inputs -----------------------------------------------------------------------------


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


# -- the pure parts: the per-image decision, the output plan, the result and the messages ------------

MATCHED, MISMATCHED, NEW, UPDATED, MISSING_VERDICT = (
    Verdict.MATCHED,
    Verdict.MISMATCHED,
    Verdict.NEW,
    Verdict.UPDATED,
    Verdict.MISSING,
)
# (what the baseline holds, mode) -> (verdict, whether the record takes the run's fingerprint), written by hand.
