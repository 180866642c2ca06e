"""Run many cases of one workflow on a server: plan batches, enqueue, match items to cases, wait.

A *case* is a set of input values, ``(node_id, field_name) -> value``. Cases of one workflow go to the
server as few batches as possible: the values InvokeAI can vary inside a batch (strings, numbers,
images) become one zipped ``batch.data`` group; values it cannot (booleans, models, boards, objects)
split the cases into one batch per distinct combination. Identical cases are enqueued once and share
their queue items. Every queue item is matched back to its case through the ``field_values`` the
server reports for it, never through the order of ``item_ids``.

Every batch of one :class:`Runner` carries the runner's own ``destination`` tag, so that cancelling
(timeout, Ctrl-C, ``-x``) and cleaning up touch only what this run enqueued.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.events import STATUS_EVENT, TERMINAL_STATUSES, QueueEvents
from pytest_invokeai.server.outputs import NodeImages, images_by_node

FieldKey = tuple[str, str]  # (node_id, field_name)
BodyBuilder = Callable[[Mapping[FieldKey, Any]], dict[str, Any]]
TRACEBACK_TAIL_LINES = 12


@dataclass(frozen=True)
class Case:
    key: str  # the caller's name for it (a test id)
    values: Mapping[FieldKey, Any] = field(default_factory=dict)


def is_batchable(value: Any) -> bool:
    """What ``batch.data`` items may hold in InvokeAI 6.x: str, int, float or an image reference."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (str, int, float)):
        return True
    return isinstance(value, dict) and set(value) == {"image_name"} and isinstance(value["image_name"], str)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _values_key(values: Mapping[FieldKey, Any]) -> str:
    """One string per distinct set of field values, whatever their order."""
    return _canonical(sorted(([list(k), v] for k, v in values.items()), key=lambda kv: kv[0]))


@dataclass
class PlannedBatch:
    body: dict[str, Any]
    fields: tuple[FieldKey, ...]  # the fields of our zipped batch.data group, in order
    rows: dict[str, list[str]]  # canonical row values -> case keys sharing them
    row_values: dict[str, tuple[Any, ...]]


def plan_batches(build_body: BodyBuilder, cases: Sequence[Case]) -> list[PlannedBatch]:
    """Group cases into batches. ``build_body(fixed_values)`` returns an enqueue body for those values."""
    groups: dict[str, list[Case]] = {}
    fixed_of: dict[str, dict[FieldKey, Any]] = {}
    for case in cases:
        # A field is varied inside the batch only if every case of the group sets it to a batchable value.
        fixed = {k: v for k, v in case.values.items() if not is_batchable(v)}
        group_key = _values_key(fixed)
        groups.setdefault(group_key, []).append(case)
        fixed_of[group_key] = fixed
    batches = []
    for group_key, group in groups.items():
        shared = set.intersection(*({k for k, v in c.values.items() if is_batchable(v)} for c in group))
        fields = tuple(sorted(shared))
        # Batchable values that only some cases set: the server cannot default them, so they are fixed per batch.
        subgroups: dict[str, list[Case]] = {}
        extra_fixed: dict[str, dict[FieldKey, Any]] = {}
        for case in group:
            extra = {k: v for k, v in case.values.items() if is_batchable(v) and k not in shared}
            sub_key = _values_key(extra)
            subgroups.setdefault(sub_key, []).append(case)
            extra_fixed[sub_key] = extra
        for sub_key, members in subgroups.items():
            rows: dict[str, list[str]] = {}
            row_values: dict[str, tuple[Any, ...]] = {}
            for case in members:
                values = tuple(case.values[f] for f in fields)
                row = _canonical(list(values))
                rows.setdefault(row, []).append(case.key)
                row_values[row] = values
            body = build_body({**fixed_of[group_key], **extra_fixed[sub_key]})
            batches.append(PlannedBatch(body=body, fields=fields, rows=rows, row_values=row_values))
    return batches


def with_rows(planned: PlannedBatch, rows: Sequence[str], destination: str) -> dict[str, Any]:
    """The enqueue body for some rows of a planned batch."""
    body = copy.deepcopy(planned.body)
    batch = body["batch"]
    batch["destination"] = destination
    if planned.fields:
        group = [
            {"node_path": node_id, "field_name": name, "items": [planned.row_values[r][i] for r in rows]}
            for i, (node_id, name) in enumerate(planned.fields)
        ]
        batch["data"] = [*(batch.get("data") or []), group]
    return body


