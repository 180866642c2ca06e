"""What server/test_gate_server.py and unit/test_gate.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.run.gate import WorkflowGate
from pytest_invokeai.workflow.load import load_workflow

WORKFLOW = Path(__file__).parent / "data" / "gui" / "form-layout.workflow.json"


def gate(project: Path, mode: UpdateMode, *, accept_drift: bool = False, **extra) -> WorkflowGate:
    return WorkflowGate(
        store=BaselineStore(project / "baselines"),
        rootdir=project,
        update_mode=mode,
        accept_drift=accept_drift,
        **extra,
    )


def check(gate_: WorkflowGate, path: Path) -> None:
    gate_.check(CaseSpec(workflow=path), load_workflow(path))
