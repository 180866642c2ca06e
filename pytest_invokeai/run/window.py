"""Which planned cases to enqueue next, and on which server: the scheduler's look-ahead policy, pure.

Plain data in, plain data out: the planned order, how far enqueueing got (the cursor), the position a
test asks for, what each server holds; out come batches of case keys, each for one server, and where
the cursor and the list of homeless cases stand after them. No I/O and no locks here, so the policy is
tested case by case without a server, and the scheduler (:mod:`.scheduler`) decides under its lock and
enqueues outside it.

One server: the window (the asked position and ``look_ahead`` cases after it) is enqueued in chunks,
when fewer than half the look-ahead is left queued, so a long suite does not pay one enqueue per test.
Several servers: each server holds at most ``lane_depth`` of our cases, the least busy server is
served first, so a fast server is never idle while a slow one holds a queue. In both, cases whose
server went down (*homeless*) go before the window's next ones; a batch holds only cases that may
share one enqueue (the same workflow, timeout and models: their ``batch_of`` values are equal).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LaneLoad:
    """One server as the policy sees it: how many of our cases it holds (or is being sent), whether it is up."""

    name: str
    held: int
    up: bool = True
    standby: bool = False  # used only once every primary server is down


@dataclass(frozen=True)
class Window:
    """Where a run's enqueueing stands."""

    order: Sequence[str]  # the planned case keys, in test order
    position: Mapping[str, int]  # key -> its index in ``order``
    batch_of: Mapping[str, Hashable]  # key -> what must be equal for cases to share one batch
    cursor: int  # every position before it was enqueued (or answered)
    current: int  # the furthest position a test has asked for (-1: none yet)
    homeless: Sequence[str]  # enqueued on a server that went down before their test asked, in planned order
    queued: Collection[str]  # keys enqueued (or being enqueued, or answered) whose test has not taken them
    look_ahead: int
    lane_depth: int


@dataclass(frozen=True)
class Batch:
    """Cases to enqueue together; ``lane`` None: on whichever server is in use when it is sent."""

    keys: tuple[str, ...]
    lane: str | None = None


@dataclass(frozen=True)
class Decision:
    batches: tuple[Batch, ...]
    cursor: int
    homeless: tuple[str, ...]


def active_lanes(lanes: Sequence[LaneLoad]) -> list[LaneLoad]:
    """The servers cases go to: the primaries that are up; the standbys once every primary is down."""
    up = [lane for lane in lanes if lane.up]
    return [lane for lane in up if not lane.standby] or up


def next_batches(window: Window, lanes: Sequence[LaneLoad], asking: str | None = None) -> Decision:
    """What to enqueue now. ``asking``: the key a test waits for (None: a top-up between tests).

    With several servers up each batch names its server; with one (or none) the batches are for
    whichever server is in use. A test's own case is always among the batches unless it is queued.
    """
    active = active_lanes(lanes)
    if len(active) > 1:
        return _several_servers(window, active, asking)
    return _one_server(window, asking)


class _Planner:
    """The state one decision moves: the cursor, the homeless, the keys given a batch so far."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.cursor = window.cursor
        self.batched: set[str] = set()
        self.batches: list[Batch] = []
        self.homeless = [
            key for key in window.homeless if window.position[key] >= window.current and key not in window.queued
        ]

    def queued(self, key: str) -> bool:
        return key in self.window.queued or key in self.batched

    def add(self, keys: Sequence[str], lane: str | None = None) -> None:
        self.batches.append(Batch(tuple(keys), lane))
        self.batched.update(keys)

    def group(self, keys: Sequence[str], limit: int) -> list[str]:
        """The first of ``keys`` (up to ``limit``) that may share one batch."""
        group: list[str] = []
        for key in keys[:limit]:
            if group and self.window.batch_of[group[0]] != self.window.batch_of[key]:
                break
            group.append(key)
        return group

    def next_homeless(self, limit: int) -> list[str]:
        keys = self.group(self.homeless, limit)
        del self.homeless[: len(keys)]
        return keys

    def next_in_window(self, limit: int, end: int) -> list[str]:
        keys = self.group(self.window.order[self.cursor : end], limit)
        self.cursor += len(keys)
        return keys

    def queued_ahead(self, position: int) -> int:
        return sum(1 for key in self.window.order[position + 1 : self.cursor] if self.queued(key))

    def decision(self) -> Decision:
        return Decision(tuple(self.batches), self.cursor, tuple(self.homeless))


def _one_server(window: Window, asking: str | None) -> Decision:
    """The window in chunks of ``look_ahead`` (as few batches as the values allow); homeless cases first."""
    plan = _Planner(window)
    position = window.position[asking] if asking is not None else max(window.current, 0)
    while keys := plan.next_homeless(window.look_ahead):
        plan.add(keys)
    if not (position < plan.cursor and plan.queued_ahead(position) >= window.look_ahead // 2):
        end = min(len(window.order), position + 1 + window.look_ahead)
        plan.cursor = max(
            plan.cursor, position
        )  # the tests in between did not ask (skipped by a mark): do not run them
        while keys := plan.next_in_window(window.look_ahead, end):
            plan.add(keys)
    if asking is not None and not plan.queued(asking):  # asked twice (a rerun), or skipped over
        plan.add([asking])
    return plan.decision()


def _several_servers(window: Window, active: Sequence[LaneLoad], asking: str | None) -> Decision:
    """Each server with room gets the next cases (the least busy server first), homeless cases first."""
    plan = _Planner(window)
    held = {lane.name: lane.held for lane in active}

    def least_busy() -> str:
        return min(active, key=lambda lane: held[lane.name]).name

    def give(keys: Sequence[str], lane: str) -> None:
        plan.add(keys, lane)
        held[lane] += len(keys)

    if asking is not None and plan.cursor <= window.position[asking] and not plan.queued(asking):
        plan.cursor = window.position[asking] + 1  # its turn came before a server had room
        give([asking], least_busy())
    end = min(len(window.order), window.current + 1 + window.look_ahead)
    left = True  # cases are left to give
    for lane in sorted(active, key=lambda each: held[each.name]):
        room = window.lane_depth - held[lane.name]
        while left and room > 0:
            keys = plan.next_homeless(room) or plan.next_in_window(room, end)
            left = bool(keys)
            if keys:
                give(keys, lane.name)
                room -= len(keys)
    if asking is not None and not plan.queued(asking):  # asked twice (a rerun), or skipped over
        give([asking], least_busy())
    return plan.decision()