def row_of_item(item: dict[str, Any], fields: Sequence[FieldKey]) -> str | None:
    values = {(fv.get("node_path"), fv.get("field_name")): fv.get("value") for fv in item.get("field_values") or []}
    if any(f not in values for f in fields):
        return None
    return _canonical([values[f] for f in fields])


# -- results ------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    key: str
    items: list[dict[str, Any]]  # the finished queue items of this case, by item id
    images: dict[str, NodeImages]  # by source node id (from the case's first item)
    error: ServerError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def raise_for_error(self) -> CaseResult:
        if self.error is not None:
            raise self.error
        return self


def failure_message(item: dict[str, Any]) -> str:
    tail = (item.get("error_traceback") or "").rstrip().splitlines()[-TRACEBACK_TAIL_LINES:]
    text = f"queue item {item.get('item_id')} failed: {item.get('error_type') or 'error'}: {item.get('error_message') or ''}".rstrip()
    return text + ("\n" + "\n".join(tail) if tail else "")


class _ItemWatch:
    """What we know of one queue item while we wait for it."""

    def __init__(self, item_id: int, on_finished: Callable[[int], None] | None = None) -> None:
        self.item_id = item_id
        self.changed = threading.Event()  # set on every status event; the waiter then reads the item
        self.started_at: float | None = None  # monotonic, when we first saw it in progress
        self._on_finished = on_finished

    def on_event(self, name: str, data: dict[str, Any]) -> None:
        if name != STATUS_EVENT:
            return
        status = data.get("status")
        if status == "in_progress" and self.started_at is None:
            self.started_at = time.monotonic()
        self.changed.set()
        if status in TERMINAL_STATUSES and self._on_finished is not None:
            self._on_finished(self.item_id)


class CaseHandle:
    """A case in flight. :meth:`result` waits for its queue items (and only its own)."""

    def __init__(self, runner: Runner, key: str, generation_timeout: float | None = None) -> None:
        self.runner = runner
        self.key = key
        self.item_ids: list[int] = []
        # None: the runner's timeout. Per case, because one test may render a slow workflow.
        self.generation_timeout = generation_timeout
        self._result: CaseResult | None = None

    def result(self, timeout: float | None = None) -> CaseResult:
        if self._result is None:
            self._result = self.runner._wait_case(self, timeout)
        return self._result


