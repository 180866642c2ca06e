"""Shared fixtures of the project's own tests.

Tests that need a real InvokeAI use the session-scoped ``invokeai_server_url``: the server named by
``PYTEST_INVOKEAI_TEST_URL``, else one started for this test session (the project's pinned install).
Where no server can be had, those tests skip locally but fail in CI (``CI`` set): CI must never
pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import GUI_EXPORTS, managed_server_url, require
from real_servers import MultiUserServer, PathLoggingProxy, start_multiuser_server

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.install import installed_python
from pytest_invokeai.local.managed import ManagedServer
from pytest_invokeai.local.model_install import ensure_tiny_sd15, install_model
from pytest_invokeai.server.client import InvokeAIClient

pytest_plugins = ["pytester"]  # the plugin's own tests run pytest in a temporary project


@pytest.fixture(scope="session")
def gui_exports() -> Path:
    """Real workflows exported from the InvokeAI web UI (tests/data/exports)."""
    return GUI_EXPORTS


@pytest.fixture(scope="session")
def invokeai_server_url() -> Iterator[str]:
    url = os.environ.get("PYTEST_INVOKEAI_TEST_URL")
    if url:
        yield url.rstrip("/")
        return
    with managed_server_url() as started:
        yield started


@pytest.fixture(scope="session")
def tiny_sd15(invokeai_server_url: str) -> dict:
    """The server's config of the tiny SD-1.5 checkpoint, installed if the server lacks it.

    A test that needs a model asks for this: it must not rely on another test having installed one.
    """
    python = installed_python()
    require(python is not None, "InvokeAI is not installed (python -m pytest_invokeai.server.install)")
    with InvokeAIClient(invokeai_server_url) as client:
        return install_model(client, ensure_tiny_sd15(invokeai_python=python))


@pytest.fixture(scope="session")
def multiuser_server() -> Iterator[MultiUserServer]:
    """A real InvokeAI 6.14.2 with ``multiuser: true``: its admin set up through POST /api/v1/auth/setup, a second,
    non-admin user (``.runner``) to run suites as, and the tiny SD-1.5 model (installed by the admin)."""
    python = installed_python()
    require(python is not None, "InvokeAI is not installed (python -m pytest_invokeai.server.install)")
    try:
        started = start_multiuser_server()
    except ServerError as exc:
        require(False, f"cannot start a multi-user InvokeAI for this test: {exc}")
        return
    try:
        with InvokeAIClient(started.url, token=started.admin_token) as client:
            install_model(client, ensure_tiny_sd15(invokeai_python=python))
        yield started
    finally:
        started.server.stop()


@pytest.fixture(scope="session")
def subpath_server() -> Iterator[PathLoggingProxy]:
    """A real InvokeAI 6.14.2 started with ``base_url: /invoke``, behind a proxy that passes on only ``/invoke/...``.

    ``.url`` is ``http://127.0.0.1:PORT/invoke``; ``.outside`` lists requests that missed the sub-path.
    """
    python = installed_python()
    require(python is not None, "InvokeAI is not installed (python -m pytest_invokeai.server.install)")
    try:
        server = ManagedServer(settings={"base_url": "/invoke"}).start()
    except ServerError as exc:
        require(False, f"cannot start an InvokeAI under a sub-path for this test: {exc}")
        return
    proxy = PathLoggingProxy(server.url, "/invoke")
    try:
        with InvokeAIClient(proxy.url) as client:
            install_model(client, ensure_tiny_sd15(invokeai_python=python))
        yield proxy
    finally:
        proxy.close()
        server.stop()


@pytest.fixture(scope="session")
def invokeai_6_13_url() -> Iterator[str]:
    """A real InvokeAI 6.13.8 (the release before 6.14), installed in its own environment on first use."""
    try:
        server = ManagedServer(version="6.13.8").start()
    except ServerError as exc:
        require(
            False,
            f"no InvokeAI 6.13.8 for this test (python -m pytest_invokeai.server.install --version 6.13.8): {exc}",
        )
        return
    try:
        yield server.url
    finally:
        server.stop()


# The folder a test is in says what it needs; markers follow from it, so `-m` can be trusted.
FOLDER_MARKERS = {"unit": "unit", "plugin": "plugin", "server": "server", "browser": "browser"}
# Fixtures that reach a real InvokeAI: a test that asks for one is marked `server` wherever it is.
NEEDS_SERVER = {"invokeai_server_url", "tiny_sd15", "multiuser_server", "subpath_server", "invokeai_6_13_url"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        try:
            folder = item.path.relative_to(tests).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & NEEDS_SERVER and folder != "server":
            item.add_marker("server")
        if "pytester" in fixtures and folder != "plugin":
            item.add_marker("plugin")
