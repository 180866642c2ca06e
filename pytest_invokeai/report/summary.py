"""A machine-readable summary of a run, as JSON.

Every key is always present (null or empty when there is nothing), so tools can read it without
guessing; artifact paths are relative to the JSON's folder, with forward slashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai.report.files import link_from
from pytest_invokeai.report.outcomes import RunOutcome
from pytest_invokeai.report.results import (
    AcceptedDrift,
    OutputResult,
    TestProblem,
    ordered,
)

SUMMARY_FORMAT = "pytest-invokeai-summary"
# 2: the run's status and exit status (pytest's), summary.tests, the tests that did not pass, accepted drift.
SUMMARY_FORMAT_VERSION = 2


def output_record(result: OutputResult, folder: Path) -> dict[str, Any]:
    return {
        "test_id": result.test_id,
        "output": result.output,
        "label": result.label,
        "image_index": result.image_index,
        "verdict": result.verdict,
        "distances": dict(result.distances),
        "thresholds": dict(result.thresholds),
        "failed": list(result.failed),
        "explanation": result.explanation,
        "artifacts": {
            kind: None if path is None else link_from(folder, path) for kind, path in result.artifact_paths.items()
        },
        "baseline_kind": result.baseline_kind or None,
        "context": [note.to_json() for note in result.context],
        "extra": dict(result.extra),
    }


def summary_document(
    outputs: Sequence[OutputResult],
    problems: Sequence[TestProblem],
    *,
    summary: dict[str, Any],
    folder: Path,
    run: RunOutcome,
    orphans: Sequence[str] = (),
    accepted_drift: Sequence[AcceptedDrift] = (),
    servers_down: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    baselines_written: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The summary as JSON-ready data, failures first (the order of the HTML report).

    ``status`` and ``exit_status`` are pytest's; ``summary.tests`` counts every test of the run as pytest's
    final line does; ``tests`` lists each test that did not pass (skips included) with the reason.
    ``servers_down`` maps each server left out at the start or lost during the run to why. ``extra``: further
    keys (the run's environment and collection, see :func:`~pytest_invokeai.report.writer.run_facts`).
    ``baselines_written``: ``{test_id, record, previews}`` per test whose baseline files an update mode wrote
    (``record`` null where only previews were added beside a record that matched), paths relative to the rootdir.
    """
    outcome = run.to_json()
    return {
        "format": SUMMARY_FORMAT,
        "format_version": SUMMARY_FORMAT_VERSION,
        "status": outcome["status"],
        "exit_status": outcome["exit_status"],
        "summary": {**summary, "tests": dict(run.counts)},
        "tests": outcome["tests"],
        "outputs": [output_record(result, folder) for result in ordered(outputs)],
        "problems": [{"test_id": p.test_id, "verdict": p.verdict, "message": p.message} for p in ordered(problems)],
        "accepted_drift": [each.to_json() for each in accepted_drift],
        "orphans": list(orphans),
        "servers_down": dict(servers_down or {}),
        "baselines_written": [dict(each) for each in baselines_written],
        "cases": run_cases(outputs),
        **(extra or {}),
    }


def run_cases(outputs: Sequence[OutputResult]) -> dict[str, dict[str, Any]]:
    """Test id -> its case (workflow, inputs, server), for tools that run or recall a case of this run again."""
    cases: dict[str, dict[str, Any]] = {}
    for result in outputs:
        if result.case and result.test_id not in cases:
            cases[result.test_id] = dict(result.case)
    return cases


def write_json_summary(
    path: Path,
    outputs: Sequence[OutputResult],
    problems: Sequence[TestProblem],
    *,
    summary: dict[str, Any],
    run: RunOutcome,
    orphans: Sequence[str] = (),
    accepted_drift: Sequence[AcceptedDrift] = (),
    servers_down: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    baselines_written: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write the summary to ``path`` atomically; returns the path."""
    path = Path(path)
    document = summary_document(
        outputs,
        problems,
        summary=summary,
        folder=path.parent,
        run=run,
        orphans=orphans,
        accepted_drift=accepted_drift,
        servers_down=servers_down,
        extra=extra,
        baselines_written=baselines_written,
    )
    write_atomic(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return path
