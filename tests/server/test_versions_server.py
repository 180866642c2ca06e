"""Upgrading InvokeAI: baselines recorded on 6.13.8, the suite run again on 6.14.2, and a server of the wrong version.

Both servers are real: the session's InvokeAI 6.13.8 (``invokeai_6_13_url``, its own environment) and
6.14.2 (``invokeai_server_url``). The managed server of a pytester run is started at the version asked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from pytest_invokeai.local.install import home_dir

ROOT = Path(__file__).resolve().parents[2]
NOISE = ROOT / "example_suite" / "workflows" / "noise-texture.json"
NOISE_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32}, matrix={2: [31, 32]})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
NOTE = "recorded on 6.13.8, ran on 6.14.2"
INSTALLS = home_dir()  # read at import: pytester gives each test a HOME of its own


def suite(pytester) -> None:
    shutil.copy(NOISE, pytester.path / "noise.json")
    pytester.makepyfile(test_noise=NOISE_TEST)


def test_did_my_pictures_change_after_the_upgrade(pytester, invokeai_6_13_url, invokeai_server_url):
    suite(pytester)
    recorded = pytester.runpytest_subprocess(
        f"--invokeai-url={invokeai_6_13_url}",
        "--invokeai-version=6.13.8",
        "--invokeai-update-baselines=missing",
        "-p",
        "no:cacheprovider",
    )
    recorded.assert_outcomes(passed=2)
    records = sorted((pytester.path / "baselines").rglob("test_noise*.json"))
    assert [json.loads(r.read_text())["invokeai_version"] for r in records] == ["6.13.8", "6.13.8"]

    upgraded = pytester.runpytest_subprocess(
        f"--invokeai-url={invokeai_server_url}", "--invokeai-version=6.14.2", "-p", "no:cacheprovider"
    )
    upgraded.assert_outcomes(passed=2)  # model-free nodes: the same pixels on both releases
    assert f"compared with baselines of another InvokeAI version: {NOTE} (2 output image(s))" in upgraded.outlines
    outputs = json.loads((pytester.path / "invokeai-results" / "report.json").read_text())["outputs"]
    assert [o["extra"]["InvokeAI version"] for o in outputs] == [NOTE, NOTE]
    assert NOTE in (pytester.path / "invokeai-results" / "report.html").read_text()


def test_a_mismatch_on_another_version_says_where_the_baseline_came_from(
    pytester, invokeai_6_13_url, invokeai_server_url
):
    suite(pytester)
    pytester.runpytest_subprocess(
        f"--invokeai-url={invokeai_6_13_url}", "--invokeai-update-baselines=missing", "-p", "no:cacheprovider"
    ).assert_outcomes(passed=2)
    # The same tests with a blur now: the pictures changed, and the message says on which versions.
    pytester.makepyfile(test_noise=NOISE_TEST.replace("inputs={0: 32, 1: 32}", "inputs={0: 32, 1: 32, 4: 2.0}"))
    result = pytester.runpytest_subprocess(f"--invokeai-url={invokeai_server_url}", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    # once per failure (under CI=true pytest repeats each whole message in its short summary: not counted)
    said = [line for line in result.outlines if not line.startswith("FAILED ")]
    assert sum(f"does not match its baseline ({NOTE}):" in line for line in said) == 2


def test_a_server_of_another_version_fails_the_run_before_anything_is_enqueued(pytester, invokeai_6_13_url):
    suite(pytester)
    before = httpx.get(f"{invokeai_6_13_url}/api/v1/queue/default/status", timeout=30).json()["queue"]
    result = pytester.runpytest_subprocess(
        f"--invokeai-url={invokeai_6_13_url}", "--invokeai-version=6.14.2", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=2)
    message = (
        f"InvokeAI at {invokeai_6_13_url} runs 6.13.8, but --invokeai-version asks for 6.14.2 (command line); "
        "nothing was enqueued. Upgrade the server, or run with --invokeai-version 6.13.8"
    )
    assert message in "\n".join(result.outlines)
    after = httpx.get(f"{invokeai_6_13_url}/api/v1/queue/default/status", timeout=30).json()["queue"]
    assert after["total"] == before["total"]


def test_the_managed_server_runs_the_version_asked_for(pytester, monkeypatch, invokeai_6_13_url):
    # pytester gives the run a HOME of its own: point it at this machine's installs (the session fixture made
    # sure 6.13.8 is one), or it would install 6.13.8 again for the run, minutes and 2.4 GB.
    monkeypatch.setenv("PYTEST_INVOKEAI_HOME", str(INSTALLS))
    suite(pytester)
    result = pytester.runpytest_subprocess(
        "--invokeai-version=6.13.8", "--invokeai-update-baselines=missing", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
    records = sorted((pytester.path / "baselines").rglob("test_noise*.json"))
    assert {json.loads(r.read_text())["invokeai_version"] for r in records} == {"6.13.8"}
