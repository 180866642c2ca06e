"""Wall time and server busy time of one approach, from its client timer and its queue items (pure).

Busy time is what the server spent generating: the union of the intervals ``started_at..completed_at``
of the approach's queue items (a union, not a sum, so overlapping items, should a server ever run
two at once, are not counted twice). Wall time is the client's: from just before its first enqueue
to its last result. ``wall / busy`` is then the client's overhead: 1.0 means the server never waited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

FINISHED = ("completed", "failed", "canceled")


def parse_server_time(text: str) -> float:
    """Seconds since the epoch of an InvokeAI queue timestamp.

    InvokeAI's SQLite writes ``STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')``: UTC, no zone, milliseconds
    (``2026-11-21 06:40:24.064``). A zone, a ``T`` or a ``Z``, should a server send them, are honoured.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"not a server timestamp: {text!r}")
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def union_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by ``(start, end)`` intervals; overlaps count once, empty ones not at all."""
    total = 0.0
    current_start: float | None = None
    current_end = 0.0
    for start, end in sorted((s, e) for s, e in intervals if e > s):
        if current_start is None or start > current_end:
            if current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_start is not None:
        total += current_end - current_start
    return total


def item_intervals(items: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """``started_at..completed_at`` of the items that ran to the end (completed or failed)."""
    intervals = []
    for item in items:
        started, completed = item.get("started_at"), item.get("completed_at")
        if started and completed:
            intervals.append((parse_server_time(started), parse_server_time(completed)))
    return intervals


def summarize(items: Sequence[dict[str, Any]], wall_start: float, wall_end: float) -> dict[str, Any]:
    """Wall, busy and their ratio for one approach, and what its items ended as."""
    statuses: dict[str, int] = {}
    for item in items:
        statuses[item.get("status", "?")] = statuses.get(item.get("status", "?"), 0) + 1
    busy = union_seconds(item_intervals(items))
    wall = wall_end - wall_start
    return {
        "wall_s": round(wall, 3),
        "busy_s": round(busy, 3),
        "ratio": round(wall / busy, 3) if busy > 0 else None,
        "statuses": statuses,
    }


def earliest_created(items: Sequence[dict[str, Any]]) -> float | None:
    created = [parse_server_time(i["created_at"]) for i in items if i.get("created_at")]
    return min(created) if created else None
