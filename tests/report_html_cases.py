"""What browser/test_report_html.py and unit/test_report_html_unit.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from report_images import blurred, jpeg, noise_image, png

from pytest_invokeai.baseline.compare import compare
from pytest_invokeai.baseline.fingerprint import fingerprint
from pytest_invokeai.report.artifacts import write_artifacts
from pytest_invokeai.report.context import ContextNote
from pytest_invokeai.report.html import write_html_report
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    AcceptedDrift,
    OutputResult,
    TestProblem,
    summarize,
)

CHROMIUM = Path("/usr/bin/chromium")


TITLE = 'nightly <run> & "friends"'


ODD_ID = "test_esc[<b>&\"x'</b>]"


ODD_LABEL = "<i>Final</i>"


RECALL = "pytest-invokeai run wf.json --set 3='a <b>' --set 4=\"&amp;\""


CURL = 'curl -X POST "http://127.0.0.1:9123/api/v1/queue/default/enqueue_batch" -d @body.json'


DRIFT = "index 3 moved: was 'Prompt' (positive_prompt.value), now 'Seed'\n<script>alert(1)</script>\n  update with --update-index-map"


SERVER_ERROR = "ServerError: 500 & the queue item failed\nTraceback <here>"


ORPHAN = "baselines/old<1>.json"


NAMED_RUN = "tests/test_x.py::test_two_runs::run2"  # a second run in one test, as report.json names it


SAME_CONTEXT = [
    ContextNote("invokeai_version", "recorded on 6.14.2, ran on 6.14.2"),
    ContextNote("workflow", "workflow unchanged since the baseline"),
]


OFF_FORM_CONTEXT = [
    ContextNote("invokeai_version", "recorded on 6.14.2, ran on 6.14.2"),
    ContextNote("workflow", "workflow changed since the baseline (sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb)", True),
]


SKIP_REASON = "sdxl.json: the workflow needs main model 'juggernautXL <v9>', which the server does not have"


ACCEPTED = AcceptedDrift(
    "wf/<noise>.json", "drift: 2 moved (3 unchanged)\n  index 0 'Width' moved to 1\n  index 1 'Height' moved to 0"
)


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
    ("test_preview", "failed", "canvas_output:abc[0] does not match its baseline"),
    ("test_offform", "passed", ""),
    ("tests/test_x.py::test_two_runs", "passed", ""),
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
    results: Path,
    test_id: str,
    baseline,
    actual,
    *,
    verdict=None,
    label="",
    extra=None,
    picture="image",
    context=(),
) -> tuple[OutputResult, bytes]:
    """An output compared for real: fingerprints, comparison and artifact files, as the judge writes them.

    ``picture``: what the baseline keeps of the image, "image" (a full PNG copy), "preview" (a quarter-size
    JPEG) or "" (fingerprints only)."""
    actual_png = png(actual)
    comparison = None if baseline is None else compare(fingerprint(baseline), fingerprint(actual))
    kept = None
    if baseline is not None and picture == "image":
        kept = png(baseline)
    elif baseline is not None and picture == "preview":
        kept = jpeg(baseline.resize((baseline.width // 4, baseline.height // 4)))
    matched = comparison is not None and comparison.match and verdict in (None, "matched")
    files = write_artifacts(
        results,
        test_id,
        "canvas_output:abc",
        0,
        actual_png=actual_png,
        baseline_png=kept,
        baseline_is_preview=picture == "preview",
        with_diff=not matched,
        comparison=comparison if comparison is not None and not comparison.match else None,
    )
    result = OutputResult(
        test_id,
        "canvas_output:abc",
        label=label,
        verdict=verdict or ("matched" if matched else "mismatched"),
        distances=dict(comparison.distances) if comparison else {},
        thresholds=comparison.thresholds.as_dict() if comparison else {},
        failed=list(comparison.failed) if comparison else [],
        explanation=comparison.explain() if comparison else "no baseline",
        actual=files.actual,
        baseline=files.baseline,
        diff=files.diff,
        side_by_side=files.side_by_side,
        baseline_kind=picture if kept is not None else "",
        extra=dict(extra or {}),
        context=list(context),
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
        compared(results, "test_preview", base, noise_image(24), picture="preview", context=SAME_CONTEXT),
        compared(results, "test_offform", base, base.copy(), picture="", context=OFF_FORM_CONTEXT),
        compared(results, NAMED_RUN, base, base.copy()),
    ]
    outputs = [result for result, _ in cases]
    assert [r.verdict for r in outputs] == [
        "matched", "mismatched", "matched", "new", "updated", "mismatched", "error", "mismatched", "matched", "matched"
    ]  # fmt: skip
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
