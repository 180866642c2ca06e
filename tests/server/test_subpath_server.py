"""InvokeAI behind a reverse proxy: ``base_url: /invoke`` serves the API under /invoke/api and Socket.IO under
/invoke/ws/socket.io, and ``--invokeai-url=http://host:port/invoke`` works end to end.

The server is real (the session's ``subpath_server``, InvokeAI 6.14.2 started with ``base_url: /invoke``),
behind a proxy that passes on only requests under /invoke: InvokeAI also answers at its root, so without
the proxy a client that dropped the prefix would pass unnoticed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_invokeai.baseline.record import BaselineRecord

ROOT = Path(__file__).resolve().parents[2]
NOISE = ROOT / "example_suite" / "workflows" / "noise-texture.json"
SD15 = ROOT / "example_suite" / "workflows" / "sd15-text-to-image.json"


def cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_the_plugin_runs_a_suite_under_the_sub_path(pytester, subpath_server):
    shutil.copy(NOISE, pytester.path / "noise.json")
    shutil.copy(SD15, pytester.path / "sd15.json")
    pytester.makepyfile(
        test_sub="""
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32}, matrix={2: [5, 6]})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()

@pytest.mark.invokeai(workflow="sd15.json", inputs={3: 8})
def test_t2i(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )
    args = (f"--invokeai-url={subpath_server.url}", "-p", "no:cacheprovider")
    pytester.runpytest_subprocess(*args, "--invokeai-update-baselines=missing").assert_outcomes(passed=3)
    result = pytester.runpytest_subprocess(*args)  # compared with what the first run recorded
    result.assert_outcomes(passed=3)
    assert f"InvokeAI: {subpath_server.url}" in result.outlines
    assert any(path.startswith("/invoke/ws/socket.io") for path in subpath_server.paths), "events came over Socket.IO"
    assert subpath_server.outside == []


def test_run_and_recall_commands_work_under_the_sub_path(subpath_server, tmp_path):
    done = cli("run", NOISE, "--url", subpath_server.url, "--set", "0=32", "--set", "1=32", "--out", tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)[0]["path"]).is_file()

    suite = tmp_path / "suite"
    (suite / "wf").mkdir(parents=True)
    shutil.copy(SD15, suite / "wf" / "sd15.json")
    record = suite / "record.json"
    inputs = [{"index": 3, "name": "Seed", "value": 23}]
    record.write_text(BaselineRecord(test_id="t.py::t", outputs={}, workflow="wf/sd15.json", inputs=inputs).to_json())
    recalled = cli("recall", record, "--url", subpath_server.url, "--json", "--rootdir", suite)
    assert recalled.returncode == 0, recalled.stderr
    data = json.loads(recalled.stdout)
    assert data["server"]["answer"]["parameters"]["seed"] == 23
    assert f"{subpath_server.url}/api/v1/recall/default" in data["curl"]
    assert subpath_server.outside == []


def test_the_proxy_refuses_what_misses_the_sub_path(subpath_server):
    """The check the tests above rely on: a request without /invoke does not reach the server."""
    import httpx

    origin = subpath_server.url.removesuffix("/invoke")
    assert httpx.get(f"{subpath_server.url}/api/v1/app/version", timeout=30).json()["version"] == "6.14.2"
    assert httpx.get(f"{origin}/api/v1/app/version", timeout=30).status_code == 404
    subpath_server.outside.remove("/api/v1/app/version")  # this test's own miss, on purpose
