#!/usr/bin/env python
"""How the HTML report scales: a report of 5,000 compared outputs, opened in headless Chromium.

    .venv/bin/python benchmarks/report_scale.py [--outputs 5000] [--mismatched 500] [--repeats 3]

Builds a results folder as a run leaves it (real PNG files: per output the actual image and the
baseline's picture, and for a mismatch the diff heat map and the side-by-side; per case the four
signals and the two recall lines of an SD-1.5 case), writes the report
with the plugin's own writer, and opens it from disk in Debian's Chromium (playwright with
executable_path), each time in a fresh browser context. It reports the time to write the report,
the time from navigation to the page's load event (and to the report's script having run), the
report's size and the results folder's size, and writes them to results/report_scale.json. The
first opening in a new browser is reported on its own (Chromium warms its caches on its first page);
the median is of the openings after it. It also times what copying the baseline's picture into the
results adds to a matched output's artifacts (paired, alternating).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run as a script: the benchmarks package is importable from the repo root

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.machine import load_average, machine_info  # noqa: E402
from pytest_invokeai._util.names import safe_stem  # noqa: E402
from pytest_invokeai.report.artifacts import SUFFIXES, artifact_stem, diff_heatmap, side_by_side  # noqa: E402
from pytest_invokeai.report.context import ContextNote  # noqa: E402
from pytest_invokeai.report.html import write_html_report  # noqa: E402
from pytest_invokeai.report.outcomes import RunOutcome  # noqa: E402
from pytest_invokeai.report.results import OutputResult, summarize  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = "canvas_output:JbPTiAJ26r"
POOL = 64  # distinct images; each output still gets its own files
#: A real run's four signals against the default thresholds.
THRESHOLDS = {"phash": 0.075, "color": 2.0, "layout": 0.85, "sharpness": 0.5}
MATCHED = {"phash": 0.0, "color": 0.0, "layout": 0.0, "sharpness": 0.0}
MISMATCHED = {"phash": 0.31, "color": 3.2, "layout": 1.4, "sharpness": 0.9}
CONTEXT = [
    ContextNote("invokeai_version", "recorded on 6.14.2, ran on 6.14.2"),
    ContextNote("workflow", "workflow unchanged since the baseline"),
]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _noise(seed: int, size: tuple[int, int]) -> Image.Image:
    """Seeded colour noise smoothed a little, like the example suite's noise textures (64x48)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1] // 4, size[0] // 4, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB").resize(size, Image.Resampling.BILINEAR)


def _recall_lines(test_id: str, seed: int) -> dict[str, str]:
    """The two lines a run adds to a case that recalls into the web UI (an SD-1.5 text-to-image case's size)."""
    body = (
        f'{{"positive_prompt": "a watercolor fox in a snowy forest, soft light", "negative_prompt": "blurry", '
        f'"model": {{"key": "tiny-sd15", "hash": "blake3:5f2a9c", "name": "tiny-sd15", "base": "sd-1", '
        f'"type": "main"}}, "seed": {seed}, "steps": 20, "cfg_scale": 7.5, "width": 64, "height": 48, '
        f'"scheduler": "euler"}}'
    )
    return {
        "recall in the GUI": f"pytest-invokeai recall '{test_id}' --url http://127.0.0.1:9090",
        "recall with curl": "curl -X POST http://127.0.0.1:9090/api/v1/recall/default -H 'Content-Type: "
        f"application/json' -d '{body}'",
    }


@dataclass
class BuiltReport:
    report: Path
    results: Path
    outputs: list[OutputResult]
    write_seconds: float


