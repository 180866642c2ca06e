"""The example suite as two CI shards (pytest-split's --splits 2 --group 1|2), each with its own results folder,
merged with ``pytest-invokeai report merge``, tells the same as one unsplit run: the same counts, the same
cases with the same verdicts, the same tests that did not pass, the same orphans.

All three runs use this session's real InvokeAI (with the tiny SD-1.5 model installed), as CI jobs would use
one machine each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NARROWED = "not checked for orphaned baselines: the run was narrowed (a shard: pytest-split group {} of 2)"


def run(*args: str, cwd: Path = ROOT, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_INVOKEAI_", "GITHUB_"))}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def suite(url: str, results: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        "-m", "pytest", "example_suite", "-p", "no:cacheprovider", f"--invokeai-url={url}",
        f"--invokeai-results-dir={results}", *args,
    )  # fmt: skip


def cases(document: dict) -> set[tuple[str, str, int, str]]:
    return {(o["test_id"], o["output"], o["image_index"], o["verdict"]) for o in document["outputs"]}


def not_passed(document: dict) -> set[tuple[str, str]]:
    return {(t["test_id"], t["outcome"]) for t in document["tests"]}


def test_two_shards_merged_tell_the_same_as_one_unsplit_run(tmp_path, invokeai_server_url, tiny_sd15):
    whole = suite(invokeai_server_url, tmp_path / "whole")
    assert whole.returncode == 0, (whole.stdout + whole.stderr)[-4000:]
    shards = []
    for group in (1, 2):
        folder = tmp_path / f"shard-{group}"
        result = suite(invokeai_server_url, folder, "--splits", "2", "--group", str(group))
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        # Each shard's folder holds its own report, and orphans are not looked for in a shard, said once.
        assert (folder / "report.html").is_file() and (folder / "report.json").is_file()
        assert output.count(NARROWED.format(group)) == 1, output[-3000:]
        shards.append(folder)
    assert not (tmp_path / "invokeai-results").exists() and not (ROOT / "invokeai-results" / "shard-1").exists()

    merged = tmp_path / "merged"
    summary = tmp_path / "summary.md"
    result = run(
        "-m", "pytest_invokeai.cli", "report", "merge", *map(str, shards), "-o", str(merged),
        "--orphans", "example_suite", "--job-summary", str(summary),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    expected = json.loads((tmp_path / "whole" / "report.json").read_text())
    got = json.loads((merged / "report.json").read_text())
    one, two = (json.loads((folder / "report.json").read_text()) for folder in shards)
    assert cases(one) and cases(two) and not cases(one) & cases(two)  # a real split: both halves ran cases
    assert got["summary"] == expected["summary"]
    # skipped: the SDXL case (no model) and the two checkerboard cases (this server has not loaded their node pack)
    assert got["summary"]["tests"] == {"passed": 18, "failed": 0, "skipped": 3, "errors": 0, "xfailed": 0,
                                       "xpassed": 0}  # fmt: skip
    assert cases(got) == cases(expected)
    assert not_passed(got) == not_passed(expected)
    assert got["orphans"] == expected["orphans"]
    assert set(got["cases"]) == set(expected["cases"])
    assert got["status"] == expected["status"] == "passed"
    assert (merged / "report.html").is_file()
    # Every artifact link of the merged report points at a file in (or reachable from) the merged folder.
    for output in got["outputs"]:
        for link in output["artifacts"].values():
            assert link is None or (merged / link).is_file(), link
    text = summary.read_text()
    assert text.startswith("### InvokeAI: passed\n")
    assert "| | 18 | 0 | 3 | 0 | 0 | 0 |" in text
