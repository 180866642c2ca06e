"""A multi-user InvokeAI (``multiuser: true``): the suite runs as a second, non-admin user that logs in.

The server is real (the session's ``multiuser_server``): its admin was created through
``POST /api/v1/auth/setup``, the runner through ``POST /api/v1/auth/users``. A token's expiry is made
by the server's own rule, not by waiting a day: a token signed with the server's secret whose ``exp``
has passed, which the server refuses as it refuses every token a day old.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from real_servers import ADMIN, MultiUserServer, bearer

from pytest_invokeai.server import api
from pytest_invokeai.server.auth import Auth, Credentials, LoginRequired
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.events import QueueEvents

ROOT = Path(__file__).resolve().parents[2]
NOISE = ROOT / "example_suite" / "workflows" / "noise-texture.json"
SD15 = ROOT / "example_suite" / "workflows" / "sd15-text-to-image.json"
NOISE_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={0: 32, 1: 32}, matrix={2: [SEED, SEED + 1]})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""


def runner_env(server: MultiUserServer, password: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_INVOKEAI_")}
    env["PYTEST_INVOKEAI_PASSWORD"] = server.runner["password"] if password is None else password
    return env


def run_suite(pytester, server: MultiUserServer, *args: str, password: str | None = None):
    """Run the temporary project's suite as the runner, the password only in the environment."""
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(runner_env(server, password))
    try:
        return pytester.runpytest_subprocess(
            f"--invokeai-url={server.url}",
            f"--invokeai-user={server.runner['email']}",
            "-p",
            "no:cacheprovider",
            "--junitxml=junit.xml",
            *args,
        )
    finally:
        os.environ.clear()
        os.environ.update(old)


def queue_item_ids(server: MultiUserServer) -> set[int]:
    """Every queue item on the server, as its admin sees them."""
    answer = httpx.get(f"{server.url}/api/v1/queue/default/list_all", headers=bearer(server.admin_token), timeout=30)
    answer.raise_for_status()
    return {int(item["item_id"]) for item in answer.json()}


def everything_the_run_wrote(root: Path, result) -> str:
    texts = [str(line) for line in result.outlines + result.errlines]
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".xml", ".txt", ".log"):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_the_runner_logs_in_runs_and_cleans_up_only_its_own_work(pytester, multiuser_server):
    server = multiuser_server
    # The admin's own work on the same server, which the runner's clean-up must leave alone.
    with InvokeAIClient(server.url, token=server.admin_token) as admin:
        from pytest_invokeai.server.session import GenerationSession
        from pytest_invokeai.workflow.load import load_workflow

        with GenerationSession(admin) as session:
            admins = session.run(load_workflow(NOISE), {0: 32, 1: 32, 2: 4242})
        admin_image = next(iter(admins.images.values()))[0].image_name
    before = queue_item_ids(server)

    seed = int(time.time()) % 100000
    shutil.copy(NOISE, pytester.path / "noise.json")
    pytester.makepyfile(test_noise=NOISE_TEST.replace("SEED", str(seed)))
    result = run_suite(pytester, server, "--invokeai-update-baselines=missing", "--invokeai-cleanup")
    result.assert_outcomes(passed=2)

    assert queue_item_ids(server) == before, "the runner's items were cleaned up, and nothing else"
    admin_headers = bearer(server.admin_token)
    assert (
        httpx.get(f"{server.url}/api/v1/images/i/{admin_image}", headers=admin_headers, timeout=30).status_code == 200
    )
    assert server.runner["password"] not in everything_the_run_wrote(pytester.path, result)


def test_a_wrong_password_is_one_clear_error_naming_the_server_and_what_to_give(pytester, multiuser_server):
    server = multiuser_server
    shutil.copy(NOISE, pytester.path / "noise.json")
    pytester.makepyfile(test_noise=NOISE_TEST.replace("SEED", "1"))
    result = run_suite(pytester, server, password="not-the-password-9")
    result.assert_outcomes(failed=2)
    text = "\n".join(result.outlines)
    expected = (
        f"InvokeAI at {server.url} refused the login of {server.runner['email']}: Incorrect email or password; "
        "give that user's password in PYTEST_INVOKEAI_PASSWORD"
    )
    assert expected in text
    assert "not-the-password-9" not in everything_the_run_wrote(pytester.path, result)


