"""The REST client against a real InvokeAI, and (with a test double) the faults a real server cannot show."""

from __future__ import annotations

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


def test_version_of_a_real_server(invokeai_server_url: str) -> None:
    with InvokeAIClient(invokeai_server_url) as client:
        assert client.version() == "6.14.2"


def test_a_path_that_serves_the_web_page_is_not_taken_for_invokeai(invokeai_server_url: str) -> None:
    with InvokeAIClient(invokeai_server_url + "/not-invokeai") as client, pytest.raises(ServerError) as info:
        client.version()
    assert "does not look like an InvokeAI server" in str(info.value)
    assert "answered text/html" in str(info.value)


def test_422_shows_the_servers_message(invokeai_server_url: str) -> None:
    body = noise_batch("test-422", seed=-5)
    with InvokeAIClient(invokeai_server_url) as client, pytest.raises(ServerError) as info:
        client.enqueue(body)
    assert "refused to enqueue the batch (HTTP 422)" in str(info.value)
    assert "nodes.noise.img_noise.seed: Input should be greater than or equal to 0" in str(info.value)


def test_enqueue_returns_ascending_item_ids(invokeai_server_url: str) -> None:
    body = noise_batch("test-enqueue")
    body["batch"]["runs"] = 3
    with InvokeAIClient(invokeai_server_url) as client:
        result = client.enqueue(body)
    assert result.enqueued == result.requested == 3
    assert list(result.item_ids) == sorted(result.item_ids) and len(set(result.item_ids)) == 3
    assert not result.was_cut


# -- test double: a connection that drops (a real server cannot be made to do this on cue) ----
