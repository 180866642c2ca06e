"""The HTTP client for an InvokeAI server: :class:`InvokeAIClient`.

Each operation is written as a generator that yields :class:`~.api.Call` objects and receives their
answers, so what an operation asks stays apart from how a call is sent. Retries happen only where they
are safe: connection failures of idempotent calls, with exponential backoff. An enqueue is never
retried blindly: after a connection broke mid-enqueue, the client asks the server what it holds for
the batch's ``destination`` (each run tags its batches with its own) before sending again.

With ``hang_timeout`` the client also tells a server that hangs from a slow one (see
:mod:`.liveness`): a call to a server that has answered nothing for that long fails with
:class:`ServerHung`, and so does every later call to it.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.api import Call
from pytest_invokeai.server.auth import Auth
from pytest_invokeai.server.liveness import (
    STARTUP_PROBE,
    Liveness,
    SilenceListener,
    Silent,
)

T = TypeVar("T")
Operation = Generator[Call, Any, T]


class ConnectionBroken(ServerError):
    """The connection failed while a call was under way (the server may or may not have acted on it)."""


class ServerHung(ConnectionBroken):
    """The server answered nothing (no REST answer, no event-socket heartbeat, no health probe) for the hang timeout."""


@dataclass(frozen=True)
class EnqueueResult:
    batch_id: str
    enqueued: int
    requested: int
    item_ids: tuple[int, ...]  # ascending (the server answers in descending order)
    priority: int = 0

    @property
    def was_cut(self) -> bool:
        """The queue was full: the server silently enqueued fewer items than asked."""
        return self.enqueued < self.requested

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> EnqueueResult:
        batch = body.get("batch", {})
        return cls(
            batch_id=batch.get("batch_id", ""),
            enqueued=int(body["enqueued"]),
            requested=int(body["requested"]),
            item_ids=tuple(sorted(body.get("item_ids", []))),
            priority=int(body.get("priority", 0)),
        )


# -- operations (one implementation, two clients) -------------------------------------------


def enqueue_operation(queue_id: str, body: dict[str, Any]) -> Operation[EnqueueResult]:
    destination = body.get("batch", {}).get("destination")
    try:
        answer = yield api.enqueue_batch(queue_id, body)
    except ConnectionBroken:
        if not destination:
            raise  # without a tag we cannot tell whether it arrived: sending it again could run it twice
        held = yield api.queue_items_by_destination(queue_id, destination)
        if held:
            return _result_from_items(held)
        answer = yield api.enqueue_batch(queue_id, body)
    return EnqueueResult.from_answer(answer)


def _result_from_items(items: list[dict[str, Any]]) -> EnqueueResult:
    batch_ids: set[str] = {item.get("batch_id", "") for item in items}
    ids = tuple(sorted(int(item["item_id"]) for item in items))
    return EnqueueResult(
        batch_id=sorted(batch_ids)[0] if batch_ids else "", enqueued=len(ids), requested=len(ids), item_ids=ids
    )


def _advance(operation: Operation[Any], answer: Any, error: Exception | None) -> tuple[bool, Any]:
    """Hand an operation the last answer (or error): ``(True, result)`` when it is done, else ``(False, next call)``."""
    try:
        return False, (operation.throw(error) if error else operation.send(answer))
    except StopIteration as done:
        return True, done.value


# -- the clients ------------------------------------------------------------------------------


class _ClientBase:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        auth: Auth | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        queue_id: str = "default",
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ServerError(f"server URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.queue_id = queue_id
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        # How this client signs in: a token given, or a login (server/auth.py); shared by REST and the event socket.
        self.auth = auth if auth is not None else Auth(token)
        self.liveness: Liveness | None = None  # set by a client that watches for a hung server

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}({self.base_url!r}, queue_id={self.queue_id!r})"

    def _httpx_options(self) -> dict[str, Any]:
        # A trailing slash keeps a path prefix (http://host/invoke/) when httpx joins paths to it.
        return {"base_url": self.base_url + "/", "timeout": self.timeout}

    def _request(self, call: Call) -> dict[str, Any]:
        return {
            "method": call.method,
            "url": call.path.lstrip("/"),
            "params": call.params,
            "json": call.json,
            "files": call.files,
            "headers": self.auth.headers(),  # read per call: a refreshed or new token replaces the old one
        }

    def _hung(self, silent: Silent, call: Call) -> ServerHung:
        return ServerHung(
            f"nothing heard from InvokeAI at {self.base_url} for {silent.seconds:g} s while waiting to {call.what} "
            f"(the hang timeout, --invokeai-hang-timeout): it does not answer REST calls, its event socket or a health probe"
        )

    def _retry_delay(self, call: Call, attempt: int, exc: httpx.TransportError) -> float:
        """Seconds to wait before trying ``call`` again, or raise when it must not be retried."""
        if call.idempotent and attempt < self.retries:
            return self.backoff * (2.0**attempt)  # a float power: typeshed types int ** int as Any
        message = f"cannot reach InvokeAI at {self.base_url} to {call.what}: {type(exc).__name__}: {exc}"
        raise ConnectionBroken(message) from None


class InvokeAIClient(_ClientBase):
    """Synchronous client. Use as a context manager, or call :meth:`close`.

    ``hang_timeout`` (seconds; None: off) declares the server down when it answers nothing for that
    long; ``on_silence(url, seconds, hang_timeout)`` hears about the silence every 15 s until then.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        hang_timeout: float | None = None,
        on_silence: SilenceListener | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._http = httpx.Client(transport=transport, **self._httpx_options())
        if hang_timeout is not None:
            self.liveness = Liveness(self.base_url, hang_timeout, self._health_probe, on_silence=on_silence)

    @property
    def token(self) -> str | None:
        """The current bearer token (for the event connection to the same server), logging in first when the
        client signs in with a user; never part of repr or errors."""
        if self.auth.can_log_in and self.auth.current() is None:
            self.auth.log_in(self._http, self.base_url)
        return self.auth.current()

    def _health_probe(self, timeout: float) -> None:
        """Any answer to a small request (whatever its status) shows that the server is alive."""
        self._http.get(api.version().path.lstrip("/"), timeout=timeout)

    def send(self, call: Call) -> Any:
        attempt = 0
        since = time.monotonic()  # the silence of a hung server counts across retries
        logged_in_again = False
        while True:
            used = self.token
            try:
                response = self._exchange(call, since)
            except httpx.TransportError as exc:
                time.sleep(self._retry_delay(call, attempt, exc))
                attempt += 1
                continue
            if response.status_code == 401:
                # An expired token (a day after the last write) gets one new login; a second refusal is an error.
                if self.auth.can_log_in and not logged_in_again:
                    self.auth.log_in(self._http, self.base_url, replacing=used)
                    logged_in_again = True
                    continue
                raise self.auth.required(self.base_url, response)
            self.auth.take_refreshed(response)
            return api.read_answer(call, response, self.base_url)

    def _exchange(self, call: Call, since: float) -> httpx.Response:
        request = self._request(call)
        if self.liveness is None:
            return self._http.request(**request)
        try:
            return self.liveness.wait(lambda: self._http.request(**request), since=since)
        except Silent as silent:
            raise self._hung(silent, call) from None

    def probe_version(self, within: float | None = None) -> str:
        """The server's version, with a short deadline (retries included): the first call to a server.

        A server that is down or hangs is told apart from a slow call in seconds, not after the
        generous per-call timeout and its retries. ``within`` defaults to
        :data:`~.liveness.STARTUP_PROBE` (and never exceeds the hang timeout).
        """
        limit = within if within is not None else STARTUP_PROBE
        if self.liveness is not None:
            limit = min(limit, self.liveness.hang_timeout)
        call = api.version()
        deadline = time.monotonic() + limit
        attempt = 0
        while True:
            left = max(deadline - time.monotonic(), 0.05)
            try:
                response = self._http.request(**self._request(call), timeout=left)
            except httpx.TimeoutException:
                raise ConnectionBroken(
                    f"InvokeAI at {self.base_url} did not answer within {limit:g} s when asked to {call.what} "
                    "(the connection was accepted, but nothing answered: is the server stopped or overloaded?)"
                ) from None
            except httpx.TransportError as exc:
                delay = self.backoff * (2**attempt)
                if time.monotonic() + delay >= deadline:
                    raise ConnectionBroken(
                        f"cannot reach InvokeAI at {self.base_url} to {call.what}: {type(exc).__name__}: {exc}"
                    ) from None
                time.sleep(delay)
                attempt += 1
                continue
            if self.liveness is not None:
                self.liveness.heard()
            version: str = api.read_answer(call, response, self.base_url)
            return version

    def check_login(self) -> None:
        """Fail now, saying what to give, when the server needs a login this client cannot give or is refused.

        A client that logs in does so here, so a wrong password is one error before anything is sent;
        one with no way to sign in asks the server whether it runs in multi-user mode (older releases
        have no such endpoint: they need no login).
        """
        if self.auth.signs_in:
            self.token  # noqa: B018 - reading the token logs in, or raises what the server said
            return
        try:
            status = self.send(api.auth_status())
        except ServerError:
            return
        if isinstance(status, dict) and status.get("multiuser_enabled"):
            raise self.auth.required(self.base_url)

    def run(self, operation: Operation[T]) -> T:
        answer: Any = None
        error: Exception | None = None
        while True:
            finished, call = _advance(operation, answer, error)
            if finished:
                return cast(T, call)  # the operation's return value, which Operation[T] declares T
            answer, error = None, None
            try:
                answer = self.send(call)
            except ConnectionBroken as exc:
                error = exc

    # Plain calls
    def version(self) -> str:
        return cast(str, self.send(api.version()))  # send() gives the endpoint's decoded answer

    def enqueue(self, body: dict[str, Any]) -> EnqueueResult:
        return self.run(enqueue_operation(self.queue_id, body))

    def queue_item(self, item_id: int) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(api.queue_item(self.queue_id, item_id)))

    def image_bytes(self, image_name: str) -> bytes:
        return cast(bytes, self.send(api.image_bytes(image_name)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InvokeAIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
