"""Collection cost: ``pytest --collect-only -q`` of K parametrized cases, with the plugin and without.

The plugin's version is a marker matrix over the workflow's seed input (K tests, each validated
against the form); the plain version is ``@pytest.mark.parametrize`` over the same seeds with the
same test ids, run with ``-p no:invokeai``. Both are timed as whole processes (what a user waits
for: interpreter, imports, collection, printing the ids), best of ``repeats``. The plugin's run is
pointed at a listening socket that only counts connections: collection must not contact a server.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .plugin_suite import clean_env
from .workload import SEED, Workload

PLUGIN_TEST = '''\
import pytest


@pytest.mark.invokeai(workflow="{workflow}", inputs={{0: {size}, 1: {size}}}, matrix={{{seed}: list(range({k}))}})
def test_case(invokeai_run):
    invokeai_run().assert_matches_baseline()
'''

PLAIN_TEST = '''\
import pytest

SEEDS = list(range({k}))


@pytest.mark.parametrize("seed", SEEDS, ids=[f"Seed={{s}}" for s in SEEDS])
def test_case(seed):
    pass
'''

COLLECTED = re.compile(r"(\d+) tests? collected in ([0-9.]+)s")


class ConnectionCounter:
    """A socket that accepts and counts connections (and says nothing): a server that must stay unused."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            connection.close()

    def __enter__(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


def write_collection_suites(directory: Path, workload: Workload, k: int) -> tuple[Path, Path]:
    plugin_dir, plain_dir = directory / f"plugin-{k}", directory / f"plain-{k}"
    for each in (plugin_dir, plain_dir):
        each.mkdir(parents=True, exist_ok=True)
        (each / "pytest.ini").write_text("[pytest]\n")
    (plugin_dir / workload.workflow.name).write_bytes(workload.workflow.read_bytes())
    (plugin_dir / "test_collect.py").write_text(
        PLUGIN_TEST.format(workflow=workload.workflow.name, size=workload.size, seed=SEED, k=k)
    )
    (plain_dir / "test_collect.py").write_text(PLAIN_TEST.format(k=k))
    return plugin_dir, plain_dir


def time_collection(directory: Path, extra: list[str], k: int, repeats: int) -> dict[str, Any]:
    """Best process time of ``repeats`` runs, and pytest's own collection time of that run."""
    best: dict[str, Any] | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
            cwd=directory, capture_output=True, text=True, env=clean_env(),
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        found = COLLECTED.search(done.stdout)
        if done.returncode != 0 or found is None or int(found.group(1)) != k:
            raise RuntimeError(f"collecting {directory} failed (exit {done.returncode}): {(done.stdout + done.stderr)[-800:]}")
        if best is None or elapsed < best["process_s"]:
            best = {"process_s": round(elapsed, 3), "pytest_collect_s": float(found.group(2))}
    assert best is not None
    return best


def measure_collection(directory: Path, workload: Workload, ks: list[int], repeats: int, log: Any = print) -> list[dict[str, Any]]:
    rows = []
    for k in ks:
        plugin_dir, plain_dir = write_collection_suites(directory, workload, k)
        with ConnectionCounter() as counter:
            plugin = time_collection(plugin_dir, ["--invokeai-url", counter.url], k, repeats)
        plain = time_collection(plain_dir, ["-p", "no:invokeai"], k, repeats)
        row = {
            "k": k,
            "plugin_s": plugin["process_s"],
            "plain_s": plain["process_s"],
            "ratio": round(plugin["process_s"] / plain["process_s"], 3),
            "plugin_pytest_collect_s": plugin["pytest_collect_s"],
            "plain_pytest_collect_s": plain["pytest_collect_s"],
            "server_connections": counter.connections,
        }
        log(f"  collect K={k}: plugin {row['plugin_s']:.2f} s, plain {row['plain_s']:.2f} s, ratio {row['ratio']:.2f}")
        rows.append(row)
    return rows
