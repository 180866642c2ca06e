"""The end of a run: the HTML report with its JSON summary, and the lines of the terminal summary.

Both take the run's typed results (:class:`~pytest_invokeai.run.state.RunResults`) and its settings,
never the run's state: the end of a run reads what happened, it connects to nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_invokeai.baseline.orphans import Pruned, unreadable_messages
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import VERSION_NOTE_KEY, AcceptedDrift, TestProblem, Verdict, summarize
from pytest_invokeai.run.settings import Settings
from pytest_invokeai.run.state import RunResults


def _accepted_drift(results: RunResults) -> list[AcceptedDrift]:
    return [AcceptedDrift(key, text) for key, text in sorted(results.accepted_drift.items())]


def _summary(results: RunResults) -> dict[str, Any]:
    return summarize(
        results.outputs, _problems(results), orphans=results.orphans, accepted_drift=_accepted_drift(results)
    )


def _problems(results: RunResults) -> list[TestProblem]:
    """The tests' problems, and each unreadable baseline file (by its path) that the run did not replace."""
    unreadable = unreadable_messages(results.unreadable, results.replaced)
    return [
        *results.problems,
        *(TestProblem(test_id=name, verdict=Verdict.ERROR, message=text) for name, text in unreadable),
    ]


def write_reports(results: RunResults, run: RunOutcome, *, settings: Settings, rootdir: Path) -> list[Path]:
    """Write the HTML report and the JSON summary when the run selected an InvokeAI test (run or skipped).

    The report replaces the previous one even when nothing was compared: a report left from an older run
    would tell of tests this run did not pass. A run with no InvokeAI test leaves the results folder alone.
    """
    report = settings.report
    if report is None or not (run.invokeai_tests or results.outputs or results.problems or results.servers_down):
        return []
    problems = _problems(results)
    # Imported here: a run that compared nothing (--collect-only, say) does not load images or the recall mapping.
    from pytest_invokeai.recall.commands import add_recall_lines
    from pytest_invokeai.report.html import write_html_report
    from pytest_invokeai.report.summary import write_json_summary
    from pytest_invokeai.workflow.load import load_workflow
    from pytest_invokeai.workflow.schema import load_schema

    summary = _summary(results)
    # A server the run started itself is gone once the run ends: the lines then name InvokeAI's default address.
    data_path = report.with_suffix(".json")
    add_recall_lines(
        results.outputs,
        rootdir=rootdir,
        server_known=bool(settings.urls),
        summary=data_path,
        authorized=bool(settings.token),
        login=settings.user,
        load=lambda path: load_workflow(path, schema=load_schema(settings.schema)),
    )
    accepted = _accepted_drift(results)
    down = dict(results.servers_down)  # a server left out or lost: named once, here and in the summary
    html = write_html_report(
        report,
        results.outputs,
        problems,
        summary=summary,
        run=run,
        orphans=results.orphans,
        accepted_drift=accepted,
        servers_down=down,
        embed=settings.report_embed,
    )
    data = write_json_summary(
        data_path,
        results.outputs,
        problems,
        summary=summary,
        run=run,
        orphans=results.orphans,
        accepted_drift=accepted,
        servers_down=down,
        extra=run_facts(results, settings),
        baselines_written=written_entries(results),
    )
    return [html, data]


def run_facts(results: RunResults, settings: Settings) -> dict[str, Any]:
    """What report.json keeps beside the results for merging the results of several runs (CI shards):
    the baseline profile and InvokeAI versions (a section each), what the run collected (the orphan scan)."""
    return {
        "environment": {
            "baseline_profile": settings.baseline_profile,
            "invokeai_versions": sorted(set(results.invokeai_versions.values())),
        },
        "collection": {
            "test_ids": list(results.collected),
            "used_workflows": list(results.used_workflows),
            "unlisted": list(results.unlisted),
        },
    }


def report_data(results: RunResults, run: RunOutcome, *, settings: Settings, folder: Path) -> dict[str, Any]:
    """The report's JSON document (what report.json holds, artifact paths relative to ``folder``)."""
    from pytest_invokeai.report.summary import summary_document

    return summary_document(
        results.outputs,
        _problems(results),
        summary=_summary(results),
        folder=folder,
        run=run,
        orphans=results.orphans,
        accepted_drift=_accepted_drift(results),
        servers_down=dict(results.servers_down),
        extra=run_facts(results, settings),
        baselines_written=written_entries(results),
    )


