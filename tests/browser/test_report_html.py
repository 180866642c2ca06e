"""The HTML report: built from real images and real comparisons, checked as text and in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from report_html_cases import (
    ACCEPTED,
    CURL,
    DRIFT,
    NAMED_RUN,
    ODD_ID,
    ODD_LABEL,
    OFF_FORM_CONTEXT,
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
from report_images import blurred, noise_image

from pytest_invokeai.report.html import write_html_report
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    summarize,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture (conftest) then skips locally and fails in CI
    expect = None

# How pytest ended the run of build_run's tests: (test id, pytest's category, reason); exit status 1.


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    return build_run(tmp_path_factory.mktemp("report"))


# -- the file itself --------------------------------------------------------------------------


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture
def page(browser, run):
    with open_report(browser, run.report) as loaded:
        yield loaded


def listed(p) -> list[tuple[str, str]]:
    """(verdict, test id) of every case the page lists, in page order."""
    rows = p.locator("article.case")
    return [
        (rows.nth(i).get_attribute("data-verdict"), rows.nth(i).get_attribute("data-test-id"))
        for i in range(rows.count())
    ]


def case(p, test_id: str):
    return p.locator(f"article.case[data-test-id={json.dumps(test_id)}]")


def shown(p) -> set[str]:
    """Test ids of the cases the filter and search leave shown."""
    return set(
        p.evaluate("Array.from(document.querySelectorAll('article.case:not([hidden])')).map(a => a.dataset.testId)")
    )


def test_report_loads_offline_and_every_image_it_shows_decodes(page):
    p = page.page
    assert page.errors == [] and page.remote_requests == []
    assert p.title() == TITLE
    for each in p.locator("article.case").all():  # lazy images load as their case comes into view
        each.scroll_into_view_if_needed()
    p.wait_for_function("Array.from(document.images).every(img => img.complete)")
    sizes = p.evaluate("Array.from(document.images).map(img => [img.getAttribute('alt'), img.naturalWidth])")
    assert len(sizes) == 4 * 3 + 3 * 2 + 3  # as the unit test counts them
    assert all(width > 0 for _, width in sizes), sizes
    assert page.errors == [] and page.remote_requests == []


def test_every_link_opens_an_existing_artifact(page, run):
    urls = page.page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    linked = {Path(url2pathname(urlparse(url).path)) for url in urls if url.startswith("file:") and "#" not in url}
    # Every file of an output that did not match; a match's two images are on the page itself.
    expected = {
        path
        for result in run.outputs
        if result.verdict != "matched"
        for path in result.artifact_paths.values()
        if path is not None
    }
    assert linked == expected
    for path in expected:
        assert path.is_file(), path


def test_cases_are_listed_failures_first_one_element_each_with_its_exact_test_id(page, run):
    p = page.page
    assert listed(p) == [
        ("mismatched", "test_blur[1]"),
        ("mismatched", "test_crop"),
        ("mismatched", "test_preview"),
        ("error", "test_err"),
        ("error", "test_down"),
        ("drifted", "test_drift[2]"),
        ("new", "test_new"),
        ("updated", "test_updated"),
        ("matched", "test_ok[0]"),
        ("matched", ODD_ID),
        ("matched", "test_offform"),
        ("matched", NAMED_RUN),
    ]
    # The contract: exactly one element per case carries data-test-id, holding report.json's test id.
    ids = p.evaluate("Array.from(document.querySelectorAll('[data-test-id]')).map(e => e.getAttribute('data-test-id'))")
    assert sorted(ids) == sorted({o.test_id for o in run.outputs} | {q.test_id for q in run.problems})
    assert case(p, ODD_ID).count() == 1 and case(p, NAMED_RUN).count() == 1


def test_images_carry_the_contract_alt_texts(page):
    p = page.page
    blur = case(p, "test_blur[1]")
    for alt in ("baseline", "actual", "diff"):
        assert blur.get_by_alt_text(alt, exact=True).count() == 1, alt
    matched = case(p, "test_ok[0]")
    assert matched.get_by_alt_text("baseline", exact=True).count() == 1
    assert matched.get_by_alt_text("actual", exact=True).count() == 1
    assert matched.get_by_alt_text("diff", exact=True).count() == 0  # a match adds no diff
    alts = set(p.evaluate("Array.from(document.images).map(img => img.alt)"))
    assert alts == {"baseline", "actual", "diff"}


def test_a_baseline_without_a_picture_says_so_and_a_preview_is_shown_over_the_actual_images_box(page):
    p = page.page
    offform = case(p, "test_offform")
    offform.scroll_into_view_if_needed()
    # expect(): a case's content is laid out once it comes into view (content-visibility), so the text may lag.
    expect(offform.locator("figure.baseline.none p")).to_have_text("no baseline image kept")
    preview = case(p, "test_preview")
    preview.scroll_into_view_if_needed()
    baseline = preview.get_by_alt_text("baseline", exact=True)
    actual = preview.get_by_alt_text("actual", exact=True)
    assert baseline.bounding_box()["width"] == actual.bounding_box()["width"] == 192  # 96 px shown at 2x
    expect(preview.locator("figure.baseline figcaption")).to_have_text("baseline (preview) 24\u00d724")
    expect(preview.locator("figure.diff figcaption")).to_have_text(re.compile("^diff against the preview"))
    rendering = actual.evaluate("img => getComputedStyle(img).imageRendering")
    assert rendering == "pixelated", "small images are enlarged crisply"


def test_what_differs_besides_pixels_is_shown_and_a_note_marks_an_edit_that_kept_the_pixels(page):
    p = page.page
    offform = case(p, "test_offform")
    assert offform.get_attribute("data-verdict") == "matched"
    assert offform.locator(".context").text_content() == "; ".join(note.text for note in OFF_FORM_CONTEXT)
    assert offform.locator(".context .changed").all_text_contents() == [OFF_FORM_CONTEXT[1].text]
    assert offform.locator(".badge.note").count() == 1
    same = case(p, "test_preview")
    assert same.locator(".context").text_content() == (
        "recorded on 6.14.2, ran on 6.14.2; workflow unchanged since the baseline"
    )
    assert same.locator(".context .changed").count() == 0 and same.locator(".badge.note").count() == 0
    p.locator("#verdict-filter").select_option("notes")
    assert shown(p) == {"test_offform"}


def stage_state(p, test_id: str) -> dict:
    """What a person sees of one output's images: which are shown, where, and how."""
    return (
        case(p, test_id)
        .locator(".stage")
        .evaluate(
            """stage => Object.fromEntries(Array.from(stage.querySelectorAll("figure")).map(f => {
            const style = getComputedStyle(f), box = f.getBoundingClientRect();
            return [f.className, {shown: style.display !== "none" && style.visibility !== "hidden",
                                  left: Math.round(box.left), top: Math.round(box.top),
                                  clip: style.clipPath, opacity: style.opacity}];
        }))"""
        )
    )


