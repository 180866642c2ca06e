"""The job summary of a real pytest run: appended to GITHUB_STEP_SUMMARY, written at --invokeai-job-summary,
once per run (the xdist controller), only when InvokeAI tests ran.

No server is needed: the InvokeAI tests here are skipped by a mark, or fail because the URL given reaches
nothing (a failing case like any other for the summary).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"
NO_SERVER = "--invokeai-url=http://127.0.0.1:9"

TESTS = """
import pytest

@pytest.mark.skip(reason="the GPU runner is down today")
@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.parametrize("name", ["a|b*c_d"])
@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32})
def test_gone(invokeai_run, name):
    invokeai_run()

def test_plain():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    pytester.makepyfile(test_suite=TESTS)
    return pytester


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_run_appends_its_summary_once_and_replaces_the_option_file(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    step = project.path / "step-summary.md"
    step.write_text("## an earlier step\n")
    own = project.path / "out" / "summary.md"
    own.parent.mkdir()
    own.write_text("an older run\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    result = project.runpytest_subprocess(
        NO_SERVER, "--invokeai-job-summary=out/summary.md", "-p", "no:cacheprovider", *workers
    )
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    text = step.read_text()
    assert text.startswith("## an earlier step\n### InvokeAI: failed\n")
    assert text.count("### InvokeAI") == 1  # the controller writes it, not each worker
    assert "| | 1 | 1 | 1 | 0 | 0 | 0 |" in text  # passed, failed, skipped, errors, xfailed, xpassed
    row = next(line for line in text.splitlines() if line.startswith("| test\\_suite.py::test\\_gone"))
    assert row.startswith(
        "| test\\_suite.py::test\\_gone\\[a\\|b\\*c\\_d\\] | InvokeAI at http://127.0.0.1:9 is not reachable "
    )
    assert "test_noise" not in text and "test\\_noise" not in text  # a skip is no failing case
    assert own.read_text() == text.removeprefix("## an earlier step\n")


def test_a_run_without_invokeai_tests_writes_no_summary(pytester: pytest.Pytester, monkeypatch) -> None:
    pytester.makepyfile(test_other="def test_plain():\n    pass\n")
    step = pytester.path / "step-summary.md"
    step.write_text("## an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    result = pytester.runpytest_subprocess(NO_SERVER, "--invokeai-job-summary=summary.md", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert step.read_text() == "## an earlier step\n"
    assert not (pytester.path / "summary.md").exists()


def test_without_the_variable_or_the_option_nothing_is_written(project: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("PYTEST_INVOKEAI_JOB_SUMMARY", raising=False)
    result = project.runpytest_subprocess(NO_SERVER, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    assert sorted(p.name for p in project.path.glob("*.md")) == []
    assert (project.path / "invokeai-results" / "report.json").exists()
