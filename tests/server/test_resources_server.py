"""Server-side resources of a run: boards, uploaded input images, installed models, cleaning up after a run.

Most tests run against a real InvokeAI. Test doubles are used only where the real server cannot show
the case, and each says why: the test server has no models installed (matching needs some), and an
unfinished run cannot be held still on a shared server without pausing everyone's queue.
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import builder, noise_graph
from PIL import Image

from pytest_invokeai.errors import ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.ai_models import (
    InstalledModels,
    ModelNotInstalledError,
    missing_models,
    resolve_models_in_values,
)
from pytest_invokeai.server.boards import ensure_board
from pytest_invokeai.server.cleanup import cleanup_run
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.runs import Case, Runner
from pytest_invokeai.server.uploads import (
    UploadCache,
    upload_image,
)
from pytest_invokeai.workflow.load import load_workflow

SDXL_WORKFLOW = "sdxl-text-to-image.json"


@pytest.fixture
def client(invokeai_server_url: str) -> Iterator[InvokeAIClient]:
    with InvokeAIClient(invokeai_server_url) as c:
        yield c


def png_bytes(color: tuple[int, int, int], size: int = 16, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format=image_format)
    return buffer.getvalue()


def image_exists(client: InvokeAIClient, name: str) -> bool:
    try:
        client.send(api.image_record(name))
    except ServerError as exc:
        assert "HTTP 404" in str(exc), exc  # noqa: PT017 - a helper: only "no such image" answers False
        return False
    return True


def boards_named(client: InvokeAIClient, name: str) -> list[dict[str, Any]]:
    return [b for b in client.send(api.boards(include_archived=True)) if b["board_name"] == name]


# -- boards ---------------------------------------------------------------------------------


def test_ensure_board_creates_a_missing_board_once(client: InvokeAIClient) -> None:
    name = f"pytest-invokeai test {uuid.uuid4().hex[:8]}"
    try:
        first = ensure_board(client, name)
        second = ensure_board(client, name)
        assert first == second
        assert [b["board_id"] for b in boards_named(client, name)] == [first]
    finally:
        for board in boards_named(client, name):
            client.send(api.delete_board(board["board_id"]))


def test_ensure_board_uses_the_oldest_of_boards_sharing_a_name(client: InvokeAIClient) -> None:
    name = f"pytest-invokeai dup {uuid.uuid4().hex[:8]}"
    try:
        older = client.send(api.create_board(name))["board_id"]
        time.sleep(0.05)  # created_at has millisecond resolution
        client.send(api.create_board(name))
        assert ensure_board(client, name) == older
        assert len(boards_named(client, name)) == 2, "nothing created, nothing removed"
    finally:
        for board in boards_named(client, name):
            client.send(api.delete_board(board["board_id"]))


# -- uploads --------------------------------------------------------------------------------


def test_upload_cache_uploads_each_distinct_content_once(client: InvokeAIClient, tmp_path: Path) -> None:
    red, blue = png_bytes((255, 0, 0)), png_bytes((0, 0, 255))
    same_as_red = tmp_path / "red-copy.png"
    same_as_red.write_bytes(red)
    cache = UploadCache(client)
    names = [cache.upload(red), cache.upload(red, label="case 2"), cache.upload(same_as_red), cache.upload(blue)]
    # Every real upload gets a new name from the server, so equal names mean one upload.
    assert names[0] == names[1] == names[2]
    assert names[3] != names[0]
    assert sorted(cache.image_names) == sorted({names[0], names[3]})
    with Image.open(io.BytesIO(client.image_bytes(names[3]))) as stored:
        assert stored.convert("RGB").getpixel((0, 0)) == (0, 0, 255)
    record = client.send(api.image_record(names[0]))
    assert record["is_intermediate"] is True, "uploads stay out of the gallery by default"
    assert sorted(cache.delete_uploaded()) == sorted({names[0], names[3]})
    assert not image_exists(client, names[0]) and not image_exists(client, names[3])
    assert cache.image_names == []


def test_upload_image_sends_jpeg_too_and_uploads_again_every_call(client: InvokeAIClient) -> None:
    jpeg = png_bytes((0, 200, 0), image_format="JPEG")
    first, second = upload_image(client, jpeg), upload_image(client, jpeg)
    try:
        assert first != second
        with Image.open(io.BytesIO(client.image_bytes(first))) as stored:
            assert stored.size == (16, 16)
    finally:
        client.send(api.delete_images([first, second]))


# -- models: the real server (it has none installed) ----------------------------------------------


def test_a_model_that_is_not_installed_is_named_with_what_is_installed(
    client: InvokeAIClient, gui_exports: Path
) -> None:
    exported = json.loads((gui_exports / SDXL_WORKFLOW).read_text())
    (loader,) = [n for n in exported["nodes"] if n["data"]["type"] == "sdxl_model_loader"]
    value = loader["data"]["inputs"]["model"]["value"]
    installed_sdxl = sorted(m["name"] for m in client.send(api.models()) if (m["base"], m["type"]) == ("sdxl", "main"))
    with pytest.raises(ModelNotInstalledError) as caught:
        InstalledModels.fetch(client).resolve(value)
    error = caught.value
    assert (error.model_name, error.base, error.type) == ("juggernautXL_v9Rundiffusionphoto2", "sdxl", "main")
    tail = (
        f"installed sdxl main models: {', '.join(installed_sdxl)}"
        if installed_sdxl
        else "no sdxl main model is installed there"
    )
    assert (
        str(error)
        == f"model 'juggernautXL_v9Rundiffusionphoto2' (sdxl main) is not installed on InvokeAI at {client.base_url}; {tail}"
    )


def test_missing_models_of_a_workflow(client: InvokeAIClient, gui_exports: Path) -> None:
    workflow = load_workflow(gui_exports / SDXL_WORKFLOW)
    missing = missing_models(client, workflow)
    assert [(m.node_id, m.field_name, m.model_name) for m in missing] == [
        ("sdxl_model_loader:PwBr7RXRsy", "model", "juggernautXL_v9Rundiffusionphoto2")
    ]
    assert str(missing[0]).startswith(
        "node 'sdxl_model_loader:PwBr7RXRsy' field 'model': model 'juggernautXL_v9Rundiffusionphoto2' (sdxl main)"
    )
    with pytest.raises(ModelNotInstalledError, match="juggernautXL_v9Rundiffusionphoto2"):
        resolve_models_in_values(
            client, workflow, {("sdxl_model_loader:PwBr7RXRsy", "model"): "juggernautXL_v9Rundiffusionphoto2"}
        )


# -- models: matching (test double: the test server has no models installed) ----------------------


# -- cleanup ---------------------------------------------------------------------------------


def result_image_names(item: dict[str, Any]) -> list[str]:
    """Read straight from the queue item JSON (independent of the code under test)."""
    return [out["image"]["image_name"] for out in item["session"]["results"].values() if "image" in out]


def run_noise(client: InvokeAIClient, seed: int, *, use_cache: bool) -> tuple[str, list[dict[str, Any]]]:
    """Run blank_image -> img_noise. The seed also sets the blank's colour: a cache hit then comes only from a run of this test."""
    graph = noise_graph()
    graph["nodes"]["noise"]["use_cache"] = use_cache
    graph["nodes"]["blank"]["use_cache"] = use_cache
    graph["nodes"]["blank"]["color"] = {"r": seed % 256, "g": (seed >> 8) % 256, "b": (seed >> 16) % 256, "a": 255}
    with Runner(client, use_events=False) as runner:
        handles = runner.submit(builder(graph), [Case("a", {("noise", "seed"): seed})])
        result = handles["a"].result(60).raise_for_error()
    return runner.destination, result.items