def test_views_switch_by_click_and_by_key(page):
    p = page.page
    stage = case(p, "test_blur[1]").locator(".stage")
    stage.evaluate("e => e.scrollIntoView({block: 'center'})")  # not under the sticky header
    side = stage_state(p, "test_blur[1]")
    assert all(each["shown"] for each in side.values())
    assert side["baseline"]["left"] < side["actual"]["left"] < side["diff"]["left"], "side by side"

    p.keyboard.press("2")  # slider: the actual image over the baseline, cut where the pointer is
    slider = stage_state(p, "test_blur[1]")
    assert slider["baseline"]["left"] == slider["actual"]["left"] and not slider["diff"]["shown"]
    assert slider["actual"]["clip"] == "inset(0px 0px 0px 50%)"
    box = case(p, "test_blur[1]").get_by_alt_text("actual", exact=True).bounding_box()
    p.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + 10)
    assert stage_state(p, "test_blur[1]")["actual"]["clip"] == "inset(0px 0px 0px 25%)"
    p.keyboard.press("]")  # the keys move every slider from the middle
    p.keyboard.press("]")
    assert stage_state(p, "test_blur[1]")["actual"]["clip"] == "inset(0px 0px 0px 70%)"
    assert stage_state(p, "test_crop")["actual"]["clip"] == "inset(0px 0px 0px 70%)"

    p.get_by_label("blink").check()  # blink: the actual image comes and goes over the baseline
    assert p.locator("body").get_attribute("class").split().count("view-blink") == 1
    seen = set()
    for _ in range(8):
        seen.add(stage_state(p, "test_blur[1]")["actual"]["shown"])
        p.wait_for_timeout(200)
    assert seen == {True, False}

    p.keyboard.press("4")  # overlay: both at once, the actual half transparent
    overlay = stage_state(p, "test_blur[1]")
    assert overlay["actual"]["opacity"] == "0.5" and overlay["baseline"]["shown"] and overlay["actual"]["shown"]

    p.keyboard.press("5")  # diff: the heat map alone where there is one; the others keep their images
    diff = stage_state(p, "test_blur[1]")
    assert (diff["baseline"]["shown"], diff["actual"]["shown"], diff["diff"]["shown"]) == (False, False, True)
    assert stage_state(p, "test_ok[0]")["actual"]["shown"]

    p.keyboard.press("1")
    assert all(each["shown"] for each in stage_state(p, "test_blur[1]").values())
    assert page.errors == []


