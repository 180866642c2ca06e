"""Several ``--invokeai-url`` values: cases spread over real InvokeAI servers on this machine.

Three servers are started for this module (each in its own temporary root, on its own port). On two
cores they share the CPU, so these tests check where cases ran and that failover is correct, not speed.
What ran where is read from the servers themselves: every queue item the plugin enqueued carries a
``destination`` starting with ``pytest-invokeai-`` (one per process).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import require
from several_servers_cases import start_servers

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.managed import resolve_server_command
from pytest_invokeai.local.model_sources import install_declared_models
from pytest_invokeai.run.scheduler import LANE_DEPTH
from pytest_invokeai.server.client import InvokeAIClient

DATA = Path(__file__).parents[1] / "data"
WORKFLOW = DATA / "gui" / "form-layout.workflow.json"  # 0 Width, 1 Height, 2 Value (seed), 3 Amount, 4 Radius

MATRIX_TEST = """
import pytest

@pytest.mark.invokeai(workflow="noise.json", inputs={{0: 24, 1: 24}}, matrix={{2: list(range({cases}))}})
def test_noise(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""

# Stops one server (its whole process group) right after the N-th test finished: "a server dies mid-run"
# (SIGKILL), or with KILL_SIGNAL=SIGSTOP "a server hangs mid-run".
KILL_CONFTEST = """
import os, signal

_done = []

def pytest_runtest_logreport(report):
    if report.when == "call":
        _done.append(report.nodeid)
        if len(_done) == int(os.environ["KILL_AFTER"]):
            os.killpg(int(os.environ["KILL_PID"]), getattr(signal, os.environ.get("KILL_SIGNAL", "SIGKILL")))
"""


# -- which process uses which server ---------------------------------------------------------


# -- real servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_command() -> list[str]:
    # Module scope: found before pytester points HOME (where the install lives) at a temporary folder.
    try:
        return resolve_server_command()
    except ServerError as exc:
        require(False, f"cannot start InvokeAI servers for this test: {exc}")
        raise


@pytest.fixture(scope="module")
def servers(server_command: list[str]) -> Iterator[list[str]]:
    started = start_servers(2, server_command)
    try:
        yield [s.url for s in started]
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    return pytester


def our_items(url: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/queue/default/list_all", timeout=30)
    response.raise_for_status()
    return [i for i in response.json() if str(i.get("destination") or "").startswith("pytest-invokeai-")]


def seeds_of(items: list[dict]) -> set[int]:
    return {fv["value"] for item in items for fv in item["field_values"] if fv["field_name"] == "value"}


def clear_queue(url: str) -> None:
    httpx.put(f"{url}/api/v1/queue/default/clear", timeout=30).raise_for_status()


def url_args(*urls: str) -> list[str]:
    return [f"--invokeai-url={u}" for u in urls]


def test_cases_spread_over_every_server_and_each_runs_once(project, servers):
    for url in servers:
        clear_queue(url)
    project.makepyfile(test_noise=MATRIX_TEST.format(cases=12))

    result = project.runpytest_subprocess(
        *url_args(*servers), "-p", "no:cacheprovider", "--invokeai-update-baselines=all"
    )

    result.assert_outcomes(passed=12)
    per_server = [seeds_of(our_items(url)) for url in servers]
    assert all(per_server), f"a server got no case: {per_server}"
    assert sorted(s for seeds in per_server for s in seeds) == list(range(12))  # none twice, none lost
    for url, seeds in zip(servers, per_server, strict=True):
        result.stdout.fnmatch_lines([f"  {url}: {len(seeds)} case(s)"])  # the summary counts what the server shows

    # No server idled while the other had a queue: when one finished its last case, the other held at
    # most the few cases a server is given at a time (the rest would have gone to the idle one).
    items = {url: our_items(url) for url in servers}
    for idle, other in (servers, servers[::-1]):
        done_at = max(i["completed_at"] for i in items[idle])
        started_later = [i for i in items[other] if i["started_at"] > done_at]
        assert len(started_later) <= LANE_DEPTH, (idle, done_at, [i["started_at"] for i in started_later])

    # The baselines recorded across servers match whichever server runs a case next time.
    again = project.runpytest_subprocess(*url_args(*reversed(servers)), "-p", "no:cacheprovider")
    again.assert_outcomes(passed=12)


def test_with_xdist_each_worker_keeps_to_its_own_server(project, servers):
    pytest.importorskip("xdist")
    for url in servers:
        clear_queue(url)
    project.makepyfile(test_noise=MATRIX_TEST.format(cases=8))

    result = project.runpytest_subprocess(
        *url_args(*servers), "-p", "no:cacheprovider", "-n", "2", "--invokeai-update-baselines=all"
    )

    result.assert_outcomes(passed=8)
    destinations = [{i["destination"] for i in our_items(url)} for url in servers]
    assert all(len(d) == 1 for d in destinations), destinations  # one worker per server
    assert destinations[0] != destinations[1]
    assert sorted(s for url in servers for s in seeds_of(our_items(url))) == list(range(8))


def test_a_server_that_cannot_be_reached_at_the_start_is_left_out(project, servers):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    project.makepyfile(test_noise=MATRIX_TEST.format(cases=3))

    result = project.runpytest_subprocess(
        *url_args(servers[0], dead), "-p", "no:cacheprovider", "--invokeai-update-baselines=all"
    )

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"*{dead}: not reachable at the start*"])


