"""A local InvokeAI server started and stopped by us (the default when no server URL is given).

It runs in a temporary root with an in-memory database on the CPU, on a port we chose free, with
a clean environment: the user's own ``INVOKEAI_*`` settings (a models folder, a remote database,
a GPU device) must not leak into a test server by accident.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.install import install_invokeai, installed_python
from pytest_invokeai.local.node_packs import NodePack, install_packs, pack_load_errors

LAUNCHER = Path(__file__).parent / "invokeai_side" / "launcher.py"
START_TIMEOUT = 180.0  # about 20 s on 2 cores; generous for a loaded CI machine
LOG_TAIL_LINES = 40
#: The custom-nodes folder of a managed server with node packs, under its root. Not InvokeAI's default
#: ``nodes/``: a kept server may run in a root of the user's own, whose packs we must not replace.
NODES_DIR_NAME = "pytest-invokeai-nodes"


def resolve_server_command(explicit: str | list[str] | None = None, *, version: str | None = None) -> list[str]:
    """The command that starts InvokeAI's web server, without ``--root``.

    In order: an explicit command, the project's own InvokeAI environment (through the
    launcher, which repairs a CPU-only torchvision only when it needs to), ``invokeai-web`` on PATH.
    ``version``: that InvokeAI release, from its own environment, installed now when it is not yet
    (minutes, once per machine); never ``invokeai-web`` on PATH, whose version is whatever it is.
    """
    if explicit:
        return shlex.split(explicit) if isinstance(explicit, str) else list(explicit)
    if version is not None:
        versioned = installed_python(version=version) or install_invokeai(
            version, log=lambda line: print(f"pytest-invokeai: {line}", file=sys.stderr, flush=True)
        )
        return [str(versioned), str(LAUNCHER)]
    python = installed_python()
    if python is not None:
        return [str(python), str(LAUNCHER)]
    on_path = shutil.which("invokeai-web")
    if on_path:
        return [on_path]
    raise ServerError(
        "no InvokeAI to start: give --invokeai-url=http://HOST:PORT for a running server, or install one "
        "for the managed server with `python -m pytest_invokeai.server.install`, or put `invokeai-web` on PATH, "
        "or name the command with --invokeai-server-cmd"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]  # (host, port) for AF_INET
        return port


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKEAI_")}
    env.pop("PYTHONPATH", None)  # our test environment's paths must not shadow InvokeAI's packages
    env.update(extra or {})
    return env


class ManagedServer:
    """Start with :meth:`start` (or ``with ManagedServer() as server:``); ``server.url`` is its base URL."""

    def __init__(
        self,
        command: str | list[str] | None = None,
        *,
        root: Path | None = None,
        port: int | None = None,
        settings: dict[str, str] | None = None,
        log_path: Path | None = None,
        node_packs: Sequence[NodePack] = (),
        version: str | None = None,
    ) -> None:
        self.command = resolve_server_command(command, version=version)
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="pytest-invokeai-server-"))
        self.port = port or free_port()
        self.settings = settings or {}
        self.log_path = log_path or self.root / "invokeai.log"
        self.node_packs = tuple(node_packs)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id, which is also its process group id (it runs in its own session)."""
        if self._process is None:
            raise ServerError("the managed server is not running")
        return self._process.pid

    def start(self, timeout: float = START_TIMEOUT) -> ManagedServer:
        settings = dict(self.settings)
        if self.node_packs:  # copied before the start: InvokeAI loads its custom nodes once, while starting
            nodes_dir = self.root / NODES_DIR_NAME
            install_packs(self.node_packs, nodes_dir)
            settings["custom_nodes_dir"] = str(nodes_dir)
        env = clean_environment(
            {
                "INVOKEAI_HOST": "127.0.0.1",
                "INVOKEAI_PORT": str(self.port),
                "INVOKEAI_USE_MEMORY_DB": "true",
                "INVOKEAI_DEVICE": "cpu",
                **{f"INVOKEAI_{k.upper()}": v for k, v in settings.items()},
            }
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in the finally below, once Popen has its own copy
        try:
            self._process = subprocess.Popen(
                [*self.command, "--root", str(self.root)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it cleanly
            )
        except OSError as exc:
            raise ServerError(f"cannot start InvokeAI ({' '.join(self.command)}): {exc}") from None
        finally:
            log.close()
        self._wait_ready(timeout)
        self._check_node_packs()
        return self

    def _check_node_packs(self) -> None:
        """InvokeAI starts without a pack that failed to import: a test run must not, so stop with its own words."""
        if not self.node_packs:
            return
        try:
            errors = pack_load_errors(self.log_path.read_text(errors="replace"))
        except OSError:
            return
        if errors:
            sources = ", ".join(f"{pack.name} ({pack.path})" for pack in self.node_packs)
            self.stop()
            raise ServerError(
                f"InvokeAI could not load a node pack (packs given: {sources}). InvokeAI said:\n" + "\n".join(errors)
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ServerError(
                    f"InvokeAI exited with code {self._process.returncode} while starting.\n{self.log_tail()}"
                )
            try:
                answer = httpx.get(f"{self.url}/api/v1/app/version", timeout=2.0)
                if answer.status_code == 200 and answer.headers.get("content-type", "").startswith("application/json"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        tail = self.log_tail()  # read before stop() removes a temporary root
        self.stop()
        raise ServerError(f"InvokeAI did not answer on {self.url} within {timeout:.0f} s.\n{tail}")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_path})"
        return f"Last lines of {self.log_path}:\n" + "\n".join(text)

    def stop(self, timeout: float = 20.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM) if os.name != "nt" else process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL) if os.name != "nt" else process.kill()
                process.wait()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def detach(self) -> None:
        """Leave the server running past this object (a kept server, stopped later by its process group id)."""
        import warnings

        with warnings.catch_warnings():  # Popen warns when it is dropped while its process runs: that is the point
            warnings.simplefilter("ignore", ResourceWarning)
            self._process = None

    def __enter__(self) -> ManagedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use: python -m pytest_invokeai.local.managed
    with ManagedServer() as server:
        print(f"InvokeAI running at {server.url} (Ctrl-C stops it)", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