def write_run_job_summary(
    results: RunResults, run: RunOutcome, *, settings: Settings, rootdir: Path, step_summary: Path | None
) -> list[Path]:
    """The job summary (GitHub's step summary, appended; ``--invokeai-job-summary``, replaced) of a run that
    selected an InvokeAI test; built from the report's data."""
    if settings.job_summary is None and step_summary is None:
        return []
    if not (run.invokeai_tests or results.outputs or results.problems or results.servers_down):
        return []
    from pytest_invokeai.report.job_summary import job_summary_markdown, write_job_summary

    folder = settings.results_dir
    shown = folder.relative_to(rootdir).as_posix() if folder.is_relative_to(rootdir) else str(folder)
    markdown = job_summary_markdown(report_data(results, run, settings=settings, folder=folder), results_dir=shown)
    return write_job_summary(markdown, step_summary=step_summary, path=settings.job_summary)


def written_entries(results: RunResults) -> list[dict[str, Any]]:
    """``{test_id, record, previews}`` for each test whose baseline files this run wrote, by test id."""
    entries: list[dict[str, Any]] = [
        {"test_id": test_id, "record": files[0], "previews": files[1:]}
        for test_id, files in results.baselines_written.items()
    ]
    entries += [
        {"test_id": test_id, "record": None, "previews": list(files)}
        for test_id, files in results.previews_added.items()
    ]
    return sorted(entries, key=lambda each: str(each["test_id"]))


def summary_lines(
    results: RunResults,
    *,
    settings: Settings,
    orphan_note: str = "",
    pruned: Pruned | None = None,
    report_paths: Sequence[Path] = (),
) -> list[str]:
    """The terminal summary's lines (none when the run met no InvokeAI test and found no baseline file to name).

    ``orphan_note``: why orphans were not looked for; ``pruned``: what ``--invokeai-prune`` removed.
    """
    if pruned is not None:
        return _prune_lines(results, pruned)
    if not (
        results.outputs
        or results.problems
        or results.orphans
        or results.skipped
        or results.unreadable
        or results.replaced
        or report_paths
        or results.servers_down
        or results.baselines_written
        or results.previews_added
    ):
        return []
    lines = _count_lines(results)
    lines += written_lines(results)
    lines += version_lines(results)
    lines += accepted_drift_lines(results)
    lines += pack_change_lines(results)
    if results.skipped:
        lines.append(f"skipped for a missing model or node type: {len(results.skipped)}")
    lines += _baseline_file_lines(results, orphan_note)
    lines += server_lines(results, managed=not settings.urls)
    for path in report_paths:
        lines.append(f"report: {path}")
    return lines


def pack_change_lines(results: RunResults) -> list[str]:
    """One line per different change of node packs since the baselines, with how many tests it concerns."""
    from pytest_invokeai.local.node_packs import PACKS_CHANGED

    tests: dict[str, set[str]] = {}
    for output in results.outputs:
        change = output.extra.get(PACKS_CHANGED)
        if change:
            tests.setdefault(change, set()).add(output.test_id)
    return [f"{PACKS_CHANGED} of {len(ids)} test(s): {change}" for change, ids in sorted(tests.items())]


def version_lines(results: RunResults) -> list[str]:
    """Outputs compared with baselines recorded on another InvokeAI version: the upgrade story, said once per pair."""
    counts = Counter(o.extra[VERSION_NOTE_KEY] for o in results.outputs if VERSION_NOTE_KEY in o.extra)
    return [
        f"compared with baselines of another InvokeAI version: {note} ({count} output image(s))"
        for note, count in sorted(counts.items())
    ]


def _prune_lines(results: RunResults, pruned: Pruned) -> list[str]:
    verb = "would delete" if pruned.dry_run else "deleted"
    lines = [f"prune: {verb} {len(pruned.files)} file(s)", *(f"  {p}" for p in pruned.files)]
    if results.unreadable:
        lines.append(
            f"prune: left {len(results.unreadable)} unreadable file(s) alone (their tests may still use them):"
        )
        lines += [f"  {name}: {why}" for name, why in sorted(results.unreadable.items())]
    return lines


