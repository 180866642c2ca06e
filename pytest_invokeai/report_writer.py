"""The end of a run: the HTML report with its JSON summary, and the lines of the terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report.results import summarize


def _summary(state: Any) -> dict[str, Any]:
    results = state.results
    return summarize(results.outputs, results.problems, orphans=results.orphans)


def write_reports(state: Any) -> list[Path]:
    """Write the HTML report and the JSON summary when the run compared anything or found a problem."""
    results = state.results
    report = state.settings.report
    if report is None or not (results.outputs or results.problems or results.servers_down):
        return []
    # Imported here: a run that compared nothing (--collect-only, say) does not load images or the recall mapping.
    from .recall.commands import add_recall_lines
    from .report.html import write_html_report
    from .report.summary import write_json_summary

    summary = _summary(state)
    # A server the run started itself is gone once the run ends: the lines then name InvokeAI's default address.
    data_path = report.with_suffix(".json")
    add_recall_lines(results.outputs, rootdir=state.rootdir, server_known=not state.managed, summary=data_path)
    down = dict(results.servers_down)  # a server left out or lost: named once, here and in the summary
    html = write_html_report(report, results.outputs, results.problems, summary=summary, servers_down=down)
    data = write_json_summary(data_path, results.outputs, results.problems, summary=summary, servers_down=down)
    return [html, data]


def summary_lines(state: Any) -> list[str]:
    results = state.results
    if state.prune_mode:
        verb = "would delete" if state.prune_mode == "dry-run" else "deleted"
        return [f"prune: {verb} {len(state.pruned)} file(s)", *(f"  {p}" for p in state.pruned)]
    if not (results.outputs or results.problems or results.orphans or results.skipped or results.servers_down):
        return []
    counts = _summary(state)
    lines = [
        "outputs compared: {compared}; matched {matched}, mismatched {mismatched}, new {new}, updated {updated}, "
        "missing {missing}".format(**{k: counts.get(k, 0) for k in ("compared", "matched", "mismatched", "new", "updated", "missing")})
    ]
    if results.drifted_workflows:
        lines.append(f"drifted workflows: {len(results.drifted_workflows)} ({', '.join(sorted(results.drifted_workflows))})")
    else:
        lines.append("drifted workflows: 0")
    if results.skipped:
        lines.append(f"skipped for a missing model: {len(results.skipped)}")
    if results.orphans:
        lines.append(f"orphaned baselines: {len(results.orphans)} (remove with `pytest-invokeai baselines prune`)")
        lines += [f"  {name}" for name in results.orphans[:20]]
        if len(results.orphans) > 20:
            lines.append(f"  ... and {len(results.orphans) - 20} more")
    elif state.orphan_note:
        lines.append(state.orphan_note)
    else:
        lines.append("orphaned baselines: 0")
    lines += server_lines(state)
    for path in state.report_paths:
        lines.append(f"report: {path}")
    return lines


def server_lines(state: Any) -> list[str]:
    """Which servers ran the cases; with several, how many each ran and which went down."""
    results = state.results
    if not results.servers and not results.servers_down:
        return []
    kind = "managed local InvokeAI" if state.managed else "InvokeAI"
    if len(results.servers) <= 1 and not results.servers_down:
        return [f"{kind}: {', '.join(sorted(results.servers))}"]
    lines = [f"{kind} servers:"]
    for url in sorted(results.servers | set(results.server_cases) | set(results.servers_down)):
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
