"""Keep the server busy: enqueue the cases this process will run ahead of the test that waits.

Cases known at collection (marker inputs, matrices, suite files) are planned in test order. When a
test asks for its result, the cases from there up to ``look_ahead`` further are enqueued (in as few
batches as their values allow), so the server works on the next cases while pytest compares this
one; the test then waits only for its own queue items. Topping up happens in chunks, when fewer
than half the look-ahead is left queued, so a long suite does not pay one enqueue per test.

Before a workflow's first case is enqueued, its gate runs (drift and models, see :mod:`.gate`). A
case the gate blocks is never enqueued: no generation is wasted on a drifted form.

Several servers (*lanes*, see :mod:`.server.pool`): the look-ahead window is not split up front,
because servers differ in speed and a fixed share would leave the fast one idle while the slow one
still has a queue. Each server holds at most ``LANE_DEPTH`` of our cases; a feeder thread, woken by
the servers' "item finished" events, gives the next cases of the window to whichever server has
room. A server that stops answering is taken out: the cases it held are enqueued again on the
others (a test waiting on one of them waits on its new server), and when none is left, the cases
fail naming the server and why. Nothing waits on a dead server for longer than the client's retries,
nor on a hung one (it accepts connections and answers nothing) for longer than the hang timeout.

Which cases go next, and where, is decided by :mod:`.window` (pure) under the scheduler's lock; the
enqueue itself (HTTP, the gate's index-map writes, model installs) runs outside it, so the feeder
thread and a test waiting for its result never wait on each other's I/O. Keys being enqueued are
marked as such; a test asking for one waits until its enqueue is recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.errors import InvokeAITestError, ServerError
from pytest_invokeai.run.gate import Blocked, WorkflowGate
from pytest_invokeai.run.window import Batch, LaneLoad, Window, next_batches
from pytest_invokeai.server.client import ConnectionBroken
from pytest_invokeai.server.pool import Lane
from pytest_invokeai.server.session import (
    GenerationResult,
    GenerationSession,
    PendingGeneration,
    check_values,
)
from pytest_invokeai.workflow.cache import WorkflowCache
from pytest_invokeai.workflow.form import FormInput, form_inputs
from pytest_invokeai.workflow.load import Workflow

# Cases of ours one server holds at a time when there are several: one running, the next ones waiting,
# so the server never waits on our enqueue; few enough that the last cases of a run do not queue up
# behind a slow server while a fast one has nothing left.
LANE_DEPTH = 3
FEEDER_TICK = 0.5  # seconds between top-ups when no event wakes the feeder
REST_REFRESH = 2.0  # seconds between REST status reads per server (events can be lost on a reconnect)

Started = tuple[Lane, PendingGeneration]


class CaseScheduler:
    """Enqueues planned cases ahead, over one server or several, and hands each test its result."""

    def __init__(
        self,
        lanes: GenerationSession | Sequence[Lane],
        gate: WorkflowGate,
        workflows: WorkflowCache,
        *,
        look_ahead: int = 32,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.lanes = [Lane(session=lanes, version="")] if isinstance(lanes, GenerationSession) else list(lanes)
        if not self.lanes:
            raise ValueError("a scheduler needs at least one server")
        self.gate = gate
        self.workflows = workflows
        self.look_ahead = max(1, look_ahead)
        self.stopped = stopped  # True once the run was interrupted (by another process too): enqueue nothing more
        self.moved: list[tuple[str, str]] = []  # (case key, the server it left)
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        self._specs: dict[str, CaseSpec] = {}
        self._batch_of: dict[str, tuple[Any, ...]] = {}  # cases with equal values may share one enqueue
        self._started: dict[str, Started | BaseException] = {}
        self._sending: dict[str, Lane | None] = {}  # being enqueued (outside the lock), on which server
        self._homeless: list[str] = []  # enqueued on a server that went down before their test asked
        self._cursor = 0  # everything before it has been enqueued (or blocked)
        self._current = -1  # the furthest position a test has asked for
        self._lock = threading.RLock()
        self._recorded = threading.Condition(self._lock)  # notified when an enqueue's answers are recorded
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self._feeder_error: BaseException | None = None
        for lane in self.lanes:
            lane.session.runner.on_item_finished = self._finished_on(lane)

    @property
    def session(self) -> GenerationSession:
        """The session of the first server still in use (the only one, without several servers)."""
        active = self.active_lanes()
        return (active[0] if active else self.lanes[0]).session

    def session_for(self, url: str) -> GenerationSession:
        return next((lane.session for lane in self.lanes if lane.url == url), self.session)

    def active_lanes(self) -> list[Lane]:
        """The servers cases go to: the primaries that are up; the standbys once every primary is down."""
        usable = [lane for lane in self.lanes if lane.usable]
        return [lane for lane in usable if not lane.standby] or usable

    # -- planning ----------------------------------------------------------------------------

    def plan(self, cases: Sequence[tuple[str, CaseSpec]]) -> None:
        """The cases this process will run, in order. Called again when more are handed to it (xdist)."""
        with self._lock:
            for key, spec in cases:
                self._learn(key, spec)
                if key not in self._position:
                    self._position[key] = len(self._order)
                    self._order.append(key)
        self._wake.set()

    def planned(self, key: str) -> bool:
        return key in self._specs

    def _learn(self, key: str, spec: CaseSpec) -> None:
        self._specs[key] = spec
        self._batch_of[key] = (spec.workflow, spec.timeout, spec.models)

    # -- results -----------------------------------------------------------------------------

    def result(self, key: str, timeout: float | None = None) -> GenerationResult:
        """The planned case's result; raises :class:`Blocked` when its gate stopped it."""
        with self._lock:
            if self._feeder_error is not None:
                raise self._feeder_error
            if key not in self._position:
                raise KeyError(f"case {key!r} was not planned")
            self._current = max(self._current, self._position[key])
            if len(self.active_lanes()) > 1:
                self._start_feeder()
            batches = self._decide(asking=key)
        self._send(batches)
        self._wake.set()
        return self._wait(key, self._claim(key), timeout)

    def run_now(self, key: str, spec: CaseSpec, timeout: float | None = None) -> GenerationResult:
        """A case not known at collection (an ad-hoc call in a test body): enqueue it now and wait."""
        with self._lock:
            self._learn(key, spec)
        return self._wait(key, self._claim(key, again=True), timeout)

    def _claim(self, key: str, *, again: bool = False) -> Started | BaseException:
        """The key's answer, taken from the scheduler (enqueued now when it has none, or ``again``)."""
        while True:
            with self._recorded:
                while key in self._sending:  # another thread is enqueueing it: wait for its answer
                    self._recorded.wait()
                if key in self._started and not again:
                    return self._started.pop(key)
                if key in self._homeless:  # enqueued here, not again by the feeder
                    self._homeless.remove(key)
                batches = self._mark([Batch((key,))])
            self._send(batches)
            again = False

    def _wait(self, key: str, started: Started | BaseException, timeout: float | None) -> GenerationResult:
        while True:
            if isinstance(started, BaseException):
                raise started
            lane, pending = started
            try:
                result = pending.result(timeout)
            except ConnectionBroken as exc:  # the server went away under the case: run it elsewhere
                self._take_down(lane, exc)
                with self._lock:
                    if self.active_lanes():  # with no other server it is not moved: it fails, naming the server
                        self.moved.append((key, lane.url))
                started = self._claim(key, again=True)
                continue
            finally:
                lane.release(key)
                self._wake.set()
            lane.cases_done += 1
            return result

    def cancel(self) -> None:
        """Cancel what this process enqueued and has not finished (the run stopped early)."""
        self._stop_feeder()
        for lane in self.lanes:
            if lane.usable:
                try:
                    lane.session.runner.cancel()
                except ConnectionBroken as exc:
                    self._take_down(lane, exc)

    def close(self, *, cleanup: bool = False) -> None:
        """Stop the feeder and every server's session (a server that went down is only let go)."""
        self._stop_feeder()
        for lane in self.lanes:
            lane.close(cleanup=cleanup)

    # -- deciding (under the lock) -----------------------------------------------------------

    def _decide(self, asking: str | None = None) -> list[tuple[list[str], Lane | None]]:
        """The next batches by the window policy; their keys are marked as being enqueued."""
        window = Window(
            order=self._order,
            position=self._position,
            batch_of=self._batch_of,
            cursor=self._cursor,
            current=self._current,
            homeless=self._homeless,
            queued=_Either(self._started, self._sending),
            look_ahead=self.look_ahead,
            lane_depth=LANE_DEPTH,
        )
        decision = next_batches(window, [self._load(lane) for lane in self.lanes], asking)
        self._cursor = decision.cursor
        self._homeless = list(decision.homeless)
        return self._mark(decision.batches)

    def _load(self, lane: Lane) -> LaneLoad:
        sending = sum(1 for to in self._sending.values() if to is lane)
        return LaneLoad(lane.url, lane.depth() + sending, up=lane.usable, standby=lane.standby)

    def _mark(self, batches: Sequence[Batch]) -> list[tuple[list[str], Lane | None]]:
        by_url = {lane.url: lane for lane in self.lanes}
        marked = []
        for batch in batches:
            lane = by_url[batch.lane] if batch.lane is not None else None
            self._sending.update(dict.fromkeys(batch.keys, lane))
            marked.append((list(batch.keys), lane))
        return marked

    def _record(self, key: str, answer: Started | BaseException) -> None:
        with self._lock:
            self._started[key] = answer

    # -- several servers ---------------------------------------------------------------------

    def _finished_on(self, lane: Lane) -> Callable[[int], None]:
        def finished(item_id: int) -> None:
            lane.item_finished(item_id)
            self._wake.set()

        return finished

    def _take_down(self, lane: Lane, exc: BaseException) -> None:
        """Stop using a server that does not answer; the cases it held go to the others."""
        with self._lock:
            if not lane.usable:
                return
            held = lane.mark_down(f"InvokeAI at {lane.url} stopped answering: {exc}")
            elsewhere = bool(self.active_lanes())  # a case moves only when another server can take it
            for key in held:
                started = self._started.get(key)
                if isinstance(started, tuple) and started[0] is lane:
                    del self._started[key]
                    self._homeless.append(key)
                    if elsewhere:
                        self.moved.append((key, lane.url))
            self._homeless.sort(key=self._position.__getitem__)
        lane.session.runner.abandon()  # its event connection would only keep retrying (or wait on a hung server)

    def _start_feeder(self) -> None:
        if self._feeder is None:
            self._feeder = threading.Thread(target=self._feed, name="pytest-invokeai-feeder", daemon=True)
            self._feeder.start()

    def _stop_feeder(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._feeder is not None:
            self._feeder.join(timeout=30)

    def _feed(self) -> None:
        last_refresh = 0.0
        while not self._stop.is_set():
            self._wake.wait(FEEDER_TICK)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                now = time.monotonic()
                refresh = now - last_refresh > REST_REFRESH
                for lane in self.active_lanes():
                    if refresh or not lane.session.runner.has_events:
                        try:
                            lane.refresh()
                        except ConnectionBroken as exc:
                            self._take_down(lane, exc)
                if refresh:
                    last_refresh = now
                with self._lock:
                    several = len(self.active_lanes()) > 1
                    batches = self._decide() if several or self._homeless else []
                self._send(batches)
            except BaseException as exc:  # a bug here must surface in a test, not vanish with the thread
                self._feeder_error = exc
                return

    # -- enqueueing (outside the lock) -------------------------------------------------------

    def _send(self, batches: Sequence[tuple[list[str], Lane | None]]) -> None:
        """Enqueue the marked batches in order; each key's answer is recorded, then its mark removed."""
        for index, (keys, lane) in enumerate(batches):
            try:
                self._enqueue(keys, lane)
            except BaseException:
                self._unmark([key for later, _ in batches[index:] for key in later])
                raise
            self._unmark(keys)

    def _unmark(self, keys: Sequence[str]) -> None:
        with self._recorded:
            for key in keys:
                self._sending.pop(key, None)
            self._recorded.notify_all()

    def _enqueue(self, keys: list[str], lane: Lane | None = None) -> None:
        """Enqueue cases of one workflow on ``lane`` (or the least busy server); a failure is each case's answer."""
        spec = self._specs[keys[0]]
        if self.stopped():
            self._answer_all(keys, ServerError("the run was interrupted: nothing more is enqueued"))
            return
        try:
            workflow = self.workflows.get(spec.workflow)
            first = lane if lane is not None and lane.usable else self._least_busy()
            if first is not None:  # a server without the workflow's node types skips it, before any drift talk
                self.gate.check_node_types(spec, workflow, first.session)
            self.gate.check_drift(spec, workflow)
            inputs = form_inputs(workflow)
        except Exception as exc:  # the gate's verdict (or a broken workflow) is every case's answer
            self._answer_all(keys, exc)
            return
        cases = self._valid_cases(workflow, inputs, keys)
        if not cases:
            return
        keys = list(cases)
        while True:
            if lane is None or not lane.usable:
                lane = self._least_busy()
                if lane is None:
                    down = "; ".join(str(each.down) for each in self.lanes)
                    self._answer_all(keys, ServerError(f"no InvokeAI server of this run is left to run it: {down}"))
                    return
            try:
                self.gate.check_models(spec, workflow, lane.session)
                self._submit(lane, workflow, cases, spec.timeout)
                return
            except ConnectionBroken as exc:
                self._take_down(lane, exc)
            except Exception as exc:  # a blocked case (missing model), or a broken one
                self._answer_all(keys, exc)
                return

    def _least_busy(self) -> Lane | None:
        with self._lock:
            active = self.active_lanes()
            return min(active, key=Lane.depth) if active else None

    def _answer_all(self, keys: Sequence[str], answer: BaseException) -> None:
        with self._lock:
            self._started.update(dict.fromkeys(keys, answer))

    def _valid_cases(self, workflow: Workflow, inputs: list[FormInput], keys: list[str]) -> dict[str, dict[Any, Any]]:
        """The cases whose values the form accepts; each other case gets its own error as its answer.

        Values are checked before models (a bad value fails, whatever the server has) and case by case,
        so that no case's answer is another case's error.
        """
        valid: dict[str, dict[Any, Any]] = {}
        for key in keys:
            values = dict(self._specs[key].inputs)
            try:
                check_values(workflow, inputs, values)
            except InvokeAITestError as exc:
                self._record(key, exc)
                continue
            valid[key] = values
        return valid

    def _submit(self, lane: Lane, workflow: Workflow, cases: dict[str, dict[Any, Any]], timeout: float | None) -> None:
        try:
            self._hold(lane, lane.session.submit(workflow, cases, generation_timeout=timeout))
            return
        except ConnectionBroken:
            raise
        except Exception as exc:
            if len(cases) == 1:
                self._answer_all(list(cases), exc)
                return
        # One case the server refused must not fail its neighbours: send them one by one to find it. Outside
        # the handler above, so that no case's error carries the batch's error (another case's) as its context.
        for key, values in cases.items():
            try:
                self._hold(lane, lane.session.submit(workflow, {key: values}, generation_timeout=timeout))
            except ConnectionBroken:
                raise
            except Exception as one:
                self._record(key, one)

    def _hold(self, lane: Lane, pending: dict[str, PendingGeneration]) -> None:
        with self._lock:
            for key, generation in pending.items():
                if lane.usable:
                    self._started[key] = (lane, generation)
                    lane.hold(key, generation.item_ids)
                elif (
                    key in self._position
                ):  # it went down while this was being enqueued: like the cases it held, this moves
                    self._homeless.append(key)
                    if self.active_lanes():
                        self.moved.append((key, lane.url))
            self._homeless.sort(key=self._position.__getitem__)


class _Either:
    """The keys of two dicts as one collection, without copying them (read under the scheduler's lock)."""

    def __init__(self, first: dict[str, Any], second: dict[str, Any]) -> None:
        self.first, self.second = first, second

    def __contains__(self, key: object) -> bool:
        return key in self.first or key in self.second

    def __len__(self) -> int:
        return len(self.first.keys() | self.second.keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.first.keys() | self.second.keys())


__all__ = ["Blocked", "CaseScheduler", "LANE_DEPTH", "WorkflowCache"]
