"""What a run found, as plain data the report writers share: one record per compared output image,
one per test-level problem (drift, server error), and the counts of a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pytest_invokeai.report.context import ContextNote


class Verdict(StrEnum):
    """How a compared output image, or a test that could not compare one, ends.

    A ``str`` enum: it is its own text in JSON, JUnit, HTML classes and comparisons with strings.
    Members are in the order reports list them: failures first.
    """

    MISMATCHED = "mismatched"  # differs from its baseline, and the update mode keeps the baseline
    MISSING = "missing"  # no baseline (image) or no stored index map (test), and the mode writes none
    ERROR = "error"  # the test could not judge its images (a server error, an unreadable baseline)
    DRIFTED = "drifted"  # the workflow's form changed since its baselines were recorded
    NEW = "new"  # no baseline yet; the update mode wrote one
    UPDATED = "updated"  # differed or vanished; the update mode rewrote it
    MATCHED = "matched"
    SKIPPED = "skipped"  # a model the workflow needs is not on the server: the test is skipped, not judged


#: Every verdict, in the order reports list them: failures first.
VERDICTS = tuple(Verdict)
#: Verdicts that fail a test.
FAILURE_VERDICTS = frozenset({Verdict.MISMATCHED, Verdict.MISSING, Verdict.ERROR, Verdict.DRIFTED})
#: Verdicts an output image can have (a skipped test compared no image).
OUTPUT_VERDICTS = tuple(v for v in Verdict if v is not Verdict.SKIPPED)
#: What an output's baseline picture is: the full PNG copy, the preview, or none kept.
BASELINE_KINDS = ("image", "preview", "")
#: Verdicts of a test-level problem; missing: a workflow with no stored index map.
PROBLEM_VERDICTS = (Verdict.DRIFTED, Verdict.MISSING, Verdict.ERROR)


def _check_verdict(verdict: str, valid: Sequence[Verdict], what: str) -> Verdict:
    if verdict not in valid:
        raise ValueError(f"{what} verdict {verdict!r} is not one of: {', '.join(valid)}")
    return Verdict(verdict)


#: The key of :attr:`OutputResult.extra` that says its baseline was recorded on another InvokeAI version
#: (``"recorded on 6.13.8, ran on 6.14.2"``).
VERSION_NOTE_KEY = "InvokeAI version"


@dataclass
class OutputResult:
    """One compared output image of one test."""

    __test__ = False  # not a pytest test class, even when imported into a test module

    test_id: str
    output: str  # output node id
    label: str = ""  # node label, for people
    image_index: int = 0
    verdict: Verdict = Verdict.MATCHED  # a string with a verdict's name is taken too (e.g. read back from JSON)
    distances: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # signals over their threshold
    explanation: str = ""
    # Artifact files (absolute paths; reports link to them relative to the report's folder).
    actual: Path | None = None
    baseline: Path | None = None
    diff: Path | None = None
    side_by_side: Path | None = None
    # What ``baseline`` is: "image" (the full PNG copy kept beside the record), "preview" (the record's small
    # preview), or "" when the baseline keeps no picture of this output (or there is no baseline).
    baseline_kind: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # e.g. {"recall command": "..."}, shown as copyable text
    # The case that made it, so it can be run or recalled again: {"workflow": path relative to the rootdir,
    # "inputs": [{"index", "name", "value"}] as a baseline records them, "server": URL it ran on}.
    case: dict[str, Any] = field(default_factory=dict)
    # The baseline record's context (InvokeAI version, workflow hash, models, inputs) against this run's.
    context: list[ContextNote] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.verdict = _check_verdict(self.verdict, OUTPUT_VERDICTS, "output")
        self.context = [ContextNote.of(note) for note in self.context]  # read back from JSON (xdist) too
        if self.baseline_kind not in BASELINE_KINDS:
            raise ValueError(f"baseline kind {self.baseline_kind!r} is not one of: {', '.join(BASELINE_KINDS)}")

    @property
    def is_failure(self) -> bool:
        return self.verdict in FAILURE_VERDICTS

    @property
    def artifact_paths(self) -> dict[str, Path | None]:
        return {"actual": self.actual, "baseline": self.baseline, "diff": self.diff, "side_by_side": self.side_by_side}


@dataclass
class TestProblem:
    """A test-level verdict with no image, e.g. drift of the form indices or a server error."""

    __test__ = False

    test_id: str
    verdict: Verdict  # drifted, missing or error
    message: str  # person-readable (multi-line) text, e.g. the drift report

    def __post_init__(self) -> None:
        self.verdict = _check_verdict(self.verdict, PROBLEM_VERDICTS, "test problem")


@dataclass(frozen=True)
class AcceptedDrift:
    """A workflow whose drifted form this run accepted (its stored index map was rewritten), and what moved."""

    workflow: str  # its name in the store (path relative to the rootdir)
    drift: str  # the drift report: one line per input that moved, vanished, appeared or changed

    def to_json(self) -> dict[str, str]:
        return {"workflow": self.workflow, "drift": self.drift}


def summarize(
    outputs: Iterable[OutputResult],
    problems: Iterable[TestProblem],
    *,
    orphans: Sequence[str] = (),
    accepted_drift: Sequence[AcceptedDrift] = (),
) -> dict[str, int]:
    """The counts of a run's comparisons (pytest's own counts of its tests are in :mod:`.outcomes`).

    ``compared`` counts every output image checked, whatever its verdict. ``drifted`` and ``errors``
    count output verdicts and test problems together. ``failures`` is mismatched + missing + drifted + errors.
    ``orphaned`` counts baselines that no test used (informational, not a failure). ``drift_accepted``
    counts workflows whose drifted form this run accepted (their index maps were rewritten).
    """
    outputs = list(outputs)
    problems = list(problems)
    by_verdict = dict.fromkeys(VERDICTS, 0)
    items: list[OutputResult | TestProblem] = [*outputs, *problems]
    for item in items:
        by_verdict[item.verdict] += 1
    return {
        "compared": len(outputs),
        "matched": by_verdict[Verdict.MATCHED],
        "mismatched": by_verdict[Verdict.MISMATCHED],
        "missing": by_verdict[Verdict.MISSING],  # no baseline, and the update mode did not write one
        "new": by_verdict[Verdict.NEW],
        "updated": by_verdict[Verdict.UPDATED],
        "drifted": by_verdict[Verdict.DRIFTED],
        "errors": by_verdict[Verdict.ERROR],
        "orphaned": len(orphans),
        "drift_accepted": len(accepted_drift),
        "failures": sum(by_verdict[verdict] for verdict in FAILURE_VERDICTS),
    }


Item = TypeVar("Item", OutputResult, TestProblem)


def ordered(items: Iterable[Item]) -> list[Item]:
    """Failures first (in VERDICTS order); within a verdict, the order the run produced them."""
    return sorted(items, key=lambda item: VERDICTS.index(item.verdict))


def format_number(value: float) -> str:
    """A distance or threshold for people and for JUnit: ``3`` rather than ``3.0``, else the shortest exact form."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)
