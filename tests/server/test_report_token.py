"""A run against an InvokeAI that needs a token: the report's curl line works there, and never holds the token.

The server is a real InvokeAI in multi-user mode (the session's ``multiuser_server``): its queue and
recall endpoints answer 401 without a bearer token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SD15 = Path(__file__).resolve().parents[2] / "example_suite" / "workflows" / "sd15-text-to-image.json"
SD15_TEST = """
import pytest

@pytest.mark.invokeai(workflow="sd15.json", inputs={3: 5})
def test_t2i(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


@pytest.fixture
def server_with_token(multiuser_server) -> tuple[str, str]:
    """(URL, token) of the session's multi-user InvokeAI (tiny SD-1.5 installed): its admin's token."""
    return multiuser_server.url, multiuser_server.admin_token


def run_curl(line: str, token: str | None) -> tuple[int, str]:
    """Run the report's line in a shell, as a person pasting it would (with or without the token set)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_INVOKEAI_TOKEN"}
    if token is not None:
        env["PYTEST_INVOKEAI_TOKEN"] = token
    done = subprocess.run(
        ["bash", "-c", line + " -w '\\n%{http_code}'"], capture_output=True, text=True, env=env, timeout=60
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def test_the_reports_curl_line_authenticates_from_the_environment(pytester, server_with_token):
    url, token = server_with_token
    shutil.copy(SD15, pytester.path / "sd15.json")
    pytester.makepyfile(test_t2i=SD15_TEST)
    result = pytester.runpytest_subprocess(
        f"--invokeai-url={url}",
        f"--invokeai-token={token}",
        "-p",
        "no:cacheprovider",
        "--invokeai-update-baselines=missing",
    )
    result.assert_outcomes(passed=1)

    results = pytester.path / "invokeai-results"
    for report in ("report.json", "report.html"):
        assert token not in (results / report).read_text(), f"{report} holds the token"
    (output,) = json.loads((results / "report.json").read_text())["outputs"]
    line = output["extra"]["recall with curl"]
    assert '-H "Authorization: Bearer $PYTEST_INVOKEAI_TOKEN"' in line

    status, body = run_curl(line, token)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success" and answer["parameters"]["seed"] == 5
    assert run_curl(line, None)[0] == 401  # the server does need it: without the token the same line is refused
