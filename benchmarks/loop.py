"""Approach 1: the loop a user writes with httpx. Enqueue one case, poll it every 0.5 s, download, next.

The enqueue body comes from the project's graph builder (the same graph the GUI would send); the
point measured is the loop around it: one case on the server at a time, and the server idle while
the client sleeps between polls, downloads the image and enqueues the next case.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from pytest_invokeai.workflow.form import collect_values
from pytest_invokeai.workflow.graph import build_enqueue_body
from pytest_invokeai.workflow.load import Workflow, load_workflow

from .timing import FINISHED
from .workload import OUTPUT_NODE, Workload

POLL_INTERVAL = 0.5
DESTINATION = "benchmark-loop"
TIMEOUT = 300.0  # seconds one case may take before the loop gives up


def run_loop(url: str, workload: Workload, n: int) -> dict[str, Any]:
    """Run ``n`` cases one after the other; the item ids and the client's timer."""
    workflow = load_workflow(workload.workflow)
    item_ids: list[int] = []
    with httpx.Client(base_url=url, timeout=60.0) as http:
        wall_start = time.time()
        for seed in workload.seeds(n):
            item_id, _png = run_case(http, workflow, workload.form_values(seed))
            item_ids.append(item_id)
        wall_end = time.time()
    return {"item_ids": item_ids, "wall_start": wall_start, "wall_end": wall_end}


def run_case(http: httpx.Client, workflow: Workflow, form_values: dict[int, Any]) -> tuple[int, bytes]:
    """Enqueue one case, poll until it is done, download its image: the item id and the PNG."""
    body = build_enqueue_body(workflow, collect_values(workflow, form_values), destination=DESTINATION)
    answer = http.post("/api/v1/queue/default/enqueue_batch", json=body)
    answer.raise_for_status()
    item_id = answer.json()["item_ids"][0]
    item = _wait(http, item_id)
    png = http.get(f"/api/v1/images/i/{_image_name(item)}/full")
    png.raise_for_status()
    return item_id, png.content


def _wait(http: httpx.Client, item_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        answer = http.get(f"/api/v1/queue/default/i/{item_id}")
        answer.raise_for_status()
        item = answer.json()
        if item["status"] in FINISHED:
            if item["status"] != "completed":
                raise RuntimeError(f"queue item {item_id} {item['status']}: {item.get('error_message', '')}")
            return item
        time.sleep(POLL_INTERVAL)
    raise TimeoutError(f"queue item {item_id} did not finish within {TIMEOUT:.0f} s")


def _image_name(item: dict[str, Any]) -> str:
    session = item["session"]
    prepared = session["source_prepared_mapping"][OUTPUT_NODE]
    return session["results"][prepared[0]]["image"]["image_name"]
