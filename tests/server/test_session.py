"""Running loaded workflows with form values on a real InvokeAI (the layer the plugin and the CLI use)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import GUI_EXPORTS
from PIL import Image

from pytest_invokeai.server.ai_models import ModelNotInstalledError
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.load import load_workflow

GUI_WORKFLOWS = Path(__file__).parents[1] / "data" / "gui"


@pytest.fixture
def client(invokeai_server_url: str) -> Iterator[InvokeAIClient]:
    with InvokeAIClient(invokeai_server_url) as c:
        yield c


def image_workflow() -> dict:
    """image (on the form) -> img_blur -> save_image, in the exported format."""

    def node(node_id: str, node_type: str, inputs: dict, label: str = "", intermediate: bool = True) -> dict:
        return {
            "id": node_id,
            "type": "invocation",
            "position": {"x": 0, "y": 0},
            "data": {
                "id": node_id,
                "type": node_type,
                "version": "1.0.0",
                "label": label,
                "notes": "",
                "isOpen": True,
                "isIntermediate": intermediate,
                "useCache": True,
                "nodePack": "invokeai",
                "inputs": {
                    k: {"name": k, "label": "", "description": "", **({"value": v} if v is not None else {})}
                    for k, v in inputs.items()
                },
            },
        }

    return {
        "name": "blur an image",
        "meta": {"version": "4.0.0", "category": "user"},
        "exposedFields": [],
        "nodes": [
            node("in", "image", {"image": None}, label="Input"),
            node("blur", "img_blur", {"image": None, "radius": 3.0, "blur_type": "gaussian"}),
            node("out", "save_image", {"image": None}, label="Blurred", intermediate=False),
        ],
        "edges": [
            {
                "id": "e1",
                "type": "default",
                "source": "in",
                "sourceHandle": "image",
                "target": "blur",
                "targetHandle": "image",
            },
            {
                "id": "e2",
                "type": "default",
                "source": "blur",
                "sourceHandle": "image",
                "target": "out",
                "targetHandle": "image",
            },
        ],
        "form": {
            "rootElementId": "root",
            "elements": {
                "root": {
                    "id": "root",
                    "type": "container",
                    "data": {"layout": "column", "children": ["f-image", "f-radius"]},
                },
                "f-image": {
                    "id": "f-image",
                    "type": "node-field",
                    "parentId": "root",
                    "data": {"fieldIdentifier": {"nodeId": "in", "fieldName": "image"}},
                },
                "f-radius": {
                    "id": "f-radius",
                    "type": "node-field",
                    "parentId": "root",
                    "data": {"fieldIdentifier": {"nodeId": "blur", "fieldName": "radius"}},
                },
            },
        },
    }


def png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def test_cases_by_index_and_name_give_labelled_images(client: InvokeAIClient) -> None:
    workflow = load_workflow(GUI_WORKFLOWS / "form-layout.workflow.json")
    with GenerationSession(client) as session:
        pending = session.submit(workflow, {"seed1": {2: 1}, "seed2": {"Value": 2}, "narrow": {2: 1, "Width": 32}})
        results = {key: p.result(60) for key, p in pending.items()}
        session.close(cleanup=True)
    # Read from the workflow file: 'save' is the only non-intermediate node, labelled "Output"; blank is 64x48.
    out = results["seed1"].images["save"][0]
    assert (out.node_type, out.node_label, out.is_intermediate) == ("save_image", "Output", False)
    with Image.open(io.BytesIO(out.png)) as im:
        assert im.size == (64, 48)
    with Image.open(io.BytesIO(results["narrow"].images["save"][0].png)) as im:
        assert im.size == (32, 48)
    assert results["seed1"].images["save"][0].png != results["seed2"].images["save"][0].png


def test_an_image_input_takes_a_file_and_uploads_it_once(client: InvokeAIClient, tmp_path: Path) -> None:
    workflow = load_workflow(image_workflow())
    red = tmp_path / "red.png"
    red.write_bytes(png((40, 30), (255, 0, 0)))
    with GenerationSession(client) as session:
        pending = session.submit(
            workflow, {"r1": {0: red, 1: 1.0}, "r2": {0: red, 1: 2.0}, "blue": {0: png((20, 10), (0, 0, 255))}}
        )
        results = {key: p.result(60) for key, p in pending.items()}
        assert len(session.uploads.image_names) == 2, "the same file is uploaded once"
        cleanup = session.close(cleanup=True)
    with Image.open(io.BytesIO(results["r1"].images["out"][0].png)) as im:
        r, g, b = im.convert("RGB").getpixel((20, 15))
        assert im.size == (40, 30) and r > 240 and g < 10 and b < 10, "the uploaded red image, blurred"
    with Image.open(io.BytesIO(results["blue"].images["out"][0].png)) as im:
        assert im.size == (20, 10)
    assert results["r1"].images["out"][0].node_label == "Blurred"
    for name in cleanup.deleted_images:
        assert httpx.get(f"{client.base_url}/api/v1/images/i/{name}").status_code == 404


def test_a_workflow_whose_model_is_not_installed_names_it(client: InvokeAIClient) -> None:
    workflow = load_workflow(GUI_EXPORTS / "sdxl-text-to-image.json")
    with GenerationSession(client) as session, pytest.raises(ModelNotInstalledError) as info:
        session.submit(workflow, {"case": {1: "a cat"}})
    assert info.value.model_name == "juggernautXL_v9Rundiffusionphoto2"
    assert "juggernautXL_v9Rundiffusionphoto2" in str(info.value)


def test_images_go_to_the_named_board(client: InvokeAIClient) -> None:
    workflow = load_workflow(GUI_WORKFLOWS / "form-layout.workflow.json")
    with GenerationSession(client, board="pytest-invokeai board test") as session:
        result = session.run(workflow, {2: 3}, timeout=60)
        board_id = session.board_id
        names = httpx.get(f"{client.base_url}/api/v1/boards/{board_id}/image_names").json()
        session.close(cleanup=True)
    # The workflow's save node has its board on "auto": the session's board is where it lands.
    assert result.images["save"][0].image_name in names
