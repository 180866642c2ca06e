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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.errors import InvokeAITestError, ServerError
from pytest_invokeai.run.gate import Blocked, WorkflowGate
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
        self._started: dict[str, Started | BaseException] = {}
        self._homeless: list[str] = []  # enqueued on a server that went down before their test asked
        self._cursor = 0  # everything before it has been enqueued (or blocked)
        self._current = -1  # the furthest position a test has asked for
        self._lock = threading.RLock()
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
                self._specs[key] = spec
                if key not in self._position:
                    self._position[key] = len(self._order)
                    self._order.append(key)
        self._wake.set()

    def planned(self, key: str) -> bool:
        return key in self._specs

    # -- results -----------------------------------------------------------------------------

    def result(self, key: str, timeout: float | None = None) -> GenerationResult:
        """The planned case's result; raises :class:`Blocked` when its gate stopped it."""
        with self._lock:
            if self._feeder_error is not None:
                raise self._feeder_error
            if key not in self._position:
                raise KeyError(f"case {key!r} was not planned")
            position = self._position[key]
            self._current = max(self._current, position)
            if len(self.active_lanes()) > 1:
                self._start_feeder()
                if self._cursor <= position and key not in self._started:  # its turn came before a server had room
                    self._cursor = position + 1
                    self._enqueue([key])
                self._top_up()
            else:
                self._fill(position)
            if key not in self._started:  # asked twice (a rerun), skipped over, or its server went down
                self._enqueue([key])
            started = self._started.pop(key)
        self._wake.set()
        return self._wait(key, started, timeout)

    def run_now(self, key: str, spec: CaseSpec, timeout: float | None = None) -> GenerationResult:
        """A case not known at collection (an ad-hoc call in a test body): enqueue it now and wait."""
        with self._lock:
            self._specs[key] = spec
            self._enqueue([key])
            started = self._started.pop(key)
        return self._wait(key, started, timeout)

    def _wait(self, key: str, started: Started | BaseException, timeout: float | None) -> GenerationResult:
        while True:
            if isinstance(started, BaseException):
                raise started
            lane, pending = started
            try:
                result = pending.result(timeout)
            except ConnectionBroken as exc:  # the server went away under the case: run it elsewhere
                with self._lock:
                    self._take_down(lane, exc)
                    if self.active_lanes():  # with no other server it is not moved: it fails, naming the server
                        self.moved.append((key, lane.url))
                    self._enqueue([key])
                    started = self._started.pop(key)
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
                    with self._lock:
                        self._take_down(lane, exc)

    def close(self, *, cleanup: bool = False) -> None:
        """Stop the feeder and every server's session (a server that went down is only let go)."""
        self._stop_feeder()
        for lane in self.lanes:
            try:
                lane.session.close(cleanup=cleanup and lane.usable)
            except ServerError:
                pass
            finally:
                lane.session.client.close()

    # -- several servers ---------------------------------------------------------------------

    def _finished_on(self, lane: Lane) -> Callable[[int], None]:
        def finished(item_id: int) -> None:
            lane.item_finished(item_id)
            self._wake.set()

        return finished

    def _take_down(self, lane: Lane, exc: BaseException) -> None:
        """Stop using a server that does not answer; the cases it held go to the others."""
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
                            with self._lock:
                                self._take_down(lane, exc)
                if refresh:
                    last_refresh = now
                with self._lock:
                    if len(self.active_lanes()) > 1:
                        self._top_up()
                    elif self._homeless:
                        self._fill(max(self._current, 0))
            except BaseException as exc:  # a bug here must surface in a test, not vanish with the thread
                self._feeder_error = exc
                return

    def _top_up(self) -> None:
        """Give each server with room the next cases of the window (the least busy server first)."""
        end = min(len(self._order), self._current + 1 + self.look_ahead)
        for lane in sorted(self.active_lanes(), key=Lane.depth):
            room = LANE_DEPTH - lane.depth()
            while room > 0 and lane.usable:
                keys = self._next_keys(room, end)
                if not keys:
                    return
                self._enqueue(keys, lane)
                room -= len(keys)

    def _next_keys(self, limit: int, end: int) -> list[str]:
        """Up to ``limit`` cases that may share one batch: moved ones first, then the window's next."""
        return self._next_homeless(limit) or self._next_in_window(limit, end)

    def _next_homeless(self, limit: int) -> list[str]:
        """Moved cases still to come (a test ahead will ask for them), as one batch."""
        self._homeless = [k for k in self._homeless if self._position[k] >= self._current and k not in self._started]
        keys = self._take_group(self._homeless, limit)
        del self._homeless[: len(keys)]
        return keys

    def _next_in_window(self, limit: int, end: int) -> list[str]:
        """The next cases from the cursor (not past ``end``) that may share one batch; the cursor moves past them."""
        keys = self._take_group(self._order[self._cursor : end], limit)
        self._cursor += len(keys)
        return keys

    def _take_group(self, keys: Sequence[str], limit: int) -> list[str]:
        group: list[str] = []
        for key in keys[:limit]:
            if group and not self._same_batch(group[0], key):
                break
            group.append(key)
        return group

    # -- enqueueing --------------------------------------------------------------------------

    def _queued_ahead(self, position: int) -> int:
        return sum(1 for key in self._order[position + 1 : self._cursor] if key in self._started)

    def _fill(self, position: int) -> None:
        """One server: enqueue the window in chunks (as few batches as the values allow)."""
        while keys := self._next_homeless(self.look_ahead):  # moved here from a server that went down: first
            self._enqueue(keys)
        if position < self._cursor and self._queued_ahead(position) >= self.look_ahead // 2:
            return
        end = min(len(self._order), position + 1 + self.look_ahead)
        if self._cursor < position:  # the tests in between did not ask (skipped by a mark): do not run them
            self._cursor = position
        while keys := self._next_in_window(self.look_ahead, end):
            self._enqueue(keys)

    def _same_batch(self, first: str, key: str) -> bool:
        a, b = self._specs[first], self._specs[key]
        return a.workflow == b.workflow and a.timeout == b.timeout and a.models == b.models

    def _enqueue(self, keys: list[str], lane: Lane | None = None) -> None:
        """Enqueue cases of one workflow on ``lane`` (or the least busy server); a failure is each case's answer."""
        spec = self._specs[keys[0]]
        if self.stopped():
            error = ServerError("the run was interrupted: nothing more is enqueued")
            self._started.update(dict.fromkeys(keys, error))
            return
        try:
            workflow = self.workflows.get(spec.workflow)
            self.gate.check_drift(spec, workflow)
            inputs = form_inputs(workflow)
        except Exception as exc:  # the gate's verdict (or a broken workflow) is every case's answer
            self._started.update(dict.fromkeys(keys, exc))
            return
        cases = self._valid_cases(workflow, inputs, keys)
        if not cases:
            return
        keys = list(cases)
        while True:
            if lane is None or not lane.usable:
                active = self.active_lanes()
                if not active:
                    down = "; ".join(str(each.down) for each in self.lanes)
                    error = ServerError(f"no InvokeAI server of this run is left to run it: {down}")
                    self._started.update(dict.fromkeys(keys, error))
                    return
                lane = min(active, key=Lane.depth)
            try:
                self.gate.check_models(spec, workflow, lane.session)
                self._submit(lane, workflow, cases, spec.timeout)
                return
            except ConnectionBroken as exc:
                self._take_down(lane, exc)
            except Exception as exc:  # a blocked case (missing model), or a broken one
                self._started.update(dict.fromkeys(keys, exc))
                return

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
                self._started[key] = exc
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
                self._started.update(dict.fromkeys(cases, exc))
                return
        # One case the server refused must not fail its neighbours: send them one by one to find it. Outside
        # the handler above, so that no case's error carries the batch's error (another case's) as its context.
        for key, values in cases.items():
            try:
                self._hold(lane, lane.session.submit(workflow, {key: values}, generation_timeout=timeout))
            except ConnectionBroken:
                raise
            except Exception as one:
                self._started[key] = one

    def _hold(self, lane: Lane, pending: dict[str, PendingGeneration]) -> None:
        for key, generation in pending.items():
            self._started[key] = (lane, generation)
            lane.hold(key, generation.item_ids)


__all__ = ["Blocked", "CaseScheduler", "LANE_DEPTH", "WorkflowCache"]
