"""The HTML report: built from real images and real comparisons, checked as text and in headless Chromium."""

from __future__ import annotations

import base64
import shutil

import pytest
from helpers import require
from report_html_cases import (
    ACCEPTED,
    CHROMIUM,
    DRIFT,
    ODD_ID,
    ODD_LABEL,
    ORPHAN,
    RECALL,
    SKIP_REASON,
    TITLE,
    Run,
    build_run,
    compared,
    open_report,
)
from report_images import noise_image

from pytest_invokeai.report.html import write_html_report
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    OutputResult,
    summarize,
)

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture then skips locally and fails in CI
    expect = sync_playwright = None

# How pytest ended the run of build_run's tests: (test id, pytest's category, reason); exit status 1.


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


@pytest.fixture
def page(browser, run):
    with open_report(browser, run.report) as loaded:
        yield loaded


RED, GREEN = "rgb(198, 40, 40)", "rgb(46, 125, 50)"  # the stylesheet's --bad and --ok