@pytest.fixture(scope="module")
def tiny_sd15_on_first_server(servers: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    # Module scope: set up before pytester points HOME (and so the model cache) at a temporary folder.
    with InvokeAIClient(servers[0]) as client:
        install_declared_models(client, ["tiny-sd15"], lock_dir=tmp_path_factory.mktemp("lock"))


def test_servers_with_different_models_are_refused_before_anything_runs(tiny_sd15_on_first_server, project, servers):
    example = Path(__file__).parents[2] / "example_suite" / "workflows" / "sd15-text-to-image.json"
    for url in servers:
        clear_queue(url)
    shutil.copy(example, project.path / "sd15.json")
    project.makepyfile(
        test_sd15="""
import pytest

@pytest.mark.invokeai(workflow="sd15.json")
def test_sd15(invokeai_run):
    invokeai_run().assert_matches_baseline()
"""
    )

    result = project.runpytest_subprocess(
        *url_args(*servers), "-p", "no:cacheprovider", "--invokeai-update-baselines=all"
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the servers of this run do not agree*", f"*{servers[1]} lacks *tiny*"])
    assert our_items(servers[0]) == [] and our_items(servers[1]) == []


def test_a_server_that_dies_mid_run_hands_its_cases_to_the_others(project, servers, server_command):
    (victim,) = start_servers(1, server_command)
    try:
        for url in servers:
            clear_queue(url)
        project.makepyfile(test_noise=MATRIX_TEST.format(cases=15), conftest=KILL_CONFTEST)
        env = {"KILL_AFTER": "3", "KILL_PID": str(victim.pid)}
        os.environ.update(env)
        try:
            result = project.runpytest_subprocess(
                *url_args(*servers, victim.url),
                "-p",
                "no:cacheprovider",
                "--invokeai-update-baselines=all",
                timeout=600,
            )
        finally:
            for key in env:
                os.environ.pop(key)
        result.assert_outcomes(passed=15)  # nothing lost: every case ran somewhere
        result.stdout.fnmatch_lines(
            [
                f"*{victim.url}: * case(s), then stopped answering: *Connection refused*",
                "*case(s) moved to another server*",
            ]
        )
        assert len(list((project.path / "baselines" / "test_noise.py").glob("*.json"))) == 15
    finally:
        victim.stop()


def test_when_every_server_dies_the_run_ends_with_clear_failures(project, server_command):
    started = start_servers(2, server_command)
    try:
        project.makepyfile(test_noise=MATRIX_TEST.format(cases=10), conftest=KILL_CONFTEST)
        env = {"KILL_AFTER": "2", "KILL_PID": str(started[0].pid)}
        os.environ.update(env)
        try:
            # The second server is stopped before the run: only the first answers, then dies after two tests.
            os.killpg(started[1].pid, signal.SIGKILL)
            result = project.runpytest_subprocess(
                *url_args(*(s.url for s in started)),
                "-p",
                "no:cacheprovider",
                "--invokeai-update-baselines=all",
                timeout=600,
            )
        finally:
            for key in env:
                os.environ.pop(key)
        outcomes = result.parseoutcomes()
        assert outcomes.get("passed") == 2 and outcomes.get("failed") == 8, outcomes
        result.stdout.fnmatch_lines([f"*{started[0].url}*stopped answering*"])
    finally:
        for server in started:
            server.stop()


def test_a_server_that_hangs_mid_run_hands_its_cases_to_the_others(project, servers, server_command):
    (victim,) = start_servers(1, server_command)
    try:
        for url in servers:
            clear_queue(url)
        project.makepyfile(test_noise=MATRIX_TEST.format(cases=15), conftest=KILL_CONFTEST)
        env = {"KILL_AFTER": "3", "KILL_PID": str(victim.pid), "KILL_SIGNAL": "SIGSTOP"}
        os.environ.update(env)
        try:
            result = project.runpytest_subprocess(
                # Three servers share two cores here: a server busy with its first graph can pause its
                # answers for seconds, which must not read as a hang.
                *url_args(*servers, victim.url),
                "-p",
                "no:cacheprovider",
                "--invokeai-update-baselines=all",
                "--invokeai-hang-timeout=8",
                timeout=600,
            )
        finally:
            for key in env:
                os.environ.pop(key)
            os.killpg(victim.pid, signal.SIGCONT)
        result.assert_outcomes(passed=15)  # nothing lost: every case ran somewhere
        result.stdout.fnmatch_lines(
            [
                f"*{victim.url}: * case(s), then stopped answering: nothing heard from InvokeAI at {victim.url} for 8 s*",
                "*case(s) moved to another server*",
            ]
        )
    finally:
        victim.stop()
