"""The run's job summary: Markdown for a CI page (GitHub's step summary, GitLab, Jenkins, a pull-request bot).

It is built from the report's JSON document (:func:`~pytest_invokeai.report.summary.summary_document`),
the same data as ``report.json``: pytest's counts of the tests, the counts of the compared outputs, one
row per failing case with its reason in a few words, and the command that accepts the failures from
the results folder once it is downloaded. :func:`job_summary_markdown` is pure; the writing is at the end.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai.report.outcomes import TEST_COUNTS

#: At most this many failing cases get a row; the rest are counted in one line.
MAX_ROWS = 100
#: A reason longer than this is cut (the report has the whole text).
REASON_WORDS = 12
#: The output counts, in the order the summary names them.
OUTPUT_COUNTS = ("compared", "matched", "mismatched", "missing", "new", "updated", "drifted", "errors")
#: Characters that mean something to Markdown (GitHub's included: tables, strikethrough, autolinks, HTML).
_SPECIAL = frozenset("\\`*_{}[]<>()#+!|~&")
#: pytest's outcomes that fail a run: each gets a row.
_FAILING = ("failed", "error")


def escape_markdown(text: str) -> str:
    """``text`` shown as it is in Markdown, on one line: special characters backslash-escaped."""
    one_line = " ".join(str(text).split())
    return "".join(f"\\{char}" if char in _SPECIAL else char for char in one_line)


def _few_words(text: str) -> str:
    words = str(text).split()
    return " ".join(words[:REASON_WORDS]) + (" …" if len(words) > REASON_WORDS else "")


def failing_cases(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(test id, reason in a few words) of every failing test, in the report's order (failures first).

    The reason is the image verdict where the test compared images (``mismatched: color, phash``), the
    test-level verdict where it could not (``drifted``), else the first words of pytest's own reason.
    """
    verdicts: dict[str, list[str]] = {}
    for output in document.get("outputs", []):
        if output.get("verdict") in ("mismatched", "missing", "error", "drifted"):
            signals = ", ".join(output.get("failed") or [])
            verdicts.setdefault(output["test_id"], []).append(
                f"{output['verdict']}: {signals}" if signals else str(output["verdict"])
            )
    for problem in document.get("problems", []):
        first_line = str(problem.get("message", "")).strip().splitlines()[:1]
        verdicts.setdefault(problem["test_id"], []).append(
            f"{problem['verdict']}: {_few_words(first_line[0])}" if first_line else str(problem["verdict"])
        )
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for test in document.get("tests", []):
        test_id = test["test_id"]
        if test.get("outcome") not in _FAILING or test_id in seen:
            continue
        seen.add(test_id)
        found = verdicts.get(test_id)
        reason = "; ".join(dict.fromkeys(found)) if found else _few_words(test.get("reason", "")) or test["outcome"]
        rows.append((test_id, reason if test["outcome"] == "failed" else f"error: {reason}"))
    return rows


def job_summary_markdown(document: Mapping[str, Any], *, results_dir: str, title: str = "InvokeAI") -> str:
    """The Markdown job summary of a run (or of merged shards) from its report document.

    ``results_dir``: the results folder as the person who downloads it names it (the accept command's
    ``--results``). Test ids and reasons are escaped; at most :data:`MAX_ROWS` rows, then "N more".
    """
    status = document.get("status", "failed")
    counts = document.get("summary", {})
    tests = counts.get("tests", {})
    lines = [
        f"### {escape_markdown(title)}: {status}",
        "",
        "| tests | " + " | ".join(TEST_COUNTS) + " |",
        "| --- |" + " ---: |" * len(TEST_COUNTS),
        "| | " + " | ".join(str(tests.get(key, 0)) for key in TEST_COUNTS) + " |",
        "",
        "| outputs | " + " | ".join(OUTPUT_COUNTS) + " |",
        "| --- |" + " ---: |" * len(OUTPUT_COUNTS),
        "| | " + " | ".join(str(counts.get(key, 0)) for key in OUTPUT_COUNTS) + " |",
        "",
    ]
    rows = failing_cases(document)
    if rows:
        lines += ["| failing case | reason |", "| --- | --- |"]
        lines += [f"| {escape_markdown(test_id)} | {escape_markdown(reason)} |" for test_id, reason in rows[:MAX_ROWS]]
        if len(rows) > MAX_ROWS:
            lines.append(f"\n{len(rows) - MAX_ROWS} more failing case(s): see report.html in the results.")
        lines.append("")
    if counts.get("failures", 0):
        lines += [
            "Download the results and accept these images as the new baselines (after looking at them):",
            "",
            "```sh",
            f"pytest-invokeai accept --failed --results {_shell_word(results_dir)}",
            "```",
            "",
        ]
    return "\n".join(lines)


def _shell_word(text: str) -> str:
    """A path as one shell word (quoted only when it needs to be)."""
    return shlex.quote(text)


def write_job_summary(markdown: str, *, step_summary: Path | None, path: Path | None) -> list[Path]:
    """Append ``markdown`` to the CI's step summary file (others' sections stay) and replace the file at
    ``path``; returns the files written."""
    written = []
    if step_summary is not None:
        with step_summary.open("a", encoding="utf-8") as file:  # GitHub's file collects every step's summary
            file.write(markdown if markdown.endswith("\n") else markdown + "\n")
        written.append(step_summary)
    if path is not None:
        write_atomic(path, markdown.encode("utf-8"))
        written.append(path)
    return written


def step_summary_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """GitHub Actions' ``GITHUB_STEP_SUMMARY`` file, when the run is a step of a GitHub workflow."""
    value = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY", "").strip()
    return Path(value) if value else None
