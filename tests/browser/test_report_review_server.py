"""The report as a review tool after a real run: record baselines, edit workflows off the form, run again.

On a real InvokeAI, in a copy of the project: the example suite's model-free workflows are recorded into
a fresh baseline store with PNG copies, then two workflows are edited where the form does not reach:
the noise texture's noise amount (pixels change: the cases fail) and the colour blocks' node cache flag
(same pixels: the cases pass). The report, opened in headless Chromium, shows each failure's baseline,
actual image and diff, and the edit that kept the pixels as a note.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from example_runs import ROOT, edit_workflow, node_by_type, run_pytest
from report_html_cases import open_report

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture (conftest) then skips locally and fails in CI
    expect = None

SELECT = "noise_texture or color_blocks"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, invokeai_server_url) -> Path:
    """The project after the second run: its results folder and report."""
    project = tmp_path_factory.mktemp("review")
    shutil.copytree(ROOT / "example_suite", project / "example_suite")
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    common = ["example_suite", "-k", SELECT, f"--invokeai-url={invokeai_server_url}", "--invokeai-baseline-dir=fresh"]
    recorded = run_pytest(project, *common, "--invokeai-update-baselines=missing", "--invokeai-save-images")
    assert recorded.returncode == 0, (recorded.stdout + recorded.stderr)[-3000:]

    def weaker_noise(data):
        node_by_type(data, "img_noise")["data"]["inputs"]["amount"]["value"] = 0.3

    def no_cache(data):
        node_by_type(data, "img_hue_adjust")["data"]["useCache"] = False

    edit_workflow(project / "example_suite" / "workflows" / "noise-texture.json", weaker_noise)
    edit_workflow(project / "example_suite" / "workflows" / "color-blocks.json", no_cache)
    again = run_pytest(project, *common)
    assert again.returncode == 1, (again.stdout + again.stderr)[-3000:]
    return project / "invokeai-results"


def test_a_failure_shows_its_baseline_actual_and_diff_and_the_edit_as_a_note(reviewed, browser):
    document = json.loads((reviewed / "report.json").read_text())
    failing = sorted({o["test_id"] for o in document["outputs"] if o["verdict"] == "mismatched"})
    passing = sorted({o["test_id"] for o in document["outputs"] if o["verdict"] == "matched"})
    assert len(failing) == 5 and all("test_noise_texture.py::" in t for t in failing), failing
    assert passing and all("color_blocks" in t for t in passing), passing
    with open_report(browser, reviewed / "report.html") as loaded:
        p = loaded.page
        for test_id in failing:
            case = p.locator(f"article.case[data-test-id={json.dumps(test_id)}]")
            assert case.get_attribute("data-verdict") == "mismatched"
            case.scroll_into_view_if_needed()
            for alt in ("baseline", "actual", "diff"):
                image = case.get_by_alt_text(alt, exact=True)
                p.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            sizes = case.locator("img").evaluate_all("imgs => imgs.map(i => [i.alt, i.naturalWidth, i.naturalHeight])")
            assert [alt for alt, _, _ in sizes] == ["baseline", "actual", "diff"]
            assert len({(w, h) for _, w, h in sizes}) == 1, sizes  # all three of one size: the output's
            context = case.locator(".context")
            expect(context).to_contain_text("recorded on 6.14.2, ran on 6.14.2")
            expect(context.locator(".changed")).to_have_text([re.compile("^workflow changed since the baseline ")])
        # The cache flag changed no pixel: the case passes, and its note is the only trace of the edit.
        same = p.locator(f"article.case[data-test-id={json.dumps(passing[0])}]")
        assert same.get_attribute("data-verdict") == "matched" and "has-notes" in same.get_attribute("class")
        p.locator("#verdict-filter").select_option("notes")
        shown = p.evaluate(
            "Array.from(document.querySelectorAll('article.case:not([hidden])')).map(a => a.dataset.testId)"
        )
        assert sorted(shown) == sorted(failing + passing)
        assert loaded.errors == [] and loaded.remote_requests == []
