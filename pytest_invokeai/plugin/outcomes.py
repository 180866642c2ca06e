"""What pytest made of each test, counted as its final line counts it (the report's status and counts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_invokeai.cases.suite_file import is_suite_file
from pytest_invokeai.plugin.bridge import MARKER
from pytest_invokeai.report.outcomes import RunOutcome


class OutcomeRecorder:
    """Every test's outcome as pytest's final line counts it, and why each one that did not pass did not.

    Registered in the run's owner (the xdist controller sees the workers' reports: it counts for the whole run).
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcome = RunOutcome()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        invokeai = report.when == "setup" and MARKER in report.keywords  # every test has one setup report
        if report.passed and report.when != "call":  # a passing setup or teardown: pytest counts nothing
            self.outcome.record(report.nodeid, "", "", invokeai=invokeai)
            return
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        if not getattr(report, "count_towards_summary", True):
            category = ""
        self.outcome.record(report.nodeid, category, _reason(report), invokeai=invokeai)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed or report.skipped:  # as pytest's final line counts them: an error, a skipped module
            category = "error" if report.failed else "skipped"
            self.outcome.record(report.nodeid, category, _reason(report), invokeai=is_suite_file(Path(report.nodeid)))


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """What pytest's short summary says of a report: the skip or xfail reason, else the error's message."""
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail)
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:  # a skip: (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:  # pytest.fail's message is the reason; "Failed: " names only pytest's exception
        return str(crash.message).removeprefix("Failed: ")
    return str(longrepr)