def test_keys_move_between_failures_filter_by_verdict_and_search_test_ids(page):
    p = page.page
    failures = ["test_blur[1]", "test_crop", "test_preview", "test_err", "test_down", "test_drift[2]"]
    for expected in [*failures, failures[0]]:  # j goes round
        p.keyboard.press("j")
        current = p.locator("article.case.current")
        assert current.get_attribute("data-test-id") == expected
        assert current.evaluate("e => e === document.activeElement")
        top = current.bounding_box()["y"]
        assert p.locator("header").bounding_box()["height"] <= top < p.viewport_size["height"], "shown below the header"
    p.keyboard.press("k")
    assert p.locator("article.case.current").get_attribute("data-test-id") == failures[-1]
    p.keyboard.press("?")  # the keys, listed
    expect(p.locator("#keys")).to_contain_text("next failure")

    everything = {test_id for _, test_id in listed(p)}
    assert shown(p) == everything
    p.keyboard.press("v")  # all -> failures
    assert p.locator("#verdict-filter").input_value() == "failures"
    assert shown(p) == set(failures)
    assert p.locator("#filter-note").inner_text() == f"{len(failures)} of {len(everything)} case(s) shown"
    p.locator("#verdict-filter").select_option("new")
    assert shown(p) == {"test_new"}
    p.locator("#verdict-filter").select_option("all")

    p.keyboard.press("/")
    assert p.evaluate("document.activeElement.id") == "search"
    p.keyboard.type("TEST_O")  # case-insensitive, any part of the id
    expect(p.locator("#filter-note")).to_have_text(f"2 of {len(everything)} case(s) shown")
    assert shown(p) == {"test_ok[0]", "test_offform"}
    p.keyboard.press("j")  # typed into the search box, not a key for the page
    assert p.locator("#search").input_value() == "TEST_Oj"
    p.keyboard.press("Escape")
    expect(p.locator("#filter-note")).to_have_text(f"{len(everything)} of {len(everything)} case(s) shown")
    assert p.locator("#search").input_value() == ""
    assert page.errors == []


def test_a_click_zooms_to_whole_multiples_of_real_pixels(page):
    p = page.page
    blur = case(p, "test_blur[1]")
    blur.scroll_into_view_if_needed()
    blur.get_by_alt_text("diff", exact=True).click()
    dialog = p.locator("dialog#zoom")
    expect(dialog).to_be_visible()
    assert dialog.locator("#zoom-title").inner_text() == "test_blur[1] \u2014 canvas_output:abc image 0"

    def widths() -> list[float]:
        return [
            dialog.get_by_alt_text(alt, exact=True).bounding_box()["width"] for alt in ("baseline", "actual", "diff")
        ]

    fit = widths()[0] / 96
    assert fit == int(fit) >= 1 and widths() == [96 * fit] * 3
    p.keyboard.press("0")
    assert widths() == [96, 96, 96] and dialog.locator("#zoom-level").inner_text() == "real pixels (1:1)"
    p.keyboard.press("+")
    p.keyboard.press("+")
    assert widths() == [288, 288, 288]
    p.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.errors == []


def test_lazy_images_load_only_as_their_case_comes_into_view(browser, tmp_path):
    outputs = []
    for n in range(120):
        result, _ = compared(tmp_path / "results", f"test_many[{n}]", noise_image(n), noise_image(n))
        outputs.append(result)
    report = write_html_report(tmp_path / "index.html", outputs, [], summary=summarize(outputs, []), run=RunOutcome(0))
    with open_report(browser, report) as loaded:
        p = loaded.page
        decoded = "Array.from(document.images).filter(img => img.complete && img.naturalWidth > 0).length"
        p.wait_for_function(f"{decoded} > 0")
        assert p.evaluate("document.images.length") == 240
        early = p.evaluate(decoded)
        assert early < 60, "only the images near the top load at first"
        last = case(p, "test_many[119]")
        assert (
            last.get_by_alt_text("actual", exact=True).evaluate("img => img.complete && img.naturalWidth > 0") is False
        )
        last.scroll_into_view_if_needed()
        p.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=last.get_by_alt_text("actual", exact=True).element_handle(),
        )
        assert loaded.errors == []


