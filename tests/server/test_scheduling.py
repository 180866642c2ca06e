"""Enqueueing planned cases ahead of the test that waits (pytest_invokeai.run.scheduler), on a real server.

What was enqueued is read from the server itself: the queue items carrying the session runner's
``destination`` (``GET /api/v1/queue/default/list_all?destination=...``), each with the noise seed it got.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pytest_invokeai.baseline.store import BaselineStore
from pytest_invokeai.baseline.update import UpdateMode
from pytest_invokeai.cases.spec import CaseSpec
from pytest_invokeai.errors import InputValueError, ServerError
from pytest_invokeai.run.gate import Blocked, WorkflowGate
from pytest_invokeai.run.scheduler import CaseScheduler, WorkflowCache
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.drift import IndexMap
from pytest_invokeai.workflow.load import load_workflow

WORKFLOW = (
    Path(__file__).parents[1] / "data" / "gui" / "form-layout.workflow.json"
)  # 0 Width, 1 Height, 2 Value (seed), 3 Amount


class Setup:
    def __init__(self, url: str, project: Path, scheduler: CaseScheduler) -> None:
        self.url, self.project, self.scheduler = url, project, scheduler

    def items(self) -> list[dict]:
        """The queue items this scheduler's session enqueued, in item order."""
        response = httpx.get(
            f"{self.url}/api/v1/queue/default/list_all",
            params={"destination": self.scheduler.session.runner.destination},
            timeout=30,
        )
        response.raise_for_status()
        return sorted(response.json(), key=lambda i: i["item_id"])

    def enqueued_seeds(self) -> list[int]:
        return [seed_of(item) for item in self.items()]


def seed_of(item: dict) -> int:
    (seed,) = [fv["value"] for fv in item["field_values"] if (fv["node_path"], fv["field_name"]) == ("seed", "value")]
    return seed


def case(project: Path, seed: int, more: dict | None = None, workflow: str = "noise.json") -> CaseSpec:
    """A 16x16 case with noise seed ``seed`` (and ``more`` values by index)."""
    return CaseSpec(workflow=project / workflow, inputs={0: 16, 1: 16, 2: seed, **(more or {})})


