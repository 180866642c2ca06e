#!/usr/bin/env python
"""Run the benchmarks and regenerate the results table in benchmarks/README.md.

    .venv/bin/python benchmarks/run.py [--url URL] [--sizes 20,100] [--quick]     (or: ./dev bench ...)

Without --url it starts its own InvokeAI (the project's managed server) and stops it at the end.
A full run writes results/latest.json and the README's results section; --quick (small sizes, to
check that everything works) writes results/quick.json, and a run with --skip results/partial.json,
and both print the section instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run as a script: the benchmarks package is importable from the repo root

import httpx  # noqa: E402

from benchmarks import collection, fingerprint_cost, loop, pyclient, table  # noqa: E402
from benchmarks.machine import load_average, machine_info  # noqa: E402
from benchmarks.memory import plain_pytest_rss  # noqa: E402
from benchmarks.plugin_suite import DESTINATION_PREFIX, clean_env, run_plugin  # noqa: E402
from benchmarks.server import BenchServer  # noqa: E402
from benchmarks.table import PLAIN_MEMORY_SOURCE  # noqa: E402
from benchmarks.timing import earliest_created, summarize  # noqa: E402
from benchmarks.workload import Workload, write_uncached_workflow  # noqa: E402
from pytest_invokeai.local.managed import ManagedServer  # noqa: E402
from pytest_invokeai.workflow.load import load_workflow  # noqa: E402

RESULTS_DIR = HERE / "results"
README = HERE / "README.md"
APPROACHES = ("loop", "pyclient", "plugin")
STEPS = ("throughput", "memory", "fingerprint", "collection")
FULL = {"sizes": "20,100", "memory": 1000, "collect": "1000,2000,5000,10000", "repeats": 5, "fingerprint_runs": 25}
QUICK = {"sizes": "5,10", "memory": 50, "collect": "250,500,1000", "repeats": 3, "fingerprint_runs": 15}
IDLE_TIMEOUT = 600.0  # seconds to wait for a shared server's queue to empty before an approach
CLOCK_SLACK = 0.005  # server timestamps are whole milliseconds


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running InvokeAI 6.14.2 (default: start one, stop it at the end)")
    parser.add_argument("--quick", action="store_true", help="small sizes: check the pipeline, not for comparison")
    parser.add_argument(
        "--sizes", help=f"case counts of the throughput runs (default {FULL['sizes']}; quick {QUICK['sizes']})"
    )
    parser.add_argument(
        "--memory-cases", type=int, help=f"cases of the memory run (default {FULL['memory']}; quick {QUICK['memory']})"
    )
    parser.add_argument(
        "--collect", help=f"K values of the collection benchmark (default {FULL['collect']}; quick {QUICK['collect']})"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"paired runs per K of the collection benchmark (default {FULL['repeats']}; quick {QUICK['repeats']})",
    )
    parser.add_argument(
        "--fingerprint-runs",
        type=int,
        help=f"paired runs of the fingerprint benchmark (default {FULL['fingerprint_runs']}; quick {QUICK['fingerprint_runs']})",
    )
    parser.add_argument(
        "--image-size", type=int, default=64, help="width and height of the generated images (default 64)"
    )
    parser.add_argument("--skip", action="append", default=[], choices=STEPS, help="leave a step out (repeatable)")
    parser.add_argument(
        "--render", action="store_true", help="only regenerate the README section from results/latest.json"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.sizes = [int(s) for s in (args.sizes or preset["sizes"]).split(",")]
    args.collect = [int(k) for k in (args.collect or preset["collect"]).split(",")]
    args.memory_cases = args.memory_cases or preset["memory"]
    args.repeats = preset["repeats"] if args.repeats is None else args.repeats
    args.fingerprint_runs = preset["fingerprint_runs"] if args.fingerprint_runs is None else args.fingerprint_runs
    for name in ("repeats", "fingerprint_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f} s] {message}", flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def the_command(argv: list[str]) -> str:
    python = Path(sys.executable)
    shown = os.path.relpath(python, REPO) if python.is_relative_to(REPO) else str(python)
    return shlex.join([shown, os.path.relpath(Path(__file__).resolve(), REPO), *argv])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render:
        render_readme(json.loads((RESULTS_DIR / "latest.json").read_text()))
        print(f"rendered {README.relative_to(REPO)} from results/latest.json")
        return 0
    log = Progress()
    results: dict[str, Any] = {
        "format": 1,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": the_command(argv),
        "machine": machine_info(),
        "settings": {"image_size": args.image_size, "sizes": args.sizes, "quick": args.quick},
    }
    managed = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        log("starting InvokeAI (the project's managed server; not timed)")
        managed = ManagedServer().start()
        url = managed.url
    bench = BenchServer(url)
    cache_was_enabled = False
    try:
        results["server"] = {"url": url, "managed": managed is not None, "invokeai": bench.version()}
        log(f"InvokeAI {results['server']['invokeai']} at {url}")
        cache_was_enabled = bool(bench.cache_status().get("enabled"))
        bench.disable_cache()
        results["server"]["node_cache"] = (
            f"disabled on the server for the run (it was {'enabled' if cache_was_enabled else 'disabled'}), "
            "and `use_cache: false` in every node of every approach's graph"
        )
        with tempfile.TemporaryDirectory(prefix="pytest-invokeai-bench-") as tmp:
            run_steps(args, Path(tmp), url, bench, results, log)
    finally:
        if cache_was_enabled:
            bench.enable_cache()
        bench.close()
        if managed is not None:
            log("stopping InvokeAI")
            managed.stop()
    results["machine"]["load_average_at_end"] = load_average()
    results["duration_s"] = round(log.elapsed, 1)
    write_results(args, results, log)
    log(f"done in {table.duration_text(results['duration_s'])}")
    return 0


def run_steps(
    args: argparse.Namespace, tmp: Path, url: str, bench: BenchServer, results: dict[str, Any], log: Progress
) -> None:
    workload = Workload(write_uncached_workflow(tmp / "workflow"), args.image_size)
    log("warm-up: one case on the server (not timed)")
    with httpx.Client(base_url=url, timeout=120.0) as http:
        loop.run_case(http, load_workflow(workload.workflow), workload.form_values(10**6))
    pyclient_error = None
    if "throughput" not in args.skip:  # only the throughput runs use it
        try:
            pyclient.ensure_installed(log)
        except pyclient.Unavailable as exc:
            pyclient_error = str(exc)
            log(f"invokeai-py-client unavailable: {pyclient_error}")

    memory_runs: list[dict[str, Any]] = []
    if "throughput" not in args.skip:
        results["throughput"] = []
        for index, n in enumerate(args.sizes):
            # Alternate the order so that no approach always runs first (or last) on the server.
            order = APPROACHES if index % 2 == 0 else tuple(reversed(APPROACHES))
            for position, approach in enumerate(order, 1):
                log(f"throughput N={n}: {approach} ({position} of {len(order)})")
                row = measure(approach, n, position, url, bench, workload, tmp, pyclient_error)
                log(f"  -> {_short(row)}")
                results["throughput"].append(row)
                if approach == "plugin" and row["status"] == "ok":
                    memory_runs.append(_memory_run(row, "throughput run"))

    if "memory" not in args.skip:
        n = args.memory_cases
        log(f"memory: a {n}-case plugin run")
        row = measure("plugin", n, 1, url, bench, workload, tmp, None)
        log(f"  -> {_short(row)}")
        if row["status"] == "ok":
            memory_runs.append(_memory_run(row, "memory run"))
            results["memory_run"] = row
        else:
            results["memory"] = {"error": row.get("reason", row["status"])}
    if memory_runs and "memory" not in results:
        log("memory: plain pytest (no plugin) running trivial tests, for comparison")
        sizes = sorted({run["cases"] for run in memory_runs})  # the same sizes as the plugin's runs
        plain = _attempt(lambda: [_plain_memory_run(tmp, k) for k in sizes])
        results["memory"] = {
            "image_size": args.image_size,
            "runs": memory_runs + (plain if isinstance(plain, list) else []),
        }
        if isinstance(plain, dict):
            log(f"  plain pytest not measured: {plain['error']}")
            results["memory"]["plain_error"] = plain["error"]

    if "fingerprint" not in args.skip:
        log(
            f"fingerprint + compare of a 1024x1024 output against the PNG decode alone, {args.fingerprint_runs} paired runs"
        )
        results["fingerprint"] = _attempt(
            lambda: fingerprint_cost.measure_fingerprint(url, workload, args.fingerprint_runs)
        )
        log(f"  -> {results['fingerprint']}")

    if "collection" not in args.skip:
        log(
            f"collection: K = {', '.join(map(str, args.collect))}, {args.repeats} paired runs each (plugin and plain pytest alternating)"
        )
        rows = _attempt(
            lambda: collection.measure_collection(tmp / "collection", workload, args.collect, args.repeats, log)
        )
        results["collection"] = (
            rows if isinstance(rows, dict) else {"repeats": args.repeats, "method": "paired", "rows": rows}
        )


def measure(
    approach: str,
    n: int,
    position: int,
    url: str,
    bench: BenchServer,
    workload: Workload,
    tmp: Path,
    unavailable: str | None,
) -> dict[str, Any]:
    """One approach on ``n`` cases: its client timer, its queue items' timestamps, wall and busy."""
    row: dict[str, Any] = {"n": n, "approach": approach, "position": position}
    if approach == "pyclient" and unavailable:
        return {**row, "status": "unavailable", "reason": unavailable}
    _wait_idle(bench)
    mark = bench.last_item_id()
    try:
        if approach == "loop":
            run = loop.run_loop(url, workload, n)
            items = bench.items(run["item_ids"])
        elif approach == "pyclient":
            run = pyclient.run_pyclient(url, workload, n)
            items = bench.items(run["item_ids"])
        else:
            run = run_plugin(url, workload, n, tmp / f"plugin-{n}-{position}")
            items = [i for i in bench.items_after(mark) if (i.get("destination") or "").startswith(DESTINATION_PREFIX)]
            if run["exit_code"] != 0 or run["wall_start"] is None:
                return {
                    **row,
                    **run,
                    "items": items,
                    "status": "failed",
                    "reason": f"pytest exit {run['exit_code']}: {' '.join(run['output_tail'])}",
                }
    except pyclient.Unavailable as exc:
        return {**row, "status": "unavailable", "reason": str(exc)}
    except Exception as exc:  # a benchmark reports what failed and carries on with the others
        return {**row, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    row.update({k: v for k, v in run.items() if k != "item_ids"})
    row["items"] = items
    notes = []
    first = earliest_created(items)
    if first is not None and _is_local(url) and first < row["wall_start"] - CLOCK_SLACK:
        # Same machine, same clock: an item created before the timer started must count.
        notes.append(
            f"timer started {row['wall_start'] - first:.3f} s after the first enqueue; wall counted from the enqueue"
        )
        row["wall_start"] = first
    row.update(summarize(items, row["wall_start"], row["wall_end"]))
    completed = row["statuses"].get("completed", 0)
    row["status"] = "ok" if completed == n and len(items) == n else "failed"
    if row["status"] != "ok":
        row["reason"] = f"{completed} of {n} cases completed ({row['statuses']}, {len(items)} queue items)"
    if approach == "pyclient" and run.get("image_names_from_session_results"):
        notes.append("image names read from the session results (see README)")
    row["note"] = "; ".join(notes)
    return row


def _wait_idle(bench: BenchServer) -> None:
    deadline = time.monotonic() + IDLE_TIMEOUT
    while not bench.is_idle():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server's queue did not empty within {IDLE_TIMEOUT:.0f} s")
        time.sleep(0.5)


def _is_local(url: str) -> bool:
    return urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")


def _memory_run(row: dict[str, Any], source: str) -> dict[str, Any]:
    return {"cases": row["n"], "peak_rss_kb": row["peak_rss_kb"], "ratio": row["ratio"], "source": source}


def _plain_memory_run(tmp: Path, k: int) -> dict[str, Any]:
    peak = plain_pytest_rss(tmp / f"plain-memory-{k}", k, clean_env())
    return {"cases": k, "peak_rss_kb": peak, "ratio": None, "source": PLAIN_MEMORY_SOURCE}


def _attempt(step: Callable[[], Any]) -> Any:
    try:
        return step()
    except Exception as exc:  # one failing step must not lose the others' measurements
        return {"error": f"{type(exc).__name__}: {exc}"}


def _short(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return f"{row['status']}: {row.get('reason', '')}"[:400]
    return f"wall {row['wall_s']:.1f} s, busy {row['busy_s']:.1f} s, wall/busy {row['ratio']:.2f}"


def results_name(args: argparse.Namespace) -> str:
    """Only a full run replaces latest.json (and the README): a quick or partial one must not overwrite it."""
    if args.quick:
        return "quick.json"
    return "partial.json" if args.skip else "latest.json"


def write_results(args: argparse.Namespace, results: dict[str, Any], log: Progress) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    target = RESULTS_DIR / results_name(args)
    unfinished = target.with_suffix(".json.tmp")
    unfinished.write_text(compact_json(results) + "\n")
    unfinished.replace(target)
    log(f"wrote {target.relative_to(REPO)}")
    if target.name != "latest.json":
        print("\n" + table.render(results) + "\n")
        log(f"{'quick mode' if args.quick else 'steps skipped'}: benchmarks/README.md left as it is")
    else:
        render_readme(results)
        log(f"regenerated the results section of {README.relative_to(REPO)}")


def compact_json(value: Any, depth: int = 0) -> str:
    """Indented JSON with each flat object (a queue item, a table row) on one line: readable, and short."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict) and any(isinstance(v, (dict, list)) and v for v in value.values()):
        body = ",\n".join(f"{inner}{json.dumps(k)}: {compact_json(v, depth + 1)}" for k, v in value.items())
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + compact_json(v, depth + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def render_readme(results: dict[str, Any]) -> None:
    README.write_text(table.replace_results(README.read_text(), table.render(results)))


if __name__ == "__main__":
    sys.exit(main())
