"""A managed InvokeAI that outlives the command that started it (``pytest-invokeai server start``).

It is the managed server of :mod:`.managed` with three differences: it runs on a port the user
chooses (default 9090, checked free first: InvokeAI would silently move to the next port), in a root
that persists with an on-disk database (installed models stay), by default
``$PYTEST_INVOKEAI_HOME/servers/<version>-<port>``, and nothing stops it but ``server stop``.

What runs where is kept in ``$PYTEST_INVOKEAI_HOME/servers/port-<port>.json`` (written atomically
once the server answers), which ``server status`` and ``server stop`` read. pytest never reads it:
a kept server is used through ``--invokeai-url`` like any other server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from pytest_invokeai._util.atomic import write_atomic
from pytest_invokeai._util.locks import file_lock
from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.install import home_dir
from pytest_invokeai.local.node_packs import NodePack

if TYPE_CHECKING:
    from pytest_invokeai.local.managed import ManagedServer

DEFAULT_PORT = 9090
HOST = "127.0.0.1"
ANSWER_TIMEOUT = 5.0  # seconds a running server has to tell its version to `status`


@dataclass(frozen=True)
class KeptServer:
    """The record of a kept server (what ``status --json`` prints)."""

    url: str
    port: int
    pid: int
    version: str
    root: str
    log: str
    started: str  # ISO 8601, UTC
    node_packs: dict[str, str] = field(default_factory=dict)  # pack name -> content hash
    models: list[str] = field(default_factory=list)  # as given to --models

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeptServer:
        return cls(
            url=str(data["url"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            version=str(data["version"]),
            root=str(data["root"]),
            log=str(data["log"]),
            started=str(data["started"]),
            node_packs=dict(data.get("node_packs", {})),
            models=list(data.get("models", [])),
        )


def servers_dir() -> Path:
    return home_dir() / "servers"


def default_root(version: str, port: int) -> Path:
    return servers_dir() / f"{version}-{port}"


def record_path(port: int) -> Path:
    return servers_dir() / f"port-{port}.json"


def read_record(port: int) -> KeptServer | None:
    try:
        return KeptServer.from_json(json.loads(record_path(port).read_text()))
    except (OSError, ValueError, KeyError, TypeError):  # none, or not one of ours: nothing is known to run there
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def is_our_process(record: KeptServer) -> bool:
    """Whether the record's process is still the server it started: a pid is reused after the server died."""
    if not process_alive(record.pid):
        return False
    cmdline = Path(f"/proc/{record.pid}/cmdline")
    try:  # Linux: the command line names the root the server was started with
        return record.root in cmdline.read_bytes().decode(errors="replace").split("\0")
    except OSError:  # no /proc here: a server that answers on its URL is taken as ours
        return answers(record.url) is not None


def answers(url: str, timeout: float = ANSWER_TIMEOUT) -> str | None:
    """The InvokeAI version the server at ``url`` tells, or None when it does not answer as InvokeAI."""
    try:
        answer = httpx.get(f"{url}/api/v1/app/version", timeout=timeout)
        if answer.status_code == 200 and answer.headers.get("content-type", "").startswith("application/json"):
            version = answer.json().get("version")
            return version if isinstance(version, str) else None
    except (httpx.HTTPError, ValueError):
        pass
    return None


def running(port: int) -> KeptServer | None:
    """The kept server on ``port`` if its process lives and it answers as InvokeAI."""
    record = read_record(port)
    if record is None or not is_our_process(record) or answers(record.url) is None:
        return None
    return record


def port_in_use(port: int) -> bool:
    """Whether a program holds the port. Connections of a server that just stopped (TIME_WAIT) do not count:
    InvokeAI's web server binds with SO_REUSEADDR, and so does this check."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def check_version(version: str | None) -> str:
    """The version to start: the one asked for when this pytest-invokeai can install it, else the default one."""
    from pytest_invokeai.local.install import DEFAULT_VERSION
    from pytest_invokeai.local.install import check_version as check_installable

    return check_installable(version) if version else DEFAULT_VERSION


@dataclass(frozen=True)
class StartResult:
    server: KeptServer
    already_running: bool


def start(
    *,
    port: int = DEFAULT_PORT,
    root: Path | None = None,
    node_packs: Sequence[NodePack] = (),
    models: Sequence[str] = (),
    version: str | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> StartResult:
    """Start a kept server on ``port`` and return once it answers (with its models installed).

    A kept server that already runs on the port is returned as it is. Raises :class:`ServerError` when
    something else holds the port, or the server cannot start.
    """
    version = check_version(version)
    servers_dir().mkdir(parents=True, exist_ok=True)
    with file_lock(servers_dir() / f".port-{port}.lock"):  # two `start`s on one port: the second finds the first
        found = running(port)
        if found is not None:
            return StartResult(found, already_running=True)
        if port_in_use(port):
            raise ServerError(
                f"port {port} is in use by another program (InvokeAI would silently move to the next port): "
                "stop it, or choose another port with --port"
            )
        server = _start_process(port, root or default_root(version, port), node_packs, command, version, log)
        try:
            if models:
                _install_models(server.url, server.root, models, log)
            record = KeptServer(
                url=server.url,
                port=port,
                pid=server.pid,
                version=answers(server.url) or version,
                root=str(server.root),
                log=str(server.log_path),
                started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                node_packs={pack.name: pack.hash for pack in node_packs},
                models=list(models),
            )
            write_atomic(record_path(port), (json.dumps(asdict(record), indent=2) + "\n").encode())
            server.detach()
        except BaseException:  # a half-set-up server is not kept: nothing would know to stop it
            server.stop()
            raise
        return StartResult(record, already_running=False)


def _start_process(
    port: int,
    root: Path,
    node_packs: Sequence[NodePack],
    command: str | None,
    version: str,
    log: Callable[[str], None],
) -> ManagedServer:
    from pytest_invokeai.local.install import install_invokeai, installed_python
    from pytest_invokeai.local.managed import ManagedServer

    if command is None and installed_python(version=version) is None:  # installed on first use, like a test run's
        install_invokeai(version, log=log)
    root.mkdir(parents=True, exist_ok=True)
    server = ManagedServer(
        command,
        root=root,
        port=port,
        # On disk, unlike a test run's server: the installed models are what keeping a root is for.
        settings={"use_memory_db": "false"},
        log_path=root / "invokeai.log",
        node_packs=node_packs,
        version=version,
    )
    log(f"starting InvokeAI on port {port} in {root} (about 20 s)...")
    return server.start()


def _install_models(url: str, root: Path, models: Sequence[str], log: Callable[[str], None]) -> None:
    from pytest_invokeai.local.model_sources import install_declared_models
    from pytest_invokeai.server.client import InvokeAIClient

    log(f"installing {', '.join(models)}...")
    with InvokeAIClient(url) as client:
        install_declared_models(client, models, lock_dir=root)


def stop(port: int = DEFAULT_PORT, timeout: float = 20.0) -> KeptServer | None:
    """Stop the kept server on ``port``; the record of what was stopped, or None when none was kept there."""
    from pytest_invokeai.local.shared_server import stop_process_group

    with file_lock(servers_dir() / f".port-{port}.lock"):
        record = read_record(port)
        if record is None:
            return None
        if is_our_process(record):
            stop_process_group(record.pid, timeout)
        with contextlib.suppress(FileNotFoundError):
            record_path(port).unlink()
        return record