def queue_items_of(client: InvokeAIClient, destination: str) -> list[dict[str, Any]]:
    return client.send(api.queue_items_by_destination(client.queue_id, destination))


def test_cleanup_deletes_the_runs_images_and_items_and_nothing_else(client: InvokeAIClient) -> None:
    ours, our_items = run_noise(client, random.randrange(1 << 30), use_cache=False)
    other, other_items = run_noise(client, random.randrange(1 << 30), use_cache=False)
    our_images = [n for item in our_items for n in result_image_names(item)]
    other_images = [n for item in other_items for n in result_image_names(item)]
    assert len(our_images) == 2, "blank (intermediate) and noise"
    try:
        result = cleanup_run(client, ours)
        assert sorted(result.deleted_images) == sorted(our_images)
        assert result.deleted_items == 1 and result.kept_images == ()
        assert not any(image_exists(client, n) for n in our_images)
        assert queue_items_of(client, ours) == []
        assert all(image_exists(client, n) for n in other_images)
        assert [i["item_id"] for i in queue_items_of(client, other)] == [i["item_id"] for i in other_items]
    finally:
        cleanup_run(client, other)
    assert not any(image_exists(client, n) for n in other_images)


def test_cleanup_keeps_images_another_session_made_and_the_node_cache_reused(client: InvokeAIClient) -> None:
    seed = random.randrange(1 << 30)
    first, first_items = run_noise(client, seed, use_cache=True)
    second, second_items = run_noise(client, seed, use_cache=True)
    shared = result_image_names(first_items[0])
    assert result_image_names(second_items[0]) == shared, "precondition: the second run was a node cache hit"
    try:
        result = cleanup_run(client, second)
        assert result.deleted_images == () and sorted(result.kept_images) == sorted(shared)
        assert all(image_exists(client, n) for n in shared)
        assert queue_items_of(client, second) == []
    finally:
        cleanup_run(client, first)
    assert not any(image_exists(client, n) for n in shared)


def test_cleanup_of_an_unknown_destination_does_nothing(client: InvokeAIClient) -> None:
    result = cleanup_run(client, f"pytest-invokeai-nothing-{uuid.uuid4().hex[:8]}")
    assert (result.deleted_images, result.kept_images, result.deleted_items) == ((), (), 0)
