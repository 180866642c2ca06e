"""The pure parts of benchmarks/: interval union, server timestamps, the README's results section.

The benchmark itself (minutes on a real server) is not run here: ``./dev bench --quick`` does that.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # benchmarks/ is a folder of the repo, not part of the installed package

from benchmarks import table  # noqa: E402
from benchmarks.paired import Sample, alternate, ratios, spread  # noqa: E402
from benchmarks.run import parse_args, results_name  # noqa: E402
from benchmarks.timing import parse_server_time, summarize, union_seconds  # noqa: E402

# `date -u -d "2026-11-21 06:40:24" +%s`
EPOCH_2026_11_21_064024 = 1795243224


# -- union of intervals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([], 0.0),
        ([(0.0, 2.0)], 2.0),
        ([(0.0, 2.0), (5.0, 6.0)], 3.0),  # disjoint: a sum
        ([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)], 4.0),  # 0..3 and 5..6
        ([(5.0, 6.0), (1.0, 3.0), (0.0, 2.0)], 4.0),  # order does not matter
        ([(0.0, 10.0), (2.0, 3.0), (4.0, 9.5)], 10.0),  # nested ones add nothing
        ([(0.0, 1.0), (1.0, 2.0)], 2.0),  # touching
        ([(3.0, 3.0), (5.0, 4.0), (1.0, 1.5)], 0.5),  # empty and reversed intervals count for nothing
    ],
)
def test_union_seconds(intervals, expected):
    assert union_seconds(intervals) == pytest.approx(expected)


# -- server timestamps ------------------------------------------------------------------------


def test_a_real_invokeai_timestamp_is_utc_with_milliseconds():
    # As InvokeAI 6.14.2 answered in a queue item: STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW') in SQLite.
    assert parse_server_time("2026-11-21 06:40:24.064") == pytest.approx(EPOCH_2026_11_21_064024 + 0.064)


@pytest.mark.parametrize(
    "text", ["2026-11-21T06:40:24.064", "2026-11-21T06:40:24.064Z", "2026-11-21 07:40:24.064+01:00"]
)
def test_other_spellings_of_the_same_moment(text):
    assert parse_server_time(text) == pytest.approx(EPOCH_2026_11_21_064024 + 0.064)


@pytest.mark.parametrize("text", ["", None, "yesterday"])
def test_what_is_not_a_timestamp_is_refused(text):
    with pytest.raises(ValueError, match=r"not a server timestamp|Invalid isoformat string"):
        parse_server_time(text)


def test_summarize_measures_busy_from_the_items_and_wall_from_the_timer():
    items = [
        {
            "item_id": 1,
            "status": "completed",
            "started_at": "2026-11-21 06:40:24.000",
            "completed_at": "2026-11-21 06:40:24.600",
        },
        {
            "item_id": 2,
            "status": "completed",
            "started_at": "2026-11-21 06:40:25.000",
            "completed_at": "2026-11-21 06:40:25.400",
        },
        {"item_id": 3, "status": "canceled"},  # never ran: no interval
    ]
    start = float(EPOCH_2026_11_21_064024)
    summary = summarize(items, start, start + 2.0)
    assert summary["wall_s"] == pytest.approx(2.0)
    assert summary["busy_s"] == pytest.approx(1.0)  # 0.6 + 0.4
    assert summary["ratio"] == pytest.approx(2.0)
    assert summary["statuses"] == {"completed": 2, "canceled": 1}


# -- the README's results section ----------------------------------------------------------------


def _spread(median: float, q1: float, q3: float, low: float, high: float, n: int = 5) -> dict:
    return {"median": median, "q1": q1, "q3": q3, "min": low, "max": high, "n": n}


def _results() -> dict:
    return {
        "date": "2026-11-21T07:00:00+00:00",
        "command": ".venv/bin/python benchmarks/run.py",
        "duration_s": 754.0,
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "ram_gib": 8.0,
            "os": "Linux-test",
            "python": "3.11.7",
            "pytest_invokeai": "0.1.0 (abc1234)",
            "load_average_at_start": [0.5, 0.25, 0.1],
        },
        "server": {"url": "http://127.0.0.1:1234", "managed": True, "invokeai": "6.14.2", "node_cache": "disabled"},
        "settings": {"image_size": 64, "sizes": [100], "quick": False},
        "throughput": [
            {
                "n": 100,
                "approach": "loop",
                "position": 3,
                "status": "ok",
                "wall_s": 120.0,
                "busy_s": 60.0,
                "ratio": 2.0,
                "note": "",
            },
            {
                "n": 100,
                "approach": "pyclient",
                "position": 2,
                "status": "unavailable",
                "reason": "pip install failed: no | wheel",
            },
            {
                "n": 100,
                "approach": "plugin",
                "position": 1,
                "status": "ok",
                "wall_s": 63.0,
                "busy_s": 60.0,
                "ratio": 1.05,
                "note": "",
            },
        ],
        "fingerprint": {
            "image": "1024x1024 PNG",
            "png_bytes": 1883314,
            "runs": 25,
            "decode_alone_ms": _spread(33.0, 32.5, 34.0, 32.0, 40.0),
            "decode_ms": _spread(33.2, 32.6, 34.1, 32.1, 41.0),
            "fingerprint_ms": _spread(5.5, 5.2, 6.0, 5.0, 9.0),
            "compare_ms": _spread(0.15, 0.14, 0.16, 0.13, 0.3),
            "total_ms": _spread(39.0, 38.2, 40.1, 37.5, 48.0),
            "decode_alone_cpu_ms": _spread(32.0, 31.5, 33.0, 31.0, 36.0),
            "total_cpu_ms": _spread(37.5, 37.0, 38.0, 36.5, 42.0),
            "ratio": _spread(1.18, 1.15, 1.21, 1.02, 1.4),
            "ratio_cpu": _spread(1.17, 1.16, 1.19, 1.12, 1.25),
            "target": 1.25,
        },
        "collection": {
            "repeats": 5,
            "method": "paired",
            "rows": [
                {
                    "k": 1000,
                    "plugin_s": _spread(1.5, 1.4, 1.6, 1.3, 1.9),
                    "plain_s": _spread(1.0, 0.9, 1.1, 0.8, 1.2),
                    "ratio": _spread(1.5, 1.45, 1.55, 1.2, 1.8),
                    "ratio_cpu": _spread(1.4, 1.38, 1.45, 1.3, 1.5),
                    "plugin_pytest_collect_s": _spread(0.2, 0.2, 0.2, 0.2, 0.2),
                    "plain_pytest_collect_s": _spread(0.1, 0.1, 0.1, 0.1, 0.1),
                    "phase_ratio": _spread(2.0, 1.9, 2.1, 1.8, 2.2),
                    "server_connections": 0,
                },
                {
                    "k": 2000,
                    "plugin_s": _spread(2.0, 1.9, 2.1, 1.8, 2.5),
                    "plain_s": _spread(1.4, 1.3, 1.5, 1.2, 1.6),
                    "ratio": _spread(1.15, 1.1, 1.2, 0.93, 1.3),
                    "ratio_cpu": _spread(1.12, 1.1, 1.14, 1.05, 1.2),
                    "plugin_pytest_collect_s": _spread(0.4, 0.4, 0.4, 0.4, 0.4),
                    "plain_pytest_collect_s": _spread(0.3, 0.3, 0.3, 0.3, 0.3),
                    "phase_ratio": _spread(1.33, 1.3, 1.4, 1.2, 1.5),
                    "server_connections": 0,
                },
            ],
        },
        "memory": {
            "image_size": 64,
            "runs": [
                {"cases": 1000, "peak_rss_kb": 112400, "ratio": 1.02, "source": "memory run"},
                {"cases": 100, "peak_rss_kb": 102400, "ratio": 1.05, "source": "throughput run"},
                {"cases": 100, "peak_rss_kb": 40960, "ratio": None, "source": table.PLAIN_MEMORY_SOURCE},
                {"cases": 1000, "peak_rss_kb": 41860, "ratio": None, "source": table.PLAIN_MEMORY_SOURCE},
            ],
        },
    }


def test_the_throughput_table_has_one_row_per_measurement_and_a_verdict():
    text = table.render(_results())
    assert "| 100 | plain httpx loop | 3 | 120.0 | 60.0 | **2.00** |  |" in text
    assert "| 100 | pytest-invokeai | 1 | 63.0 | 60.0 | **1.05** |  |" in text
    # A library that did not install gets its reason, the pipe escaped so the table holds.
    assert "| 100 | invokeai-py-client 1.1.1 | 2 | - | - | - | unavailable: pip install failed: no \\| wheel |" in text
    assert (
        "Plugin at N = 100: wall / busy = 1.05 (target <= 1.10: met); best of the 2 approaches measured at N = 100: yes."
        in text
    )


def test_a_plugin_slower_than_another_approach_is_said_so():
    results = _results()
    results["throughput"][2].update(wall_s=132.0, ratio=2.2)
    text = table.render(results)
    assert "wall / busy = 2.20 (target <= 1.10: NOT met); best of the 2 approaches measured at N = 100: NO." in text


def test_the_header_names_the_machine_and_the_command():
    text = table.render(_results())
    assert (
        "Measured 2026-11-21 07:00 UTC on Test CPU (2 cores), 8.0 GiB RAM, Linux-test, Python 3.11.7; InvokeAI 6.14.2"
        in text
    )
    assert "- Command: `.venv/bin/python benchmarks/run.py`" in text
    assert "- Total time of the command: 12 min 34 s" in text


def test_the_collection_table_shows_medians_with_their_spread_and_the_cost_of_each_extra_case():
    text = table.render(_results())
    assert "### Collection (`pytest --collect-only -q`, whole process, 5 paired runs per K, median)" in text
    # Between K=1000 and 2000 (medians): 0.5 s / 1000 = 0.5 ms per extra case (plain 0.4 ms).
    assert "| 1,000 | 1.50 | 1.00 | **1.50** | 1.45-1.55 | 1.20-1.80 | 1.40 | 2.00 | - | - |" in text
    assert "| 2,000 | 2.00 | 1.40 | **1.15** | 1.10-1.20 | 0.93-1.30 | 1.12 | 1.33 | 0.500 | 0.400 |" in text
    assert "Ratio at K = 2,000: 1.15 (target <= 1.2: met)" in text
    assert "Connections to the server during collection: 0." in text


def test_a_collection_ratio_above_the_target_is_said_so():
    results = _results()
    results["collection"]["rows"][-1]["ratio"] = _spread(1.21, 1.1, 1.3, 1.0, 1.5)
    assert "Ratio at K = 2,000: 1.21 (target <= 1.2: NOT met)" in table.render(results)


def test_collection_results_of_the_unpaired_benchmark_still_render():
    results = _results()
    results["collection"] = {
        "repeats": 3,
        "rows": [{"k": 1000, "plugin_s": 1.5, "plain_s": 1.0, "ratio": 1.5, "plugin_pytest_collect_s": 0.2,
                  "plain_pytest_collect_s": 0.1, "server_connections": 0}],
    }  # fmt: skip
    text = table.render(results)
    assert "whole process, best of 3)" in text
    assert "| 1,000 | 1.50 | 1.00 | **1.50** | - | - | - | 2.00 | - | - |" in text


def test_the_fingerprint_table_gives_each_step_and_the_paired_ratio_with_its_spread():
    text = table.render(_results())
    assert "1,883,314 bytes; 25 paired runs" in text
    assert "| PNG decode alone (`Image.open` + `load`) | 33.0 | 32.5-34.0 | 32.0-40.0 |" in text
    assert "| `fingerprint(decoded)` | 5.5 | 5.2-6.0 | 5.0-9.0 |" in text
    assert "| `compare(baseline, actual)` | 0.15 | 0.14-0.16 | 0.13-0.30 |" in text
    assert (
        "Decode + fingerprint + compare / decode alone, per pair: median **1.18** (quartiles 1.15-1.21, range 1.02-1.40; "
        "target <= 1.25: met). In CPU time: median 1.17 (quartiles 1.16-1.19, range 1.12-1.25)."
    ) in text


def test_a_fingerprint_ratio_above_the_target_is_said_so():
    results = _results()
    results["fingerprint"]["ratio"] = _spread(1.3, 1.2, 1.4, 1.1, 1.6)
    assert "median **1.30** (quartiles 1.20-1.40, range 1.10-1.60; target <= 1.25: NOT met)" in table.render(results)


def test_fingerprint_results_of_the_unpaired_benchmark_still_render():
    results = _results()
    results["fingerprint"] = {"image": "1024x1024 PNG", "png_bytes": 1883314, "runs": 25, "fingerprint_ms": 37.19,
                              "compare_ms": 0.149, "total_ms": 37.34, "total_min_ms": 36.74, "total_max_ms": 45.76}  # fmt: skip
    assert "| both | **37.3** (min 36.7, max 45.8) |" in table.render(results)


# -- paired measurements --------------------------------------------------------------------------


def test_alternate_swaps_the_order_every_pair_and_keeps_each_sample_with_its_side():
    calls = []

    def make(name: str, seconds: float):
        def run() -> Sample:
            calls.append(name)
            return Sample(wall_s=seconds, cpu_s=seconds / 2)

        return run

    pairs = alternate(make("a", 3.0), make("b", 2.0), 4)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert pairs == [(Sample(3.0, 1.5), Sample(2.0, 1.0))] * 4
    assert ratios(pairs, "wall_s") == [1.5] * 4 and ratios(pairs, "cpu_s") == [1.5] * 4


def test_alternate_needs_a_repeat():
    with pytest.raises(ValueError, match="at least 1"):
        alternate(lambda: Sample(1, 1), lambda: Sample(1, 1), 0)


def test_a_ratio_is_taken_within_each_pair_so_a_load_change_between_pairs_cancels():
    # The machine gets twice as slow after two pairs: each side slows alike, the per-pair ratio does not move.
    pairs = [(Sample(1.2, 1.2), Sample(1.0, 1.0)), (Sample(1.2, 1.2), Sample(1.0, 1.0)),
             (Sample(2.4, 1.2), Sample(2.0, 1.0)), (Sample(2.4, 1.2), Sample(2.0, 1.0))]  # fmt: skip
    assert ratios(pairs, "wall_s") == pytest.approx([1.2] * 4)


def test_spread_gives_median_quartiles_and_range():
    assert spread([5.0, 1.0, 4.0, 2.0, 3.0]) == {"median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 5.0, "n": 5}
    assert spread([2.0]) == {"median": 2.0, "q1": 2.0, "q3": 2.0, "min": 2.0, "max": 2.0, "n": 1}
    with pytest.raises(ValueError, match=r"."):
        spread([])


# -- what a run writes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([], "latest.json"),
        (["--quick"], "quick.json"),
        (["--skip", "throughput"], "partial.json"),
        (["--quick", "--skip", "memory"], "quick.json"),
    ],
)
def test_only_a_full_run_replaces_the_published_results(argv, name):
    assert results_name(parse_args(argv)) == name


def test_repeats_and_fingerprint_runs_can_be_set():
    args = parse_args(["--repeats", "7", "--fingerprint-runs", "9"])
    assert (args.repeats, args.fingerprint_runs) == (7, 9)
    assert parse_args([]).repeats == 5 and parse_args(["--quick"]).repeats == 3


def test_zero_repeats_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--repeats", "0"])
    assert "--repeats must be at least 1" in capsys.readouterr().err


def test_the_memory_table_is_by_cases_with_the_growth_per_case():
    text = table.render(_results())
    assert "| 100 | 100 | 1.05 | throughput run |" in text  # 102400 KiB = 100 MiB
    assert "| 1,000 | 110 | 1.02 | memory run |" in text  # 112400 KiB = 109.8 MiB
    assert f"| 100 | 40 | - | {table.PLAIN_MEMORY_SOURCE} |" in text
    # 10000 KiB / 900 cases and 900 KiB / 900 cases
    assert (
        "Growth per case, the plugin: 11.1 KiB from 100 to 1,000 cases; plain pytest: 1.0 KiB from 100 to 1,000 cases."
        in text
    )


def test_a_step_that_failed_says_why():
    results = _results()
    results["fingerprint"] = {"error": "ConnectError: refused"}
    assert "### Fingerprint and compare\n\nNot measured: ConnectError: refused" in table.render(results)


def test_only_the_text_between_the_markers_is_replaced():
    readme = f"intro\n{table.START_MARKER}\nold numbers\n{table.END_MARKER}\nafter\n"
    replaced = table.replace_results(readme, "new numbers")
    assert replaced == f"intro\n{table.START_MARKER}\nnew numbers\n{table.END_MARKER}\nafter\n"


def test_a_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="no results markers"):
        table.replace_results("no markers here", "numbers")


def test_the_benchmarks_readme_has_the_markers():
    readme = (REPO / "benchmarks" / "README.md").read_text()
    assert readme.count(table.START_MARKER) == 1 and readme.count(table.END_MARKER) == 1
