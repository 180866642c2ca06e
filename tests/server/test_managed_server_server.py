"""The managed local InvokeAI and the project's own InvokeAI install (real server, real processes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from helpers import require

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.managed import (
    ManagedServer,
)


def test_session_server_is_invokeai_6_14_2(invokeai_server_url: str) -> None:
    answer = httpx.get(f"{invokeai_server_url}/api/v1/app/version", timeout=10)
    assert answer.json() == {"version": "6.14.2"}


def test_users_invokeai_settings_do_not_leak_into_the_managed_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A port that cannot be bound and a root elsewhere: if they leaked, the server would not come up where we look.
    monkeypatch.setenv("INVOKEAI_PORT", "1")
    monkeypatch.setenv("INVOKEAI_ROOT", str(tmp_path / "users-root"))
    try:
        server = ManagedServer()
    except ServerError as exc:
        require(False, str(exc))
    with server:
        assert httpx.get(f"{server.url}/api/v1/app/version", timeout=10).json()["version"] == "6.14.2"
        assert (server.root / "invokeai.yaml").exists()
    assert not (tmp_path / "users-root").exists()
    assert not server.root.exists(), "the temporary root is removed when the server stops"
