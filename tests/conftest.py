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
from helpers import GUI_EXPORTS, require

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
    try:
        server = ManagedServer().start()
    except ServerError as exc:
        require(False, f"no InvokeAI server for this test: {exc}")
        return
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tiny_sd15(invokeai_server_url: str) -> dict:
    """The server's config of the tiny SD-1.5 checkpoint, installed if the server lacks it.

    A test that needs a model asks for this: it must not rely on another test having installed one.
    """
    python = installed_python()
    require(python is not None, "InvokeAI is not installed (python -m pytest_invokeai.server.install)")
    with InvokeAIClient(invokeai_server_url) as client:
        return install_model(client, ensure_tiny_sd15(invokeai_python=python))


# The folder a test is in says what it needs; markers follow from it, so `-m` can be trusted.
FOLDER_MARKERS = {"unit": "unit", "plugin": "plugin", "server": "server", "browser": "browser"}
# Fixtures that reach a real InvokeAI: a test that asks for one is marked `server` wherever it is.
NEEDS_SERVER = {"invokeai_server_url", "tiny_sd15"}


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
