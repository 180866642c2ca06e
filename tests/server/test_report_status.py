"""The report and the summary tell the truth: pytest's status and counts, skips with their reasons,
accepted drift, where cases went; and the report is written exactly when the run had InvokeAI tests.

pytest runs in a subprocess against the real InvokeAI of this session (see test_plugin.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tcp_proxy import CuttableProxy

DATA = Path(__file__).parents[1] / "data"
WORKFLOW = DATA / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius, 5 Board

NOISE_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={{0: 32, 1: 32}}, matrix={{2: {seeds}}})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""

BAD_VALUE_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32, 3: 40})
def test_bad_amount(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""

SDXL_TEST = """
import pytest

@pytest.mark.invokeai(workflow="sdxl.json")
def test_sdxl(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""

# Tests that have nothing to do with InvokeAI: they count in pytest's final line, so they count in the report.
PLAIN_TESTS = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("the fixture could not open its database")

def test_plain():
    assert 1 + 1 == 2

@pytest.mark.xfail(reason="rounding bug #12")
def test_known_bug():
    assert 0.1 + 0.2 == 0.3

@pytest.mark.xfail(reason="fixed upstream?")
def test_maybe_fixed():
    assert True

def test_needs_database(broken):
    pass
"""

# Asks for the cut of the relay in front of the server after the N-th test finished: "the server is lost".
CUT_CONFTEST = """
import os
from pathlib import Path

_done = []

def pytest_runtest_logreport(report):
    if report.when == "call":
        _done.append(report.nodeid)
        if len(_done) == int(os.environ["CUT_AFTER"]):
            Path(os.environ["CUT_FILE"]).touch()
"""


@pytest.fixture
def project(pytester: pytest.Pytester, invokeai_server_url: str, gui_exports: Path) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    shutil.copy(gui_exports / "sdxl-text-to-image.json", pytester.path / "sdxl.json")
    pytester.url = invokeai_server_url  # type: ignore[attr-defined]
    return pytester


def run(project: pytest.Pytester, *args: str, url: str | None = None) -> pytest.RunResult:
    return project.runpytest_subprocess(f"--invokeai-url={url or project.url}", "-p", "no:cacheprovider", *args)  # type: ignore[attr-defined]


def report_json(project: pytest.Pytester) -> dict:
    return json.loads((project.path / "invokeai-results" / "report.json").read_text())


def report_html(project: pytest.Pytester) -> str:
    return (project.path / "invokeai-results" / "report.html").read_text()


def reorder_width_and_height(path: Path) -> None:
    data = json.loads(path.read_text())
    data["form"]["elements"]["container-col"]["data"]["children"].reverse()
    path.write_text(json.dumps(data))


# -- status, counts and the tests that did not pass ----------------------------------------


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_run_failing_without_an_image_verdict_reports_failed_with_pytests_counts(project, xdist):
    project.makepyfile(
        test_noise=NOISE_TEST.format(seeds=[1, 2]), test_bad=BAD_VALUE_TEST, test_sdxl=SDXL_TEST, test_plain=PLAIN_TESTS
    )
    result = run(project, "--invokeai-update-baselines=missing", *xdist)
    outcomes = result.parseoutcomes()
    expected = {"passed": 3, "failed": 1, "skipped": 1, "errors": 1, "xfailed": 1, "xpassed": 1}
    assert {key: outcomes.get(key, 0) for key in expected} == expected, outcomes  # pytest's own final line
    assert result.ret == 1

    document = report_json(project)
    assert document["format_version"] == 2
    assert (document["status"], document["exit_status"]) == ("failed", 1)
    assert document["summary"]["tests"] == expected
    assert document["summary"]["compared"] == 2 and document["summary"]["failures"] == 0  # every image was fine
    by_test = {each["test_id"]: (each["outcome"], each["reason"]) for each in document["tests"]}
    assert sorted(by_test) == [
        "test_bad.py::test_bad_amount",
        "test_plain.py::test_known_bug",
        "test_plain.py::test_maybe_fixed",
        "test_plain.py::test_needs_database",
        "test_sdxl.py::test_sdxl",
    ]
    outcome, reason = by_test["test_bad.py::test_bad_amount"]
    assert outcome == "failed" and "input #3 'Amount'" in reason and "must be >= 0 and <= 1" in reason
    outcome, reason = by_test["test_sdxl.py::test_sdxl"]
    assert outcome == "skipped" and "juggernautXL_v9Rundiffusionphoto2" in reason and "not installed" in reason
    assert by_test["test_plain.py::test_needs_database"] == (
        "error",
        "RuntimeError: the fixture could not open its database",
    )
    assert by_test["test_plain.py::test_known_bug"] == ("xfailed", "rounding bug #12")
    assert by_test["test_plain.py::test_maybe_fixed"] == ("xpassed", "fixed upstream?")

    html = report_html(project)
    assert '<span class="status failed" id="status">failed</span>' in html
    assert '<span class="count bad" data-tests="failed">failed<b>1</b></span>' in html
    assert "juggernautXL_v9Rundiffusionphoto2" in html  # the skip, with its reason


def test_one_server_lost_mid_run_fails_the_report_and_moves_nothing(project, tmp_path):
    proxy = CuttableProxy(project.url, tmp_path / "cut")
    project.makepyfile(test_noise=NOISE_TEST.format(seeds="list(range(40, 55))"), conftest=CUT_CONFTEST)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CUT_AFTER", "3")
        env.setenv("CUT_FILE", str(tmp_path / "cut"))
        result = run(project, "--invokeai-update-baselines=all", url=proxy.url)
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed")) == (3, 12), outcomes
    summary = result.stdout.str().split("InvokeAI ---")[-1]
    assert "moved to another server" not in summary, summary  # there was no other server to move to
    assert f"{proxy.url}: 3 case(s), then" in summary

    document = report_json(project)
    assert (document["status"], document["exit_status"]) == ("failed", 1)
    assert document["summary"]["tests"] == {
        "passed": 3,
        "failed": 12,
        "skipped": 0,
        "errors": 0,
        "xfailed": 0,
        "xpassed": 0,
    }
    assert document["summary"]["failures"] == 0 and document["problems"] == []  # no image verdict failed...
    assert len(document["tests"]) == 12  # ...but twelve tests did, and each says why
    assert all(each["outcome"] == "failed" and proxy.url in each["reason"] for each in document["tests"]), document[
        "tests"
    ]
    assert '<span class="status failed" id="status">failed</span>' in report_html(project)


# -- when a report is written ----------------------------------------------------------------


def test_a_run_of_invokeai_tests_replaces_the_report_even_when_it_compared_nothing(project):
    project.makepyfile(test_noise=NOISE_TEST.format(seeds=[1, 2]), test_sdxl=SDXL_TEST, test_plain=PLAIN_TESTS)
    run(project, "test_noise.py", "--invokeai-update-baselines=missing").assert_outcomes(passed=2)
    assert report_json(project)["summary"]["compared"] == 2

    skipped = run(
        project, "test_sdxl.py", "--invokeai-update-baselines=missing"
    )  # the only InvokeAI test it selects skips: nothing compared
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no output image was compared in this run*", "report: *report.html"])
    document = report_json(project)
    assert (document["status"], document["summary"]["compared"], document["outputs"]) == ("passed", 0, [])
    assert [(t["test_id"], t["outcome"]) for t in document["tests"]] == [("test_sdxl.py::test_sdxl", "skipped")]
    assert "no output image was compared" in report_html(project)

    # Runs that select no InvokeAI test leave the folder (and what later commands read there) alone.
    results = project.path / "invokeai-results"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in results.rglob("*") if p.is_file()}
    run(project, "test_plain.py").assert_outcomes(passed=1, errors=1, xfailed=1, xpassed=1)
    run(project, "-k", "plain")
    collected = run(project, "--collect-only", "-q")
    assert collected.ret == 0
    run(project, "--collect-only", "--invokeai-prune=dry-run").stdout.fnmatch_lines(["*prune: would delete*"])
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in results.rglob("*") if p.is_file()} == before


# -- accepted drift ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [["--invokeai-update-baselines=all"], ["--invokeai-accept-drift", "-n", "2"]],
    ids=["update all", "accept-drift xdist"],
)
def test_accepted_drift_is_listed_with_what_moved(project, accept):
    project.makepyfile(test_noise=NOISE_TEST.format(seeds=[1, 2]))
    run(project, "--invokeai-update-baselines=missing").assert_outcomes(passed=2)
    reorder_width_and_height(project.path / "noise.json")

    accepted = run(project, *accept)
    accepted.assert_outcomes(passed=2)
    accepted.stdout.fnmatch_lines(
        [
            "*drift accepted, index maps rewritten: 1 workflow(s)",
            "  noise.json:",
            "    drift: 2 moved*",
            "    *'Width'*moved*",
            "    *'Height'*moved*",
        ]
    )
    document = report_json(project)
    assert [each["workflow"] for each in document["accepted_drift"]] == ["noise.json"]
    drift = document["accepted_drift"][0]["drift"]
    assert drift.startswith("drift: 2 moved") and "'Width'" in drift and "'Height'" in drift
    assert document["summary"]["drift_accepted"] == 1
    assert "Drift accepted in this run" in report_html(project) and "&#x27;Width&#x27;" in report_html(project)

    again = run(project)  # the map now matches: nothing to accept, nothing said
    again.assert_outcomes(passed=2)
    assert "drift accepted" not in again.stdout.str()
    assert report_json(project)["accepted_drift"] == []
