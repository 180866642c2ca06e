"""The scheduler enqueues outside its lock (pytest_invokeai.run.scheduler).

The server here is a stand-in whose enqueue blocks until the test lets it go: what is tested is our
own locking (who waits on whom while an enqueue is in flight), which a real server cannot be made to
hold still for. The policy of what gets enqueued is tested in test_window.py, the real enqueues on a
real server in test_scheduling.py and test_several_servers.py.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.run.gate import WorkflowGate
from pytest_invokeai.run.scheduler import CaseScheduler, WorkflowCache
from pytest_invokeai.server.ai_models import InstalledModels
from pytest_invokeai.server.pool import Lane

WORKFLOW = Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed)


class Pending:
    def __init__(self, key: str, item_id: int) -> None:
        self.key, self.item_ids = key, [item_id]

    def result(self, timeout: float | None = None) -> str:
        return f"image of {self.key}"


class StandInSession:
    """Enqueues at once until ``hold`` is cleared; then each enqueue blocks until ``release`` is set."""

    def __init__(self) -> None:
        self.client = SimpleNamespace(base_url="http://stand-in", close=lambda: None)
        self.runner = SimpleNamespace(
            on_item_finished=None, has_events=True, cancel=lambda: None, abandon=lambda: None, close=lambda: None
        )
        self.installed_models = InstalledModels([], where="the stand-in")
        self.submitted: list[list[str]] = []
        self.go_on = threading.Event()
        self.go_on.set()
        self.blocked = threading.Event()  # an enqueue is waiting on go_on

    def submit(
        self, workflow: Any, cases: dict[str, Any], generation_timeout: float | None = None
    ) -> dict[str, Pending]:
        self.submitted.append(list(cases))
        if not self.go_on.is_set():
            self.blocked.set()
            self.go_on.wait(30)
        return {key: Pending(key, 100 * len(self.submitted) + n) for n, key in enumerate(cases)}

    def close(self, cleanup: bool = False) -> None:
        pass


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[CaseScheduler, StandInSession]]:
    shutil.copy(WORKFLOW, tmp_path / "noise.json")
    session = StandInSession()
    gate = WorkflowGate(
        store=BaselineStore(tmp_path / "baselines"),
        rootdir=tmp_path,
        update_mode=UpdateMode.MISSING,
        accept_drift=False,
    )
    scheduler = CaseScheduler([Lane(session=session, version="")], gate, WorkflowCache(), look_ahead=2)  # type: ignore[arg-type]  # the stand-in session
    scheduler.plan(
        [(f"c{i}", CaseSpec(workflow=tmp_path / "noise.json", inputs={0: 16, 1: 16, 2: i})) for i in range(6)]
    )
    yield scheduler, session
    session.go_on.set()
    scheduler.close()


def in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    thread.start()
    return thread, answers


def test_a_finished_result_is_handed_over_while_another_enqueue_is_in_flight(setup):
    scheduler, session = setup
    assert scheduler.result("c0") == "image of c0"  # enqueues c0-c2 (look-ahead 2: at most two a batch)
    assert session.submitted == [["c0", "c1"], ["c2"]]

    session.go_on.clear()
    # c2 asks with nothing queued beyond it: c3-c4 are enqueued, and that enqueue blocks.
    topping_up, _ = in_thread(lambda: scheduler.result("c2"))
    assert session.blocked.wait(10)

    asking, answers = in_thread(lambda: scheduler.result("c1"))  # enqueued long ago: must not wait on the enqueue
    asking.join(5)
    blocked_behind_the_enqueue = asking.is_alive()
    session.go_on.set()
    topping_up.join(10)
    asking.join(10)
    assert not blocked_behind_the_enqueue, "result() of an enqueued case waited for another case's enqueue"
    assert answers == ["image of c1"]
    assert session.submitted == [["c0", "c1"], ["c2"], ["c3", "c4"]]


def test_a_test_asking_for_a_case_being_enqueued_waits_for_that_enqueue(setup):
    scheduler, session = setup
    scheduler.result("c0")
    session.go_on.clear()
    topping_up, _ = in_thread(lambda: scheduler.result("c2"))  # enqueues c3-c4, blocked
    assert session.blocked.wait(10)

    asking, answers = in_thread(lambda: scheduler.result("c3"))
    asking.join(1)
    assert asking.is_alive()  # it waits: its case has no queue item yet
    session.go_on.set()
    asking.join(10)
    topping_up.join(10)
    assert answers == ["image of c3"]
    # c3 was enqueued once (by the top-up it waited for), not a second time by its own test.
    assert sum(keys.count("c3") for keys in session.submitted) == 1