def test_a_run_without_a_login_says_what_to_give(pytester, multiuser_server):
    server = multiuser_server
    shutil.copy(NOISE, pytester.path / "noise.json")
    pytester.makepyfile(test_noise=NOISE_TEST.replace("SEED", "1"))
    result = pytester.runpytest_subprocess(f"--invokeai-url={server.url}", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    expected = (
        f"InvokeAI at {server.url} is a multi-user server and needs a login: give --invokeai-user "
        "EMAIL with the password in PYTEST_INVOKEAI_PASSWORD, or --invokeai-token"
    )
    assert expected in "\n".join(result.outlines)


def test_an_expired_token_is_replaced_by_one_new_login(multiuser_server):
    server = multiuser_server
    runner = server.runner
    auth = Auth(credentials=Credentials(runner["email"], runner["password"]))
    with InvokeAIClient(server.url, auth=auth) as client:
        client.send(api.boards())
        first = auth.current()
        assert first is not None
        expired = server.expired_token(runner["email"])
        # The server really refuses it: REST answers 401, the event socket is not let in.
        with (
            InvokeAIClient(server.url, token=expired) as holder,
            pytest.raises(LoginRequired, match="refused the bearer token"),
        ):
            holder.send(api.boards())
        events = QueueEvents(server.url, token=expired, connect_timeout=5)
        assert not events.start()
        events.close()

        auth._token = expired  # what the client holds a day after its last write
        boards = client.send(api.boards())
        assert isinstance(boards, list)
        renewed = auth.current()
        assert renewed not in (None, expired)
        # The renewed token serves the event socket too.
        events = QueueEvents(server.url, token=lambda: client.token, connect_timeout=10)
        try:
            assert events.start()
        finally:
            events.close()


def test_a_write_hands_the_client_a_refreshed_token(multiuser_server):
    server = multiuser_server
    auth = Auth(credentials=Credentials(server.runner["email"], server.runner["password"]))
    with InvokeAIClient(server.url, auth=auth) as client:
        client.send(api.boards())
        logged_in = auth.current()
        time.sleep(1.1)  # tokens carry their expiry in whole seconds: a refresh within the same second is identical
        board = client.send(api.create_board(f"refresh-{time.time_ns()}"))
        refreshed = auth.current()
        assert refreshed != logged_in
        with InvokeAIClient(server.url, token=refreshed) as other:
            assert board["board_id"] in {b["board_id"] for b in other.send(api.boards())}, "the refreshed token works"
        client.send(api.delete_board(board["board_id"]))


def test_a_user_the_server_refuses_twice_is_an_error_not_a_loop(multiuser_server):
    server = multiuser_server
    auth = Auth(credentials=Credentials(ADMIN["email"], "wrong-password-3"))
    with InvokeAIClient(server.url, auth=auth) as client, pytest.raises(LoginRequired) as info:
        client.send(api.boards())
    assert str(info.value) == (
        f"InvokeAI at {server.url} refused the login of {ADMIN['email']}: Incorrect email or password; "
        "give that user's password in PYTEST_INVOKEAI_PASSWORD"
    )


def cli(*args: str | Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_invokeai.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_the_run_and_recall_commands_log_in_with_user(multiuser_server, tmp_path):
    server = multiuser_server
    env = runner_env(server)
    done = cli("run", NOISE, "--url", server.url, "--user", server.runner["email"], "--set", "0=32", "--set", "1=32",
               "--out", tmp_path, "--json", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)[0]["path"]).is_file()

    refused = cli("run", NOISE, "--url", server.url, "--out", tmp_path, env=env)
    assert refused.returncode == 2
    assert "is a multi-user server and needs a login" in refused.stderr
    assert "--user EMAIL with the password in PYTEST_INVOKEAI_PASSWORD, or --token" in refused.stderr

    record = tmp_path / "suite" / "record.json"
    record.parent.mkdir()
    (record.parent / "wf").mkdir()
    shutil.copy(SD15, record.parent / "wf" / "sd15.json")
    from pytest_invokeai.baseline.record import BaselineRecord

    inputs = [{"index": 3, "name": "Seed", "value": 17}]
    record.write_text(BaselineRecord(test_id="t.py::t", outputs={}, workflow="wf/sd15.json", inputs=inputs).to_json())
    recalled = cli("recall", record, "--url", server.url, "--user", server.runner["email"], "--json",
                   "--rootdir", record.parent, env=env)  # fmt: skip
    assert recalled.returncode == 0, recalled.stderr
    data = json.loads(recalled.stdout)
    assert data["server"]["answer"]["parameters"]["seed"] == 17
    assert server.runner["password"] not in recalled.stdout + recalled.stderr + done.stdout + done.stderr
    assert 'os.environ["PYTEST_INVOKEAI_PASSWORD"]' in data["curl"] and "Bearer $token" in data["curl"]


def test_schema_fetch_logs_in_with_user(multiuser_server, tmp_path):
    server = multiuser_server
    env = runner_env(server)
    saved = tmp_path / "schema.json"
    done = cli("schema", "fetch", "--url", server.url, "--user", server.runner["email"], "-o", saved, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(saved.read_text())["invokeai_version"] == "6.14.2"
    assert "node types" in done.stdout
    refused = cli("schema", "fetch", "--url", server.url, "-o", tmp_path / "not.json", env=env)
    assert refused.returncode == 2 and "needs a login" in refused.stderr, refused.stderr
    assert not (tmp_path / "not.json").exists()
    assert server.runner["password"] not in done.stdout + done.stderr + refused.stdout + refused.stderr


def test_the_reports_curl_line_logs_in_with_the_password_from_the_environment(pytester, multiuser_server):
    server = multiuser_server
    shutil.copy(SD15, pytester.path / "sd15.json")
    pytester.makepyfile(
        test_t2i="""
import pytest

@pytest.mark.invokeai(workflow="sd15.json", inputs={3: 6})
def test_t2i(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )
    result = run_suite(pytester, server, "--invokeai-update-baselines=missing")
    result.assert_outcomes(passed=1)
    (output,) = json.loads((pytester.path / "invokeai-results" / "report.json").read_text())["outputs"]
    line = output["extra"]["recall with curl"]
    assert 'os.environ["PYTEST_INVOKEAI_PASSWORD"]' in line and server.runner["email"] in line
    assert server.runner["password"] not in everything_the_run_wrote(pytester.path, result)

    done = subprocess.run(["bash", "-c", line + " -w '\\n%{http_code}'"], capture_output=True, text=True,
                          env=runner_env(server), timeout=60)  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    assert status == "200", done.stdout + done.stderr
    assert json.loads(body)["parameters"]["seed"] == 6
