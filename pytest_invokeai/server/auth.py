"""Signing in to a multi-user InvokeAI (``multiuser: true``, since 6.12): a login, the token it gives, refreshes.

A multi-user InvokeAI answers 401 to every queue, image and model call without a bearer token. A user
either gives a token (``--invokeai-token``) or an email and password (``--invokeai-user`` and
``PYTEST_INVOKEAI_PASSWORD``): then :class:`Auth` logs in through ``POST /api/v1/auth/login`` when the
first token is needed, takes the fresh token the server sends in the ``X-Refreshed-Token`` header of a
successful write, and logs in again, once per call, when the server refuses the token (it expired,
a day after the last write). The same token serves REST and the event socket.

The password never leaves this module except in the login request's body: not in a ``repr``, an
error message, a log line or a traceback's locals (the request body is built inside the call).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server.api import server_detail

LOGIN_PATH = "/api/v1/auth/login"
REFRESHED_TOKEN_HEADER = "X-Refreshed-Token"
PASSWORD_ENV = "PYTEST_INVOKEAI_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """An InvokeAI user: the email it logs in with, and its password (never shown)."""

    email: str
    password: str = field(repr=False)


class LoginRequired(ServerError):
    """The server wants a login that the run did not give, or refused the one it gave."""


class Auth:
    """The bearer token of one server: given, or got by logging in with :class:`Credentials`.

    Thread-safe: the scheduler's threads and the event socket share one :class:`Auth` per server.
    ``how_to_log_in`` is what the error messages tell a person to give (the plugin's options, or a
    command's ``--user``).
    """

    def __init__(
        self,
        token: str | None = None,
        credentials: Credentials | None = None,
        *,
        how_to_log_in: str = f"--invokeai-user EMAIL with the password in {PASSWORD_ENV}, or --invokeai-token",
    ) -> None:
        if token and credentials:
            raise ValueError("give a token or credentials to log in with, not both")
        self._token = token
        self.credentials = credentials
        self.how_to_log_in = how_to_log_in
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the token or the password
        who = f"user={self.credentials.email!r}" if self.credentials else f"token={'set' if self._token else 'none'}"
        return f"Auth({who})"

    @property
    def signs_in(self) -> bool:
        """A token or a login: the server is a multi-user one (a single-user InvokeAI needs neither)."""
        return bool(self._token) or self.credentials is not None

    @property
    def can_log_in(self) -> bool:
        return self.credentials is not None

    def current(self) -> str | None:
        with self._lock:
            return self._token

    def headers(self) -> dict[str, str]:
        token = self.current()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def take_refreshed(self, response: httpx.Response) -> None:
        """Keep the fresher token a successful write's answer carries (the sliding expiry of InvokeAI's sessions)."""
        refreshed = response.headers.get(REFRESHED_TOKEN_HEADER)
        if refreshed and response.status_code < 400:
            with self._lock:
                self._token = refreshed

    def log_in(self, http: httpx.Client, base_url: str, *, replacing: str | None = None) -> str:
        """Log in and keep the token; ``replacing``: the refused token (another thread may have replaced it already)."""
        credentials = self.credentials
        if credentials is None:
            raise self.required(base_url)
        with self._lock:
            if self._token is not None and self._token != replacing:
                return self._token  # another thread logged in meanwhile
            try:
                response = http.post(
                    LOGIN_PATH.lstrip("/"), json={"email": credentials.email, "password": credentials.password}
                )
            except httpx.TransportError as exc:
                raise ServerError(
                    f"cannot reach InvokeAI at {base_url} to log in: {type(exc).__name__}: {exc}"
                ) from None
            self._token = _token_from_login(response, base_url, credentials.email)
            return self._token

    def required(self, base_url: str, answer: httpx.Response | None = None) -> LoginRequired:
        """The error for a 401: no login given, or the one given was refused."""
        detail = f" ({_detail(answer)})" if answer is not None else ""
        if self.credentials is not None:
            return LoginRequired(
                f"InvokeAI at {base_url} refused the login of {self.credentials.email} again right after logging "
                f"in{detail}: check that this user is active on the server"
            )
        if self._token:
            return LoginRequired(
                f"InvokeAI at {base_url} refused the bearer token{detail}: it is expired or from another server; "
                f"give a fresh one, or log in with {self.how_to_log_in.split(', or ')[0]}"
            )
        return LoginRequired(
            f"InvokeAI at {base_url} is a multi-user server and needs a login{detail}: give {self.how_to_log_in}"
        )


def _token_from_login(response: httpx.Response, base_url: str, email: str) -> str:
    if response.status_code == 401:
        raise LoginRequired(
            f"InvokeAI at {base_url} refused the login of {email}: {_detail(response)}; "
            f"give that user's password in {PASSWORD_ENV}"
        )
    if response.status_code == 403:
        raise LoginRequired(f"InvokeAI at {base_url} refused the login of {email}: {_detail(response)}")
    if response.status_code == 404 or not response.headers.get("content-type", "").startswith("application/json"):
        raise LoginRequired(
            f"InvokeAI at {base_url} has no login (POST {LOGIN_PATH} answered HTTP {response.status_code}): "
            "logins need InvokeAI 6.12 or newer in multi-user mode; drop the user option"
        )
    if response.status_code >= 400:
        raise ServerError(
            f"InvokeAI at {base_url} refused to log in {email} (HTTP {response.status_code}): {_detail(response)}"
        )
    token = response.json().get("token") if isinstance(response.json(), dict) else None
    if not isinstance(token, str) or not token:
        raise ServerError(f"InvokeAI at {base_url} answered the login of {email} without a token")
    return token


def _detail(response: httpx.Response) -> str:
    return server_detail(response)