def _count_lines(results: RunResults) -> list[str]:
    counts = _summary(results)
    lines = [
        "outputs compared: {compared}; matched {matched}, mismatched {mismatched}, new {new}, updated {updated}, "
        "missing {missing}".format(
            **{k: counts.get(k, 0) for k in ("compared", "matched", "mismatched", "new", "updated", "missing")}
        )
    ]
    if not results.outputs:
        lines.append("no output image was compared in this run")
    if results.drifted_workflows:
        lines.append(
            f"drifted workflows: {len(results.drifted_workflows)} ({', '.join(sorted(results.drifted_workflows))})"
        )
    else:
        lines.append("drifted workflows: 0")
    return lines


def _baseline_file_lines(results: RunResults, orphan_note: str) -> list[str]:
    """Orphaned baselines (or why they were not looked for), then unreadable and replaced baseline files."""
    lines = []
    if results.orphans:
        lines.append(f"orphaned baselines: {len(results.orphans)} (remove with `pytest-invokeai baselines prune`)")
        lines += [f"  {name}" for name in results.orphans[:20]]
        if len(results.orphans) > 20:
            lines.append(f"  ... and {len(results.orphans) - 20} more")
    elif orphan_note:
        lines.append(orphan_note)
    else:
        lines.append("orphaned baselines: 0")
    unreadable = unreadable_messages(results.unreadable, results.replaced)
    if unreadable:
        lines.append(f"unreadable baselines: {len(unreadable)}")
        lines += [f"  {text}" for _, text in unreadable]
    lines += [
        f"replaced unreadable baseline {name} (kept as {kept})" for name, kept in sorted(results.replaced.items())
    ]
    return lines


def written_lines(results: RunResults) -> list[str]:
    """Every baseline an update mode wrote, by test id, and the previews it added to records it kept."""
    lines = []
    if results.baselines_written:
        previews = sum(len(files) - 1 for files in results.baselines_written.values())
        lines.append(f"baselines written: {len(results.baselines_written)} (with {previews} preview(s))")
        for test_id, files in sorted(results.baselines_written.items()):
            lines.append(f"  {test_id}")
            lines += [f"      {name}" for name in files]
    if results.previews_added:
        count = sum(len(files) for files in results.previews_added.values())
        lines.append(
            f"previews added: {count}, to {len(results.previews_added)} baseline(s) that matched (records unchanged)"
        )
        for test_id, files in sorted(results.previews_added.items()):
            lines.append(f"  {test_id}")
            lines += [f"      {name}" for name in files]
    return lines


def accepted_drift_lines(results: RunResults) -> list[str]:
    """Every workflow whose drift this run accepted, with what moved: accepting drift is a deliberate act."""
    accepted = _accepted_drift(results)
    if not accepted:
        return []
    lines = [f"drift accepted, index maps rewritten: {len(accepted)} workflow(s)"]
    for each in accepted:
        lines.append(f"  {each.workflow}:")
        lines += [f"    {line}" for line in each.drift.splitlines()]
    return lines


def server_lines(results: RunResults, *, managed: bool) -> list[str]:
    """Which servers ran the cases; with several, how many each ran and which went down."""
    if not results.servers and not results.servers_down:
        return []
    kind = "managed local InvokeAI" if managed else "InvokeAI"
    if len(results.servers) <= 1 and not results.servers_down:
        return [f"{kind}: {', '.join(sorted(results.servers))}"]
    urls = sorted(results.servers | set(results.server_cases) | set(results.servers_down))
    lines = [f"{kind} servers:" if len(urls) > 1 else f"{kind}:"]
    for url in urls:
        done = f"{results.server_cases.get(url, 0)} case(s)"
        down = results.servers_down.get(url)
        if down is None:
            lines.append(f"  {url}: {done}")
        elif url in results.server_cases or url in results.servers:
            lines.append(f"  {url}: {done}, then {down.removeprefix(f'InvokeAI at {url} ')}")
        else:
            lines.append(f"  {url}: {down}")
    if results.moved:
        lines.append(f"  {len(results.moved)} case(s) moved to another server after theirs went down")
    return lines
