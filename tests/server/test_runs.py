"""Running cases on a real InvokeAI: batching, matching items to cases, failures, timeouts, a full queue."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from helpers import builder, noise_graph, require

from pytest_invokeai.errors import ServerError
from pytest_invokeai.local.managed import ManagedServer
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.runs import Case, Runner, is_batchable, plan_batches


@pytest.fixture
def client(invokeai_server_url: str) -> Iterator[InvokeAIClient]:
    with InvokeAIClient(invokeai_server_url) as c:
        yield c


def pixels_digest(client: InvokeAIClient, image_name: str) -> str:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(client.image_bytes(image_name))) as im:
        return hashlib.sha256(im.convert("RGBA").tobytes()).hexdigest()


def test_same_seed_same_pixels_other_seed_other_pixels(client: InvokeAIClient) -> None:
    # use_cache off: the second run must really run again, not return the cached image.
    graph = noise_graph()
    graph["nodes"]["noise"]["use_cache"] = False
    with Runner(client) as runner:
        first = runner.submit(builder(graph), [Case("a", {("noise", "seed"): 11}), Case("b", {("noise", "seed"): 12})])
        second = runner.submit(builder(graph), [Case("a", {("noise", "seed"): 11})])
        a1, b1, a2 = (h.result(60).raise_for_error() for h in (first["a"], first["b"], second["a"]))
    name = lambda r: r.images["noise"].images[0].image_name  # noqa: E731
    assert name(a1) != name(a2), "a real second generation, not a cache hit"
    assert pixels_digest(client, name(a1)) == pixels_digest(client, name(a2))
    assert pixels_digest(client, name(a1)) != pixels_digest(client, name(b1))


def test_identical_cases_share_items_and_each_case_gets_its_own_values(client: InvokeAIClient) -> None:
    cases = [Case(f"seed{s}-{i}", {("noise", "seed"): s}) for i, s in enumerate([3, 4, 3, 5])]
    with Runner(client) as runner:
        handles = runner.submit(builder(noise_graph()), cases)
        results = {k: h.result(60).raise_for_error() for k, h in handles.items()}
    assert handles["seed3-0"].item_ids == handles["seed3-2"].item_ids
    assert len({tuple(h.item_ids) for h in handles.values()}) == 3
    for key, result in results.items():
        seed = int(key[4:].split("-")[0])
        (field_value,) = [fv for fv in result.items[0]["field_values"] if fv["field_name"] == "seed"]
        assert field_value["value"] == seed


def test_values_a_batch_cannot_carry_split_the_cases_into_batches(client: InvokeAIClient) -> None:
    cases = [
        Case("color", {("noise", "seed"): 1, ("noise", "noise_color"): True}),
        Case("gray", {("noise", "seed"): 1, ("noise", "noise_color"): False}),
    ]
    assert not is_batchable(False) and is_batchable(1) and is_batchable({"image_name": "x.png"})
    assert len(plan_batches(builder(noise_graph()), cases)) == 2
    with Runner(client) as runner:
        handles = runner.submit(builder(noise_graph()), cases)
        color, gray = handles["color"].result(60), handles["gray"].result(60)
    assert color.items[0]["batch_id"] != gray.items[0]["batch_id"]
    assert pixels_digest(client, color.images["noise"].images[0].image_name) != pixels_digest(
        client, gray.images["noise"].images[0].image_name
    )


def test_a_failing_node_reports_the_servers_error(client: InvokeAIClient) -> None:
    graph = {
        "id": "g",
        "nodes": {"img": {"id": "img", "type": "image", "image": {"image_name": "no-such-image.png"}}},
        "edges": [],
    }
    with Runner(client) as runner:
        result = runner.submit(builder(graph), [Case("missing-image")])["missing-image"].result(60)
    assert not result.ok
    message = str(result.error)
    assert message.startswith("case missing-image: queue item ")
    assert "failed: ImageRecordNotFoundException: Image record not found" in message
    assert "Traceback" in message or "File " in message, "the tail of the server's traceback is shown"
    with pytest.raises(ServerError):
        result.raise_for_error()


def test_generation_timeout_cancels_the_item(client: InvokeAIClient) -> None:
    graph = noise_graph(size=2048, blur=40.0)  # a few seconds on CPU
    for node in graph["nodes"].values():
        node["use_cache"] = False
    with Runner(client, generation_timeout=0.2) as runner:
        handle = runner.submit(builder(graph), [Case("slow")])["slow"]
        with pytest.raises(ServerError) as info:
            handle.result(60)
    assert "ran longer than the generation timeout (0.2 s) and was canceled" in str(info.value)
    assert client.queue_item(handle.item_ids[0])["status"] == "canceled"


def test_leaving_the_runner_on_an_error_cancels_only_its_own_items(client: InvokeAIClient) -> None:
    graph = noise_graph(size=1024, blur=20.0)
    for node in graph["nodes"].values():
        node["use_cache"] = False
    with Runner(client) as bystander:
        other = bystander.submit(builder(graph), [Case("other", {("noise", "seed"): 99})])["other"]
        # PT012 waived below: the interrupt must come while the runner is open, after it submitted its cases.
        with pytest.raises(KeyboardInterrupt), Runner(client) as runner:  # noqa: PT012
            mine = runner.submit(builder(graph), [Case(f"c{i}", {("noise", "seed"): i}) for i in range(4)])
            raise KeyboardInterrupt
        statuses = [client.queue_item(h.item_ids[0])["status"] for h in mine.values()]
        assert statuses.count("canceled") >= 3, statuses  # one may have finished or be running already
        assert other.result(120).ok, "another run's item is untouched"


def test_a_full_queue_cuts_the_batch_and_the_rest_is_sent_later() -> None:
    # A real server with room for two pending items: the server cuts the batch silently.
    try:
        server = ManagedServer(settings={"max_queue_size": "2"}).start()
    except ServerError as exc:
        require(False, str(exc))
    try:
        with InvokeAIClient(server.url) as client, Runner(client) as runner:
            cases = [Case(f"s{s}", {("noise", "seed"): s}) for s in range(6)]
            handles = runner.submit(builder(noise_graph()), cases)
            results = {k: h.result(120) for k, h in handles.items()}
        assert all(r.ok for r in results.values())
        assert len({tuple(h.item_ids) for h in handles.values()}) == 6
    finally:
        server.stop()


def test_a_node_inside_an_iterate_gives_one_image_per_item(client: InvokeAIClient) -> None:
    graph = noise_graph()
    graph["nodes"]["range"] = {"id": "range", "type": "range", "start": 10, "stop": 13, "step": 1}
    graph["nodes"]["iter"] = {"id": "iter", "type": "iterate"}
    graph["edges"] += [
        {
            "source": {"node_id": "range", "field": "collection"},
            "destination": {"node_id": "iter", "field": "collection"},
        },
        {"source": {"node_id": "iter", "field": "item"}, "destination": {"node_id": "noise", "field": "seed"}},
    ]
    with Runner(client) as runner:
        result = runner.submit(builder(graph), [Case("iterated")])["iterated"].result(60).raise_for_error()
    images = result.images["noise"].images
    assert len(images) == 3 and len({i.prepared_id for i in images}) == 3
    assert len({pixels_digest(client, i.image_name) for i in images}) == 3, "three seeds, three different images"


def test_without_events_the_runner_polls(client: InvokeAIClient) -> None:
    with Runner(client, use_events=False, poll_interval=0.1) as runner:
        assert runner.events is None
        result = runner.submit(builder(noise_graph()), [Case("polled", {("noise", "seed"): 21})])["polled"].result(60)
    assert result.ok and "noise" in result.images
