"""The HTML report: built from real images and real comparisons, checked as text and in headless Chromium."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import require
from report_images import blurred, noise_image, png

from pytest_invokeai.baseline.compare import compare
from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.report.artifacts import write_artifacts
from pytest_invokeai.report.html import write_html_report
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    AcceptedDrift,
    OutputResult,
    TestProblem,
    summarize,
)

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture then skips locally and fails in CI
    expect = sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
TITLE = 'nightly <run> & "friends"'
ODD_ID = "test_esc[<b>&\"x'</b>]"
ODD_LABEL = "<i>Final</i>"
RECALL = "pytest-invokeai run wf.json --set 3='a <b>' --set 4=\"&amp;\""
CURL = 'curl -X POST "http://127.0.0.1:9123/api/v1/queue/default/enqueue_batch" -d @body.json'
DRIFT = "index 3 moved: was 'Prompt' (positive_prompt.value), now 'Seed'\n<script>alert(1)</script>\n  update with --update-index-map"
SERVER_ERROR = "ServerError: 500 & the queue item failed\nTraceback <here>"
ORPHAN = "baselines/old<1>.json"
SKIP_REASON = "sdxl.json: the workflow needs main model 'juggernautXL <v9>', which the server does not have"
ACCEPTED = AcceptedDrift(
    "wf/<noise>.json", "drift: 2 moved (3 unchanged)\n  index 0 'Width' moved to 1\n  index 1 'Height' moved to 0"
)
# How pytest ended the run of build_run's tests: (test id, pytest's category, reason); exit status 1.
PYTEST_REPORTS = [
    ("test_ok[0]", "passed", ""),
    (ODD_ID, "passed", ""),
    ("test_new", "passed", ""),
    ("test_updated", "passed", ""),
    ("test_blur[1]", "failed", "canvas_output:abc[0] does not match its baseline"),
    ("test_crop", "failed", "canvas_output:abc[0] changed size"),
    ("test_err", "failed", "the queue item failed"),
    ("test_drift[2]", "failed", DRIFT),
    ("test_down", "failed", SERVER_ERROR),
    ("test_sdxl", "skipped", SKIP_REASON),
    ("test_teardown", "error", "fixture 'tmp' could not be removed"),
]


def pytest_outcome(reports, exit_status: int) -> RunOutcome:
    outcome = RunOutcome(exit_status=exit_status)
    for test_id, category, reason in reports:
        outcome.record(test_id, category, reason)
    return outcome


@dataclass
class Run:
    report: Path
    outputs: list[OutputResult]
    problems: list[TestProblem]
    summary: dict
    outcome: RunOutcome
    actual_pngs: dict[str, bytes] = field(default_factory=dict)  # test id -> the actual image's bytes


def compared(
    results: Path, test_id: str, baseline, actual, *, verdict=None, label="", extra=None
) -> tuple[OutputResult, bytes]:
    """An output compared for real: fingerprints, comparison and artifact files."""
    actual_png = png(actual)
    baseline_png = None if baseline is None else png(baseline)
    comparison = None if baseline is None else compare(fingerprint(baseline), fingerprint(actual))
    files = write_artifacts(
        results,
        test_id,
        "canvas_output:abc",
        0,
        actual_png=actual_png,
        baseline_png=baseline_png,
        comparison=comparison,
    )
    if comparison is None:
        result = OutputResult(
            test_id, "canvas_output:abc", label=label, verdict=verdict, actual=files.actual, extra=dict(extra or {})
        )
    else:
        result = OutputResult(
            test_id,
            "canvas_output:abc",
            label=label,
            verdict=verdict or ("matched" if comparison.match else "mismatched"),
            distances=dict(comparison.distances),
            thresholds=comparison.thresholds.as_dict(),
            failed=list(comparison.failed),
            explanation=comparison.explain(),
            actual=files.actual,
            baseline=files.baseline,
            diff=files.diff,
            side_by_side=files.side_by_side,
            extra=dict(extra or {}),
        )
    return result, actual_png


def build_run(root: Path) -> Run:
    results = root / "results #1 100%"  # characters that mean something in a URL
    base = noise_image(20)
    cases = [
        compared(results, "test_ok[0]", base, base.copy()),
        compared(results, "test_blur[1]", base, blurred(base), extra={"recall command": RECALL, "curl": CURL}),
        compared(results, ODD_ID, base, base.copy(), label=ODD_LABEL),
        compared(results, "test_new", None, noise_image(21), verdict="new"),
        compared(results, "test_updated", base, noise_image(22), verdict="updated"),
        compared(results, "test_crop", base, base.crop((0, 0, 96, 80))),
        compared(results, "test_err", None, noise_image(23), verdict="error"),
    ]
    outputs = [result for result, _ in cases]
    assert [r.verdict for r in outputs] == ["matched", "mismatched", "matched", "new", "updated", "mismatched", "error"]
    problems = [TestProblem("test_drift[2]", "drifted", DRIFT), TestProblem("test_down", "error", SERVER_ERROR)]
    summary = summarize(outputs, problems, orphans=[ORPHAN], accepted_drift=[ACCEPTED])
    outcome = pytest_outcome(PYTEST_REPORTS, exit_status=1)
    report = write_html_report(
        root / "report" / "index.html",
        outputs,
        problems,
        summary=summary,
        run=outcome,
        title=TITLE,
        orphans=[ORPHAN],
        accepted_drift=[ACCEPTED],
    )
    return Run(report, outputs, problems, summary, outcome, {r.test_id: data for r, data in cases})


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    return build_run(tmp_path_factory.mktemp("report"))


# -- the file itself --------------------------------------------------------------------------


def test_report_escapes_ids_labels_messages_and_extras(run):
    text = run.report.read_text(encoding="utf-8")
    for raw in (
        ODD_ID,
        ODD_LABEL,
        RECALL,
        DRIFT,
        TITLE,
        ORPHAN,
        SKIP_REASON,
        ACCEPTED.workflow,
        "<script>alert(1)</script>",
    ):
        assert raw not in text
    assert "test_esc[&lt;b&gt;&amp;&quot;x&#x27;&lt;/b&gt;]" in text
    assert text.count("<script>") == 1, "only the report's own script"


def test_failing_outputs_embed_their_original_png_and_passing_ones_a_thumbnail(run):
    text = run.report.read_text(encoding="utf-8")
    assert base64.b64encode(run.actual_pngs["test_blur[1]"]).decode() in text
    assert base64.b64encode(run.actual_pngs["test_new"]).decode() not in text
    assert text.count("data:image/jpeg;base64,") == 3  # test_ok, the odd id, test_new


def test_report_stays_small_with_many_passing_outputs(tmp_path):
    outputs = []
    total_png = 0
    for seed in range(10):
        image = noise_image(seed, width=512, height=512)  # noise: the worst case for PNG, ~780 kB each
        result, data = compared(tmp_path / "results", f"test_{seed}", image, image.copy())
        outputs.append(result)
        total_png += len(data)
    report = write_html_report(tmp_path / "index.html", outputs, [], summary=summarize(outputs, []), run=RunOutcome(0))
    assert report.stat().st_size < total_png / 5


def test_a_missing_artifact_is_reported_not_embedded(tmp_path):
    gone = tmp_path / "results" / "t" / "out-0.actual.png"
    result = OutputResult("t", "out", verdict="mismatched", actual=gone)
    text = write_html_report(
        tmp_path / "index.html", [result], [], summary=summarize([result], []), run=RunOutcome(1)
    ).read_text()
    assert "cannot read" in text and "<img" not in text
    assert 'href="results/t/out-0.actual.png"' in text


def test_report_is_replaced_atomically(tmp_path):
    path = tmp_path / "index.html"
    path.write_text("old report")
    write_html_report(path, [], [], summary=summarize([], []), run=RunOutcome(0))
    assert "No output images were compared." in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    require(sync_playwright is not None, "the playwright package is not installed (pip install -e .[test])")
    executable = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    require(executable is not None, f"Chromium is not installed (looked for {CHROMIUM} and chromium on PATH)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable))
        yield browser
        browser.close()


@dataclass
class LoadedPage:
    page: object
    errors: list[str]  # console errors and uncaught exceptions
    remote_requests: list[str]  # anything not loaded from the file itself or a data URI


@contextmanager
def open_report(browser, report: Path) -> Iterator[LoadedPage]:
    # Clipboard permissions let the copy test read back what the button copied.
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    loaded = LoadedPage(page, [], [])
    page.on("console", lambda message: message.type == "error" and loaded.errors.append(message.text))
    page.on("pageerror", lambda error: loaded.errors.append(str(error)))

    def offline(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            loaded.remote_requests.append(url)
            route.abort()

    page.route("**/*", offline)
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    try:
        yield loaded
    finally:
        context.close()


@pytest.fixture
def page(browser, run):
    with open_report(browser, run.report) as loaded:
        yield loaded


RED, GREEN = "rgb(198, 40, 40)", "rgb(46, 125, 50)"  # the stylesheet's --bad and --ok
