"""The HTML report: built from real images and real comparisons, checked as text and in headless Chromium."""

from __future__ import annotations

import base64
import html
import re

import pytest
from report_html_cases import (
    ACCEPTED,
    DRIFT,
    NAMED_RUN,
    ODD_ID,
    ODD_LABEL,
    ORPHAN,
    RECALL,
    SKIP_REASON,
    TITLE,
    Run,
    build_run,
    compared,
)
from report_images import blurred, noise_image

from pytest_invokeai.report.html import display_scale, write_html_report
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    OutputResult,
    summarize,
)

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


def test_images_load_lazily_from_the_results_beside_the_report(run):
    text = run.report.read_text(encoding="utf-8")
    assert "base64," not in text, "nothing embedded by default"
    images = re.findall(r"<img [^>]*>", text)
    # baseline + actual + diff: the 3 mismatches and the update; baseline + actual: the 3 matches with a picture;
    # the actual alone: the new output, the error and the match whose baseline keeps no picture.
    assert len(images) == 4 * 3 + 3 * 2 + 3
    assert all('loading="lazy"' in tag and 'src="../results%20%231%20100%25/' in tag for tag in images), images[0]


def test_embed_puts_each_images_own_bytes_into_the_file(tmp_path):
    result, data = compared(tmp_path / "results", "test_one", noise_image(3), blurred(noise_image(3)))
    report = write_html_report(
        tmp_path / "index.html", [result], [], summary=summarize([result], []), run=RunOutcome(1), embed=True
    )
    text = report.read_text()
    assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in text
    assert text.count("data:image/png;base64,") == 3  # baseline, actual, diff


def test_one_element_per_case_carries_its_test_id_and_its_images_the_contract_alt_texts(run):
    text = run.report.read_text(encoding="utf-8")
    ids = [html.unescape(each) for each in re.findall(r'data-test-id="([^"]*)"', text)]
    expected = {o.test_id for o in run.outputs} | {p.test_id for p in run.problems}
    assert sorted(ids) == sorted(expected) and NAMED_RUN in ids
    assert set(re.findall(r'<img alt="([^"]*)"', text)) == {"baseline", "actual", "diff"}


def test_a_baseline_with_no_picture_says_so(run):
    text = run.report.read_text(encoding="utf-8")
    case = text[text.index('data-test-id="test_offform"') :]
    case = case[: case.index("</article>")]
    assert "no baseline image kept" in case and 'alt="baseline"' not in case and 'alt="actual"' in case
    assert 'class="badge note"' in case
    (classes,) = re.findall(r'<article class="([^"]*)" id="case-\d+" data-test-id="test_offform"', text)
    assert classes.split() == ["case", "verdict-matched", "has-notes"], "a match, with a note besides pixels"


def test_small_images_are_enlarged_by_a_whole_factor_and_a_preview_takes_the_actual_images_box(run):
    text = run.report.read_text(encoding="utf-8")
    case = text[text.index('data-test-id="test_preview"') :]
    case = case[: case.index("</article>")]
    sizes = dict(re.findall(r'<img alt="(\w+)" [^>]*width="(\d+)"', case))
    assert display_scale(96, 96) == 2 and display_scale(24, 24) == 10 and display_scale(1024, 768) == 1
    assert sizes == {"baseline": "192", "actual": "192", "diff": "192"}  # a 24x24 preview over the 96x96 actual
    assert "baseline (preview) 24\u00d724" in case and "diff against the preview" in case


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


RED, GREEN = "rgb(198, 40, 40)", "rgb(46, 125, 50)"  # the stylesheet's --bad and --ok
