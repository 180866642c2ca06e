"""The HTML report: built from real images and real comparisons, checked as text and in headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from helpers import require
from report_html_cases import (
    ACCEPTED,
    CHROMIUM,
    CURL,
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
    pytest_outcome,
)
from report_images import noise_image

from pytest_invokeai.report.html import write_html_report
from pytest_invokeai.report.results import (
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


def listed(p) -> list[tuple[str, str]]:
    """(verdict, test id) of every output the page lists, in page order."""
    rows = p.locator("article.result")
    return [
        (rows.nth(i).get_attribute("data-verdict"), rows.nth(i).locator(".test-id").inner_text())
        for i in range(rows.count())
    ]


def test_report_loads_offline_with_every_image_decoded(page):
    sizes = page.page.evaluate("Array.from(document.images).map(img => [img.complete, img.naturalWidth])")
    # Full-size baseline, actual, diff for the two mismatches and the update; the actual alone for the
    # error (no baseline); a thumbnail for each of the two matches and the new output.
    assert len(sizes) == 3 * 3 + 1 + 3
    assert all(complete and width > 0 for complete, width in sizes), sizes
    assert page.errors == []
    assert page.remote_requests == []
    assert page.page.title() == TITLE


def test_every_link_opens_an_existing_artifact(page, run):
    urls = page.page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    linked = {Path(url2pathname(urlparse(url).path)) for url in urls}
    expected = {path for result in run.outputs for path in result.artifact_paths.values() if path is not None}
    assert linked == expected


def test_failures_filter_hides_passing_outputs_and_shows_them_again(page):
    p = page.page
    rows = p.locator("article.result")
    passing = {"test_ok[0]", ODD_ID, "test_new", "test_updated"}

    def visible() -> set[str]:
        return {rows.nth(i).locator(".test-id").inner_text() for i in range(rows.count()) if rows.nth(i).is_visible()}

    everything = {test_id for _, test_id in listed(p)}
    assert len(everything) == 7
    assert visible() == everything
    p.get_by_label("failures only").check()
    assert visible() == everything - passing
    assert p.locator("article.problem").nth(0).is_visible() and p.locator("article.problem").nth(1).is_visible()
    assert p.locator("#filter-note").inner_text() == "4 passing output(s) hidden"
    p.get_by_label("failures only").uncheck()
    assert visible() == everything
    assert page.errors == []


def test_failures_are_listed_first(page):
    assert listed(page.page) == [
        ("mismatched", "test_blur[1]"),
        ("mismatched", "test_crop"),
        ("error", "test_err"),
        ("new", "test_new"),
        ("updated", "test_updated"),
        ("matched", "test_ok[0]"),
        ("matched", ODD_ID),
    ]


def test_escaped_text_renders_literally(page):
    p = page.page
    assert p.locator("h1").inner_text().startswith(TITLE)
    odd = p.locator("article.result", has=p.locator(".test-id", has_text="test_esc"))
    assert odd.locator(".test-id").inner_text() == ODD_ID
    assert ODD_LABEL in odd.locator(".output").inner_text()
    assert p.locator("main b, main i, main script").count() == 0, "no markup from ids, labels or messages"
    drift = p.locator("article.problem", has=p.locator(".test-id", has_text="test_drift[2]"))
    assert drift.locator("pre").inner_text() == DRIFT
    assert p.locator("#orphans code").inner_text() == ORPHAN
    assert page.errors == []


def test_summary_bar_and_distances(page, run):
    p = page.page
    for key, value in run.summary.items():
        assert p.locator(f'[data-count="{key}"] b').inner_text() == str(value)
    assert "bad" in p.locator('[data-count="mismatched"]').get_attribute("class")
    blur = next(r for r in run.outputs if r.test_id == "test_blur[1]")
    row = p.locator("article.result", has=p.locator(".test-id", has_text="test_blur[1]"))
    over = row.locator("tr.over td:first-child").all_inner_texts()
    assert over == blur.failed and over, "the signals over their threshold are marked"
    assert row.locator("tbody tr").count() == len(blur.distances)


def test_extras_are_shown_verbatim_with_a_working_copy_button(page):
    p = page.page
    row = p.locator("article.result", has=p.locator(".test-id", has_text="test_blur[1]"))
    items = row.locator(".copyable")
    assert items.locator(".name").all_inner_texts() == ["recall command", "curl"]
    assert items.locator("pre").all_inner_texts() == [RECALL, CURL]
    button = items.nth(0).locator("button.copy")
    button.click()
    expect(button).to_have_text("copied")
    assert p.evaluate("navigator.clipboard.readText()") == RECALL
    assert page.errors == []


def test_copy_falls_back_to_selecting_the_text_without_the_clipboard_api(page):
    p = page.page
    p.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    row = p.locator("article.result", has=p.locator(".test-id", has_text="test_blur[1]"))
    row.locator("button.copy").nth(1).click()
    expect(row.locator("button.copy").nth(1)).to_have_text(re.compile("copied|selected: press Ctrl\\+C"))
    assert p.evaluate("window.getSelection().toString()") == CURL
    assert page.errors == []


RED, GREEN = "rgb(198, 40, 40)", "rgb(46, 125, 50)"  # the stylesheet's --bad and --ok


def header(p) -> dict[str, str]:
    """The header as a person sees it: the status badge, its colour, and pytest's counts."""
    counts = {
        key: p.locator(f'[data-tests="{key}"] b').inner_text()
        for key in ("passed", "failed", "skipped", "errors", "xfailed", "xpassed", "exit_status")
    }
    status = p.locator("h1 .status")
    return {
        "status": status.inner_text(),
        "colour": status.evaluate("e => getComputedStyle(e).backgroundColor"),
        **counts,
    }


