"""What the plugin spends per 1024x1024 output: ``fingerprint()`` of the PNG, then ``compare()``.

Both images are real server outputs of the benchmark workflow at 1024x1024 (seeds 1 and 2), so
``compare`` takes its full path (different pixels: every distance is computed), not the shortcut
for identical pixels. The baseline's fingerprint goes through JSON as it does on disk.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from pytest_invokeai.baseline.compare import compare
from pytest_invokeai.baseline.fingerprint import Fingerprint, fingerprint
from pytest_invokeai.workflow.load import load_workflow

from .loop import run_case
from .workload import HEIGHT, SEED, WIDTH, Workload

SIDE = 1024


def measure_fingerprint(url: str, workload: Workload, runs: int) -> dict[str, Any]:
    workflow = load_workflow(workload.workflow)
    with httpx.Client(base_url=url, timeout=120.0) as http:
        _, baseline_png = run_case(http, workflow, {WIDTH: SIDE, HEIGHT: SIDE, SEED: 1})
        _, actual_png = run_case(http, workflow, {WIDTH: SIDE, HEIGHT: SIDE, SEED: 2})
    baseline = Fingerprint.from_json(fingerprint(baseline_png).to_json())
    fingerprint_ms, compare_ms, total_ms = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        actual = fingerprint(actual_png)
        fingerprinted = time.perf_counter()
        comparison = compare(baseline, actual)
        ended = time.perf_counter()
        if comparison.identical:
            raise RuntimeError("the two 1024x1024 outputs have identical pixels; compare() would take its shortcut")
        fingerprint_ms.append((fingerprinted - started) * 1000)
        compare_ms.append((ended - fingerprinted) * 1000)
        total_ms.append((ended - started) * 1000)
    return {
        "image": f"{SIDE}x{SIDE} PNG from the server (noise-texture workflow, seed 2; baseline seed 1)",
        "png_bytes": len(actual_png),
        "runs": runs,
        "fingerprint_ms": round(statistics.median(fingerprint_ms), 2),
        "compare_ms": round(statistics.median(compare_ms), 3),
        "total_ms": round(statistics.median(total_ms), 2),
        "total_min_ms": round(min(total_ms), 2),
        "total_max_ms": round(max(total_ms), 2),
    }
