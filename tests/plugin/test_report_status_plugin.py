"""The report and the summary tell the truth: pytest's status and counts, skips with their reasons,
accepted drift, where cases went; and the report is written exactly when the run had InvokeAI tests.

pytest runs in a subprocess against the real InvokeAI of this session (see test_plugin.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parents[1] / "data"
WORKFLOW = DATA / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius, 5 Board


# Tests that have nothing to do with InvokeAI: they count in pytest's final line, so they count in the report.

# Asks for the cut of the relay in front of the server after the N-th test finished: "the server is lost".


@pytest.fixture
def project(pytester: pytest.Pytester, invokeai_server_url: str, gui_exports: Path) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    shutil.copy(gui_exports / "sdxl-text-to-image.json", pytester.path / "sdxl.json")
    pytester.url = invokeai_server_url  # type: ignore[attr-defined]
    return pytester


def report_json(project: pytest.Pytester) -> dict:
    return json.loads((project.path / "invokeai-results" / "report.json").read_text())


# -- status, counts and the tests that did not pass ----------------------------------------


# -- when a report is written ----------------------------------------------------------------


def test_with_xdist_a_run_whose_invokeai_tests_all_skip_writes_its_report(pytester):
    # Skipped by a mark before anything connects: no server is needed, and none is reachable at this URL.
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    pytester.makepyfile(
        test_skip="""
import pytest

@pytest.mark.skip(reason="the GPU runner is down today")
@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()

def test_plain():
    pass
"""
    )
    result = pytester.runpytest_subprocess("--invokeai-url=http://127.0.0.1:9", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=1, skipped=1)
    document = report_json(pytester)
    assert (document["status"], document["summary"]["compared"]) == ("passed", 0)
    assert document["summary"]["tests"] == {
        "passed": 1,
        "failed": 0,
        "skipped": 1,
        "errors": 0,
        "xfailed": 0,
        "xpassed": 0,
    }
    assert document["tests"] == [
        {"test_id": "test_skip.py::test_noise", "outcome": "skipped", "reason": "the GPU runner is down today"}
    ]


# -- accepted drift ---------------------------------------------------------------------------