@pytest.fixture
def setup(invokeai_server_url: str, tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    shutil.copy(WORKFLOW, tmp_path / "noise.json")
    made: list[CaseScheduler] = []

    def make(
        *,
        look_ahead: int,
        mode: UpdateMode = UpdateMode.MISSING,
        use_cache: bool = True,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Setup:
        client = InvokeAIClient(invokeai_server_url)
        session = GenerationSession(client, use_cache=use_cache)
        gate = WorkflowGate(
            store=BaselineStore(tmp_path / "baselines"), rootdir=tmp_path, update_mode=mode, accept_drift=False
        )
        scheduler = CaseScheduler(session, gate, WorkflowCache(), look_ahead=look_ahead, stopped=stopped)
        made.append(scheduler)
        return Setup(invokeai_server_url, tmp_path, scheduler)

    yield make
    for scheduler in made:  # what look-ahead sent past the test's end must not keep the server busy
        scheduler.cancel()
        scheduler.session.close(cleanup=True)
        scheduler.session.client.close()


def png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


@pytest.mark.parametrize(("look_ahead", "expected"), [(3, 4), (20, 10)])
def test_the_first_result_enqueues_the_case_and_the_look_ahead(setup, look_ahead, expected):
    s = setup(look_ahead=look_ahead)
    seeds = list(range(500, 510))
    s.scheduler.plan([(f"case{i}", case(s.project, seed)) for i, seed in enumerate(seeds)])
    assert s.enqueued_seeds() == []  # planning alone enqueues nothing

    result = s.scheduler.result("case0", timeout=60)

    assert png_size(result.images["save"][0].png) == (16, 16)
    assert sorted(s.enqueued_seeds()) == seeds[:expected]


def test_top_up_happens_in_chunks(setup):
    s = setup(look_ahead=4)
    s.scheduler.plan([(f"case{i}", case(s.project, 600 + i)) for i in range(10)])
    counts = []
    for i in range(7):
        s.scheduler.result(f"case{i}", timeout=60)
        counts.append(len(s.enqueued_seeds()))
    # case0: 0-4 enqueued. Later results top up only when fewer than 4 // 2 cases are queued ahead:
    # at case3 (only case4 ahead) cases 5-7 go; at case6 (only case7 ahead) cases 8-9.
    assert counts == [5, 5, 5, 8, 8, 8, 10]
    assert sorted(s.enqueued_seeds()) == list(range(600, 610))


def test_a_blocked_workflows_cases_raise_blocked_and_enqueue_nothing(setup):
    s = setup(look_ahead=10, mode=UpdateMode.NONE)
    shutil.copy(WORKFLOW, s.project / "blocked.json")  # no stored index map, mode none: blocked
    s.scheduler.plan([(f"blocked{i}", case(s.project, 700 + i, workflow="blocked.json")) for i in range(3)])

    with pytest.raises(Blocked) as info:
        s.scheduler.result("blocked0")
    assert info.value.verdict == "missing" and "blocked.json" in info.value.message
    with pytest.raises(Blocked):
        s.scheduler.result("blocked2")
    assert s.enqueued_seeds() == []


def test_a_blocked_workflow_does_not_hold_up_the_next_workflows_cases(setup):
    s = setup(look_ahead=10, mode=UpdateMode.NONE)
    shutil.copy(WORKFLOW, s.project / "blocked.json")
    s.scheduler.gate.store.save_index_map(
        "noise.json", IndexMap.from_workflow(load_workflow(s.project / "noise.json"))
    )  # noise.json may run
    s.scheduler.plan(
        [(f"blocked{i}", case(s.project, 710 + i, workflow="blocked.json")) for i in range(2)]
        + [(f"ok{i}", case(s.project, 720 + i)) for i in range(2)]
    )
    with pytest.raises(Blocked):
        s.scheduler.result("blocked0")
    assert sorted(s.enqueued_seeds()) == [720, 721]
    assert png_size(s.scheduler.result("ok1", timeout=60).images["save"][0].png) == (16, 16)


def test_one_bad_value_fails_only_its_own_case(setup):
    s = setup(look_ahead=10)
    s.scheduler.plan(
        [
            ("good0", case(s.project, 800, {3: 0.5})),
            ("bad", case(s.project, 801, {3: 40})),  # Amount is 0..1
            ("good1", case(s.project, 802, {3: 0.2})),
        ]
    )
    assert s.scheduler.result("good0", timeout=60).images["save"][0].png
    with pytest.raises(InputValueError) as info:
        s.scheduler.result("bad")
    assert "'Amount'" in str(info.value) and "40" in str(info.value)
    assert s.scheduler.result("good1", timeout=60).images["save"][0].png
    assert sorted(s.enqueued_seeds()) == [800, 802]


def test_run_now_runs_an_unplanned_case(setup):
    s = setup(look_ahead=4)
    assert not s.scheduler.planned("adhoc")
    with pytest.raises(KeyError, match="was not planned"):
        s.scheduler.result("adhoc")
    result = s.scheduler.run_now("adhoc", case(s.project, 900, {0: 24}), timeout=60)
    assert png_size(result.images["save"][0].png) == (24, 16)
    assert s.enqueued_seeds() == [900]


def test_a_result_asked_again_is_enqueued_again(setup):
    s = setup(look_ahead=1)
    s.scheduler.plan([("only", case(s.project, 910))])
    first = s.scheduler.result("only", timeout=60)
    second = s.scheduler.result("only", timeout=60)  # a rerun (pytest-rerunfailures) asks again
    assert first.images["save"][0].png and second.images["save"][0].png
    assert s.enqueued_seeds() == [910, 910]


def test_cancel_cancels_what_is_still_pending(setup):
    s = setup(look_ahead=9, use_cache=False)
    # 512x512: each item takes long enough that most are still queued when the cancel comes, even on a busy machine.
    s.scheduler.plan([(f"case{i}", case(s.project, 1000 + i, {0: 512, 1: 512})) for i in range(10)])
    s.scheduler.result("case0", timeout=60)  # enqueues all ten; waits for the first only

    s.scheduler.cancel()

    statuses = [item["status"] for item in s.items()]
    assert "pending" not in statuses, statuses
    assert statuses.count("canceled") >= 5, statuses
    with pytest.raises(ServerError, match="was canceled"):
        s.scheduler.result("case9", timeout=60)


def test_once_the_run_is_stopped_nothing_more_is_enqueued(setup):
    stop = []
    s = setup(look_ahead=2, stopped=lambda: bool(stop))
    s.scheduler.plan([(f"case{i}", case(s.project, 1100 + i)) for i in range(6)])
    s.scheduler.result("case0", timeout=60)  # enqueues case0-case2
    stop.append(True)  # another process of the run was interrupted (server/shared.py: the run folder's mark)

    s.scheduler.result("case1", timeout=60)  # enqueued before the stop: it still has its result
    with pytest.raises(ServerError, match="the run was interrupted: nothing more is enqueued"):
        s.scheduler.result("case4")
    assert sorted(s.enqueued_seeds()) == [1100, 1101, 1102]
