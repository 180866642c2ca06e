"""What must hold before a workflow's cases are enqueued (pytest_invokeai.run.gate), as plain Python."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gate_cases import WORKFLOW, gate

from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.run.gate import Blocked
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.load import load_workflow

# The stored map of form-layout: index -> node field, written here by hand.


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(WORKFLOW, tmp_path / "noise.json")
    return tmp_path


def test_a_missing_model_skips_the_case_naming_the_model(tmp_path, gui_exports, invokeai_server_url):
    shutil.copy(gui_exports / "sdxl-text-to-image.json", tmp_path / "sdxl.json")
    installs: list[tuple[str, ...]] = []
    with InvokeAIClient(invokeai_server_url) as client, GenerationSession(client, use_events=False) as session:
        g = gate(tmp_path, UpdateMode.MISSING, session=session, install_models=installs.append)
        spec = CaseSpec(workflow=tmp_path / "sdxl.json", models=("sdxl-base",))
        workflow = load_workflow(tmp_path / "sdxl.json")
        for _ in range(2):
            with pytest.raises(Blocked) as info:
                g.check(spec, workflow)
            assert info.value.verdict == "skipped"
            assert info.value.message.startswith("sdxl.json: ")
            assert "juggernautXL_v9Rundiffusionphoto2" in info.value.message
    assert installs == [("sdxl-base",)]  # the declared models are installed once, not per case
    assert (tmp_path / "baselines" / "_index_maps" / "sdxl.json.json").is_file()  # drift is checked first
