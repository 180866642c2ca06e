"""Real InvokeAI servers in the set-ups users run: multi-user, behind a sub-path, an older release.

The session-scoped fixtures in ``conftest.py`` start each configuration once for the whole test
session (each start costs 15-20 s and about a gigabyte), through these helpers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx

from pytest_invokeai.local.managed import ManagedServer

ADMIN = {"email": "admin@example.com", "display_name": "Admin", "password": "Not-a-real-secret-1"}
# The user that runs the suite: not an admin, so the server shows it only its own queue items and images.
RUNNER = {"email": "runner@example.com", "display_name": "Runner", "password": "Runner-pw-7'\"$x"}


@dataclass
class MultiUserServer:
    """A real InvokeAI with ``multiuser: true``, its admin set up, and a second, non-admin user."""

    server: ManagedServer
    admin_token: str
    runner: dict[str, str] = field(default_factory=lambda: dict(RUNNER))

    @property
    def url(self) -> str:
        return self.server.url

    def jwt_secret(self) -> str:
        """The secret the server signs tokens with (InvokeAI keeps it in its database's app_settings)."""
        database = self.server.root / "databases" / "invokeai.db"
        with contextlib.closing(sqlite3.connect(database)) as connection:
            (secret,) = connection.execute("SELECT value FROM app_settings WHERE key = 'jwt_secret'").fetchone()
        return str(secret)

    def expired_token(self, email: str) -> str:
        """A token of ``email`` signed by this server, whose expiry has passed: what a client holds a day later."""
        users = httpx.get(f"{self.url}/api/v1/auth/users", headers=bearer(self.admin_token), timeout=30).json()
        user = next(u for u in users if u["email"] == email)
        claims = {
            "user_id": user["user_id"],
            "email": email,
            "is_admin": user["is_admin"],
            "remember_me": False,
            "exp": int(time.time()) - 60,
        }
        return hs256_token(claims, self.jwt_secret())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hs256_token(claims: dict[str, object], secret: str) -> str:
    """A JSON Web Token signed with HMAC-SHA256, the algorithm InvokeAI's token service uses."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = part(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


def start_multiuser_server() -> MultiUserServer:
    """Start a multi-user InvokeAI (database on disk, so its token secret can be read), set up its users."""
    server = ManagedServer(settings={"multiuser": "true", "use_memory_db": "false"}).start()
    try:
        httpx.post(f"{server.url}/api/v1/auth/setup", json=ADMIN, timeout=30).raise_for_status()
        login = httpx.post(
            f"{server.url}/api/v1/auth/login", json={k: ADMIN[k] for k in ("email", "password")}, timeout=30
        )
        login.raise_for_status()
        admin_token = login.json()["token"]
        created = httpx.post(
            f"{server.url}/api/v1/auth/users",
            json={**RUNNER, "is_admin": False},
            headers=bearer(admin_token),
            timeout=30,
        )
        assert created.status_code == 201, created.text
    except BaseException:
        server.stop()
        raise
    return MultiUserServer(server=server, admin_token=admin_token)


class PathLoggingProxy:
    """A reverse proxy in front of a server under a sub-path: it passes on only requests under ``prefix``.

    Each HTTP request line a client sends is read; a request outside the prefix is answered 404 and
    noted in :attr:`outside`, so a client that dropped the prefix fails instead of being served
    at the server's root (InvokeAI with ``base_url`` answers there too). After a WebSocket upgrade
    the bytes are passed on unread.
    """

    REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP/1\.[01]\r\n")

    def __init__(self, target_url: str, prefix: str) -> None:
        parsed = urlparse(target_url)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.prefix = prefix.rstrip("/")
        self.paths: list[str] = []
        self.outside: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}{self.prefix}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.closing(client), contextlib.closing(socket.create_connection(self.target)) as upstream:
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
            buffer = b""
            while data := _recv(client):
                buffer += data
                match = self.REQUEST_LINE.match(buffer)
                if match is None:
                    if b"\r\n" not in buffer and _may_start_a_request(buffer):
                        continue  # the rest of a request line is on its way
                    upstream.sendall(buffer)  # a body or WebSocket frames, passed on as they are
                    buffer = b""
                    continue
                path = match.group(2).decode()
                self.paths.append(path)
                if not path.startswith(self.prefix + "/"):
                    self.outside.append(path)
                    client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                upstream.sendall(buffer)
                buffer = b""

    def close(self) -> None:
        self._listener.close()


METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ")


def _may_start_a_request(data: bytes) -> bool:
    return any(data.startswith(method) or method.startswith(data) for method in METHODS) and len(data) < 16384


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)
