"""A self-contained HTML report: one file that works offline, opened straight from disk.

CSS and JS are inline and images are embedded as data URIs, so the file can be attached to a CI
run or mailed on its own. To keep it a reasonable size, what is embedded depends on the verdict:

* mismatched, error, drifted and updated outputs embed the baseline, actual and diff images at
  full size (their original PNG bytes): these are the ones a person has to look at closely. The
  three are embedded rather than the side-by-side because they hold the same pixels (the
  side-by-side adds only labels and gaps), and separate images scale to the window and can be
  opened one by one.
* matched and new outputs embed only a thumbnail of the actual image (JPEG, longest side
  THUMBNAIL_SIZE px): a run with hundreds of passing outputs stays a few megabytes.

Every image links to its full-size artifact file (relative to the report), which works while the
report sits beside its results folder.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from PIL import Image

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai.report.artifacts import flatten
from pytest_invokeai.report.files import link_from
from pytest_invokeai.report.outcomes import TEST_COUNTS, RunOutcome
from pytest_invokeai.report.results import (
    FAILURE_VERDICTS,
    AcceptedDrift,
    OutputResult,
    TestProblem,
    format_number,
    ordered,
)

THUMBNAIL_SIZE = 256
FULL_SIZE_VERDICTS = FAILURE_VERDICTS | {"updated"}
#: The summary bar's counts, in this order; keys a summary has beyond these follow them.
SUMMARY_ORDER = (
    "compared",
    "failures",
    "mismatched",
    "missing",
    "errors",
    "drifted",
    "new",
    "updated",
    "matched",
    "orphaned",
    "drift_accepted",
)
#: Counts that mean the run failed when they are above zero.
FAILURE_COUNTS = frozenset({"failures", "mismatched", "missing", "errors", "drifted"})
#: pytest's counts of the run's tests that mean it failed when above zero (an xpass fails only when strict,
#: and then pytest counts it as failed).
FAILED_TEST_COUNTS = frozenset({"failed", "errors"})


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


CSS = """
:root { --bad: #c62828; --warn: #b26a00; --ok: #2e7d32; --info: #1565c0; --muted: #666; --line: #ddd; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; background: #f6f6f6; }
header { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid var(--line); padding: 10px 20px; }
h1 { font-size: 18px; margin: 0 0 6px; }
h1 .status { font-size: 13px; padding: 2px 8px; border-radius: 10px; color: #fff; vertical-align: middle; }
h1 .status.failed { background: var(--bad); } h1 .status.passed { background: var(--ok); }
.tests { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 6px; }
.tests .label, .summary .label { color: var(--muted); }
.nothing { color: var(--warn); font-weight: 600; }
.badge.outcome-failed, .badge.outcome-error { background: var(--bad); }
.badge.outcome-skipped, .badge.outcome-xfailed, .badge.outcome-xpassed { background: var(--warn); }
article.accepted, article.outcome-skipped, article.outcome-xfailed, article.outcome-xpassed { border-left-color: var(--warn); }
article.outcome-failed, article.outcome-error { border-left-color: var(--bad); }
h2 { font-size: 16px; margin: 20px 0 8px; }
h3 { font-size: 14px; margin: 0 0 8px; font-weight: 600; overflow-wrap: anywhere; }
main { padding: 0 20px 40px; }
.summary { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.count { border: 1px solid var(--line); border-radius: 4px; padding: 2px 8px; background: #fafafa; }
.count b { margin-left: 4px; }
.count.bad { border-color: var(--bad); color: var(--bad); background: #fdecea; }
.filter { margin-left: 12px; user-select: none; cursor: pointer; }
#filter-note { color: var(--muted); margin-left: 8px; }
body.failures-only .result:not(.failure) { display: none; }
article { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--ok); border-radius: 4px; padding: 12px; margin: 10px 0; }
article.failure { border-left-color: var(--bad); }
article.verdict-new, article.verdict-updated { border-left-color: var(--info); }
.badge { display: inline-block; font-size: 12px; padding: 1px 7px; border-radius: 10px; color: #fff; background: var(--ok); margin-right: 6px; }
.badge.verdict-mismatched, .badge.verdict-missing, .badge.verdict-error { background: var(--bad); }
.badge.verdict-drifted { background: var(--warn); }
.badge.verdict-new, .badge.verdict-updated { background: var(--info); }
.test-id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.output { color: var(--muted); font-weight: normal; }
.images { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 8px; }
figure { margin: 0; max-width: 100%; }
figure img { display: block; max-width: min(100%, 512px); height: auto; border: 1px solid var(--line); background: #808080; image-rendering: auto; }
figcaption { color: var(--muted); font-size: 12px; }
.missing { color: var(--bad); font-style: italic; }
table.distances { border-collapse: collapse; margin: 6px 0; }
table.distances th, table.distances td { border: 1px solid var(--line); padding: 2px 8px; text-align: right; }
table.distances th:first-child, table.distances td:first-child { text-align: left; }
table.distances tr.over td { color: var(--bad); font-weight: 600; }
pre { background: #f3f3f3; border: 1px solid var(--line); padding: 8px; margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.extra { margin: 6px 0; }
.copyable { display: flex; align-items: flex-start; gap: 6px; margin: 4px 0; }
.copyable .name { min-width: 9em; color: var(--muted); padding-top: 8px; }
.copyable pre { flex: 1; margin: 0; user-select: all; }
button.copy { font: inherit; font-size: 12px; padding: 3px 10px; margin-top: 4px; cursor: pointer; }
.files a { margin-right: 10px; }
.empty { color: var(--muted); }
"""

# Filter and copy buttons. Without JS every row stays visible and the filter stays hidden.
SCRIPT = """
(function () {
  "use strict";
  var box = document.getElementById("failures-only");
  var note = document.getElementById("filter-note");
  document.getElementById("filter").hidden = false;
  function applyFilter() {
    document.body.classList.toggle("failures-only", box.checked);
    var hidden = box.checked ? document.querySelectorAll(".result:not(.failure)").length : 0;
    note.textContent = hidden ? hidden + " passing output(s) hidden" : "";
  }
  box.addEventListener("change", applyFilter);
  applyFilter();  // a reload may restore the checkbox's state

  function copyText(button) {
    var source = button.parentNode.querySelector("pre");
    var text = source.textContent;
    function done() {
      button.textContent = "copied";
      setTimeout(function () { button.textContent = "copy"; }, 1500);
    }
    function selectForManualCopy() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
      if (copied) { done(); } else { button.textContent = "selected: press Ctrl+C"; }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, selectForManualCopy);
    } else {
      selectForManualCopy();
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.copy");
    if (button) { copyText(button); }
  });
})();
"""


def _data_uri(path: Path, *, thumbnail: bool) -> str | None:
    """The image at ``path`` as a data URI (a JPEG thumbnail or the file's own bytes); None if unreadable."""
    try:
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            if thumbnail:
                small = flatten(image)
                small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
                buffer = io.BytesIO()
                small.save(buffer, format="JPEG", quality=85)
                raw, mime = buffer.getvalue(), "image/jpeg"
            else:
                mime = Image.MIME.get(image.format or "", "")
    except Exception:  # missing, unreadable or not an image: the report says so instead of failing
        return None
    if not mime:
        return None
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _href(folder: Path, path: Path) -> str:
    """An href for an artifact: relative and percent-encoded (a folder name may hold # or %), else a file URI."""
    link = link_from(folder, path)
    if PurePath(link).is_absolute() or ":" in link:
        return Path(path).resolve().as_uri()
    return quote(link)


def _figure(caption: str, path: Path | None, folder: Path, *, thumbnail: bool, alt: str) -> str:
    if path is None:
        return ""
    uri = _data_uri(Path(path), thumbnail=thumbnail)
    href = _e(_href(folder, path))
    if uri is None:
        return f'<figure><p class="missing">{_e(caption)}: cannot read <a href="{href}">{_e(path)}</a></p></figure>'
    return (
        f'<figure><a href="{href}" title="open the full-size file"><img src="{uri}" alt="{_e(alt)}"></a>'
        f"<figcaption>{_e(caption)}{' (thumbnail)' if thumbnail else ''}</figcaption></figure>"
    )


def _distances_table(result: OutputResult) -> str:
    # No distances (a new output, a size change): nothing to set against the thresholds.
    if not result.distances:
        return ""
    rows = []
    for name, value in result.distances.items():
        over = name in result.failed
        distance = format_number(value)
        threshold = format_number(result.thresholds[name]) if name in result.thresholds else "-"
        row_class = ' class="over"' if over else ""
        rows.append(
            f"<tr{row_class}><td>{_e(name)}</td><td>{_e(distance)}</td>"
            f"<td>{_e(threshold)}</td><td>{'over' if over else 'ok'}</td></tr>"
        )
    return (
        '<table class="distances"><thead><tr><th>signal</th><th>distance</th><th>threshold</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _copyable(name: str, value: str) -> str:
    return (
        f'<div class="copyable"><span class="name">{_e(name)}</span><pre>{_e(value)}</pre>'
        '<button type="button" class="copy">copy</button></div>'
    )


def _output_section(index: int, result: OutputResult, folder: Path) -> str:
    full = result.verdict in FULL_SIZE_VERDICTS
    who = f"{result.test_id} {result.output}[{result.image_index}]"
    if full:
        figures = [
            _figure("baseline", result.baseline, folder, thumbnail=False, alt=f"baseline of {who}"),
            _figure("actual", result.actual, folder, thumbnail=False, alt=f"actual of {who}"),
            _figure("diff", result.diff, folder, thumbnail=False, alt=f"diff of {who}"),
        ]
    else:
        figures = [_figure("actual", result.actual, folder, thumbnail=True, alt=f"actual of {who}")]
    images = "".join(figures)
    files = [
        f'<a href="{_e(_href(folder, path))}">{_e(kind.replace("_", "-"))}</a>'
        for kind, path in result.artifact_paths.items()
        if path is not None
    ]
    output_name = f"{result.label} ({result.output})" if result.label else result.output
    classes = f"result verdict-{result.verdict}{' failure' if result.is_failure else ''}"
    return "".join(
        [
            f'<article class="{classes}" id="output-{index}" data-verdict="{_e(result.verdict)}" '
            f'data-test-id="{_e(result.test_id)}">',
            f'<h3><span class="badge verdict-{_e(result.verdict)}">{_e(result.verdict)}</span>',
            f'<span class="test-id">{_e(result.test_id)}</span> ',
            f'<span class="output">{_e(output_name)} image {result.image_index}</span></h3>',
            f'<div class="images">{images}</div>' if images else "",
            _distances_table(result),
            f'<pre class="explanation">{_e(result.explanation)}</pre>' if result.explanation else "",
            f'<div class="extra">{"".join(_copyable(k, v) for k, v in result.extra.items())}</div>'
            if result.extra
            else "",
            f'<p class="files">files: {"".join(files)}</p>' if files else "",
            "</article>",
        ]
    )


def _problem_section(index: int, problem: TestProblem) -> str:
    return (
        f'<article class="problem failure verdict-{_e(problem.verdict)}" id="problem-{index}" '
        f'data-test-id="{_e(problem.test_id)}">'
        f'<h3><span class="badge verdict-{_e(problem.verdict)}">{_e(problem.verdict)}</span>'
        f'<span class="test-id">{_e(problem.test_id)}</span></h3>'
        f"<pre>{_e(problem.message)}</pre></article>"
    )


def _summary_bar(summary: dict[str, Any]) -> str:
    keys = [key for key in SUMMARY_ORDER if key in summary] + [key for key in summary if key not in SUMMARY_ORDER]
    keys = [key for key in keys if not isinstance(summary[key], dict)]
    chips = []
    for key in keys:
        value = summary[key]
        bad = key in FAILURE_COUNTS and isinstance(value, (int, float)) and value > 0
        chips.append(
            f'<span class="count{" bad" if bad else ""}" data-count="{_e(key)}">{_e(key)}<b>{_e(value)}</b></span>'
        )
    return "".join(chips)


def _tests_bar(run: RunOutcome) -> str:
    """pytest's counts of the run's tests (its final line), then its exit status."""
    chips = ['<span class="label">tests:</span>']
    for key in TEST_COUNTS:
        value = run.counts.get(key, 0)
        bad = key in FAILED_TEST_COUNTS and value > 0
        chips.append(
            f'<span class="count{" bad" if bad else ""}" data-tests="{_e(key)}">{_e(key)}<b>{value}</b></span>'
        )
    bad = run.status != "passed"
    chips.append(
        f'<span class="count{" bad" if bad else ""}" data-tests="exit_status">exit status<b>{_e(run.exit_status)}</b></span>'
    )
    return "".join(chips)


def _not_passed_section(run: RunOutcome) -> str:
    rows = [
        f'<article class="test outcome-{_e(each.outcome)}" id="test-{index}" data-outcome="{_e(each.outcome)}">'
        f'<h3><span class="badge outcome-{_e(each.outcome)}">{_e(each.outcome)}</span>'
        f'<span class="test-id">{_e(each.test_id)}</span></h3>'
        f"<pre>{_e(each.reason)}</pre></article>"
        for index, each in enumerate(run.not_passed)
    ]
    return f'<section id="tests"><h2>Tests that did not pass</h2>{"".join(rows)}</section>' if rows else ""


def _accepted_drift_section(accepted: Sequence[AcceptedDrift]) -> str:
    rows = [
        f'<article class="accepted" id="accepted-{index}"><h3><span class="badge verdict-drifted">drift accepted</span>'
        f'<span class="workflow">{_e(each.workflow)}</span></h3><pre>{_e(each.drift)}</pre></article>'
        for index, each in enumerate(accepted)
    ]
    if not rows:
        return ""
    return (
        '<section id="accepted-drift"><h2>Drift accepted in this run (index maps rewritten)</h2>'
        f"{''.join(rows)}</section>"
    )


#: A merged report's section: (heading, the results folders it came from, its output counts, its test counts).
Section = tuple[str, Sequence[str], Mapping[str, int], Mapping[str, int]]


def _sections_section(sections: Sequence[Section]) -> str:
    """Merged shards of different baseline profiles or InvokeAI versions: one section each, with its counts."""
    if not sections:
        return ""
    parts = ['<section id="sections"><h2>Sections</h2>']
    for heading, folders, outputs, tests in sections:
        test_counts = ", ".join(f"{tests.get(key, 0)} {key}" for key in TEST_COUNTS if tests.get(key, 0))
        output_counts = ", ".join(f"{outputs.get(key, 0)} {key}" for key in SUMMARY_ORDER if outputs.get(key, 0))
        parts.append(
            f'<section class="merged-section"><h3>{_e(heading)}</h3>'
            f"<p>from {', '.join(f'<code>{_e(folder)}</code>' for folder in folders)}</p>"
            f"<p>tests: {_e(test_counts or 'none')}; outputs: {_e(output_counts or 'none')}</p></section>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_html(
    outputs: Sequence[OutputResult],
    problems: Sequence[TestProblem],
    *,
    summary: dict[str, Any],
    run: RunOutcome,
    title: str = "pytest-invokeai report",
    folder: Path,
    orphans: Sequence[str] = (),
    accepted_drift: Sequence[AcceptedDrift] = (),
    servers_down: Mapping[str, str] | None = None,
    sections: Sequence[Section] = (),
) -> str:
    """The report as a string; links are relative to ``folder`` (where the report will be).

    The header's status is pytest's (``run``): a test that failed for any reason fails the report.
    ``servers_down`` maps each server left out at the start or lost during the run to why.
    """
    status = f'<span class="status {_e(run.status)}" id="status">{_e(run.status)}</span>'
    nothing = "" if outputs else '<span class="nothing" id="nothing-compared">no output image was compared</span>'
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request: the report makes none at all
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{_e(title)} {status}</h1>",
        f'<div class="tests" id="test-counts">{_tests_bar(run)}</div>',
        f'<div class="summary" id="summary"><span class="label">outputs:</span>{_summary_bar(summary)}{nothing}',
        '<label class="filter" id="filter" hidden><input type="checkbox" id="failures-only"> failures only</label>',
        '<span id="filter-note"></span></div></header><main>',
    ]
    parts.append(_sections_section(sections))
    parts.append(_not_passed_section(run))
    parts.append(_accepted_drift_section(accepted_drift))
    if servers_down:
        items = "".join(f"<li><code>{_e(url)}</code>: {_e(why)}</li>" for url, why in sorted(servers_down.items()))
        parts.append(f'<section id="servers-down"><h2>InvokeAI servers left out or lost</h2><ul>{items}</ul></section>')
    if problems:
        parts.append('<section id="problems"><h2>Test problems</h2>')
        parts.extend(_problem_section(i, problem) for i, problem in enumerate(ordered(problems)))
        parts.append("</section>")
    parts.append('<section id="outputs"><h2>Outputs</h2>')
    if outputs:
        parts.extend(_output_section(i, result, folder) for i, result in enumerate(ordered(outputs)))
    else:
        parts.append('<p class="empty">No output images were compared.</p>')
    parts.append("</section>")
    if orphans:
        items = "".join(f"<li><code>{_e(name)}</code></li>" for name in orphans)
        parts.append(f'<section id="orphans"><h2>Orphaned baselines (no test used them)</h2><ul>{items}</ul></section>')
    parts.append(f"</main><script>{SCRIPT}</script></body></html>\n")
    return "".join(parts)


def write_html_report(
    path: Path,
    outputs: Sequence[OutputResult],
    problems: Sequence[TestProblem],
    *,
    summary: dict[str, Any],
    run: RunOutcome,
    title: str = "pytest-invokeai report",
    orphans: Sequence[str] = (),
    accepted_drift: Sequence[AcceptedDrift] = (),
    servers_down: Mapping[str, str] | None = None,
    sections: Sequence[Section] = (),
) -> Path:
    """Write the report to ``path`` atomically; returns the path."""
    path = Path(path)
    text = render_html(
        outputs,
        problems,
        summary=summary,
        run=run,
        title=title,
        folder=path.parent,
        orphans=orphans,
        accepted_drift=accepted_drift,
        servers_down=servers_down,
        sections=sections,
    )
    write_atomic(path, text.encode("utf-8"))
    return path
