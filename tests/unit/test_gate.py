"""What must hold before a workflow's cases are enqueued (pytest_invokeai.run.gate), as plain Python."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gate_cases import WORKFLOW, check, gate

from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.run.gate import Blocked, workflow_key

# The stored map of form-layout: index -> node field, written here by hand.
ORIGINAL_ORDER = ["blank.width", "blank.height", "seed.value", "noise.amount", "blur.radius", "save.board"]
SWAPPED_ORDER = ["blank.height", "blank.width", "seed.value", "noise.amount", "blur.radius", "save.board"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(WORKFLOW, tmp_path / "noise.json")
    return tmp_path


def map_file(project: Path) -> Path:
    return project / "baselines" / "_index_maps" / "noise.json.json"


def stored_order(project: Path) -> list[str]:
    return [entry["identity"] for entry in json.loads(map_file(project).read_text())["inputs"]]


def swap_width_and_height(path: Path) -> None:
    data = json.loads(path.read_text())
    column = data["form"]["elements"]["container-col"]["data"]["children"]
    assert column == ["node-field-blank-width", "node-field-blank-height"]
    column.reverse()
    path.write_text(json.dumps(data))


def test_workflow_key_is_the_path_relative_to_the_rootdir(tmp_path):
    assert workflow_key(tmp_path / "suite" / "noise.json", tmp_path) == "suite/noise.json"
    assert workflow_key(Path("/elsewhere/noise.json"), tmp_path) == "elsewhere/noise.json"


def test_no_stored_map_in_mode_none_blocks_naming_the_command(project):
    g = gate(project, UpdateMode.NONE)
    with pytest.raises(Blocked) as info:
        check(g, project / "noise.json")
    assert info.value.verdict == "missing"
    assert "workflow noise.json has no stored index map" in info.value.message
    assert "pytest --invokeai-update-baselines=missing" in info.value.message
    assert not map_file(project).exists()
    assert [(e.workflow, e.action) for e in g.events] == [("noise.json", "missing")]


@pytest.mark.parametrize("mode", [UpdateMode.MISSING, UpdateMode.CHANGED, UpdateMode.ALL], ids=str)
def test_no_stored_map_in_an_update_mode_writes_it(project, mode):
    g = gate(project, mode)
    check(g, project / "noise.json")
    assert stored_order(project) == ORIGINAL_ORDER
    assert json.loads(map_file(project).read_text())["workflow"] == "noise.json"
    assert [(e.workflow, e.action) for e in g.events] == [("noise.json", "recorded")]


@pytest.mark.parametrize("mode", [UpdateMode.NONE, UpdateMode.MISSING, UpdateMode.CHANGED], ids=str)
def test_drift_blocks_with_the_report_and_keeps_the_map(project, mode):
    check(gate(project, UpdateMode.MISSING), project / "noise.json")
    swap_width_and_height(project / "noise.json")
    before = map_file(project).read_bytes()

    g = gate(project, mode)
    with pytest.raises(Blocked) as info:
        check(g, project / "noise.json")

    assert info.value.verdict == "drifted"
    message = info.value.message
    assert message.startswith("the form of workflow noise.json changed since its baselines were recorded")
    assert "drift: 2 moved (4 unchanged)" in message
    assert "index 0 'Width' moved to 1" in message and "index 1 'Height' moved to 0" in message
    assert "pytest --invokeai-update-baselines=all" in message and "pytest --invokeai-accept-drift" in message
    assert map_file(project).read_bytes() == before
    assert [(e.workflow, e.action) for e in g.events] == [("noise.json", "blocked")]
    assert [item.status for item in g.events[0].report.moved] == ["moved", "moved"]


@pytest.mark.parametrize(
    ("mode", "accept_drift"), [(UpdateMode.ALL, False), (UpdateMode.NONE, True), (UpdateMode.MISSING, True)]
)
def test_drift_is_accepted_by_mode_all_or_the_switch(project, mode, accept_drift):
    check(gate(project, UpdateMode.MISSING), project / "noise.json")
    swap_width_and_height(project / "noise.json")

    g = gate(project, mode, accept_drift=accept_drift)
    check(g, project / "noise.json")

    assert stored_order(project) == SWAPPED_ORDER
    assert [(e.workflow, e.action) for e in g.events] == [("noise.json", "accepted")]
    check(gate(project, UpdateMode.NONE), project / "noise.json")  # the new map is what counts now


def test_an_unchanged_form_passes_in_mode_none(project):
    check(gate(project, UpdateMode.MISSING), project / "noise.json")
    g = gate(project, UpdateMode.NONE)
    check(g, project / "noise.json")
    assert g.events == []


def test_the_verdict_is_kept_per_workflow(project):
    shutil.copy(WORKFLOW, project / "other.json")
    g = gate(project, UpdateMode.NONE)
    with pytest.raises(Blocked) as first:
        check(g, project / "noise.json")
    # Recording the map now does not change this gate's answer for noise.json...
    check(gate(project, UpdateMode.MISSING), project / "noise.json")
    with pytest.raises(Blocked) as again:
        check(g, project / "noise.json")
    assert again.value is first.value
    # ...and other.json gets its own verdict.
    check(gate(project, UpdateMode.MISSING), project / "other.json")
    check(g, project / "other.json")
    assert [(e.workflow, e.action) for e in g.events] == [("noise.json", "missing")]
