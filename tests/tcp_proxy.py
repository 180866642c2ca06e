"""A TCP relay in front of a real InvokeAI that can be cut, so a test can lose "the server" mid-run.

Stopping the shared test server would take it from every other test, and starting one more server
costs 20 s and a gigabyte on a shared machine; cutting the relay is the same thing as the client sees it
(every open connection closes, new ones are refused), with the real server behind it until then.
The cut is asked for by creating a file, so the pytest run under test (another process) can ask for it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse


class CuttableProxy:
    def __init__(self, target_url: str, cut_file: Path) -> None:
        parsed = urlparse(target_url)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.cut_file = cut_file
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _accept(self) -> None:
        while not self._cut.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._cut.is_set():
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _watch(self) -> None:
        while not self._cut.wait(0.05):
            if self.cut_file.exists():
                self.cut()

    def cut(self) -> None:
        """The server is gone: refuse new connections and close every open one."""
        with self._lock:
            self._cut.set()
            self._listener.close()
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
