"""The example suite's workflows: they load cleanly, their forms read as designed, our graph equals
the web UI's, and they run on a real server (the SD-1.5 one on the tiny local checkpoint).

The workflow files are exports of InvokeAI 6.14.2's web UI ("Save to File"). Copies in
``tests/data/gui/example-<name>.workflow.json`` (the image input named ``@IMAGE_A@`` there) feed
``scripts/capture_gui_enqueue.py``. The SD-1.5 capture needs a server where the tiny checkpoint is
installed under the key the workflow names: install it with that key, then capture with ``--url``.
The SDXL example names a model no test server has; the web UI will not enqueue it, so it has no capture.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from example_workflows_cases import EXAMPLES, REPO, _load
from helpers import require
from PIL import Image, ImageChops, ImageStat

from pytest_invokeai.local.install import installed_python
from pytest_invokeai.local.model_install import ensure_tiny_sd15, install_model
from pytest_invokeai.server.ai_models import ModelNotInstalledError, missing_models
from pytest_invokeai.server.client import InvokeAIClient
from pytest_invokeai.server.session import GenerationSession
from pytest_invokeai.workflow.graph import build_enqueue_body
from pytest_invokeai.workflow.load import Workflow, load_workflow

ASSET = REPO / "example_suite" / "assets" / "shapes.png"

#: Form inputs as the author laid them out: (display name, kind), in Form-panel order.


def _without_node_cache(name: str) -> Workflow:
    """The workflow with every node's cache off, so that a repeated run really computes again."""
    raw = json.loads((EXAMPLES / f"{name}.json").read_text())
    for node in raw["nodes"]:
        node["data"]["useCache"] = False
    return load_workflow(raw, name=f"{name} (no node cache)")


# -- offline: files, forms, graphs ---------------------------------------------------------


# -- on a real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(invokeai_server_url: str) -> Iterator[InvokeAIClient]:
    with InvokeAIClient(invokeai_server_url) as c:
        yield c


@pytest.fixture(scope="module")
def session(client: InvokeAIClient) -> Iterator[GenerationSession]:
    with GenerationSession(client) as s:
        yield s
        s.close(cleanup=True)


@pytest.fixture(scope="module")
def tiny_sd15_installed(client: InvokeAIClient, session: GenerationSession) -> dict[str, Any]:
    python = installed_python()
    require(python is not None, "InvokeAI is not installed (python -m pytest_invokeai.server.install)")
    installed = install_model(client, ensure_tiny_sd15(invokeai_python=python))
    session.refresh_models()  # the module's session read the model list before this install
    return installed


def _output(session: GenerationSession, workflow: Workflow, values: dict[Any, Any] | None = None) -> Image.Image:
    result = session.run(workflow, values or {})
    outputs = [image for images in result.images.values() for image in images if not image.is_intermediate]
    assert [o.node_label for o in outputs] == ["Output"]
    return Image.open(io.BytesIO(outputs[0].png)).convert("RGB")


def _same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def test_noise_texture_runs_and_repeats_to_the_pixel(session):
    workflow = _without_node_cache("noise-texture")
    first = _output(session, workflow, {"Width": 80, "Height": 48, "Seed": 7})
    again = _output(session, workflow, {"Width": 80, "Height": 48, "Seed": 7})
    other_seed = _output(session, workflow, {"Width": 80, "Height": 48, "Seed": 8})
    assert first.size == (80, 48)
    assert _same_pixels(first, again)
    assert not _same_pixels(first, other_seed)


def test_color_blocks_places_the_block_where_the_form_says(session):
    image = _output(session, _load("color-blocks"), {"Block size": 16, "Block x": 8, "Block y": 4, "Hue rotation": 0})
    background, block = (30, 60, 160), (240, 200, 40)  # the form's colours; hue 0 leaves them (HSV rounding aside)

    def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
        return all(abs(p - c) <= 2 for p, c in zip(pixel, colour, strict=False))  # an RGBA pixel against an RGB colour

    assert image.size == (96, 96)
    assert near(image.getpixel((8, 4)), block) and near(image.getpixel((23, 19)), block)
    assert near(image.getpixel((7, 4)), background) and near(image.getpixel((24, 20)), background)


def test_image_to_image_takes_the_asset(session):
    asset = Image.open(ASSET).convert("RGB")
    unchanged = _output(
        session,
        _load("image-to-image"),
        {"Image": ASSET, "Width": asset.width, "Height": asset.height, "Hue rotation": 0},
    )
    rotated = _output(session, _load("image-to-image"), {"Image": ASSET, "Width": 48, "Height": 32})
    # Same size and hue 0: the asset comes back, up to the 8-bit HSV round trip of the hue node, which moves
    # strongly saturated colours by a few levels (measured: at most 6, less than 1 on average).
    difference = ImageChops.difference(unchanged, asset)
    assert unchanged.size == asset.size
    assert max(band_max for _, band_max in difference.getextrema()) <= 8
    assert max(ImageStat.Stat(difference).mean) < 1
    assert rotated.size == (48, 32)


def test_sd15_text_to_image_runs_on_the_tiny_checkpoint(session, tiny_sd15_installed):
    workflow = _without_node_cache("sd15-text-to-image")
    first = _output(session, workflow)
    again = _output(session, workflow)
    other_seed = _output(session, workflow, {"Seed": 99})
    other_prompt = _output(session, workflow, {"Prompt": "a red bicycle in the snow"})
    assert first.size == (64, 64)
    assert first.getextrema() != ((0, 0), (0, 0), (0, 0))  # a picture, not a black square
    assert _same_pixels(first, again)
    assert not _same_pixels(first, other_seed)
    assert not _same_pixels(first, other_prompt)


def test_sdxl_is_reported_as_missing_its_model(client):
    workflow = _load("sdxl-text-to-image")
    missing = missing_models(client, workflow)
    require(missing != [], "this server has the SDXL model the example names; nothing is missing")
    assert len(missing) == 1
    error = missing[0]
    assert isinstance(error, ModelNotInstalledError)
    assert (error.model_name, error.base, error.type) == ("sd_xl_base_1.0", "sdxl", "main")
    assert error.field_name == "model"
    assert "model 'sd_xl_base_1.0' (sdxl main) is not installed" in str(error)
    # The workflow itself is fine: its graph builds.
    nodes = build_enqueue_body(workflow)["batch"]["graph"]["nodes"]
    assert {n["type"] for n in nodes.values()} >= {"sdxl_model_loader", "sdxl_compel_prompt", "denoise_latents", "l2i"}
