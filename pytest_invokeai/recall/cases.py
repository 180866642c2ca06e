"""Find a test case to recall: by test id (in the last run's summary or the baseline store) or a record file.

A baseline record and the run summary (``report.json`` beside the HTML report, key ``cases``) both
keep a case as its workflow (a path relative to the rootdir) and its input values by form index,
with the input's display name at the time. :func:`case_values` turns those back into values for
:func:`~pytest_invokeai.recall.mapping.map_recall`, checking that the form still has those inputs.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_invokeai.baseline.record import BaselineRecord
from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.errors import BaselineError, InputValueError, InvokeAITestError
from pytest_invokeai.workflow.form import FormInput, form_inputs
from pytest_invokeai.workflow.load import Workflow

SOURCES = ("auto", "results", "baseline")  # auto: the last run's results, else the baseline
CLOSEST = 5  # ids suggested for an unknown one
LISTED = 20  # matches listed for an ambiguous one


class CaseNotFound(InvokeAITestError):
    """No case, or more than one, matches what was asked for."""


@dataclass(frozen=True)
class RecallCase:
    test_id: str
    workflow_key: str  # as recorded: relative to the rootdir, forward slashes
    inputs: list[dict[str, Any]]  # [{"index", "name", "value"}] as recorded
    origin: str  # "baseline FILE" or "last run FILE", for people
    rootdir: Path
    server: str | None = None  # the URL the last run generated it on
    notes: list[str] = field(default_factory=list)

    @property
    def workflow_path(self) -> Path:
        return self.rootdir / self.workflow_key


@dataclass(frozen=True)
class CaseLookup:
    rootdir: Path
    baseline_dir: Path
    profile: str | None
    summary: Path  # the last run's JSON summary
    source: str = "auto"

    def find(self, query: str) -> RecallCase:
        """The case ``query`` names: a record file, an exact test id, or a unique part of one."""
        if query.endswith(".json") and Path(query).is_file():
            return _from_record_file(Path(query), self.rootdir)
        run_cases = self._run_cases() if self.source in ("auto", "results") else {}
        stored = self._stored_ids() if self.source in ("auto", "baseline") else {}
        known = sorted(set(run_cases) | set(stored))
        test_id = query if query in known else self._unique_match(query, known)
        if test_id in run_cases:
            return self._from_run(test_id, run_cases[test_id])
        return self._from_store(test_id, stored[test_id])

    def _unique_match(self, query: str, known: list[str]) -> str:
        return match_test_id(query, known, where=self._where_looked())

    def _where_looked(self) -> str:
        places = []
        if self.source in ("auto", "results"):
            places.append(f"last run: {self.summary}{'' if self.summary.is_file() else ' (not there)'}")
        if self.source in ("auto", "baseline"):
            store = f"{self.baseline_dir}" + (f" profile {self.profile}" if self.profile else "")
            places.append(f"baselines: {store}{'' if self.baseline_dir.is_dir() else ' (not there)'}")
        return "looked in " + "; ".join(places)

    # -- the last run -------------------------------------------------------------------------

    def _run_cases(self) -> dict[str, dict[str, Any]]:
        if not self.summary.is_file():
            return {}
        try:
            data = json.loads(self.summary.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CaseNotFound(f"{self.summary}: cannot read the run summary: {exc}") from None
        cases = data.get("cases") if isinstance(data, dict) else None
        if not isinstance(cases, dict):
            return {}  # a summary written before cases were kept in it
        return {k: v for k, v in cases.items() if isinstance(v, dict) and isinstance(v.get("workflow"), str)}

    def _from_run(self, test_id: str, case: dict[str, Any]) -> RecallCase:
        return RecallCase(
            test_id=test_id,
            workflow_key=case["workflow"],
            inputs=[dict(i) for i in case.get("inputs", []) if isinstance(i, dict)],
            origin=f"last run {self.summary}",
            rootdir=self.rootdir,
            server=case.get("server") or None,
        )

    # -- the baseline store ----------------------------------------------------------------------

    def _stored_ids(self) -> dict[str, Path]:
        if not self.baseline_dir.is_dir():
            return {}
        # The profile's own records win, as in a test run; a broken record is left out (`baselines list` names it).
        return BaselineStore(self.baseline_dir, profile=self.profile).visible_test_ids()

    def _from_store(self, test_id: str, path: Path) -> RecallCase:
        return _record_case(BaselineRecord.from_json(path.read_bytes(), source=str(path)), path, self.rootdir)


def match_test_id(query: str, known: list[str], *, where: str) -> str:
    """The one test id of ``known`` that ``query`` is part of (also in the underscore form of a record's file
    name); else :class:`CaseNotFound` listing the matches or the closest ids (``where`` says where they came from)."""
    matches = [test_id for test_id in known if query in test_id]
    if not matches:  # a part copied from a record's file name: "Prompt=a_red_fox" for "Prompt=a red fox"
        matches = [test_id for test_id in known if _loose(query) in _loose(test_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = "\n  ".join(matches[:LISTED]) + (
            f"\n  ... and {len(matches) - LISTED} more" if len(matches) > LISTED else ""
        )
        raise CaseNotFound(f"{query!r} matches {len(matches)} test ids; give the whole id:\n  {shown}")
    closest = difflib.get_close_matches(query, known, n=CLOSEST, cutoff=0.3)
    if not known:
        raise CaseNotFound(f"no test id {query!r}: no cases found ({where})")
    hint = (
        (":\n  closest: " + "\n           ".join(closest))
        if closest
        else f"; {len(known)} known ids (pytest-invokeai baselines list)"
    )
    raise CaseNotFound(f"no test id {query!r} ({where}){hint}")


def _loose(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", text).lower()


def _from_record_file(path: Path, rootdir: Path) -> RecallCase:
    try:
        record = BaselineRecord.from_json(path.read_bytes(), source=str(path))
    except OSError as exc:
        raise CaseNotFound(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if record.workflow:
        rootdir = _rootdir_holding(record.workflow, path.resolve().parent, rootdir)
    return _record_case(record, path, rootdir)


def _record_case(record: BaselineRecord, path: Path, rootdir: Path) -> RecallCase:
    if not record.workflow:
        raise BaselineError(f"{path}: the record names no workflow, so its case cannot be rebuilt; record it again")
    return RecallCase(
        test_id=record.test_id,
        workflow_key=record.workflow,
        inputs=list(record.inputs),
        origin=f"baseline {path}",
        rootdir=rootdir,
    )


def _rootdir_holding(workflow_key: str, start: Path, default: Path) -> Path:
    """The rootdir a record's workflow path is relative to: ``default`` if it holds it, else an ancestor of ``start``."""
    if (default / workflow_key).is_file():
        return default
    for folder in [start, *start.parents]:
        if (folder / workflow_key).is_file():
            return folder
    return default


