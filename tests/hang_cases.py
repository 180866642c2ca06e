"""What plugin/test_hang.py and server/test_hang_server.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


WORKFLOW = DATA / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius


MATRIX_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={{0: 24, 1: 24}}, matrix={{2: list(range({cases}))}})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


def run_with_an_unusable_server(project: pytest.Pytester, url: str, why: str) -> None:
    """Three tests on a server that cannot be used: each fails in one line, the reason is said once."""
    project.makepyfile(test_noise=MATRIX_TEST.format(cases=3))
    began = time.monotonic()
    # Before the start-up probe had its own deadline this took about 125 s for a silent server.
    result = project.runpytest_subprocess(f"--invokeai-url={url}", "-p", "no:cacheprovider", timeout=90)
    took = time.monotonic() - began

    result.assert_outcomes(failed=3)
    assert took < 25, f"the run took {took:.0f} s"
    stdout = result.stdout.str()
    one_line = f"InvokeAI at {url} is not reachable (see the InvokeAI section of the summary)"
    assert stdout.count(one_line) >= 3, stdout  # each test's failure is this one line
    assert stdout.count(why) == 1, stdout  # the reason, once: in the summary
    result.stdout.fnmatch_lines(["*- InvokeAI -*", f"  {url}: not reachable at the start: *{why}*"])
    report = json.loads((project.path / "invokeai-results" / "report.json").read_text())
    assert why in report["servers_down"][url]
    assert (project.path / "invokeai-results" / "report.html").read_text().count(why) == 1