def _write(path: Path, data: bytes) -> Path:
    if not path.exists():  # shared files are written once
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def build_results(
    root: Path, outputs: int, mismatched: int, size: tuple[int, int], *, shared_files: bool = False
) -> list[OutputResult]:
    """A results folder of ``outputs`` compared images, the first ``mismatched`` of them differing.

    ``shared_files``: outputs with the same picture link to one file (the page is the same; the folder is
    written in a moment instead of some 11,000 files, for a test that measures the page, not the disk).
    """
    results = root / "invokeai-results"
    pool = [_noise(seed, size) for seed in range(POOL)]
    pngs = [_png(image) for image in pool]
    diffs: dict[int, tuple[bytes, bytes]] = {}
    made = []
    for n in range(outputs):
        test_id = f"tests/test_textures.py::test_noise[seed={n}]"
        folder = results / (f"shared-{n % POOL}-{n < mismatched}" if shared_files else safe_stem(test_id))
        stem = artifact_stem(OUTPUT, 0)
        k = n % POOL
        actual = _write(folder / (stem + SUFFIXES["actual"]), pngs[k])
        if n < mismatched:
            other = (k + 1) % POOL
            if k not in diffs:
                heat = diff_heatmap(pngs[other], pngs[k])
                diffs[k] = (_png(heat), _png(side_by_side(pngs[other], pngs[k], heat)))
            baseline = _write(folder / (stem + SUFFIXES["baseline"]), pngs[other])
            diff = _write(folder / (stem + SUFFIXES["diff"]), diffs[k][0])
            both = _write(folder / (stem + SUFFIXES["side_by_side"]), diffs[k][1])
            result = OutputResult(
                test_id, OUTPUT, "Result", 0, "mismatched", MISMATCHED, THRESHOLDS, ["phash", "color", "layout", "sharpness"],
                "MISMATCH\n  phash distance 0.31 > 0.075: structure changed", actual, baseline, diff, both, "image",
                extra=_recall_lines(test_id, n), context=CONTEXT,
            )  # fmt: skip
        else:
            baseline = _write(folder / (stem + SUFFIXES["baseline"]), pngs[k])
            result = OutputResult(
                test_id, OUTPUT, "Result", 0, "matched", MATCHED, THRESHOLDS, [], "match",
                actual, baseline, None, None, "image", extra=_recall_lines(test_id, n), context=CONTEXT,
            )  # fmt: skip
        made.append(result)
    return made


def build_report(
    root: Path,
    *,
    outputs: int = 5000,
    mismatched: int = 500,
    size: tuple[int, int] = (64, 48),
    embed: bool = False,
    shared_files: bool = False,
) -> BuiltReport:
    """Results and the report as a run leaves them; the report written with the plugin's own writer (timed)."""
    made = build_results(root, outputs, mismatched, size, shared_files=shared_files)
    run = RunOutcome(exit_status=1 if mismatched else 0)
    for result in made:
        run.record(result.test_id, "failed" if result.is_failure else "passed", result.explanation)
    started = time.perf_counter()
    report = write_html_report(
        root / "invokeai-results" / "report.html", made, [], summary=summarize(made, []), run=run, embed=embed
    )
    return BuiltReport(report, root / "invokeai-results", made, time.perf_counter() - started)


