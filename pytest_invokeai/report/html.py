"""The HTML report: a review tool for a run's images, opened straight from disk and working offline.

Every compared output shows its baseline beside the actual image (the full PNG copy where the baseline
keeps one, else its preview, else a plain "no baseline image kept"), and a mismatch adds the diff heat
map. The views (side by side, slider, blink, overlay, diff) are one class on the body, so switching
costs the same for five outputs or five thousand. Outputs are grouped by case (test id): one element
per case carries ``data-test-id`` with the test id exactly as ``report.json`` has it, and its images
carry the alt texts ``baseline``, ``actual`` and ``diff``; other pages (the review page's Accept
buttons) build on that contract, not on the markup around it.

Images are files beside the report, loaded lazily, so a run of thousands of outputs opens at once and
the report stays small; the results folder travels with it (a CI artifact). ``embed`` puts the
images into the file as data URIs instead, for a report that is one file.

CSS and JS are the files in ``assets/``, inlined: the report makes no request of its own.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from PIL import Image

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai.report.files import link_from
from pytest_invokeai.report.outcomes import TEST_COUNTS, RunOutcome
from pytest_invokeai.report.results import (
    FAILURE_VERDICTS,
    VERDICTS,
    AcceptedDrift,
    OutputResult,
    TestProblem,
    Verdict,
    format_number,
)

ASSETS = Path(__file__).with_name("assets")
#: Small outputs are shown enlarged by a whole factor (crisp, nearest neighbour) until their longest side
#: reaches this many CSS pixels; larger ones at their own size (at most the column's width).
DISPLAY_SIDE = 256
#: The views, in the order of their keys 1..5.
VIEWS = (
    ("side", "side by side"),
    ("slider", "slider"),
    ("blink", "blink"),
    ("overlay", "overlay"),
    ("diff", "diff"),
)
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
#: The list of tests that did not pass is shown unfolded up to this many.
OPEN_TESTS_LIST = 20
#: Verdicts whose output was compared against a stored baseline (so the report owes a picture of it).
HAD_BASELINE = frozenset({Verdict.MATCHED, Verdict.MISMATCHED, Verdict.UPDATED})


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


@cache
def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Picture:
    """An image file as the page shows it: where it loads from and its size in pixels."""

    src: str
    width: int
    height: int


@dataclass
class Case:
    """One test id's outputs and problems: one element in the page."""

    test_id: str
    outputs: list[OutputResult] = field(default_factory=list)
    problems: list[TestProblem] = field(default_factory=list)

    @property
    def verdicts(self) -> list[Verdict]:
        return [output.verdict for output in self.outputs] + [problem.verdict for problem in self.problems]

    @property
    def verdict(self) -> Verdict:
        """The case's worst verdict (VERDICTS lists failures first)."""
        return min(self.verdicts, key=VERDICTS.index)

    @property
    def has_notes(self) -> bool:
        return any(note.changed for output in self.outputs for note in output.context)


def group_cases(outputs: Iterable[OutputResult], problems: Iterable[TestProblem]) -> list[Case]:
    """Cases by test id, failures first (by their worst verdict), else in the order the run produced them."""
    cases: dict[str, Case] = {}
    for output in outputs:
        cases.setdefault(output.test_id, Case(output.test_id)).outputs.append(output)
    for problem in problems:
        cases.setdefault(problem.test_id, Case(problem.test_id)).problems.append(problem)
    for case in cases.values():
        case.outputs.sort(key=lambda output: VERDICTS.index(output.verdict))
    return sorted(cases.values(), key=lambda case: VERDICTS.index(case.verdict))


