"""What server/test_example_workflows_server.py and unit/test_example_workflows.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.workflow.load import Workflow, load_workflow

REPO = Path(__file__).resolve().parents[1]


EXAMPLES = REPO / "example_suite" / "workflows"


def _load(name: str) -> Workflow:
    return load_workflow(EXAMPLES / f"{name}.json")
