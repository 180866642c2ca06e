"""The REST client against a real InvokeAI, and (with a test double) the faults a real server cannot show."""

from __future__ import annotations

import json

import httpx
import pytest

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server.client import InvokeAIClient


def noise_batch(destination: str, seed: int = 1) -> dict:
    nodes = {
        "blank": {"id": "blank", "type": "blank_image", "width": 32, "height": 32},
        "noise": {"id": "noise", "type": "img_noise", "seed": seed},
    }
    edges = [{"source": {"node_id": "blank", "field": "image"}, "destination": {"node_id": "noise", "field": "image"}}]
    return {
        "prepend": False,
        "batch": {"graph": {"id": "g", "nodes": nodes, "edges": edges}, "runs": 1, "destination": destination},
    }


def test_nothing_listening_is_a_clear_error() -> None:
    with InvokeAIClient("http://127.0.0.1:9", retries=1, backoff=0.01) as client, pytest.raises(ServerError) as info:
        client.version()
    assert str(info.value).startswith("cannot reach InvokeAI at http://127.0.0.1:9 to tell its version: ConnectError")


def test_unsupported_major_version() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"version": "5.6.0"}))
    with InvokeAIClient("http://fake", transport=transport) as client, pytest.raises(ServerError) as info:
        client.version()
    assert str(info.value) == "http://fake: InvokeAI 5.6.0 is not supported: pytest-invokeai supports InvokeAI 6.x"


def test_token_is_sent_but_never_shown() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(500, json={"detail": "boom"})

    client = InvokeAIClient(
        "http://fake/prefix", token="s3cret-token", transport=httpx.MockTransport(handler), retries=0
    )
    with pytest.raises(ServerError) as info:
        client.version()
    assert seen["auth"] == "Bearer s3cret-token"
    assert "s3cret" not in str(info.value) and "s3cret" not in repr(client)
    assert "HTTP 500): boom" in str(info.value)


def test_path_prefix_is_kept() -> None:
    paths = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"version": "6.14.2"})

    with InvokeAIClient("http://fake/invoke/", transport=httpx.MockTransport(handler)) as client:
        client.version()
    assert paths == ["/invoke/api/v1/app/version"]


# -- test double: a connection that drops (a real server cannot be made to do this on cue) ----


class DroppingServer:
    """Fails the first ``drops`` requests of each kind with a connection error, then answers."""

    def __init__(self, *, post_drops: int, get_drops: int = 0, enqueue_arrives: bool) -> None:
        self.post_drops, self.get_drops = post_drops, get_drops
        self.enqueue_arrives = enqueue_arrives  # did the dropped POST reach the server before the drop?
        self.posts = 0
        self.held: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.enqueue_arrives or self.posts > self.post_drops:
                self.held = [{"item_id": 7, "batch_id": "b1"}, {"item_id": 8, "batch_id": "b1"}]
            if self.posts <= self.post_drops:
                raise httpx.RemoteProtocolError("server disconnected without sending a response", request=request)
            return httpx.Response(
                200, json={"enqueued": 2, "requested": 2, "item_ids": [8, 7], "batch": {"batch_id": "b1"}}
            )
        if self.get_drops:
            self.get_drops -= 1
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.params["destination"] == "run-1"
        return httpx.Response(200, json=self.held)


def test_enqueue_that_arrived_before_the_connection_broke_is_not_sent_again() -> None:
    server = DroppingServer(post_drops=1, get_drops=1, enqueue_arrives=True)
    with InvokeAIClient("http://fake", transport=httpx.MockTransport(server), backoff=0.001) as client:
        result = client.enqueue(noise_batch("run-1"))
    assert server.posts == 1, "the batch was already on the server: no second POST"
    assert result.item_ids == (7, 8) and result.batch_id == "b1"


def test_enqueue_that_did_not_arrive_is_sent_again() -> None:
    server = DroppingServer(post_drops=1, enqueue_arrives=False)
    with InvokeAIClient("http://fake", transport=httpx.MockTransport(server), backoff=0.001) as client:
        result = client.enqueue(noise_batch("run-1"))
    assert server.posts == 2
    assert result.item_ids == (7, 8)


def test_enqueue_without_destination_is_never_resent() -> None:
    server = DroppingServer(post_drops=1, enqueue_arrives=False)
    body = noise_batch("run-1")
    del body["batch"]["destination"]
    with (
        InvokeAIClient("http://fake", transport=httpx.MockTransport(server)) as client,
        pytest.raises(ServerError) as info,
    ):
        client.enqueue(body)
    assert server.posts == 1
    assert "to enqueue the batch: RemoteProtocolError" in str(info.value)


def test_request_body_is_sent_as_json() -> None:
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"enqueued": 1, "requested": 1, "item_ids": [1], "batch": {"batch_id": "b"}})

    with InvokeAIClient("http://fake", transport=httpx.MockTransport(handler)) as client:
        client.enqueue(noise_batch("run-2"))
    assert bodies[0]["batch"]["destination"] == "run-2"


def test_another_web_app_is_not_taken_for_invokeai() -> None:
    # A real HTTP server that is not InvokeAI (Python's own), on a port of its own.
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with InvokeAIClient(url) as client, pytest.raises(ServerError) as info:
            client.version()
    finally:
        server.shutdown()
    assert str(info.value) == (
        f"{url} does not look like an InvokeAI server: GET /api/v1/app/version answered 404 Not Found "
        "(is this the right port? InvokeAI listens on 9090 by default)"
    )


def test_a_json_app_without_a_version_is_not_taken_for_invokeai() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "ok"}))
    with InvokeAIClient("http://fake", transport=transport) as client, pytest.raises(ServerError) as info:
        client.version()
    assert str(info.value) == "http://fake: not an InvokeAI version answer: {'status': 'ok'}"
