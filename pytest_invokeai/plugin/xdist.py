"""What the adapter needs of pytest-xdist, in one place: which worker this process is, the run folder
the controller hands its workers, the results they send back, and the tests a worker has been handed.

xdist has no public API for a worker's queue: :func:`handed_to_worker` reads its ``WorkerInteractor``
(``torun`` and ``nextitem_index``) and finds nothing if they change, so the look-ahead only shrinks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

RUN_DIR_INPUT = "invokeai_run_dir"  # workerinput: the controller's run folder (and so its one managed server)
WORKER_OUTPUT_KEY = "invokeai"  # workeroutput: the worker's results, as JSON


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_of(config: pytest.Config) -> tuple[int, int] | None:
    """(this worker's number, the number of workers), or None in the controller or a run without xdist."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    return int(str(workerinput.get("workerid", "gw0")).lstrip("gw") or 0), int(workerinput.get("workercount", 1))


def shared_run_dir(config: pytest.Config) -> Path | None:
    """The run folder the controller handed this worker (None outside a worker)."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else Path(workerinput[RUN_DIR_INPUT])


def hand_run_dir(node: Any, run_dir: Path) -> None:
    """Give a worker node the controller's run folder (from ``pytest_configure_node``)."""
    node.workerinput[RUN_DIR_INPUT] = str(run_dir)


def send_results(config: pytest.Config, data: str) -> None:
    config.workeroutput[WORKER_OUTPUT_KEY] = data  # type: ignore[attr-defined]  # set by xdist on workers


def results_sent(node: Any) -> str | None:
    """What a finished worker node sent with :func:`send_results`, if anything."""
    data = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    return str(data) if data else None


def handed_to_worker(session: pytest.Session) -> list[pytest.Item]:
    """The tests xdist has handed this worker and not yet run (its queue), for the look-ahead."""
    for plugin in session.config.pluginmanager.get_plugins():
        torun = getattr(plugin, "torun", None)
        if type(plugin).__name__ == "WorkerInteractor" and torun is not None:
            with torun.lock() as queued:
                indices = [i for i in queued if isinstance(i, int)]
            nxt = getattr(plugin, "nextitem_index", None)
            if isinstance(nxt, int):
                indices.insert(0, nxt)
            return [session.items[i] for i in indices]
    return []
