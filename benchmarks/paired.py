"""Paired measurements: two things timed in alternation, and their ratio summarised with its spread.

On a shared machine the load moves while a benchmark runs. Timing all runs of A and then all runs
of B lets that drift into the ratio (the figures for collection once ranged from 0.93 to 1.70 across
sizes for that reason). Here each repetition times A and B back to back, in alternating order
(AB, BA, AB, ...) so that neither always runs first, and the ratio is taken per pair, where both
saw nearly the same machine. What is reported is the median of those ratios with its spread: the
quartiles and the extremes, so a reader sees how far a single figure can be trusted.

Each run is timed twice: wall time (what a user waits for) and the CPU time it used (user + system),
which the load of other processes disturbs much less.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sample:
    wall_s: float
    cpu_s: float


def timed(run: Callable[[], Any]) -> Sample:
    """Wall and CPU time of ``run()`` in this thread (no subprocesses)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    run()
    return Sample(time.perf_counter() - wall, time.thread_time() - cpu)


def timed_subprocess(run: Callable[[], Any]) -> Sample:
    """Wall time of ``run()`` and the CPU time of the child processes it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    run()
    elapsed = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(elapsed, cpu)


def alternate(first: Callable[[], Sample], second: Callable[[], Sample], repeats: int) -> list[tuple[Sample, Sample]]:
    """``repeats`` pairs (first's sample, second's sample), run in the order AB, BA, AB, ..."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    pairs = []
    for index in range(repeats):
        if index % 2 == 0:
            a = first()
            b = second()
        else:
            b = second()
            a = first()
        pairs.append((a, b))
    return pairs


def spread(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, quartiles (inclusive: within the values), extremes and count of ``values``."""
    if not values:
        raise ValueError("no values to summarise")
    ordered = sorted(values)
    if len(ordered) > 1:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": round(statistics.median(ordered), digits),
        "q1": round(q1, digits),
        "q3": round(q3, digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "n": len(ordered),
    }


def ratios(pairs: Sequence[tuple[Sample, Sample]], clock: str) -> list[float]:
    """Per pair, first / second on ``clock`` ("wall_s" or "cpu_s")."""
    return [getattr(a, clock) / getattr(b, clock) for a, b in pairs if getattr(b, clock) > 0]