def test_header_shows_pytests_status_and_counts_and_every_test_that_did_not_pass(page):
    p = page.page
    assert header(p) == {
        "status": "failed",
        "colour": RED,
        "passed": "4",
        "failed": "5",
        "skipped": "1",
        "errors": "1",
        "xfailed": "0",
        "xpassed": "0",
        "exit_status": "1",
    }
    assert "bad" in p.locator('[data-tests="failed"]').get_attribute("class")
    assert "bad" not in p.locator('[data-tests="skipped"]').get_attribute("class")
    rows = p.locator("#tests article")
    assert [
        (rows.nth(i).get_attribute("data-outcome"), rows.nth(i).locator(".test-id").inner_text())
        for i in range(rows.count())
    ] == [
        ("failed", "test_blur[1]"),
        ("failed", "test_crop"),
        ("failed", "test_err"),
        ("failed", "test_drift[2]"),
        ("failed", "test_down"),
        ("skipped", "test_sdxl"),
        ("error", "test_teardown"),
    ]
    skipped = p.locator("#tests article", has=p.locator(".test-id", has_text="test_sdxl"))
    assert skipped.locator("pre").inner_text() == SKIP_REASON
    accepted = p.locator("#accepted-drift article")
    assert accepted.locator(".workflow").inner_text() == ACCEPTED.workflow
    assert accepted.locator("pre").inner_text() == ACCEPTED.drift
    assert p.locator('[data-count="drift_accepted"] b').inner_text() == "1"
    assert page.errors == []


def test_a_run_pytest_failed_is_red_even_when_every_compared_image_matched(browser, tmp_path):
    base = noise_image(30)
    matched, _ = compared(tmp_path / "results", "test_ok", base, base.copy())
    lost = "no InvokeAI server for this test: InvokeAI at http://127.0.0.1:9 stopped answering"
    outcome = pytest_outcome([("test_ok", "passed", ""), ("test_lost", "failed", lost)], exit_status=1)
    report = write_html_report(tmp_path / "index.html", [matched], [], summary=summarize([matched], []), run=outcome)
    with open_report(browser, report) as loaded:
        p = loaded.page
        assert header(p) == {
            "status": "failed",
            "colour": RED,
            "passed": "1",
            "failed": "1",
            "skipped": "0",
            "errors": "0",
            "xfailed": "0",
            "xpassed": "0",
            "exit_status": "1",
        }
        assert p.locator("#tests article pre").inner_text() == lost
        assert loaded.errors == []


def test_a_run_that_compared_nothing_says_so_and_lists_its_skips(browser, tmp_path):
    outcome = pytest_outcome([("test_sdxl", "skipped", SKIP_REASON), ("test_other", "passed", "")], exit_status=0)
    report = write_html_report(tmp_path / "index.html", [], [], summary=summarize([], []), run=outcome)
    with open_report(browser, report) as loaded:
        p = loaded.page
        assert header(p) == {
            "status": "passed",
            "colour": GREEN,
            "passed": "1",
            "failed": "0",
            "skipped": "1",
            "errors": "0",
            "xfailed": "0",
            "xpassed": "0",
            "exit_status": "0",
        }
        assert p.locator("#nothing-compared").is_visible()
        assert p.locator("#tests article .test-id").inner_text() == "test_sdxl"
        assert p.locator("#tests article pre").inner_text() == SKIP_REASON
        assert loaded.errors == []
