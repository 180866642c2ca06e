"""What pytest made of a run: its exit status, its final line's counts, every test that did not pass.

The report's status is pytest's, not the images': a run whose tests fail for reasons other than an
image verdict (a server lost mid-run, a timeout, a bad value, an unreadable baseline) is a failed run,
and its report says so. The counts are those of pytest's final line ("3 passed, 1 failed, 2 skipped"),
over every test of the run, InvokeAI or not: the pytest glue hands each report's category (as pytest's
own ``pytest_report_teststatus`` names it) to :meth:`RunOutcome.record`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The counts of the report, in the order pytest's final line names them, keyed as the report names them.
TEST_COUNTS = ("passed", "failed", "skipped", "errors", "xfailed", "xpassed")
#: pytest's category of a report -> the report's count (other categories, e.g. "rerun", are not counted).
_COUNT_OF_CATEGORY = {
    "passed": "passed",
    "failed": "failed",
    "skipped": "skipped",
    "error": "errors",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}
PASSED, FAILED = "passed", "failed"


@dataclass(frozen=True)
class TestOutcome:
    """One test (or one of its phases, as pytest counts them) that did not pass, and why."""

    __test__ = False  # not a pytest test class

    test_id: str
    outcome: str  # "failed", "error", "skipped", "xfailed" or "xpassed"
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"test_id": self.test_id, "outcome": self.outcome, "reason": self.reason}


@dataclass
class RunOutcome:
    """The run as pytest saw it. ``exit_status`` is known only when the session finishes."""

    exit_status: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TEST_COUNTS, 0))
    not_passed: list[TestOutcome] = field(default_factory=list)
    invokeai_tests: int = 0  # reports of InvokeAI tests (run or skipped): the run has something to report

    def record(self, test_id: str, category: str, reason: str, *, invokeai: bool = False) -> None:
        """One report that pytest counts in ``category`` (a passing setup or teardown has none)."""
        if invokeai:
            self.invokeai_tests += 1
        count = _COUNT_OF_CATEGORY.get(category)
        if count is None:
            return
        self.counts[count] += 1
        if count != PASSED:
            self.not_passed.append(TestOutcome(test_id, category, reason))

    @property
    def status(self) -> str:
        """``passed`` exactly when pytest exits with 0; anything else (failures, an interruption, no tests) failed."""
        return PASSED if self.exit_status == 0 else FAILED

    def counts_text(self) -> str:
        """Like pytest's final line: ``3 passed, 1 failed`` (``no tests ran`` when there were none)."""
        parts = [
            f"{n} {'error' if key == 'errors' and n == 1 else key}" for key in TEST_COUNTS if (n := self.counts[key])
        ]
        return ", ".join(parts) or "no tests ran"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_status": self.exit_status,
            "tests": [each.to_json() for each in self.not_passed],
        }
