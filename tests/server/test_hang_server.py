"""A server that hangs costs seconds, not minutes: the start-up probe, the hang timeout, progress lines.

A real InvokeAI is started for this module on its own port and stopped with SIGSTOP in the middle of a
run (SIGCONT at the end): it then accepts connections and answers nothing, as a frozen machine does.
Times are measured inside the run (a conftest writes them), from the SIGSTOP to the first failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hang_cases import MATRIX_TEST, WORKFLOW, run_with_an_unusable_server
from helpers import builder, noise_graph, require

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.managed import ManagedServer, resolve_server_command
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.runs import Case, Runner

# Stops the server's process group with SIGSTOP once STOP_AFTER tests passed, and writes when that
# happened and when the first test failed (monotonic seconds, one process) to timing.json.
STOP_CONFTEST = """
import json, os, signal, time

_passed = []
_times = {}

def _note(what, again=False):
    if again or what not in _times:
        _times[what] = time.monotonic()
    with open("timing.json", "w") as f:
        json.dump(_times, f)

def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    if report.failed:
        _note("first_failure")
        _note("last_failure", again=True)
    elif report.passed:
        _passed.append(report.nodeid)
        if len(_passed) == int(os.environ["STOP_AFTER"]):
            os.killpg(int(os.environ["STOP_PID"]), signal.SIGSTOP)
            _note("stopped")
"""


@pytest.fixture(scope="module")
def server_command() -> list[str]:
    # Module scope: found before pytester points HOME (where the install lives) at a temporary folder.
    try:
        return resolve_server_command()
    except ServerError as exc:
        require(False, f"cannot start InvokeAI for this test: {exc}")
        raise


@pytest.fixture(scope="module")
def server(server_command: list[str]) -> Iterator[ManagedServer]:
    try:
        started = ManagedServer(server_command).start()
    except ServerError as exc:
        require(False, f"cannot start InvokeAI for this test: {exc}")
        raise
    try:
        # Its first generation: InvokeAI answers nothing for a few seconds while it runs its first graph
        # (about 3 s on 2 cores), which the tests' short hang timeouts must not take for a hang.
        with InvokeAIClient(started.url) as client, Runner(client) as runner:
            runner.submit(builder(noise_graph(16)), [Case("warm-up")])["warm-up"].result(120)
        yield started
    finally:
        os.killpg(started.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        started.stop()


@contextmanager
def stopped(server: ManagedServer) -> Iterator[None]:
    """The server stays stopped (SIGSTOP) inside the block, and is running again after it."""
    os.killpg(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(server.pid, signal.SIGCONT)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(WORKFLOW, pytester.path / "noise.json")
    return pytester


# -- a URL that is not one -------------------------------------------------------------------


# -- a server that cannot be used at the start -----------------------------------------------


def test_a_server_stopped_before_the_run_is_named_once_within_seconds(
    server: ManagedServer, project: pytest.Pytester
) -> None:
    with stopped(server):
        run_with_an_unusable_server(project, server.url, "did not answer within 10 s")


# -- a server that stops answering mid-run ---------------------------------------------------


@pytest.mark.parametrize("hang_timeout", [4, 16])
def test_a_server_stopped_mid_run_is_declared_down_within_the_hang_timeout(
    project: pytest.Pytester, server: ManagedServer, monkeypatch: pytest.MonkeyPatch, hang_timeout: int
) -> None:
    project.makepyfile(test_noise=MATRIX_TEST.format(cases=6), conftest=STOP_CONFTEST)
    monkeypatch.setenv("STOP_AFTER", "2")
    monkeypatch.setenv("STOP_PID", str(server.pid))
    try:
        result = project.runpytest_subprocess(
            f"--invokeai-url={server.url}",
            f"--invokeai-hang-timeout={hang_timeout}",
            "-p",
            "no:cacheprovider",
            "--invokeai-update-baselines=all",
            timeout=hang_timeout + 120,
        )
    finally:
        os.killpg(server.pid, signal.SIGCONT)

    result.assert_outcomes(passed=2, failed=4)
    times = json.loads((project.path / "timing.json").read_text())
    silent_for = times["first_failure"] - times["stopped"]
    print(f"SIGSTOP to first failure with --invokeai-hang-timeout={hang_timeout}: {silent_for:.1f} s")
    assert hang_timeout <= silent_for <= hang_timeout + 2.5, silent_for
    assert times["last_failure"] - times["first_failure"] < 1.0  # the remaining tests fail at once
    result.stdout.fnmatch_lines(
        [f"*nothing heard from InvokeAI at {server.url} for {hang_timeout} s while waiting to *"]
    )
    progress = f"[[]invokeai] InvokeAI at {server.url} has not answered for 15 s (declared down at {hang_timeout} s*"
    if hang_timeout > 15:
        result.stdout.fnmatch_lines([f"*{progress}"])
    else:
        result.stdout.no_fnmatch_line(f"*{progress}")


def test_after_a_server_is_declared_down_every_call_fails_at_once(server: ManagedServer) -> None:
    from pytest_invokeai.server.client import (
        ServerHung,  # here: the other tests also run on a client without it
    )

    with InvokeAIClient(server.url, hang_timeout=2.0) as client:
        assert client.version() == "6.14.2"
        with stopped(server):
            began = time.monotonic()
            with pytest.raises(ServerHung) as info:
                client.version()
            first = time.monotonic() - began
            began = time.monotonic()
            with pytest.raises(ServerHung):
                client.version()
            again = time.monotonic() - began
    assert 2.0 <= first <= 3.5, first
    assert again < 0.1, again
    assert f"nothing heard from InvokeAI at {server.url} for 2 s while waiting to tell its version" in str(info.value)


# -- a slow answer is not a hang -------------------------------------------------------------
