"""Keep the server busy: enqueue the cases this process will run ahead of the test that waits.

Cases known at collection (marker inputs, matrices, suite files) are planned in test order. When a
test asks for its result, the cases from there up to ``look_ahead`` further are enqueued (in as few
batches as their values allow), so the server works on the next cases while pytest compares this
one; the test then waits only for its own queue items. Topping up happens in chunks, when fewer
than half the look-ahead is left queued, so a long suite does not pay one enqueue per test.

Before a workflow's first case is enqueued, its gate runs (drift and models, see :mod:`.gate`). A
case the gate blocks is never enqueued: no generation is wasted on a drifted form.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .cases import CaseSpec
from .gate import Blocked, WorkflowGate
from .server.session import GenerationResult, GenerationSession, PendingGeneration
from .workflow.load import Workflow, load_workflow


class WorkflowCache:
    """Each workflow file is parsed once per process."""

    def __init__(self, loader: Callable[[Path], Workflow] = load_workflow) -> None:
        self._loader = loader
        self._loaded: dict[Path, Workflow] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Workflow:
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = self._loader(path)
            return self._loaded[path]


class CaseScheduler:
    def __init__(
        self,
        session: GenerationSession,
        gate: WorkflowGate,
        workflows: WorkflowCache,
        *,
        look_ahead: int = 32,
    ) -> None:
        self.session = session
        self.gate = gate
        self.workflows = workflows
        self.look_ahead = max(1, look_ahead)
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        self._specs: dict[str, CaseSpec] = {}
        self._started: dict[str, PendingGeneration | BaseException] = {}
        self._cursor = 0  # everything before it has been enqueued (or blocked)
        self._lock = threading.RLock()

    # -- planning ----------------------------------------------------------------------------

    def plan(self, cases: Sequence[tuple[str, CaseSpec]]) -> None:
        """The cases this process will run, in order. Called again when more are handed to it (xdist)."""
        with self._lock:
            for key, spec in cases:
                self._specs[key] = spec
                if key not in self._position:
                    self._position[key] = len(self._order)
                    self._order.append(key)

    def planned(self, key: str) -> bool:
        return key in self._specs

    # -- results -----------------------------------------------------------------------------

    def result(self, key: str, timeout: float | None = None) -> GenerationResult:
        """The planned case's result; raises :class:`Blocked` when its gate stopped it."""
        with self._lock:
            if key not in self._position:
                raise KeyError(f"case {key!r} was not planned")
            self._fill(self._position[key])
            if key not in self._started:  # asked twice (a rerun) or skipped over: enqueue it alone
                self._enqueue([key])
            started = self._started.pop(key)
        if isinstance(started, BaseException):
            raise started
        return started.result(timeout)

    def run_now(self, key: str, spec: CaseSpec, timeout: float | None = None) -> GenerationResult:
        """A case not known at collection (an ad-hoc call in a test body): enqueue it now and wait."""
        workflow = self.workflows.get(spec.workflow)
        self.gate.check(spec, workflow)
        pending = self.session.submit(workflow, {key: dict(spec.inputs)}, generation_timeout=spec.timeout)[key]
        return pending.result(timeout)

    def cancel(self) -> None:
        """Cancel what this process enqueued and has not finished (the run stopped early)."""
        self.session.runner.cancel()

    # -- enqueueing --------------------------------------------------------------------------

    def _queued_ahead(self, position: int) -> int:
        return sum(1 for key in self._order[position + 1 : self._cursor] if key in self._started)

    def _fill(self, position: int) -> None:
        if position < self._cursor and self._queued_ahead(position) >= self.look_ahead // 2:
            return
        end = min(len(self._order), position + 1 + self.look_ahead)
        if self._cursor < position:  # the tests in between did not ask (skipped by a mark): do not run them
            self._cursor = position
        group: list[str] = []
        for key in self._order[self._cursor : end]:
            if group and not self._same_batch(group[0], key):
                self._enqueue(group)
                group = []
            group.append(key)
        if group:
            self._enqueue(group)
        self._cursor = max(self._cursor, end)

    def _same_batch(self, first: str, key: str) -> bool:
        a, b = self._specs[first], self._specs[key]
        return a.workflow == b.workflow and a.timeout == b.timeout and a.models == b.models

    def _enqueue(self, keys: list[str]) -> None:
        spec = self._specs[keys[0]]
        try:
            workflow = self.workflows.get(spec.workflow)
            self.gate.check(spec, workflow)
        except Exception as exc:  # the gate's verdict (or a broken workflow) is every case's answer
            for key in keys:
                self._started[key] = exc
            return
        cases = {key: dict(self._specs[key].inputs) for key in keys if key not in self._started}
        try:
            self._started.update(self.session.submit(workflow, cases, generation_timeout=spec.timeout))
        except Exception as exc:
            if len(cases) == 1:
                self._started.update(dict.fromkeys(cases, exc))
                return
            # One bad case must not fail its neighbours: send them one by one to find it.
            for key, values in cases.items():
                self._submit_one(workflow, key, values, spec.timeout)

    def _submit_one(self, workflow: Workflow, key: str, values: dict[Any, Any], timeout: float | None) -> None:
        try:
            self._started.update(self.session.submit(workflow, {key: values}, generation_timeout=timeout))
        except Exception as exc:
            self._started[key] = exc


__all__ = ["Blocked", "CaseScheduler", "WorkflowCache"]
