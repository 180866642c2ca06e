"""One managed InvokeAI per test run, shared by every process of the run (the xdist workers too).

Why one and not one per worker: on a CPU (or one GPU) the server is the bottleneck and runs one
generation at a time; a second server would compete for the same cores and memory, add its start-up
time (about 15 s here) and still not finish sooner. So the first process that needs a server starts
it, under a file lock in the run's folder, and records its URL and process group there; the others
read it. The process that created the run folder (the xdist controller, or the only process) owns
it and stops the server at the very end, after every worker has finished.

Nothing starts until a test needs it: a run with no InvokeAI test starts no server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from ..errors import ServerError
from ..locks import file_lock

SERVER_FILE = "server.json"
ERROR_FILE = "server-error.txt"


def new_run_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="pytest-invokeai-run-"))


def acquire_server(run_dir: Path, command: str | None = None) -> str:
    """The URL of the run's managed server, started now if no process of the run has started it."""
    with file_lock(run_dir / "server.lock"):
        recorded = run_dir / SERVER_FILE
        if recorded.exists():
            return json.loads(recorded.read_text())["url"]
        failed = run_dir / ERROR_FILE
        if failed.exists():  # another worker already tried: do not spend minutes failing again
            raise ServerError(failed.read_text())
        from .managed import (
            ManagedServer,  # httpx and friends load only when a server is started
        )

        try:
            server = ManagedServer(command, log_path=run_dir / "invokeai.log").start()
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
        _stop_process_group(int(info["pid"]), timeout)
        shutil.rmtree(info["root"], ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)


def server_log(run_dir: Path) -> Path:
    return run_dir / "invokeai.log"


def _stop_process_group(pid: int, timeout: float) -> None:
    if os.name == "nt":  # pragma: no cover - the managed server runs on POSIX
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
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
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
