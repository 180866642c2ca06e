"""Telling a server that hangs from a server that is slow.

A server stopped mid-run (SIGSTOP, a frozen VM, a deadlock) keeps its port open: the kernel accepts
connections and nothing ever answers, so a call would wait out its whole timeout, then its retries.
A slow answer (a big download, the enqueue of a large batch) must not be mistaken for that, so the
per-call timeouts stay generous and the decision is made on *silence*: nothing at all heard from the
server for ``hang_timeout`` seconds. Heard means any REST answer, any packet on its event socket
(InvokeAI's Socket.IO pings every 25 s) or an answer to a short health probe (``GET
/api/v1/app/version``, which InvokeAI answers while it generates and while it enqueues: both run
off its event loop). While a call waits, a probe goes out once the server has been silent for a
moment (one probe at a time); a progress line every 15 s says how long it has been silent; at the
hang timeout the server is declared down, and from then on every call to it fails at once.

Calls run on a daemon thread so that the caller can stop waiting on them: a thread blocked on a
socket that never answers cannot be interrupted, and a daemon thread does not hold up the exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: Seconds between progress lines while a server is silent.
PROGRESS_EVERY = 15.0
#: Seconds the first call to a server (its version, at the start of a run) may take, all retries
#: included; a server that does not answer that is left out of the run at once. Ten seconds: a fresh InvokeAI
#: pauses its answers for about 3 s while it runs its first graph (longer on a loaded machine), and an xdist
#: worker that connects then must not take that pause for a dead server.
STARTUP_PROBE = 10.0

SilenceListener = Callable[[str, float, float], None]  # (url, seconds silent, hang timeout)


class Silent(Exception):
    """The server has been silent for its hang timeout: it is declared down."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"nothing heard for {seconds:g} s")
        self.seconds = seconds


class _Background(Generic[T]):
    """``work()`` running on a daemon thread; :meth:`wait` for it, then :meth:`outcome`."""

    def __init__(self, work: Callable[[], T], name: str) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(work,), name=name, daemon=True).start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._value = work()
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc
        finally:
            self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when there is no error


class Liveness:
    """What one client last heard from its server, and the decision that the server hangs.

    ``probe(timeout)`` asks the server something small; it returning (whatever the answer) means
    the server is alive. ``on_silence(url, seconds, hang_timeout)`` is called every
    :data:`PROGRESS_EVERY` seconds of silence, once per silence however many calls wait.
    """

    def __init__(
        self,
        url: str,
        hang_timeout: float,
        probe: Callable[[float], object],
        *,
        on_silence: SilenceListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.hang_timeout = hang_timeout
        self.on_silence = on_silence
        self._probe = probe
        self._clock = clock
        # How often a waiting call looks at the silence: the decision is at most this late.
        self.tick = min(1.0, hang_timeout / 10)
        # Silence that sends a probe: longer than an ordinary answer takes, short against the timeout.
        self.probe_after = min(2.0, hang_timeout / 3)
        self.hung: float | None = None  # the hang timeout, once the server was declared down
        self._last_heard = clock()
        self._probing = False
        self._shown = (0.0, 0)  # (last heard, progress step) of the last progress line
        self._lock = threading.Lock()

    def heard(self) -> None:
        """The server said something: it is alive."""
        with self._lock:
            self._last_heard = self._clock()

    def check(self) -> None:
        """Raise :class:`Silent` when the server was declared down."""
        if self.hung is not None:
            raise Silent(self.hung)

    def silence(self, since: float) -> float:
        """Seconds nothing was heard, counting from ``since`` (when the caller began waiting) at the earliest."""
        with self._lock:
            return self._clock() - max(self._last_heard, since)

    def wait(self, exchange: Callable[[], T], *, since: float | None = None) -> T:
        """Run ``exchange()`` (one request) and return what it returns, or raise :class:`Silent`.

        ``since`` is when the caller began waiting for this answer (before its retries), so that a
        retry does not start the silence anew. The exchange's own errors are raised as they are.
        """
        self.check()
        started = self._clock() if since is None else since
        call = _Background(exchange, "pytest-invokeai-call")
        while not call.wait(self.tick):
            self._still_waiting(started)
        result = call.outcome()
        self.heard()
        return result

    def _still_waiting(self, started: float) -> None:
        silence = self.silence(started)
        with self._lock:
            if self.hung is None and silence >= self.hang_timeout:
                self.hung = self.hang_timeout
        self.check()
        self._show_progress(started)
        if silence >= self.probe_after:
            self._send_probe()

    def _show_progress(self, started: float) -> None:
        if self.on_silence is None:
            return
        with self._lock:
            silence = self._clock() - max(self._last_heard, started)
            step = int(silence // PROGRESS_EVERY)
            if step < 1 or (self._last_heard, step) <= self._shown:
                return
            self._shown = (self._last_heard, step)
        self.on_silence(self.url, step * PROGRESS_EVERY, self.hang_timeout)

    def _send_probe(self) -> None:
        with self._lock:
            if self._probing:
                return
            self._probing = True

        def probe() -> None:
            try:
                # As long as the decision allows: a server that answers late is still alive.
                self._probe(self.hang_timeout)
                self.heard()
            except Exception:
                pass  # no answer: the silence goes on, and the waiting call decides
            finally:
                with self._lock:
                    self._probing = False

        _Background(probe, "pytest-invokeai-probe")
