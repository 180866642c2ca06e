"""Server-side resources of a run: boards, uploaded input images, installed models, cleaning up after a run.

Most tests run against a real InvokeAI. Test doubles are used only where the real server cannot show
the case, and each says why: the test server has no models installed (matching needs some), and an
unfinished run cannot be held still on a shared server without pausing everyone's queue.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pytest_invokeai.errors import InputValueError, ServerError
from pytest_invokeai.server import api
from pytest_invokeai.server.ai_models import (
    AmbiguousModelError,
    InstalledModels,
    ModelNotInstalledError,
    missing_models,
    resolve_models_in_values,
)
from pytest_invokeai.server.boards import ensure_board
from pytest_invokeai.server.cleanup import cleanup_run
from pytest_invokeai.server.uploads import (
    IMAGE_HINT,
    read_image,
)
from pytest_invokeai.workflow.load import load_workflow

SDXL_WORKFLOW = "sdxl-text-to-image.json"


def png_bytes(color: tuple[int, int, int], size: int = 16, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format=image_format)
    return buffer.getvalue()


# -- boards ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "a board name must be a non-empty string, got ''"),
        ("x" * 301, "is 301 characters long; InvokeAI allows at most 300"),
    ],
)
def test_ensure_board_rejects_names_invokeai_cannot_store(name: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected.replace("(", r"\(")):
        ensure_board(None, name)  # type: ignore[arg-type]  # refused before any call


# -- uploads --------------------------------------------------------------------------------


def test_a_file_that_is_not_an_image_is_named_in_the_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(InputValueError) as caught:
        read_image(text)
    assert str(caught.value) == f"{text}: not an image (12 bytes that Pillow does not recognise); give {IMAGE_HINT}"


def test_truncated_empty_and_missing_images_are_refused_with_their_names(tmp_path: Path) -> None:
    whole = png_bytes((1, 2, 3), size=64)
    with pytest.raises(InputValueError, match=r"^case seed-3: damaged PNG file \(.+\); give a complete PNG file$"):
        read_image(whole[: len(whole) // 2], label="case seed-3")
    with pytest.raises(InputValueError, match=r"^<image bytes>: the image is empty \(0 bytes\)"):
        read_image(b"")
    missing = tmp_path / "gone.png"
    with pytest.raises(
        InputValueError,
        match=rf"^{re.escape(str(missing))}: image file not found; give the path of a PNG, JPEG, WebP or other image file that Pillow reads$",
    ):
        read_image(missing)
    with pytest.raises(TypeError, match="an input image is bytes or a file path, got int"):
        read_image(5)  # type: ignore[arg-type]


# -- models: the real server (it has none installed) ----------------------------------------------


# -- models: matching (test double: the test server has no models installed) ----------------------

JUGGERNAUT = {
    "key": "local-jug",
    "hash": "blake3:other",
    "name": "juggernautXL_v9Rundiffusionphoto2",
    "base": "sdxl",
    "type": "main",
    "format": "checkpoint",
}
TINY_SD1 = {"key": "local-tiny", "hash": "blake3:tiny", "name": "tiny", "base": "sd-1", "type": "main"}
TINY_SDXL = {"key": "local-tiny-xl", "hash": "blake3:tinyxl", "name": "tiny", "base": "sdxl", "type": "main"}
TINY_LORA = {"key": "local-tiny-lora", "hash": "blake3:tinylora", "name": "tiny", "base": "sd-1", "type": "lora"}
DOUBLE = InstalledModels([JUGGERNAUT, TINY_SD1, TINY_SDXL, TINY_LORA], where="the models test double")
FIVE = ("key", "hash", "name", "base", "type")


def ident(config: dict[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in FIVE}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({**TINY_SD1, "name": "renamed here"}, TINY_SD1, id="by key, whatever else it says"),
        pytest.param(
            {"key": "elsewhere", "hash": "blake3:tinyxl", "name": "tiny", "base": "sd-1", "type": "main"},
            TINY_SDXL,
            id="by hash",
        ),
        pytest.param(
            {"key": "elsewhere", "hash": "blake3:unknown", "name": "tiny", "base": "sdxl", "type": "main"},
            TINY_SDXL,
            id="by name base type",
        ),
        pytest.param(
            {
                "key": "elsewhere",
                "hash": "blake3:unknown",
                "name": "juggernautXL_v9Rundiffusionphoto2",
                "base": "sd-1",
                "type": "main",
            },
            JUGGERNAUT,
            id="by name alone when unique",
        ),
        pytest.param("juggernautXL_v9Rundiffusionphoto2", JUGGERNAUT, id="a name string"),
    ],
)
def test_matching_rules(value: Any, expected: dict[str, Any]) -> None:
    assert DOUBLE.resolve(value) == ident(expected)


def test_a_name_shared_by_several_models_is_narrowed_by_the_fields_accepted_bases_and_types() -> None:
    assert DOUBLE.resolve("tiny", bases=["sd-1", "sd-2"], types=["main"]) == ident(TINY_SD1)
    assert DOUBLE.resolve("tiny", types=["lora"]) == ident(TINY_LORA)
    with pytest.raises(AmbiguousModelError) as caught:
        DOUBLE.resolve("tiny", field=("loader", "model"))
    assert str(caught.value) == (
        "node 'loader' field 'model': model name 'tiny' matches 3 models installed on the models test double: "
        "sd-1 main (key local-tiny); sd-1 lora (key local-tiny-lora); sdxl main (key local-tiny-xl); "
        "give the model's key, or its base and type, to choose one"
    )


def test_not_installed_lists_the_installed_models_of_that_base_and_type() -> None:
    with pytest.raises(ModelNotInstalledError) as caught:
        DOUBLE.resolve({"key": "k", "hash": "h", "name": "dreamshaper", "base": "sdxl", "type": "main"})
    assert caught.value.installed == ("juggernautXL_v9Rundiffusionphoto2", "tiny")
    assert str(caught.value) == (
        "model 'dreamshaper' (sdxl main) is not installed on the models test double; "
        "installed sdxl main models: juggernautXL_v9Rundiffusionphoto2, tiny"
    )
    with pytest.raises(
        ModelNotInstalledError,
        match=r"^model 'flux-dev' \(flux main\) is not installed on the models test double; no flux main model is installed there$",
    ):
        DOUBLE.resolve("flux-dev", bases=["flux"], types=["main"])


@pytest.mark.parametrize("value", [{"key": "k"}, {"name": ""}, 7, "  "])
def test_a_value_that_names_no_model_is_refused(value: Any) -> None:
    with pytest.raises(
        InputValueError,
        match=r"^node 'n' field 'model': a model value is a model name or an identifier \{key, hash, name, base, type\} with a non-empty name; got ",
    ):
        DOUBLE.resolve(value, field=("n", "model"))


def test_resolve_models_in_values_rewrites_only_model_fields(gui_exports: Path) -> None:
    workflow = load_workflow(gui_exports / SDXL_WORKFLOW)
    loader = "sdxl_model_loader:PwBr7RXRsy"
    exported = workflow.node(loader).data.inputs["model"].value
    values = {
        (loader, "model"): {**exported, "submodel_type": None},
        ("some_node", "model"): "untouched",
        ("noise", "seed"): 4,
    }
    assert not missing_models(DOUBLE, workflow)
    resolved = resolve_models_in_values(DOUBLE, workflow, values)
    assert resolved == {
        (loader, "model"): {**ident(JUGGERNAUT), "submodel_type": None},
        ("some_node", "model"): "untouched",
        ("noise", "seed"): 4,
    }
    assert values[(loader, "model")]["key"] == exported["key"], "the caller's values are not changed"


# -- cleanup ---------------------------------------------------------------------------------


class _UnfinishedRunClient:
    """Test double: a run with an item still in progress. The real server could show one, but only by
    pausing the shared server's queue (stalling every other test) or by racing a generation."""

    base_url = "http://double"
    queue_id = "default"

    def __init__(self) -> None:
        self.sent: list[api.Call] = []

    def send(self, call: api.Call) -> Any:
        self.sent.append(call)
        return [
            {"item_id": 7, "status": "completed", "session_id": "s"},
            {"item_id": 8, "status": "in_progress", "session_id": "t"},
        ]


def test_cleanup_refuses_while_the_run_has_unfinished_items() -> None:
    double = _UnfinishedRunClient()
    with pytest.raises(ServerError) as caught:
        cleanup_run(double, "run-x")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "run run-x still has 1 unfinished queue item(s) on InvokeAI at http://double (8); "
        "cancel them (Runner.cancel) and wait until they are canceled before cleaning up"
    )
    assert [c.method for c in double.sent] == ["GET"], "nothing deleted"


def test_cleanup_needs_a_destination() -> None:
    with pytest.raises(
        ValueError, match=r"destination must be a run's non-empty destination tag \(Runner.destination\), got ''"
    ):
        cleanup_run(None, "")  # type: ignore[arg-type]
