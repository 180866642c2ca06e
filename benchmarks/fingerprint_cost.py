"""What the plugin spends per 1024x1024 output, against the floor: decoding the PNG alone.

Both images are real server outputs of the benchmark workflow at 1024x1024 (seeds 1 and 2), so
``compare`` takes its full path (different pixels: every distance is computed), not the shortcut
for identical pixels. The baseline's fingerprint goes through JSON as it does on disk.

Each run is a pair, timed back to back in alternating order (see :mod:`.paired`):

* the floor: ``Image.open(BytesIO(png)).load()``, Pillow decoding the PNG and nothing else;
* the plugin's path, as the judge takes it: decode the PNG once (``DecodedImage.decode``), take its
  ``fingerprint`` from the decoded pixels, ``compare`` it with the baseline's.

The ratio of the two is taken per pair; its median and spread are what the goal (at most 1.25) is
judged on.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from pytest_invokeai.baseline.compare import compare
from pytest_invokeai.baseline.fingerprint import Fingerprint, fingerprint
from pytest_invokeai.baseline.image import DecodedImage
from pytest_invokeai.workflow.load import load_workflow

from .loop import run_case
from .paired import Sample, alternate, ratios, spread, timed
from .workload import HEIGHT, SEED, WIDTH, Workload

SIDE = 1024
TARGET = 1.25  # fingerprint + compare (decoding included) at most this many times the PNG decode alone
WARM_UP = 2  # pairs run first and not counted: imports, caches and allocator settle


def decode_alone(png: bytes) -> None:
    image = Image.open(io.BytesIO(png))
    image.load()


def measure_fingerprint(url: str, workload: Workload, runs: int) -> dict[str, Any]:
    workflow = load_workflow(workload.workflow)
    with httpx.Client(base_url=url, timeout=120.0) as http:
        _, baseline_png = run_case(http, workflow, {WIDTH: SIDE, HEIGHT: SIDE, SEED: 1})
        _, actual_png = run_case(http, workflow, {WIDTH: SIDE, HEIGHT: SIDE, SEED: 2})
    result = measure_pngs(baseline_png, actual_png, runs)
    result["image"] = f"{SIDE}x{SIDE} PNG from the server (noise-texture workflow, seed 2; baseline seed 1)"
    return result


def measure_pngs(baseline_png: bytes, actual_png: bytes, runs: int) -> dict[str, Any]:
    """The paired measurement on two PNGs with different pixels (pure of any server)."""
    baseline = Fingerprint.from_json(fingerprint(baseline_png).to_json())
    steps: dict[str, list[Sample]] = {"decode": [], "fingerprint": [], "compare": []}

    def plugin_path() -> Sample:
        decoded: list[DecodedImage] = []
        actual: list[Fingerprint] = []
        decode = timed(lambda: decoded.append(DecodedImage.decode(actual_png)))
        fingerprinting = timed(lambda: actual.append(fingerprint(decoded[0])))
        comparing = timed(lambda: _check_full_comparison(baseline, actual[0]))
        for name, sample in (("decode", decode), ("fingerprint", fingerprinting), ("compare", comparing)):
            steps[name].append(sample)
        return Sample(
            decode.wall_s + fingerprinting.wall_s + comparing.wall_s,
            decode.cpu_s + fingerprinting.cpu_s + comparing.cpu_s,
        )

    def floor() -> Sample:
        return timed(lambda: decode_alone(actual_png))

    alternate(plugin_path, floor, WARM_UP)
    for samples in steps.values():
        samples.clear()
    pairs = alternate(plugin_path, floor, runs)
    return {
        "png_bytes": len(actual_png),
        "runs": runs,
        "method": "paired runs in alternating order, median with quartiles and range",
        "decode_alone_ms": _ms(b.wall_s for _, b in pairs),
        "decode_ms": _ms(s.wall_s for s in steps["decode"]),
        "fingerprint_ms": _ms(s.wall_s for s in steps["fingerprint"]),
        "compare_ms": _ms(s.wall_s for s in steps["compare"]),
        "total_ms": _ms(a.wall_s for a, _ in pairs),
        "decode_alone_cpu_ms": _ms(b.cpu_s for _, b in pairs),
        "total_cpu_ms": _ms(a.cpu_s for a, _ in pairs),
        "ratio": spread(ratios(pairs, "wall_s")),
        "ratio_cpu": spread(ratios(pairs, "cpu_s")),
        "target": TARGET,
    }


def _check_full_comparison(baseline: Fingerprint, actual: Fingerprint) -> None:
    if compare(baseline, actual).identical:
        raise RuntimeError("the two 1024x1024 outputs have identical pixels; compare() would take its shortcut")


def _ms(seconds: Any) -> dict[str, Any]:
    return spread([s * 1000 for s in seconds], digits=3)