def case_values(case: RecallCase, workflow: Workflow) -> tuple[dict[int | str, Any], list[str]]:
    """The recorded inputs as ``{form index: value}``, and notes on what was adjusted or left out.

    An input is found by its recorded index if it still has its recorded name there, else by the name
    (the form was reordered). A recorded image path that exists under the rootdir is a local file
    (:class:`~pathlib.Path`); an image given as bytes (recorded as its hash) cannot be rebuilt.
    """
    inputs = form_inputs(workflow)
    values: dict[int | str, Any] = {}  # keyed by form index; typed as map_recall takes it
    notes: list[str] = []
    for entry in case.inputs:
        index, name, value = entry.get("index"), entry.get("name"), entry.get("value")
        form_input = _find_input(inputs, index, name, case, notes)
        if form_input.kind == "image" and isinstance(value, str):
            if value.startswith("sha256:"):
                notes.append(
                    f"input #{form_input.index} {form_input.display_name!r}: the case gave the image as bytes "
                    "(recorded only as their hash): the workflow's own image is used"
                )
                continue
            local = case.rootdir / value
            if local.is_file():
                value = local
        values[form_input.index] = value
    return values, notes


def _find_input(inputs: list[FormInput], index: Any, name: Any, case: RecallCase, notes: list[str]) -> FormInput:
    if isinstance(index, int) and 0 <= index < len(inputs) and (name is None or inputs[index].display_name == name):
        return inputs[index]
    named = [item for item in inputs if item.display_name == name]
    if len(named) == 1:
        notes.append(f"input {name!r} was #{index} when the case was recorded and is #{named[0].index} now")
        return named[0]
    listing = "; ".join(f"#{item.index} {item.display_name!r}" for item in inputs) or "none"
    raise InputValueError(
        f"{case.origin}: recorded input #{index} {name!r} is not on the form of {case.workflow_key} any more "
        f"(the form changed since; its inputs now: {listing})"
    )
