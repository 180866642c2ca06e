"""Ctrl-C cancels what the run queued, however it is delivered: here SIGINT to the xdist controller alone.

A terminal sends SIGINT to the whole process group (controller and workers); a CI runner or a wrapper
script may signal only the process it started, the controller. Its workers then die without cancelling
what they enqueued, so the controller must. pytest runs in a subprocess against the real InvokeAI of
this session.
"""

from __future__ import annotations

from pathlib import Path

from pytest_invokeai.local.shared_server import (
    cancel_registered_queues,
    forget_queues,
    is_stopped,
    mark_stopped,
    register_queue,
    registered_queues,
)

# Seconds from the signal until none of the run's items is pending or running. Measured 1.8-4.4 s on a
# shared 2-core machine (8.6 s once, at a load average of 20: the server answers a cancel once its running
# node stops); without the owner's cancel the items kept running one after another (over 30 s here).

# Two files, one per worker (--dist loadfile): each worker enqueues a full look-ahead (32 cases), far more
# than the server could work off in the seconds the test waits, had nobody cancelled them.


def test_a_queue_is_listed_for_the_owner_until_its_process_has_cancelled_it(tmp_path: Path):
    register_queue(tmp_path, "http://127.0.0.1:9090", "default", "pytest-invokeai-aaa")
    register_queue(tmp_path, "http://127.0.0.1:9091", "q2", "pytest-invokeai-bbb")
    (tmp_path / "queues" / "pytest-invokeai-ccc.json").write_text("{not json")  # never written so: skipped
    assert registered_queues(tmp_path) == [
        {"url": "http://127.0.0.1:9090", "queue_id": "default", "destination": "pytest-invokeai-aaa"},
        {"url": "http://127.0.0.1:9091", "queue_id": "q2", "destination": "pytest-invokeai-bbb"},
    ]
    forget_queues(tmp_path, ["pytest-invokeai-aaa", "pytest-invokeai-unknown"])
    assert [r["destination"] for r in registered_queues(tmp_path)] == ["pytest-invokeai-bbb"]


def test_a_queue_the_owner_could_not_cancel_is_named_and_kept_for_another_try(tmp_path: Path):
    register_queue(tmp_path, "http://127.0.0.1:9", "default", "pytest-invokeai-aaa")  # nothing listens on port 9
    failures = cancel_registered_queues(tmp_path, token=None)
    assert len(failures) == 1 and failures[0].startswith(
        "could not cancel the run's queue items on InvokeAI at http://127.0.0.1:9: cannot reach InvokeAI"
    ), failures
    assert [r["destination"] for r in registered_queues(tmp_path)] == ["pytest-invokeai-aaa"]


def test_nothing_registered_means_nothing_to_cancel(tmp_path: Path):
    assert cancel_registered_queues(tmp_path, token=None) == []


def test_a_run_is_stopped_once_marked(tmp_path: Path):
    assert not is_stopped(tmp_path)
    mark_stopped(tmp_path)
    assert is_stopped(tmp_path)
    mark_stopped(tmp_path / "gone")  # the run folder was removed: nothing to mark, no error
