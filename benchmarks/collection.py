"""Collection cost: ``pytest --collect-only -q`` of K parametrized cases, with the plugin and without.

The plugin's version is a marker matrix over the workflow's seed input (K tests, each validated
against the form); the plain version is ``@pytest.mark.parametrize`` over the same seeds with the
same test ids, run with ``-p no:invokeai``. Both are timed as whole processes (what a user waits
for: interpreter, imports, collection, printing the ids).

The two are measured in pairs, in alternating order (plugin then plain, plain then plugin, ...),
after one pair that warms the file cache and is not counted; the ratio is taken per pair and
reported as its median with quartiles and range (see :mod:`.paired`). The plugin's run is pointed at
a listening socket that only counts connections: collection must not contact a server.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .paired import Sample, alternate, ratios, spread, timed_subprocess
from .plugin_suite import clean_env
from .workload import SEED, Workload

WARM_UP = 1  # pairs run first and not counted: the file cache, compiled bytecode (see collection_env)

PLUGIN_TEST = """\
import pytest


@pytest.mark.invokeai(workflow="{workflow}", inputs={{0: {size}, 1: {size}}}, matrix={{{seed}: list(range({k}))}})
def test_case(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""

PLAIN_TEST = """\
import pytest

SEEDS = list(range({k}))


@pytest.mark.parametrize("seed", SEEDS, ids=[f"Seed={{s}}" for s in SEEDS])
def test_case(seed):
    pass
"""

COLLECTED = re.compile(r"(\d+) tests? collected in ([0-9.]+)s")


def collection_env() -> dict[str, str]:
    """The environment of a measured process: ours, less what changes pytest or the plugin, and with
    Python's compiled bytecode written and read as in a user's installation (an environment that sets
    PYTHONDONTWRITEBYTECODE would have the plugin's modules compiled from source in every run)."""
    env = clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


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


def collect_once(directory: Path, extra: list[str], k: int, phases: list[float]) -> Sample:
    """One ``pytest --collect-only`` process: its wall and CPU time; pytest's own collection time goes to ``phases``."""
    done: list[subprocess.CompletedProcess[str]] = []
    sample = timed_subprocess(
        lambda: done.append(
            subprocess.run(
                [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
                cwd=directory,
                capture_output=True,
                text=True,
                env=collection_env(),
            )
        )
    )
    (run,) = done
    found = COLLECTED.search(run.stdout)
    if run.returncode != 0 or found is None or int(found.group(1)) != k:
        raise RuntimeError(f"collecting {directory} failed (exit {run.returncode}): {(run.stdout + run.stderr)[-800:]}")
    phases.append(float(found.group(2)))
    return sample


def measure_collection(
    directory: Path, workload: Workload, ks: list[int], repeats: int, log: Any = print
) -> list[dict[str, Any]]:
    rows = []
    for k in ks:
        plugin_dir, plain_dir = write_collection_suites(directory, workload, k)
        plugin_phase: list[float] = []
        plain_phase: list[float] = []
        with ConnectionCounter() as counter:
            # Defaults bind this K's folders and lists: each pair of closures is used within its own iteration.
            def plugin(directory: Path = plugin_dir, k: int = k, phases: list[float] = plugin_phase) -> Sample:
                return collect_once(directory, ["--invokeai-url", counter.url], k, phases)

            def plain(directory: Path = plain_dir, k: int = k, phases: list[float] = plain_phase) -> Sample:
                return collect_once(directory, ["-p", "no:invokeai"], k, phases)

            alternate(plugin, plain, WARM_UP)
            del plugin_phase[:], plain_phase[:]
            pairs = alternate(plugin, plain, repeats)
        row = {
            "k": k,
            "repeats": repeats,
            "plugin_s": spread([a.wall_s for a, _ in pairs]),
            "plain_s": spread([b.wall_s for _, b in pairs]),
            "ratio": spread(ratios(pairs, "wall_s")),
            "ratio_cpu": spread(ratios(pairs, "cpu_s")),
            "plugin_pytest_collect_s": spread(plugin_phase),
            "plain_pytest_collect_s": spread(plain_phase),
            "phase_ratio": spread([a / b for a, b in zip(plugin_phase, plain_phase, strict=True) if b > 0]),
            "server_connections": counter.connections,
        }
        log(
            f"  collect K={k}: plugin {row['plugin_s']['median']:.2f} s, plain {row['plain_s']['median']:.2f} s, "
            f"ratio {row['ratio']['median']:.2f} (quartiles {row['ratio']['q1']:.2f}-{row['ratio']['q3']:.2f}, "
            f"range {row['ratio']['min']:.2f}-{row['ratio']['max']:.2f}), CPU ratio {row['ratio_cpu']['median']:.2f}"
        )
        rows.append(row)
    return rows


CALLGRIND_TOTAL = re.compile(r"Collected : (\d+)")


def instructions_once(directory: Path, extra: list[str], k: int) -> int:
    """Instructions one ``pytest --collect-only`` process executes, counted by valgrind's callgrind.

    Unlike time, the count hardly moves with the load of other processes on the machine: it is the
    figure to compare on a busy machine (it counts work, not waiting for the CPU or the disk).
    """
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m", "pytest"]
    command += ["--collect-only", "-q", "-p", "no:cacheprovider", *extra]
    run = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=collection_env())
    found, counted = COLLECTED.search(run.stdout), CALLGRIND_TOTAL.search(run.stderr)
    if run.returncode != 0 or found is None or int(found.group(1)) != k or counted is None:
        raise RuntimeError(f"callgrind over {directory} failed (exit {run.returncode}): {run.stderr[-800:]}")
    return int(counted.group(1))


def measure_instructions(directory: Path, workload: Workload, ks: list[int], log: Any = print) -> list[dict[str, Any]]:
    """Per K: the instructions of the plugin's collection and of plain pytest's, and their ratio."""
    rows = []
    for k in ks:
        plugin_dir, plain_dir = write_collection_suites(directory, workload, k)
        plugin_args, plain_args = ["--invokeai-url", "http://127.0.0.1:9"], ["-p", "no:invokeai"]  # never contacted
        collect_once(plugin_dir, plugin_args, k, [])  # not counted: writes the compiled bytecode
        collect_once(plain_dir, plain_args, k, [])
        plugin = instructions_once(plugin_dir, plugin_args, k)
        plain = instructions_once(plain_dir, plain_args, k)
        row = {"k": k, "plugin_instructions": plugin, "plain_instructions": plain, "ratio": round(plugin / plain, 3)}
        log(f"  instructions K={k}: plugin {plugin / 1e9:.3f} G, plain {plain / 1e9:.3f} G, ratio {row['ratio']:.3f}")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """The collection benchmark alone (no server needed): paired times and, with --callgrind, instruction counts."""
    import argparse
    import json
    import tempfile

    from .workload import write_uncached_workflow

    parser = argparse.ArgumentParser(prog="python -m benchmarks.collection", description=main.__doc__)
    parser.add_argument("--collect", default="1000,10000", help="K values (default 1000,10000)")
    parser.add_argument("--repeats", type=int, default=5, help="paired timed runs per K (default 5)")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions with valgrind (slow)")
    parser.add_argument("--output", type=Path, help="write the measurements to this JSON file")
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.collect.split(",")]
    results: dict[str, Any] = {"command": " ".join(["python -m benchmarks.collection", *(argv or sys.argv[1:])])}
    with tempfile.TemporaryDirectory(prefix="pytest-invokeai-collect-") as tmp:
        workload = Workload(write_uncached_workflow(Path(tmp) / "workflow"), 64)
        if args.repeats > 0:
            results["timed"] = measure_collection(Path(tmp) / "timed", workload, ks, args.repeats)
        if args.callgrind:
            results["instructions"] = measure_instructions(Path(tmp) / "counted", workload, ks)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
