"""What must hold before any case of a workflow is enqueued: its form did not drift, its models exist.

Drift: the workflow's current index map (form index -> node field) is compared with the map stored
with its baselines. If an input moved, vanished or appeared, every case of that workflow is blocked
with the person-readable report, because values given by index would now reach other fields. Only
update mode ``all`` or the explicit accept-drift switch rewrites the map; ``missing`` and
``changed`` never do: accepting images made with a prompt fed into a width must be a deliberate act.
A workflow with no stored map is like a missing baseline: written in any update mode, else blocked
with the command that writes it. An unreadable map (empty, cut short, binary) fails every case of its
workflow, naming the file; writing a new one is accepting the form as it is now, so only the modes
that accept drift do it, keeping the old bytes as ``<name>.broken`` beside it.

Node types and models: a node type the workflow uses but the server lacks (a custom node pack it did not
load) blocks the case as *skipped*, naming the types. The models a case declares are installed first (on
a managed server only); then a model the workflow needs but the server lacks skips the case, naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_invokeai._util.keys import workflow_key
from pytest_invokeai.baseline.store import BaselineStore, UnreadableIndexMap
from pytest_invokeai.baseline.update import UpdateMode, accepts_drift
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.report.results import Verdict
from pytest_invokeai.workflow.drift import DriftReport, IndexMap, check_drift
from pytest_invokeai.workflow.load import Workflow

if TYPE_CHECKING:  # the server side is imported when a case runs, not when pytest collects
    from pytest_invokeai.server.session import GenerationSession


class Blocked(Exception):
    """A case that must not run. ``verdict`` says how the test ends: drifted and missing fail, skipped skips."""

    def __init__(self, verdict: Verdict, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.message = message


@dataclass
class DriftEvent:
    workflow: str
    action: str  # "blocked", "accepted", "recorded" (a new map), "missing", "unreadable", "replaced"
    report: DriftReport | None = None
    kept_as: Path | None = None  # "replaced": where the unreadable map's bytes went


@dataclass
class WorkflowGate:
    store: BaselineStore
    rootdir: Path
    update_mode: UpdateMode
    accept_drift: bool
    session: GenerationSession | None = None  # for check(); a scheduler passes each server's own
    install_models: Callable[[tuple[str, ...]], None] | None = None  # None: the server is not ours to change
    on_replaced: Callable[[Path, Path], None] | None = None  # an unreadable map was replaced (its file, kept bytes)
    events: list[DriftEvent] = field(default_factory=list)
    _checked: dict[str, Exception | None] = field(default_factory=dict)
    _models_ready: set[tuple[str, ...]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def update_command(self, mode: str = "missing") -> str:
        return f"pytest --invokeai-update-baselines={mode}"

    def check(self, spec: CaseSpec, workflow: Workflow) -> None:
        """Raise :class:`Blocked` when the case must not run (node types, drift, then models on the gate's session)."""
        if self.session is not None:
            self.check_node_types(spec, workflow, self.session)
        self.check_drift(spec, workflow)
        if self.session is not None:
            self.check_models(spec, workflow, self.session)

    def check_drift(self, spec: CaseSpec, workflow: Workflow) -> None:
        """Raise :class:`Blocked` when the workflow's form drifted (the answer is kept per workflow)."""
        key = workflow_key(spec.workflow, self.rootdir)
        with self._lock:
            if key not in self._checked:
                self._checked[key] = self._drift(key, workflow)
            blocked = self._checked[key]
        if blocked is not None:
            raise blocked

    def _drift(self, key: str, workflow: Workflow) -> Exception | None:
        current = IndexMap.from_workflow(workflow)
        try:
            saved = self.store.load_index_map(key)
        except UnreadableIndexMap as exc:
            return self._unreadable_map(key, current, exc)
        if saved is None:
            if self.update_mode is UpdateMode.NONE:
                self.events.append(DriftEvent(key, "missing"))
                return Blocked(
                    Verdict.MISSING,
                    f"workflow {key} has no stored index map in {self.store.root} (no baselines were recorded "
                    f"for it yet). Record them with:\n  {self.update_command()}",
                )
            self.store.save_index_map(key, current)
            self.events.append(DriftEvent(key, "recorded"))
            return None
        report = check_drift(workflow, saved)
        if not report.has_drift:
            return None
        if accepts_drift(self.update_mode, accept_drift_flag=self.accept_drift):
            self.store.save_index_map(key, current)
            self.events.append(DriftEvent(key, "accepted", report))
            return None
        self.events.append(DriftEvent(key, "blocked", report))
        return Blocked(
            Verdict.DRIFTED,
            f"the form of workflow {key} changed since its baselines were recorded; values given by index "
            f"would reach other fields, so none of its cases ran.\n{report.text()}\n"
            "If the change is intended, fix the tests' indices, then accept the new form with "
            f"`{self.update_command('all')}` or `pytest --invokeai-accept-drift`.",
        )

    def _unreadable_map(self, key: str, current: IndexMap, exc: UnreadableIndexMap) -> Exception | None:
        """Replace the map (keeping its bytes) when the run accepts drift; else every case of the workflow fails."""
        if accepts_drift(self.update_mode, accept_drift_flag=self.accept_drift):
            kept = self.store.replace_unreadable_index_map(key, current)
            if kept is not None:  # (None: another xdist worker replaced it first, and says so)
                self.events.append(DriftEvent(key, "replaced", kept_as=kept))
                if self.on_replaced is not None:
                    self.on_replaced(exc.path, kept)
            return None
        self.events.append(DriftEvent(key, "unreadable"))
        return UnreadableIndexMap(
            exc.path,
            f"{exc.problem}; it is the index map of workflow {key}, so none of its cases ran. It guards the tests' "
            "input indices against form changes: check that they still point at the right inputs, then write a new "
            f"map with `{self.update_command('all')}` or `pytest --invokeai-accept-drift` (the broken file is kept as "
            f"{exc.path.name}.broken)",
        )

    def accepted_drift(self) -> dict[str, str]:
        """Workflow -> what moved, for every workflow whose drift this gate accepted (its index map rewritten)."""
        return {
            event.workflow: event.report.text() for event in self.events if event.action == "accepted" and event.report
        }

    def check_node_types(self, spec: CaseSpec, workflow: Workflow, session: GenerationSession) -> None:
        """A node type the server lacks skips the case, naming the types. Checked before drift too: without the
        pack, the form's custom fields have only guessed kinds, which must not read as a changed form."""
        live_schema = getattr(session, "live_schema", None)  # a session that never read its server's has none
        if live_schema is not None:
            from pytest_invokeai.server.live_schema import missing_node_types

            lacking = missing_node_types(workflow, live_schema)
            if lacking:
                raise Blocked(
                    Verdict.SKIPPED,
                    f"{workflow_key(spec.workflow, self.rootdir)}: InvokeAI at {session.client.base_url} has no node "
                    f"type {', '.join(repr(each) for each in lacking)} (a custom node pack it has not loaded; give the "
                    "managed server its folder with --invokeai-nodes, or install the pack on that server)",
                )

    def check_models(self, spec: CaseSpec, workflow: Workflow, session: GenerationSession) -> None:
        """Install the case's declared models (managed server only); a node type or model still missing skips it."""
        self.check_node_types(spec, workflow, session)
        if spec.models and self.install_models is not None:
            with self._lock:
                if spec.models not in self._models_ready:
                    self.install_models(spec.models)
                    session.refresh_models()
                    self._models_ready.add(spec.models)
        from pytest_invokeai.server.ai_models import missing_models

        missing = missing_models(session.installed_models, workflow)
        if missing:
            raise Blocked(Verdict.SKIPPED, f"{workflow_key(spec.workflow, self.rootdir)}: {missing[0]}")
