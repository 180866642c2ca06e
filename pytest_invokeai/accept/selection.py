"""Which cases an accept request names, and what becomes of each, decided from the run's summary alone.

A case's state in the run (``report.json``): ``acceptable`` when one of its images was mismatched or had
no baseline; ``drifted`` when its workflow's form drifted (it generated nothing); ``matched`` when every
image it compared matched (or was written by the run's update mode); ``errored`` when it failed or errored
without images to accept; ``skipped``, and ``not run`` (its workflow had no index map yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_invokeai.recall.cases import match_test_id

ACCEPTABLE = "acceptable"
DRIFTED = "drifted"
MATCHED = "matched"
ERRORED = "errored"
SKIPPED = "skipped"
NOT_RUN = "not run"

_ACCEPTABLE_VERDICTS = frozenset({"mismatched", "missing"})


@dataclass(frozen=True)
class RunCase:
    test_id: str
    state: str
    reason: str = ""  # for errored, skipped and not-run cases: what the run said


def run_states(summary: Mapping[str, Any]) -> dict[str, RunCase]:
    """Every test id the summary knows, with its state (see the module's docstring); in the summary's order."""
    verdicts: dict[str, set[str]] = {}
    for output in _dicts(summary.get("outputs")):
        verdicts.setdefault(str(output.get("test_id")), set()).add(str(output.get("verdict")))
    states: dict[str, RunCase] = {}
    for test_id, seen in verdicts.items():
        if seen & _ACCEPTABLE_VERDICTS:
            states[test_id] = RunCase(test_id, ACCEPTABLE)
        else:
            written = seen & {"new", "updated"}
            states[test_id] = RunCase(test_id, MATCHED, "the run's update mode wrote it" if written else "")
    for problem in _dicts(summary.get("problems")):
        test_id, verdict = str(problem.get("test_id")), problem.get("verdict")
        message = str(problem.get("message", "")).splitlines()[0] if problem.get("message") else ""
        if test_id in states and states[test_id].state == ACCEPTABLE:
            continue
        if verdict == "drifted":
            states[test_id] = RunCase(test_id, DRIFTED, message)
        elif verdict == "missing":
            states[test_id] = RunCase(test_id, NOT_RUN, message)
        else:
            states[test_id] = RunCase(test_id, ERRORED, message)
    for test in _dicts(summary.get("tests")):
        test_id, outcome = str(test.get("test_id")), test.get("outcome")
        reason = str(test.get("reason") or "").splitlines()[0] if test.get("reason") else ""
        if test_id in states and states[test_id].state != MATCHED:
            continue  # its images or the problem say more than the outcome
        if outcome == "skipped":
            states[test_id] = RunCase(test_id, SKIPPED, reason)
        elif outcome in ("failed", "error"):
            # A test whose images all matched can still fail on its own asserts: nothing to accept either way.
            states[test_id] = RunCase(test_id, ERRORED, reason or f"the test {outcome}")
    return states


def select(states: Mapping[str, RunCase], queries: Sequence[str], *, failed: bool, where: str) -> list[RunCase]:
    """The cases named by ``queries`` (test ids or unique parts of one) and, with ``failed``, every acceptable
    or drifted case; each once, in the order asked, then the summary's. An unknown query raises CaseNotFound."""
    known = list(states)
    chosen: dict[str, RunCase] = {}
    for query in queries:
        test_id = query if query in states else match_test_id(query, known, where=where)
        chosen.setdefault(test_id, states[test_id])
    if failed:
        for case in states.values():
            if case.state in (ACCEPTABLE, DRIFTED):
                chosen.setdefault(case.test_id, case)
    return list(chosen.values())


def _dicts(items: Any) -> Iterable[Mapping[str, Any]]:
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []
