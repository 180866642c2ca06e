"""What server/test_several_servers.py and unit/test_several_servers_unit.py share: the cases and helpers both parts of the split test use."""

from __future__ import annotations

import threading

from helpers import require

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.managed import ManagedServer


def start_servers(count: int, command: list[str]) -> list[ManagedServer]:
    """Start ``count`` servers side by side (start-up is mostly waiting on imports, so in parallel)."""
    servers = [ManagedServer(command) for _ in range(count)]
    errors: list[Exception] = []

    def start(server: ManagedServer) -> None:
        try:
            server.start()
        except ServerError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for server in servers:
            server.stop()
        require(False, f"cannot start InvokeAI servers for this test: {errors[0]}")
    return servers