def open_seconds(browser: Any, report: Path) -> dict[str, float]:
    """Navigation to the load event, as the wall clock and the page see it, in a fresh context."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    started = time.perf_counter()
    page.goto(report.as_uri(), wait_until="load")
    wall = time.perf_counter() - started
    timing = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {load: n.loadEventEnd, domContentLoaded: n.domContentLoadedEventEnd}; })()"
    )
    ready = page.locator("#toolbar").is_visible()  # the report's script ran: its controls are shown
    context.close()
    if errors or not ready:
        raise RuntimeError(f"the report did not open cleanly: {errors or 'the toolbar stayed hidden'}")
    return {"wall": wall, "load": timing["load"] / 1000, "dom_content_loaded": timing["domContentLoaded"] / 1000}


def copy_cost(root: Path, pairs: int = 200) -> dict[str, float]:
    """What showing the baseline costs a run: the judge's artifacts of a matched 64x48 output with the baseline's
    picture copied beside the actual image, against the actual image alone (as before), timed in pairs in
    alternating order (see paired.py); the median of each and of the difference, in milliseconds."""
    from pytest_invokeai.report.artifacts import write_artifacts

    png = _png(_noise(1, (64, 48)))
    with_copy, alone, extra = [], [], []
    for n in range(pairs + 10):
        timed = {}
        for copy in (n % 2 == 0, n % 2 != 0):
            started = time.perf_counter()
            write_artifacts(root, f"t{n}-{copy}", OUTPUT, 0, actual_png=png, baseline_png=png if copy else None,
                            comparison=None, with_diff=False)  # fmt: skip
            timed[copy] = (time.perf_counter() - started) * 1000
        if n >= 10:  # the first ten warm up, not counted
            with_copy.append(timed[True])
            alone.append(timed[False])
            extra.append(timed[True] - timed[False])
    return {
        "pairs": pairs,
        "with_baseline_copy_ms": statistics.median(with_copy),
        "actual_alone_ms": statistics.median(alone),
        "added_ms": statistics.median(extra),
    }


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def measure(outputs: int, mismatched: int, repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp:
        built = build_report(Path(tmp), outputs=outputs, mismatched=mismatched)
        copying = copy_cost(Path(tmp) / "copy-cost")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
            first = open_seconds(browser, built.report)  # the browser's first page: its own start-up caches
            runs = [open_seconds(browser, built.report) for _ in range(repeats)]
            browser.close()
        return {
            "outputs": outputs,
            "mismatched": mismatched,
            "image_size": "64x48",
            "report_bytes": built.report.stat().st_size,
            "results_bytes": folder_bytes(built.results),
            "files": sum(1 for path in built.results.rglob("*") if path.is_file()),
            "write_seconds": built.write_seconds,
            "baseline_copy_cost": copying,
            "first_open": first,
            "open": runs,
            "open_wall_median": statistics.median(run["wall"] for run in runs),
            "open_load_median": statistics.median(run["load"] for run in runs),
        }


START, END = "<!-- report-scale:start", "<!-- report-scale:end -->"


def render(result: dict[str, Any]) -> str:
    """The README's section of figures, from the raw results."""
    machine, copy = result["machine"], result["baseline_copy_cost"]
    load = ", ".join(str(x) for x in result["load_average_before"] or [])
    rows = [
        ("outputs in the report (mismatched)", f"{result['outputs']:,} ({result['mismatched']})"),
        ("report.html", f"{result['report_bytes'] / 1e6:.1f} MB (goal: under 50 MB)"),
        (
            f"results folder beside it ({result['files']:,} files; 64x48 noise PNGs, the worst case for PNG)",
            f"{result['results_bytes'] / 1e6:.1f} MB",
        ),
        ("writing the report (the plugin's writer, at the end of the run)", f"{result['write_seconds']:.2f} s"),
        (
            f"opening it: navigation to load event, median of {len(result['open'])}",
            f"{result['open_wall_median']:.2f} s (goal: under 3 s)",
        ),
        ("opening it in a browser's first page", f"{result['first_open']['wall']:.2f} s"),
        (
            f"a matched output's artifacts with the baseline's copy / the actual image alone "
            f"(median of {copy['pairs']} pairs)",
            f"{copy['with_baseline_copy_ms']:.1f} ms / {copy['actual_alone_ms']:.1f} ms",
        ),
    ]
    table = "\n".join(f"| {what} | {value} |" for what, value in rows)
    return (
        f"{START} (generated by benchmarks/report_scale.py from results/report_scale.json; do not edit) -->\n"
        f"Measured on {machine['cpu']} ({machine['cores']} cores), {machine['os']}, Python {machine['python']}, "
        f"pytest-invokeai {machine['pytest_invokeai']}; load average at the start {load}.\n\n"
        f"| what | measured |\n|---|---|\n{table}\n{END}"
    )


def write_readme_section(result: dict[str, Any]) -> None:
    readme = HERE / "README.md"
    text = readme.read_text()
    start, end = text.index(START), text.index(END) + len(END)
    readme.write_text(text[:start] + render(result) + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/report_scale.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=int, default=5000, help="compared outputs in the report (default 5000)")
    parser.add_argument("--mismatched", type=int, default=500, help="of which mismatched (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="openings measured after one warm-up (default 3)")
    parser.add_argument("--render", action="store_true", help="only rewrite the README's figures from the JSON")
    args = parser.parse_args(argv)
    out = HERE / "results" / "report_scale.json"
    if args.render:
        write_readme_section(json.loads(out.read_text()))
        return 0
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        parser.error(f"Chromium is not installed (looked for {CHROMIUM})")
    load_before = load_average()
    result = measure(args.outputs, args.mismatched, args.repeats)
    result.update(machine=machine_info(), load_average_before=load_before, load_average_after=load_average())
    out.write_text(json.dumps(result, indent=2) + "\n")
    if (args.outputs, args.mismatched) == (5000, 500):  # the README shows the standard size only
        write_readme_section(result)
    print(
        f"{result['outputs']} outputs ({result['mismatched']} mismatched, {result['files']} image files): "
        f"report {result['report_bytes'] / 1e6:.1f} MB, results folder {result['results_bytes'] / 1e6:.1f} MB; "
        f"written in {result['write_seconds']:.2f} s; opened in {result['open_wall_median']:.2f} s "
        f"(median of {args.repeats}; load event at {result['open_load_median']:.2f} s; the browser's first page "
        f"{result['first_open']['wall']:.2f} s); a matched output's artifacts take "
        f"{result['baseline_copy_cost']['with_baseline_copy_ms']:.2f} ms with the baseline's copy, "
        f"{result['baseline_copy_cost']['actual_alone_ms']:.2f} ms without (median of "
        f"{result['baseline_copy_cost']['pairs']} pairs); raw: {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
