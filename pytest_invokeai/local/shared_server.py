"""One managed InvokeAI per test run, shared by every process of the run (the xdist workers too).

Why one and not one per worker: on a CPU (or one GPU) the server is the bottleneck and runs one
generation at a time; a second server would compete for the same cores and memory, add its start-up
time (about 15 s here) and still not finish sooner. So the first process that needs a server starts
it, under a file lock in the run's folder, and records its URL and process group there; the others
read it. The process that created the run folder (the xdist controller, or the only process) owns
it and stops the server at the very end, after every worker has finished.

Nothing starts until a test needs it: a run with no InvokeAI test starts no server.

The run folder also lists the queues the run enqueues on (one file per server session: its URL, queue
and ``destination`` tag), written before the first enqueue and removed once that session has cancelled
what it left. Whatever is still listed when the run ends belongs to a process that died without
cancelling (xdist workers killed after SIGINT reached the controller alone): the owner cancels it. An
interrupted owner also marks the run stopped at once, so that the workers enqueue nothing more in the
seconds before they are torn down.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_invokeai._util.locks import file_lock
from pytest_invokeai.errors import ServerError

if TYPE_CHECKING:
    from pytest_invokeai.local.node_packs import NodePack
    from pytest_invokeai.server.auth import Auth

SERVER_FILE = "server.json"
ERROR_FILE = "server-error.txt"
QUEUES_DIR = "queues"  # one JSON file per destination tag the run enqueues under
STOPPED_FILE = "interrupted"  # present once the run was interrupted: enqueue nothing more
CANCEL_TIMEOUT = 5.0  # seconds per cancel call at the end of an interrupted run: a hung server must not hold it
CANCEL_THREADS = 16


def new_run_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="pytest-invokeai-run-"))


def acquire_server(
    run_dir: Path, command: str | None = None, *, node_packs: Sequence[NodePack] = (), version: str | None = None
) -> str:
    """The URL of the run's managed server, started now (with these node packs) if no process of the run has.

    ``version``: the InvokeAI release to run (installed first when it is not yet); None: the default one.
    """
    with file_lock(run_dir / "server.lock"):
        recorded = run_dir / SERVER_FILE
        if recorded.exists():
            url: str = json.loads(recorded.read_text())["url"]  # written by this module below
            return url
        failed = run_dir / ERROR_FILE
        if failed.exists():  # another worker already tried: do not spend minutes failing again
            raise ServerError(failed.read_text())
        from pytest_invokeai.local.managed import ManagedServer

        try:
            server = ManagedServer(
                command, log_path=run_dir / "invokeai.log", node_packs=node_packs, version=version
            ).start()
        except ServerError as exc:
            failed.write_text(str(exc))
            raise
        # The Popen object dies with this process; the record lets the owner stop the server.
        recorded.write_text(json.dumps({"url": server.url, "pid": server.pid, "root": str(server.root)}))
        return server.url


def release_run(run_dir: Path, timeout: float = 20.0) -> None:
    """Stop the run's managed server, if one was started, and remove the run's folder (owner only)."""
    recorded = run_dir / SERVER_FILE
    if recorded.exists():
        info = json.loads(recorded.read_text())
        stop_process_group(int(info["pid"]), timeout)
        shutil.rmtree(info["root"], ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)


def register_queue(run_dir: Path, url: str, queue_id: str, destination: str) -> None:
    """Note that a process of the run enqueues under ``destination`` on ``url`` (before it does)."""
    from pytest_invokeai._util.atomic import write_atomic

    record = {"url": url, "queue_id": queue_id, "destination": destination}
    write_atomic(run_dir / QUEUES_DIR / f"{destination}.json", json.dumps(record).encode())


def forget_queues(run_dir: Path, destinations: list[str]) -> None:
    """The process that enqueued under these tags has cancelled what it left there."""
    for destination in destinations:
        (run_dir / QUEUES_DIR / f"{destination}.json").unlink(missing_ok=True)


def registered_queues(run_dir: Path) -> list[dict[str, str]]:
    records = []
    for path in sorted((run_dir / QUEUES_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):  # removed meanwhile; never half-written (atomic)
            continue
        if isinstance(record, dict) and all(isinstance(record.get(k), str) for k in ("url", "queue_id", "destination")):
            records.append(record)
    return records


def mark_stopped(run_dir: Path) -> None:
    """The run was interrupted: its processes enqueue nothing more."""
    with contextlib.suppress(OSError):  # the run folder is gone: so is the run
        (run_dir / STOPPED_FILE).touch()


def is_stopped(run_dir: Path) -> bool:
    return (run_dir / STOPPED_FILE).exists()


def cancel_registered_queues(run_dir: Path, token: str | None, auth: Auth | None = None) -> list[str]:
    """Cancel what is still queued under every tag the run's processes registered; what failed, one line each.

    The calls go out together: a server answers a cancel only once its running node has stopped, and
    one slow answer must not hold back the cancel of another worker's items.
    """
    records = registered_queues(run_dir)
    if not records:
        return []
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(records), CANCEL_THREADS)) as pool:
        failures = list(pool.map(lambda record: _cancel_queue(record, token, auth), records))
    forget_queues(
        run_dir, [record["destination"] for record, failure in zip(records, failures, strict=True) if not failure]
    )
    return [failure for failure in failures if failure]


def _cancel_queue(record: dict[str, str], token: str | None, auth: Auth | None) -> str:
    """Cancel one registered queue's items; "" when done, else why not."""
    from pytest_invokeai.server.api import (
        cancel_by_destination,  # the server side loads only when there is something to cancel
    )
    from pytest_invokeai.server.client import InvokeAIClient

    try:
        with InvokeAIClient(
            record["url"],
            token=None if auth is not None else token,
            auth=auth,
            queue_id=record["queue_id"],
            timeout=CANCEL_TIMEOUT,
            retries=0,
        ) as client:
            client.send(cancel_by_destination(record["queue_id"], record["destination"]))
    except ServerError as exc:
        return f"could not cancel the run's queue items on InvokeAI at {record['url']}: {exc}"
    return ""


def stop_process_group(pid: int, timeout: float) -> None:
    if os.name == "nt":  # pragma: no cover - the managed server runs on POSIX
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it
            if reaped:
                return
        except ChildProcessError:  # started by another process: poll for it
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
