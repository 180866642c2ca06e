"""Queue events from InvokeAI over Socket.IO, shared by everything waiting on that queue.

One WebSocket connection per server and queue (path ``/ws/socket.io``, then ``subscribe_queue``).
The WebSocket transport is used on purpose: long-polling breaks on InvokeAI 6.14.2 when a newer
starlette is installed beside it, and it is the cheaper transport anyway. InvokeAI 6.12-6.13 send
some events twice, so status events are de-duplicated. When no connection can be made, ``start()``
says so and the waiters poll over REST instead. Every packet the server sends, its heartbeat pings
included, is passed on as a sign of life (``on_heard``: see :mod:`.liveness`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import socketio
import socketio.exceptions  # imported by socketio itself; named here because its stubs do not re-export it

Listener = Callable[[str, dict[str, Any]], None]
STATUS_EVENT = "queue_item_status_changed"
ITEM_EVENTS = (
    STATUS_EVENT,
    "invocation_started",
    "invocation_progress",
    "invocation_complete",
    "invocation_error",
)
TERMINAL_STATUSES = frozenset({"completed", "failed", "canceled"})


class QueueEvents:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | Callable[[], str | None] | None = None,
        queue_id: str = "default",
        connect_timeout: float = 10.0,
        on_heard: Callable[[], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.queue_id = queue_id
        self.connect_timeout = connect_timeout
        self._token = token
        self._lock = threading.Lock()
        self._listeners: dict[int, list[Listener]] = defaultdict(list)
        self._seen_status: set[tuple[int, str]] = set()
        # The stubs type reconnection_delay and wait_timeout as int; python-socketio sleeps for them, so seconds as a float work.
        self._sio = socketio.Client(reconnection=True, reconnection_attempts=5, reconnection_delay=0.5)  # type: ignore[arg-type]
        self.connected = False
        for name in ITEM_EVENTS:
            self._sio.on(name, self._handler(name))
        self._sio.on("queue_items_canceled", self._on_bulk_cancel)
        self._sio.on("connect", self._on_connect)
        self._sio.on("disconnect", self._on_disconnect)
        self._abandoned = False
        if on_heard is not None:
            _pass_on_packets(self._sio, on_heard)

    def start(self) -> bool:
        """Connect and subscribe; False (and no exception) when events are not available."""
        path = _prefix_path(self.base_url) + "/ws/socket.io"
        token = self._current_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self._sio.connect(
                _origin(self.base_url),
                socketio_path=path,
                transports=["websocket"],
                headers=headers,
                # Asked again at every (re)connect, and read by InvokeAI before the header: a token refreshed
                # or renewed since the first connect is the one a reconnect sends.
                auth=lambda: {"token": self._current_token()} if self._current_token() else None,
                wait_timeout=self.connect_timeout,  # type: ignore[arg-type]  # a float, see socketio.Client above
            )
        except (socketio.exceptions.ConnectionError, OSError, ValueError):
            return False
        return True

    def _current_token(self) -> str | None:
        return self._token() if callable(self._token) else self._token

    def _on_connect(self) -> None:
        # Also after a reconnect: the subscription does not survive the connection.
        self._sio.emit("subscribe_queue", {"queue_id": self.queue_id})
        self.connected = True

    def _on_disconnect(self, *args: Any) -> None:
        self.connected = False

    def listen(self, item_id: int, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event_name, data)`` for each event of one queue item; returns the unsubscribe."""
        with self._lock:
            self._listeners[item_id].append(listener)

        def stop() -> None:
            with self._lock:
                listeners = self._listeners.get(item_id, [])
                if listener in listeners:
                    listeners.remove(listener)
                if not listeners:
                    self._listeners.pop(item_id, None)

        return stop

    def _handler(self, name: str) -> Callable[[dict[str, Any]], None]:
        def handle(data: dict[str, Any]) -> None:
            if not isinstance(data, dict) or data.get("queue_id", self.queue_id) != self.queue_id:
                return
            item_id = data.get("item_id")
            if not isinstance(item_id, int):
                return
            if name == STATUS_EVENT:
                key = (item_id, str(data.get("status")))
                with self._lock:
                    if key in self._seen_status:
                        return
                    self._seen_status.add(key)
            self._dispatch(item_id, name, data)

        return handle

    def _on_bulk_cancel(self, data: object) -> None:  # whatever the socket delivered, checked below
        # 6.14 sends one event for a bulk cancel instead of a status event per item.
        if not isinstance(data, dict):
            return
        for item_id in data.get("canceled_item_ids", []) or []:
            self._handler(STATUS_EVENT)({**data, "item_id": item_id, "status": "canceled"})

    def _dispatch(self, item_id: int, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners.get(item_id, ()))
        for listener in listeners:
            listener(name, data)

    def close(self) -> None:
        if self._sio.connected and not self._abandoned:
            self._sio.disconnect()
        self.connected = False

    def abandon(self) -> None:
        """Let go of a server that stopped answering without waiting on it.

        A polite disconnect waits (seconds) for the server to answer the close, and a reconnect
        attempt may be under way: both are left to a daemon thread.
        """
        self._abandoned = True
        self.connected = False
        threading.Thread(target=self._sio.shutdown, name="pytest-invokeai-events-close", daemon=True).start()


def _pass_on_packets(sio: socketio.Client, on_heard: Callable[[], None]) -> None:
    """Call ``on_heard()`` for every Engine.IO packet the server sends, its pings included.

    python-engineio hands pings to no handler, so its packet reader is wrapped. Should a later
    python-engineio rename it, only this sign of life is lost: the health probe still tells.
    """
    eio = getattr(sio, "eio", None)
    receive = getattr(eio, "_receive_packet", None)
    if receive is None:
        return

    def receive_and_note(pkt: Any) -> None:
        on_heard()
        receive(pkt)

    eio._receive_packet = receive_and_note  # type: ignore[union-attr]


def _origin(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _prefix_path(url: str) -> str:
    rest = url.split("://", 1)[1]
    return ("/" + rest.split("/", 1)[1]).rstrip("/") if "/" in rest else ""