def display_scale(width: int, height: int) -> int:
    """The whole factor a small image is enlarged by in the page (1 for images of DISPLAY_SIDE or more)."""
    return max(1, DISPLAY_SIDE // max(width, height, 1))


def _href(folder: Path, path: Path) -> str:
    """An href for an artifact: relative and percent-encoded (a folder name may hold # or %), else a file URI."""
    link = link_from(folder, path)
    if PurePath(link).is_absolute() or ":" in link:
        return Path(path).resolve().as_uri()
    return quote(link)


def read_picture(path: Path, folder: Path, *, embed: bool) -> Picture | None:
    """How the page shows the image at ``path``: its size from the file's header, and a relative link (or
    with ``embed``, the file's bytes as a data URI). None if it is missing or not an image."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            mime = Image.MIME.get(image.format or "", "")
        src = _href(folder, path)
        if embed:
            src = f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    except Exception:  # missing, unreadable or not an image: the report says so instead of failing
        return None
    return Picture(src, width, height) if mime else None


def read_pictures(outputs: Iterable[OutputResult], folder: Path, *, embed: bool) -> dict[Path, Picture | None]:
    """Every image the report shows, read once: the I/O of the report, kept out of the rendering."""
    paths = {path for output in outputs for path in (output.baseline, output.actual, output.diff) if path}
    return {path: read_picture(path, folder, embed=embed) for path in paths}


def _img(alt: str, picture: Picture, width: int, height: int, *, scale_to_actual: bool = False) -> str:
    scaled = ' data-scale-to="actual"' if scale_to_actual else ""  # zoomed with the actual image's real pixels
    return (
        f'<img alt="{alt}" src="{_e(picture.src)}" width="{width}" height="{height}" loading="lazy" '
        f'decoding="async"{scaled}>'
    )


def _figure(
    kind: str,
    caption: str,
    path: Path | None,
    pictures: Mapping[Path, Picture | None],
    box: tuple[int, int] | None,
    *,
    preview: bool = False,
) -> str:
    """One image of an output; ``box`` is the actual image's display size, which a preview takes on."""
    if path is None:
        return ""
    picture = pictures.get(path)
    if picture is None:
        return f'<figure class="{kind}"><p class="missing">{_e(caption)}: cannot read {_e(path)}</p></figure>'
    scale = display_scale(picture.width, picture.height)
    width, height = picture.width * scale, picture.height * scale
    # A preview is smaller than the image it shows: drawn over the actual image's box (when their shapes
    # agree, rounding aside), so the views line up.
    preview = preview and box is not None and _same_shape(box, (picture.width, picture.height))
    if preview and box is not None:
        width, height = box
    return (
        f'<figure class="{kind}">{_img(kind, picture, width, height, scale_to_actual=preview)}'
        f"<figcaption>{_e(caption)} {picture.width}\u00d7{picture.height}</figcaption></figure>"
    )


def _same_shape(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.02 * a[0] * b[1]


def _no_baseline_figure(result: OutputResult) -> str:
    if result.verdict in HAD_BASELINE:
        why = "no baseline image kept"
        hint = "The record keeps fingerprints only: no preview or PNG copy beside it."
    elif result.verdict is Verdict.NEW:
        why, hint = "no baseline before this run", "This run recorded the first one."
    elif result.verdict is Verdict.MISSING:
        why, hint = "no baseline", "Nothing was recorded for this output yet."
    else:
        return ""
    return f'<figure class="baseline none"><p>{_e(why)}</p><figcaption>{_e(hint)}</figcaption></figure>'


def _stage(result: OutputResult, pictures: Mapping[Path, Picture | None]) -> str:
    actual = pictures.get(result.actual) if result.actual else None
    box = None
    if actual is not None:
        scale = display_scale(actual.width, actual.height)
        box = (actual.width * scale, actual.height * scale)
    preview = result.baseline_kind == "preview"
    if result.baseline is None:
        baseline = _no_baseline_figure(result)
    else:
        caption = "baseline (preview)" if preview else "baseline"
        baseline = _figure("baseline", caption, result.baseline, pictures, box, preview=preview)
    diff_caption = "diff against the preview" if preview else "diff"
    figures = [
        baseline,
        _figure("actual", "actual", result.actual, pictures, box),
        _figure("diff", diff_caption, result.diff, pictures, box, preview=preview),
    ]
    classes = ["stage"]
    if result.baseline is not None and pictures.get(result.baseline) is not None and actual is not None:
        classes.append("has-baseline")
    if result.diff is not None and pictures.get(result.diff) is not None:
        classes.append("has-diff")
    return f'<div class="{" ".join(classes)}">{"".join(figures)}</div>'


def _distances_table(result: OutputResult) -> str:
    # No distances (a new output, a size change): nothing to set against the thresholds.
    if not result.distances:
        return ""
    if not result.failed:  # all within their thresholds: one line (a run is mostly matches; keep them light)
        within = [
            f"{name} {format_number(value)} \u2264 {format_number(result.thresholds[name])}"
            if name in result.thresholds
            else f"{name} {format_number(value)}"
            for name, value in result.distances.items()
        ]
        return f'<p class="distances">{_e(", ".join(within))}</p>'
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


def _output_section(result: OutputResult, folder: Path, pictures: Mapping[Path, Picture | None]) -> str:
    files = [
        f'<a href="{_e(_href(folder, path))}">{_e(kind.replace("_", "-"))}</a>'
        for kind, path in result.artifact_paths.items()
        if path is not None
    ]
    output_name = f"{result.label} ({result.output})" if result.label else result.output
    # The explanation of a match says only that it matched; the distances table says it better.
    explanation = result.explanation if result.verdict is not Verdict.MATCHED else ""
    return "".join(
        [
            f'<section class="output verdict-{_e(result.verdict)}" data-verdict="{_e(result.verdict)}">',
            f'<h4><span class="badge verdict-{_e(result.verdict)}">{_e(result.verdict)}</span>',
            f'<span class="output-name">{_e(output_name)} image {result.image_index}</span></h4>',
            _stage(result, pictures),
            _distances_table(result),
            f'<pre class="explanation">{_e(explanation)}</pre>' if explanation else "",
            f'<div class="extra">{"".join(_copyable(k, v) for k, v in result.extra.items())}</div>'
            if result.extra
            else "",
            # A match's files are its two images, shown above: links only where there is more to open.
            f'<p class="files">files: {"".join(files)}</p>' if files and result.verdict is not Verdict.MATCHED else "",
            "</section>",
        ]
    )


def _context_line(case: Case) -> str:
    """The record's context against this run's, once per case (every output of a case shares it)."""
    notes = case.outputs[0].context if case.outputs else []
    if not notes:
        return ""
    parts = [f'<span class="changed">{_e(n.text)}</span>' if n.changed else _e(n.text) for n in notes]
    return f'<p class="context">{"; ".join(parts)}</p>'


def _case_article(index: int, case: Case, folder: Path, pictures: Mapping[Path, Picture | None]) -> str:
    verdict = case.verdict
    classes = ["case", f"verdict-{verdict}"]
    if verdict in FAILURE_VERDICTS:
        classes.append("failure")
    note = ""
    if case.has_notes:
        classes.append("has-notes")
        note = '<span class="badge note" title="the run differs from the baseline besides pixels">note</span>'
    problems = "".join(
        f'<pre class="problem verdict-{_e(p.verdict)}">{_e(p.verdict)}: {_e(p.message)}</pre>' for p in case.problems
    )
    return "".join(
        [
            f'<article class="{" ".join(classes)}" id="case-{index}" data-test-id="{_e(case.test_id)}" ',
            f'data-verdict="{_e(verdict)}" data-verdicts="{_e(" ".join(sorted(set(case.verdicts))))}" tabindex="-1">',
            f'<h3><span class="badge verdict-{_e(verdict)}">{_e(verdict)}</span>{note}',
            f'<span class="test-id">{_e(case.test_id)}</span></h3>',
            _context_line(case),
            problems,
            *(_output_section(output, folder, pictures) for output in case.outputs),
            "</article>",
        ]
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


def _not_passed_section(run: RunOutcome, anchors: Mapping[str, str]) -> str:
    """Every test pytest did not pass, with its reason; a link to its case where the report shows one."""
    rows = []
    for index, each in enumerate(run.not_passed):
        name = f'<span class="test-id">{_e(each.test_id)}</span>'
        anchor = anchors.get(each.test_id)
        linked = f'<a href="#{anchor}">{name}</a>' if anchor else name
        rows.append(
            f'<article class="test outcome-{_e(each.outcome)}" id="test-{index}" data-outcome="{_e(each.outcome)}">'
            f'<h3><span class="badge outcome-{_e(each.outcome)}">{_e(each.outcome)}</span>'
            f"{linked}</h3>"
            f"<pre>{_e(each.reason)}</pre></article>"
        )
    if not rows:
        return ""
    # A long list (a run where hundreds failed) is folded, so the cases below are one scroll away.
    opened = " open" if len(rows) <= OPEN_TESTS_LIST else ""
    return (
        f'<section id="tests"><details{opened}><summary><h2>Tests that did not pass ({len(rows)})</h2></summary>'
        f"{''.join(rows)}</details></section>"
    )


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


def _toolbar(cases: Sequence[Case]) -> str:
    views = "".join(
        f'<label><input type="radio" name="view" id="view-{name}" value="{name}"{" checked" if i == 0 else ""}>'
        f"{_e(text)} <kbd>{i + 1}</kbd></label>"
        for i, (name, text) in enumerate(VIEWS)
    )
    present = {verdict for case in cases for verdict in case.verdicts}
    options = [("all", "all cases"), ("failures", "failures"), ("notes", "notes besides pixels")]
    options += [(str(verdict), str(verdict)) for verdict in VERDICTS if verdict in present]
    choices = "".join(f'<option value="{_e(value)}">{_e(text)}</option>' for value, text in options)
    return (
        '<div class="toolbar" id="toolbar" hidden>'
        f'<fieldset id="views"><legend>view</legend>{views}</fieldset>'
        f'<label>verdict <kbd>v</kbd> <select id="verdict-filter">{choices}</select></label>'
        '<input type="search" id="search" placeholder="search test id" aria-label="search by test id"> <kbd>/</kbd>'
        '<button type="button" id="previous-failure">previous failure <kbd>k</kbd></button>'
        '<button type="button" id="next-failure">next failure <kbd>j</kbd></button>'
        '<span id="filter-note" role="status"></span></div>'
        '<p id="keys" hidden><kbd>j</kbd>/<kbd>n</kbd> next failure, <kbd>k</kbd>/<kbd>p</kbd> previous, '
        "<kbd>1</kbd>-<kbd>5</kbd> view, <kbd>[</kbd> <kbd>]</kbd> move the slider, <kbd>v</kbd> next verdict filter, <kbd>/</kbd> search "
        "(<kbd>Esc</kbd> clears), click an image to zoom (<kbd>+</kbd> <kbd>-</kbd>, <kbd>0</kbd> real pixels, "
        "<kbd>Esc</kbd> closes), <kbd>?</kbd> these keys</p>"
    )


ZOOM_DIALOG = (
    '<dialog id="zoom" aria-labelledby="zoom-title"><div class="bar"><strong id="zoom-title"></strong>'
    '<button type="button" id="zoom-out">-</button><button type="button" id="zoom-in">+</button>'
    '<button type="button" id="zoom-real">real pixels</button><span id="zoom-level"></span>'
    '<button type="button" id="zoom-close">close</button></div><div class="body"></div></dialog>'
)


def _header(title: str, run: RunOutcome, summary: dict[str, Any], cases: Sequence[Case]) -> list[str]:
    status = f'<span class="status {_e(run.status)}" id="status">{_e(run.status)}</span>'
    compared = any(case.outputs for case in cases)
    nothing = "" if compared else '<span class="nothing" id="nothing-compared">no output image was compared</span>'
    return [
        f"<header><h1>{_e(title)} {status}</h1>",
        f'<div class="tests" id="test-counts">{_tests_bar(run)}</div>',
        f'<div class="summary" id="summary"><span class="label">outputs:</span>{_summary_bar(summary)}{nothing}</div>',
        _toolbar(cases),
        "</header>",
    ]


def render_html(
    outputs: Sequence[OutputResult],
    problems: Sequence[TestProblem],
    *,
    summary: dict[str, Any],
    run: RunOutcome,
    title: str = "pytest-invokeai report",
    folder: Path,
    pictures: Mapping[Path, Picture | None] | None = None,
    orphans: Sequence[str] = (),
    accepted_drift: Sequence[AcceptedDrift] = (),
    servers_down: Mapping[str, str] | None = None,
    sections: Sequence[Section] = (),
) -> str:
    """The report as a string; links are relative to ``folder`` (where the report will be).

    ``pictures`` holds every image the report shows (:func:`read_pictures`; read here when not given). The header's status is
    pytest's (``run``): a test that failed for any reason fails the report. ``servers_down`` maps each
    server left out at the start or lost during the run to why.
    """
    if pictures is None:
        pictures = read_pictures(outputs, folder, embed=False)
    cases = group_cases(outputs, problems)
    anchors = {case.test_id: f"case-{index}" for index, case in enumerate(cases)}
    for index, case in enumerate(cases):  # a named second run ("node id::run2") links from its test too
        anchors.setdefault(case.test_id.rpartition("::")[0], f"case-{index}")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request: the report makes none at all
        f"<title>{_e(title)}</title><style>{asset('report.css')}</style></head><body>",
        *_header(title, run, summary, cases),
        "<main>",
        _sections_section(sections),
        _not_passed_section(run, anchors),
        _accepted_drift_section(accepted_drift),
    ]
    if servers_down:
        items = "".join(f"<li><code>{_e(url)}</code>: {_e(why)}</li>" for url, why in sorted(servers_down.items()))
        parts.append(f'<section id="servers-down"><h2>InvokeAI servers left out or lost</h2><ul>{items}</ul></section>')
    parts.append('<section id="cases"><h2>Cases</h2>')
    if cases:
        parts.extend(_case_article(index, case, folder, pictures) for index, case in enumerate(cases))
    else:
        parts.append('<p class="empty">No output images were compared.</p>')
    parts.append("</section>")
    if orphans:
        items = "".join(f"<li><code>{_e(name)}</code></li>" for name in orphans)
        parts.append(f'<section id="orphans"><h2>Orphaned baselines (no test used them)</h2><ul>{items}</ul></section>')
    parts.append(f"</main>{ZOOM_DIALOG}<script>{asset('report.js')}</script></body></html>\n")
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
    embed: bool = False,
) -> Path:
    """Write the report to ``path`` atomically; returns the path. ``embed``: images inside the file."""
    path = Path(path)
    text = render_html(
        outputs,
        problems,
        summary=summary,
        run=run,
        title=title,
        folder=path.parent,
        pictures=read_pictures(outputs, path.parent, embed=embed),
        orphans=orphans,
        accepted_drift=accepted_drift,
        servers_down=servers_down,
        sections=sections,
    )
    write_atomic(path, text.encode("utf-8"))
    return path