class Runner:
    """Enqueues cases on one server and waits for them.

    ``generation_timeout`` counts from when the server starts an item, not from when it was queued.
    Use as a context manager: leaving it (also on Ctrl-C) cancels what is still queued.
    """

    def __init__(
        self,
        client: InvokeAIClient,
        *,
        use_events: bool = True,
        generation_timeout: float | None = 600.0,
        poll_interval: float = 0.5,
        tag: str | None = None,
    ) -> None:
        self.client = client
        self.generation_timeout = generation_timeout
        self.poll_interval = poll_interval
        self.destination = tag or f"pytest-invokeai-{uuid.uuid4().hex[:12]}"
        self.events: QueueEvents | None = None
        if use_events:
            liveness = client.liveness  # the event socket's heartbeat counts as a sign of life
            events = QueueEvents(
                client.base_url,
                token=lambda: client.token,  # the client's current token: refreshed or renewed by a login
                queue_id=client.queue_id,
                on_heard=liveness.heard if liveness is not None else None,
            )
            self.events = events if events.start() else None
        self._watches: dict[int, _ItemWatch] = {}
        self._lock = threading.Lock()
        # Called as (case key, item id, status) each time a wait looks at an unfinished item: progress display.
        self.on_waiting: Callable[[str, int, str], None] | None = None
        # Called with the item id when an event says one of our items finished (from the event thread):
        # lets a scheduler top up a server the moment it has room, without a test waiting on it.
        self.on_item_finished: Callable[[int], None] | None = None

    # -- enqueue ----------------------------------------------------------------------------

    def submit(
        self, build_body: BodyBuilder, cases: Sequence[Case], *, generation_timeout: float | None = None
    ) -> dict[str, CaseHandle]:
        keys = [c.key for c in cases]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"case keys must be unique; repeated: {', '.join(dupes)}")
        handles = {c.key: CaseHandle(self, c.key, generation_timeout) for c in cases}
        for planned in plan_batches(build_body, cases):
            self._enqueue_planned(planned, handles)
        return handles

    def _enqueue_planned(self, planned: PlannedBatch, handles: dict[str, CaseHandle]) -> None:
        pending_rows = list(planned.rows)
        wait = 0.5
        while pending_rows:
            result = self.client.enqueue(with_rows(planned, pending_rows, self.destination))
            items = (
                self.client.send(api.queue_items_by_ids(self.client.queue_id, list(result.item_ids)))
                if result.item_ids
                else []
            )
            per_row = result.requested // max(len(pending_rows), 1)
            got: dict[str, list[dict[str, Any]]] = {}
            for item in items:
                row = row_of_item(item, planned.fields) if planned.fields else pending_rows[0]
                if row is not None:
                    got.setdefault(row, []).append(item)
            complete = [r for r in pending_rows if len(got.get(r, [])) >= per_row]
            for row in complete:
                for key in planned.rows[row]:
                    handles[key].item_ids.extend(sorted(int(i["item_id"]) for i in got[row]))
                for item in got[row]:
                    self._watch(int(item["item_id"]))
            partial = [int(i["item_id"]) for r in pending_rows if r not in complete for i in got.get(r, [])]
            for item_id in partial:  # a row cut in the middle is sent again whole
                self.client.send(api.cancel_queue_item(self.client.queue_id, item_id))
            pending_rows = [r for r in pending_rows if r not in complete]
            if pending_rows:
                # The queue is full (the server cut the batch silently): wait for room, then send the rest.
                time.sleep(wait)
                wait = min(wait * 2, 5.0)

    def _watch(self, item_id: int) -> _ItemWatch:
        with self._lock:
            watch = self._watches.get(item_id)
            if watch is None:
                watch = self._watches[item_id] = _ItemWatch(item_id, self._item_finished)
                if self.events is not None:
                    self.events.listen(item_id, watch.on_event)
        return watch

    def _item_finished(self, item_id: int) -> None:
        if self.on_item_finished is not None:
            self.on_item_finished(item_id)

    @property
    def has_events(self) -> bool:
        return self.events is not None and self.events.connected

    # -- wait -------------------------------------------------------------------------------

    def _wait_case(self, handle: CaseHandle, timeout: float | None) -> CaseResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        limit = handle.generation_timeout or self.generation_timeout
        items = [self._wait_item(item_id, deadline, handle.key, limit) for item_id in handle.item_ids]
        failed = [i for i in items if i.get("status") != "completed"]
        error = None
        if failed:
            first = failed[0]
            if first.get("status") == "canceled":
                error = ServerError(f"case {handle.key}: queue item {first.get('item_id')} was canceled")
            else:
                error = ServerError(f"case {handle.key}: {failure_message(first)}")
        images = images_by_node(items[0], None) if items and not failed else {}
        return CaseResult(key=handle.key, items=items, images=images, error=error)

    def _wait_item(self, item_id: int, deadline: float | None, case_key: str, limit: float | None) -> dict[str, Any]:
        watch = self._watch(item_id)
        # With events we still look over REST now and then: an event can be lost on a reconnect.
        check_every = 2.0 if self.has_events else self.poll_interval
        while True:
            watch.changed.clear()  # before reading: an event that comes after the read wakes the wait below
            item = self.client.queue_item(item_id)  # also catches a completion that came before we listened
            status = item.get("status")
            if status in TERMINAL_STATUSES:
                return item
            if self.on_waiting is not None:
                self.on_waiting(case_key, item_id, str(status))
            now = time.monotonic()
            if status == "in_progress" and watch.started_at is None:
                watch.started_at = now
            if limit is not None and watch.started_at is not None and now - watch.started_at > limit:
                self.client.send(api.cancel_queue_item(self.client.queue_id, item_id))
                raise ServerError(
                    f"case {case_key}: queue item {item_id} ran longer than the generation timeout "
                    f"({limit:g} s) and was canceled"
                )
            if deadline is not None and now > deadline:
                raise ServerError(f"case {case_key}: gave up waiting for queue item {item_id} (status {status})")
            wait = check_every
            if limit is not None and watch.started_at is not None:
                wait = min(wait, max(0.0, watch.started_at + limit - now) + 0.01)
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now) + 0.01)
            watch.changed.wait(wait)

    # -- clean up ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel everything this runner enqueued that has not finished (and nothing else)."""
        self.client.send(api.cancel_by_destination(self.client.queue_id, self.destination))

    def close(self) -> None:
        if self.events is not None:
            self.events.close()

    def abandon(self) -> None:
        """Stop listening to a server that stopped answering, without waiting on it."""
        if self.events is not None:
            self.events.abandon()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is not None:
                self.cancel()
        finally:
            self.close()
