"""A server that hangs costs seconds, not minutes: the start-up probe, the hang timeout, progress lines.

A real InvokeAI is started for this module on its own port and stopped with SIGSTOP in the middle of a
run (SIGCONT at the end): it then accepts connections and answers nothing, as a frozen machine does.
Times are measured inside the run (a conftest writes them), from the SIGSTOP to the first failure.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_invokeai.server.client import InvokeAIClient

# Stops the server's process group with SIGSTOP once STOP_AFTER tests passed, and writes when that
# happened and when the first test failed (monotonic seconds, one process) to timing.json.


# -- a URL that is not one -------------------------------------------------------------------


# -- a server that cannot be used at the start -----------------------------------------------


# -- a server that stops answering mid-run ---------------------------------------------------


# -- a slow answer is not a hang -------------------------------------------------------------


@contextmanager
def slow_server(seconds: float) -> Iterator[str]:
    """A stand-in InvokeAI that answers its version at once and everything else after ``seconds``.

    How long a real InvokeAI takes over a big enqueue or download depends on the machine (6,000 items
    enqueue in 1.3 s on a quiet 2-core machine, 7 s on a busy one), so a test against it cannot be sure
    to be slow; this one is, by construction. It answers the health probe meanwhile, as InvokeAI does.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/api/v1/app/version":
                self._send(json.dumps({"version": "6.14.2"}).encode(), "application/json")
            elif self.path.startswith("/api/v1/images/"):  # a big download: bytes trickle in
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "3")
                self.end_headers()
                for _ in range(3):
                    time.sleep(seconds / 3)
                    self.wfile.write(b"x")
                    self.wfile.flush()
            else:  # a slow answer: nothing at all until it is ready
                time.sleep(seconds)
                self._send(json.dumps({"item_id": 1, "status": "completed"}).encode(), "application/json")

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("what", ["answer", "download"])
def test_a_slow_answer_from_a_server_that_still_answers_is_not_a_hang(what: str) -> None:
    hang_timeout, slow = 1.0, 3.0
    with slow_server(slow) as url, InvokeAIClient(url, hang_timeout=hang_timeout) as client:
        began = time.monotonic()
        if what == "answer":
            assert client.queue_item(1)["status"] == "completed"
        else:
            assert client.image_bytes("big.png") == b"xxx"
        took = time.monotonic() - began
    assert slow <= took < slow + 1.0, took