def test_escaped_text_renders_literally(page):
    p = page.page
    assert p.locator("h1").inner_text().startswith(TITLE)
    odd = case(p, ODD_ID)
    odd.scroll_into_view_if_needed()
    expect(odd.locator("h3 .test-id")).to_have_text(ODD_ID)
    expect(odd.locator(".output-name")).to_contain_text(ODD_LABEL)
    assert p.locator("main b, main i, main script").count() == 0, "no markup from ids, labels or messages"
    drift = case(p, "test_drift[2]")
    drift.scroll_into_view_if_needed()
    expect(drift.locator("pre.problem")).to_have_text(f"drifted: {DRIFT}")
    assert p.locator("#orphans code").inner_text() == ORPHAN
    assert page.errors == []


def test_summary_bar_and_distances(page, run):
    p = page.page
    for key, value in run.summary.items():
        assert p.locator(f'[data-count="{key}"] b').inner_text() == str(value)
    assert "bad" in p.locator('[data-count="mismatched"]').get_attribute("class")
    blur = next(r for r in run.outputs if r.test_id == "test_blur[1]")
    row = case(p, "test_blur[1]")
    row.scroll_into_view_if_needed()
    expect(row.locator("tr.over td:first-child")).to_have_text(blur.failed)
    over = row.locator("tr.over td:first-child").all_inner_texts()
    assert over == blur.failed and over, "the signals over their threshold are marked"
    assert row.locator("tbody tr").count() == len(blur.distances)
    matched = case(p, "test_ok[0]")  # every signal within its threshold: one line
    matched.scroll_into_view_if_needed()
    expect(matched.locator("p.distances")).to_have_text(re.compile(r"^phash 0 \u2264 0\.075, color 0 \u2264 "))
    assert matched.locator("table").count() == 0


def test_extras_are_shown_verbatim_with_a_working_copy_button(page):
    p = page.page
    row = case(p, "test_blur[1]")
    items = row.locator(".copyable")
    row.scroll_into_view_if_needed()
    expect(items.locator(".name")).to_have_text(["recall command", "curl"])
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
    row = case(p, "test_blur[1]")
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
        "passed": "6",
        "failed": "6",
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
        ("failed", "test_preview"),
    ]
    # Each links to its case where the report shows one (a skip or a teardown error has none).
    links = {a.inner_text(): a.get_attribute("href") for a in p.locator("#tests article h3 a").all()}
    assert links.keys() == {"test_blur[1]", "test_crop", "test_err", "test_drift[2]", "test_down", "test_preview"}
    p.locator("#tests a", has_text="test_preview").click()
    assert p.evaluate("location.hash") == links["test_preview"]
    assert case(p, "test_preview").get_attribute("id") == links["test_preview"][1:]
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


def test_an_embedded_report_shows_its_images_on_its_own(browser, tmp_path):
    outputs = [
        compared(tmp_path / "results", "test_blur", noise_image(5), blurred(noise_image(5)))[0],
        compared(tmp_path / "results", "test_same", noise_image(6), noise_image(6))[0],
    ]
    written = write_html_report(
        tmp_path / "index.html", outputs, [], summary=summarize(outputs, []), run=RunOutcome(1), embed=True
    )
    alone = tmp_path / "mailed" / "report.html"  # the file alone, far from its results folder
    alone.parent.mkdir()
    shutil.move(written, alone)
    shutil.rmtree(tmp_path / "results")
    with open_report(browser, alone) as loaded:
        p = loaded.page
        for each in p.locator("article.case").all():
            each.scroll_into_view_if_needed()
        p.wait_for_function("Array.from(document.images).every(img => img.complete)")
        sizes = p.evaluate("Array.from(document.images).map(img => [img.alt, img.naturalWidth])")
        mismatch, match = [["baseline", 96], ["actual", 96], ["diff", 96]], [["baseline", 96], ["actual", 96]]
        assert sorted(sizes) == sorted([*mismatch, *match])
        assert loaded.errors == [] and loaded.remote_requests == []
