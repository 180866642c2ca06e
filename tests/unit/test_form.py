"""Form inputs: their order, kinds and constraints, and setting their values by index, name or identity."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
from helpers import GUI_EXPORTS

from pytest_invokeai.errors import InputValueError
from pytest_invokeai.workflow.form import (
    FormInput,
    FormWarning,
    collect_values,
    form_inputs,
    infer_kind,
    parse_value,
    resolve_input,
)
from pytest_invokeai.workflow.load import Workflow, load_workflow, parse_workflow

NESTED = Path(__file__).parents[1] / "data" / "workflows" / "form-nested.json"

SDXL_MODEL = {
    "key": "914b2e5a-b8d3-4da1-965f-b3775bbc5745",
    "hash": "blake3:7bb02e9351409debc5727aeeb83f77340931d3c8f86d2d6c69f67af8de20dd74",
    "name": "juggernautXL_v9Rundiffusionphoto2",
    "base": "sdxl",
    "type": "main",
}


def _load_quietly(path: Path) -> tuple[Workflow, list[FormInput]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormWarning)
        workflow = load_workflow(path)
        return workflow, form_inputs(workflow)


@pytest.fixture(scope="module")
def sdxl() -> Workflow:
    return load_workflow(GUI_EXPORTS / "sdxl-text-to-image.json")


@pytest.fixture(scope="module")
def nested() -> Workflow:
    return _load_quietly(NESTED)[0]


@pytest.fixture(scope="module")
def nested_inputs() -> list[FormInput]:
    return _load_quietly(NESTED)[1]


# -- order and what each input knows -------------------------------------------------------------


def test_sdxl_order_matches_the_form(sdxl: Workflow) -> None:
    # Read by hand from sdxl-text-to-image.json: form.elements.root.data.children, in order, each
    # node-field's fieldIdentifier; the display name is the field's label in nodes[].data.inputs,
    # else InvokeAI's title for the field.
    expected = [
        ("sdxl_model_loader:PwBr7RXRsy.model", "Model", "model"),
        ("positive_prompt:kjUMdcg0zO.value", "positive prompt", "string"),
        ("484ecc77-b7a0-4e19-b793-cc313f20fbe6.value", "negative prompt", "string"),
        ("noise:f4Bv4UWa22.width", "Width", "integer"),
        ("noise:f4Bv4UWa22.height", "Height", "integer"),
        ("denoise_latents:TRC0Y88EWe.steps", "Steps", "integer"),
        ("denoise_latents:TRC0Y88EWe.cfg_scale", "CFG Scale", "float"),
        ("denoise_latents:TRC0Y88EWe.scheduler", "Scheduler", "enum"),
        ("canvas_output:JbPTiAJ26r.board", "Board", "board"),
    ]
    inputs = form_inputs(sdxl)
    assert [(i.identity, i.display_name, i.kind) for i in inputs] == expected
    assert [i.index for i in inputs] == list(range(9))


def test_sdxl_values_and_labels(sdxl: Workflow) -> None:
    inputs = form_inputs(sdxl)
    assert inputs[0].value == SDXL_MODEL
    assert (inputs[1].label, inputs[1].node_label, inputs[1].value) == (
        "positive prompt",
        "Positive Prompt",
        "deep space, high quality, colorful",
    )
    assert (inputs[3].label, inputs[3].value) == ("", 768)
    assert inputs[8].value == "auto"  # an empty board field reads as "auto", as in the web UI
    assert all(i.settable and not i.kind_inferred for i in inputs)


def test_flux_order_matches_the_form() -> None:
    workflow = load_workflow(GUI_EXPORTS / "flux-image-to-image.json")
    # Read by hand from flux-image-to-image.json, as above.
    loader = "f8d9d7c8-9ed7-4bd7-9e42-ab0e89bfac90"
    expected = [
        (f"{loader}.model", "Model (dev variant recommended for Image-to-Image)", "model"),
        ("7b056f05-a4fe-40d3-b913-1a4b3897230f.image", "Image", "image"),
        (f"{loader}.t5_encoder_model", "T5 Encoder", "model"),
        (f"{loader}.clip_embed_model", "CLIP Embed", "model"),
        (f"{loader}.vae_model", "VAE", "model"),
        ("01f674f8-b3d1-4df1-acac-6cb8e0bfb63c.prompt", "Positive Prompt", "string"),
        ("e87ba3b6-c98f-4644-903a-e13c421f2add.prompt", "Negative Prompt", "string"),
        ("9c773392-5647-4f2b-958e-9da1707b6e6a.num_steps", "Num Steps", "integer"),
        ("9c773392-5647-4f2b-958e-9da1707b6e6a.denoising_start", "Denoising Start", "float"),
        ("7e5172eb-48c1-44db-a770-8fd83e1435d1.board", "Board", "board"),
    ]
    assert [(i.identity, i.display_name, i.kind) for i in form_inputs(workflow)] == expected


def test_nested_order(nested_inputs: list[FormInput]) -> None:
    # Read by hand from form-nested.json: root's children depth-first; the heading, texts, divider
    # and the empty container take no index; noise:1.seed is on the form twice.
    expected = [
        "noise:1.seed",  # container-row
        "noise:1.amount",  # container-row, after a text element
        "prompt:1.value",
        "custom:1.strength",  # container-outer > container-inner
        "custom:1.tags",
        "lat:1.scheduler",
        "lat:1.cfg_scale",  # container-outer, after container-inner
        "save:1.board",
        "noise:1.seed#1",
        "noise:1.image",
        "lat:1.positive_conditioning",
        "string:2.value",
        "int:1.value",
    ]
    assert [i.identity for i in nested_inputs] == expected
    assert [i.index for i in nested_inputs] == list(range(13))
    assert [i.element_id for i in nested_inputs[:3]] == ["node-field-seed", "node-field-amount", "node-field-prompt"]


def test_same_field_twice(nested_inputs: list[FormInput]) -> None:
    first, second = nested_inputs[0], nested_inputs[8]
    assert (first.node_id, first.field_name, first.occurrence) == ("noise:1", "seed", 0)
    assert (second.node_id, second.field_name, second.occurrence) == ("noise:1", "seed", 1)


def test_labels_and_descriptions(nested_inputs: list[FormInput]) -> None:
    amount, prompt, seed = nested_inputs[1], nested_inputs[2], nested_inputs[0]
    assert (amount.label, amount.display_name, amount.description, amount.node_label) == (
        "How much",
        "How much",
        "Noise strength, 0 to 1",  # the instance's description wins over InvokeAI's
        "Noise",
    )
    assert (prompt.label, prompt.display_name, prompt.description, prompt.node_label) == (
        "Prompt",
        "Prompt",
        "The text to draw",
        "Prompt node",
    )
    assert (seed.label, seed.display_name, seed.description) == ("", "Seed", "Seed for random number generation")


def test_kinds_and_constraints_come_from_the_schema(nested_inputs: list[FormInput], sdxl: Workflow) -> None:
    seed, amount, prompt = nested_inputs[0], nested_inputs[1], nested_inputs[2]
    assert (seed.kind, seed.constraints) == ("integer", {"minimum": 0, "maximum": 4294967295})
    assert (amount.kind, amount.constraints) == ("float", {"minimum": 0, "maximum": 1})
    assert (prompt.kind, prompt.value) == ("string", "1984")
    cfg = nested_inputs[6]
    assert (cfg.kind, cfg.value, cfg.cardinality) == (
        "float",
        7,
        "single_or_collection",
    )  # 7 in the file, still a float
    scheduler = nested_inputs[5]
    assert scheduler.kind == "enum" and {"euler", "ddim", "dpmpp_3m_k"} <= set(scheduler.constraints["choices"])
    width = form_inputs(sdxl)[3]
    assert width.constraints == {"exclusive_minimum": 0, "multiple_of": 8}
    model = form_inputs(sdxl)[0]
    assert (model.constraints, model.required) == ({"model_base": ["sdxl"], "model_type": ["main"]}, True)


def test_fed_and_connection_only_fields(nested_inputs: list[FormInput]) -> None:
    fed, connection_only, board = nested_inputs[9], nested_inputs[10], nested_inputs[7]
    assert (fed.connected_from, fed.settable) == ("blank:1.image", False)
    assert fed.unsettable_reason == "it is fed by an edge from blank:1.image, which overrides any value given here"
    assert (connection_only.input_mode, connection_only.kind, connection_only.settable) == (
        "connection",
        "object",
        False,
    )
    assert (board.input_mode, board.settable, board.value) == ("direct", True, "none")


def test_custom_node_kinds_are_guessed_with_a_warning(nested: Workflow) -> None:
    with pytest.warns(FormWarning) as caught:
        inputs = form_inputs(nested)
    strength, tags = inputs[3], inputs[4]
    assert (strength.kind, strength.kind_inferred, strength.constraints) == ("float", True, {})
    assert (tags.kind, tags.kind_inferred) == ("string_collection", True)
    assert [str(w.message) for w in caught] == [strength.warning, tags.warning]
    assert strength.warning == (
        f"{NESTED}: form input #3 (my_custom_sharpen.strength): node type 'my_custom_sharpen' is not in the "
        "InvokeAI 6.14.2 schema (a custom node?), so its kind was guessed from its value 0.5 as 'float', with no "
        "bounds or choices. A test run reads the schema of the server it runs on; with no server at hand, save your "
        "server's once (pytest-invokeai schema fetch --url URL -o FILE) and use that schema (--schema FILE, "
        "--invokeai-schema FILE)."
    )
    assert [i.warning for i in inputs if i.warning] == [strength.warning, tags.warning]


def test_unknown_field_of_a_known_node_is_guessed_with_a_warning() -> None:
    raw = json.loads(NESTED.read_text())
    noise = next(n for n in raw["nodes"] if n["id"] == "noise:1")
    noise["data"]["inputs"]["sparkle"] = {"name": "sparkle", "label": "", "value": 3}
    raw["form"]["elements"]["node-field-sparkle"] = {
        "id": "node-field-sparkle",
        "type": "node-field",
        "parentId": "root",
        "data": {"fieldIdentifier": {"nodeId": "noise:1", "fieldName": "sparkle"}},
    }
    raw["form"]["elements"]["root"]["data"]["children"].append("node-field-sparkle")
    workflow = parse_workflow(raw, source="sparkle.json")
    with pytest.warns(FormWarning) as caught:
        inputs = form_inputs(workflow)
    sparkle = inputs[-1]
    assert (sparkle.identity, sparkle.kind, sparkle.kind_inferred) == ("noise:1.sparkle", "integer", True)
    assert sparkle.warning.startswith(
        "sparkle.json: form input #13 (img_noise.sparkle): InvokeAI 6.14.2's 'img_noise' node has no field 'sparkle', "
        "so its kind was guessed from its value 3 as 'integer'"
    )
    assert sparkle.warning in [str(w.message) for w in caught]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "boolean"),
        (3, "integer"),
        (0.5, "float"),
        ("x", "string"),
        ({"image_name": "a.png"}, "image"),
        ({"board_id": "b"}, "board"),
        ({"key": "k", "hash": "h", "name": "n", "base": "sdxl", "type": "main"}, "model"),
        ({"r": 1, "g": 2, "b": 3, "a": 4}, "color"),
        (["a", "b"], "string_collection"),
        ([1, 2], "integer_collection"),
        ([1, 2.5], "float_collection"),
        ([{"image_name": "a.png"}], "image_collection"),
        ([True], "object"),
        ([], "object"),
        (None, "object"),
        ({"other": 1}, "object"),
    ],
)
def test_infer_kind(value: Any, kind: str) -> None:
    assert infer_kind(value) == kind


def test_form_without_inputs() -> None:
    raw = json.loads(NESTED.read_text())
    raw["form"] = {
        "rootElementId": "root",
        "elements": {"root": {"id": "root", "type": "container", "data": {"layout": "column", "children": []}}},
    }
    workflow = parse_workflow(raw, source="empty.json")
    assert form_inputs(workflow) == []
    with pytest.raises(InputValueError) as excinfo:
        collect_values(workflow, {0: "x"})
    assert str(excinfo.value) == "empty.json: there is no form input #0; this workflow's form has no inputs"


# -- resolve_input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "index"),
    [
        (3, 3),
        ("3", 3),
        (" 12 ", 12),
        ("noise:1.seed", 0),
        ("noise:1.seed#1", 8),
        ("Seed", 0),  # both occurrences are one field: not ambiguous
        ("Prompt", 2),
        ("prompt", 2),  # case does not matter when nothing matches exactly
        ("How much", 1),
        ("string:2.value", 11),
    ],
)
def test_resolve_input(nested_inputs: list[FormInput], key: int | str, index: int) -> None:
    assert resolve_input(nested_inputs, key).index == index


def test_resolve_ambiguous_name(nested_inputs: list[FormInput]) -> None:
    with pytest.raises(InputValueError) as excinfo:
        resolve_input(nested_inputs, "Value", source="w.json")
    assert str(excinfo.value) == (
        "w.json: form input name 'Value' is ambiguous: it matches #11 'Value' (string:2.value), "
        "#12 'Value' (int:1.value); use the index or the identity"
    )


@pytest.mark.parametrize(
    ("key", "start"),
    [
        (13, "there is no form input #13; valid inputs: "),
        (-1, "there is no form input #-1; valid inputs: "),
        ("Nope", "there is no form input named 'Nope'; valid inputs: "),
        ("noise:1.seed#2", "there is no form input named 'noise:1.seed#2'; valid inputs: "),
    ],
)
def test_resolve_missing_input(nested_inputs: list[FormInput], key: int | str, start: str) -> None:
    with pytest.raises(InputValueError) as excinfo:
        resolve_input(nested_inputs, key)
    message = str(excinfo.value)
    assert message.startswith(start + "#0 'Seed' (noise:1.seed) [integer]; #1 'How much' (noise:1.amount) [float]; ")
    assert message.endswith("#12 'Value' (int:1.value) [integer]")


@pytest.mark.parametrize(("key", "shown"), [(True, "bool True"), (1.0, "float 1.0"), (None, "NoneType None")])
def test_resolve_bad_key_type(nested_inputs: list[FormInput], key: Any, shown: str) -> None:
    with pytest.raises(InputValueError) as excinfo:
        resolve_input(nested_inputs, key)
    assert (
        str(excinfo.value) == f"a form input is named by its index (int), display name or identity (str), got {shown}"
    )


# -- parse_value ----------------------------------------------------------------------------------


def make_input(kind: str, **extra: Any) -> FormInput:
    return FormInput(
        index=4,
        node_id="node",
        node_type="some_node",
        node_label="",
        field_name="field",
        label="",
        display_name="Field",
        description="",
        kind=kind,
        value=None,
        **extra,
    )


SCHEDULERS = {"constraints": {"choices": ["euler", "ddim"]}}
SEED_BOUNDS = {"constraints": {"minimum": 0, "maximum": 4294967295}}
SIZE_BOUNDS = {"constraints": {"exclusive_minimum": 0, "multiple_of": 8}}
UNIT_RANGE = {"constraints": {"minimum": 0, "exclusive_maximum": 1}}
SDXL_MAIN = {"constraints": {"model_base": ["sdxl"], "model_type": ["main"]}}


@pytest.mark.parametrize(
    ("kind", "extra", "raw", "expected"),
    [
        ("string", {}, "1984", "1984"),
        ("string", {"nullable": True}, "null", "null"),
        ("string", {}, "  spaced ", "  spaced "),
        ("integer", {}, "7", 7),
        ("integer", {}, "-3", -3),
        ("integer", SEED_BOUNDS, 4294967295, 4294967295),
        ("integer", SIZE_BOUNDS, "512", 512),
        ("integer", {"nullable": True}, "null", None),
        ("integer", {"nullable": True}, None, None),
        ("float", {}, "7", 7.0),
        ("float", {}, 7, 7.0),
        ("float", UNIT_RANGE, "0.5", 0.5),
        ("float", {"cardinality": "single_or_collection"}, "[7, 8.5]", [7.0, 8.5]),
        ("float", {"cardinality": "single_or_collection"}, [7, 8.5], [7.0, 8.5]),
        ("float", {"constraints": {"multiple_of": 0.1}}, 0.3, 0.3),
        ("boolean", {}, "true", True),
        ("boolean", {}, "False", False),
        ("boolean", {}, False, False),
        ("enum", SCHEDULERS, "euler", "euler"),
        ("enum", SCHEDULERS, "ddim", "ddim"),
        ("image", {}, "abc.png", {"image_name": "abc.png"}),
        ("image", {}, '{"image_name": "y.png"}', {"image_name": "y.png"}),
        ("image", {}, {"image_name": "x.png"}, {"image_name": "x.png"}),
        (
            "image_collection",
            {},
            '["a.png", {"image_name": "b.png"}]',
            [{"image_name": "a.png"}, {"image_name": "b.png"}],
        ),
        ("board", {}, "auto", "auto"),
        ("board", {}, "none", "none"),
        ("board", {}, "board-123", {"board_id": "board-123"}),
        ("board", {}, '{"board_id": "b1"}', {"board_id": "b1"}),
        ("color", {}, "#ff8000", {"r": 255, "g": 128, "b": 0, "a": 255}),
        ("color", {}, "#00000080", {"r": 0, "g": 0, "b": 0, "a": 128}),
        ("color", {}, '{"r": 1, "g": 2, "b": 3, "a": 4}', {"r": 1, "g": 2, "b": 3, "a": 4}),
        ("model", SDXL_MAIN, json.dumps(SDXL_MODEL), SDXL_MODEL),
        ("model", SDXL_MAIN, {"key": "k"}, {"key": "k"}),
        ("string_collection", {}, '["a", "b"]', ["a", "b"]),
        ("integer_collection", {}, "[1, 2]", [1, 2]),
        ("float_collection", {}, "[1, 2.5]", [1.0, 2.5]),
        ("object", {}, '{"a": [1]}', {"a": [1]}),
        ("object", {}, [1, "x"], [1, "x"]),
    ],
)
def test_parse_value(kind: str, extra: dict[str, Any], raw: Any, expected: Any) -> None:
    value = parse_value(make_input(kind, **extra), raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "extra", "raw", "message"),
    [
        ("string", {}, 5, "expected a string, got int 5"),
        ("string", {}, None, "cannot be None"),
        ("string", {"required": True, "nullable": True}, None, "a value is required (got None)"),
        ("integer", {}, "7.5", "expected an integer, got '7.5'"),
        ("integer", {}, "", "expected an integer, got ''"),
        ("integer", {}, True, "expected an integer, got bool True"),
        ("integer", {}, 7.0, "expected an integer, got float 7.0"),
        ("integer", SEED_BOUNDS, -1, "-1 is out of bounds: must be >= 0 and <= 4294967295"),
        ("integer", SEED_BOUNDS, "4294967296", "4294967296 is out of bounds: must be >= 0 and <= 4294967295"),
        ("integer", SIZE_BOUNDS, "0", "0 is out of bounds: must be > 0"),
        ("integer", SIZE_BOUNDS, 12, "12 is not a multiple of 8"),
        ("float", {}, "abc", "expected a number, got 'abc'"),
        ("float", {}, "nan", "expected a finite number, got nan"),
        ("float", {}, True, "expected a number, got bool True"),
        ("float", {}, [7], "expected a number, got list [7]"),
        ("float", UNIT_RANGE, 1, "1.0 is out of bounds: must be >= 0 and < 1"),
        ("float", UNIT_RANGE, "-0.5", "-0.5 is out of bounds: must be >= 0 and < 1"),
        ("float", {"constraints": {"multiple_of": 0.25}}, 0.3, "0.3 is not a multiple of 0.25"),
        (
            "float",
            {"cardinality": "single_or_collection"},
            "[7, x]",
            "expected a JSON list, got '[7, x]' (Expecting value at column 5)",
        ),
        ("boolean", {}, "yes", "expected true or false, got 'yes'"),
        ("boolean", {}, 1, "expected a boolean, got int 1"),
        ("enum", SCHEDULERS, "foo", "'foo' is not one of the choices: euler, ddim"),
        ("enum", SCHEDULERS, 3, "3 is not one of the choices: euler, ddim"),
        ("image", {}, "", "expected an image name or {\"image_name\": ...}, got ''"),
        ("image", {}, 5, 'expected an image name or {"image_name": ...}, got 5'),
        ("image", {}, {"name": "a.png"}, "expected an image name or {\"image_name\": ...}, got {'name': 'a.png'}"),
        ("image_collection", {}, "a.png", "expected JSON, got 'a.png' (Expecting value at column 1)"),
        ("image_collection", {}, {"image_name": "a.png"}, "expected a list, got dict {'image_name': 'a.png'}"),
        ("board", {}, 5, 'expected "auto", "none", a board id or {"board_id": ...}, got 5'),
        ("board", {}, "", 'expected "auto", "none", a board id or {"board_id": ...}, got \'\''),
        ("color", {}, "#12", 'expected a color as #rrggbb, #rrggbbaa or JSON {"r", "g", "b", "a"}, got \'#12\''),
        (
            "color",
            {},
            {"r": 300, "g": 0, "b": 0, "a": 0},
            "color component 'r' must be an integer from 0 to 255, got 300",
        ),
        (
            "color",
            {},
            {"r": 0, "g": 0, "b": 0},
            'expected a color {"r", "g", "b", "a"} (or #rrggbb text), got {\'r\': 0, \'g\': 0, \'b\': 0}',
        ),
        (
            "model",
            SDXL_MAIN,
            '{"name": "x"}',
            'expected a model as JSON {"key", "hash", "name", "base", "type"} (as listed by /api/v2/models/), got {\'name\': \'x\'}',
        ),
        (
            "model",
            SDXL_MAIN,
            {**SDXL_MODEL, "base": "sd-1"},
            "model 'juggernautXL_v9Rundiffusionphoto2' has base 'sd-1'; this input takes base sdxl",
        ),
        ("model", SDXL_MAIN, {"key": "k", "type": "vae"}, "model 'k' has type 'vae'; this input takes type main"),
        ("string_collection", {}, '["a", 1]', "expected a string, got int 1"),
        ("integer_collection", {}, "[1, true]", "expected an integer, got bool True"),
        ("float_collection", {}, '"1.5"', "expected a list, got str '1.5'"),
        (
            "object",
            {},
            "{bad",
            "expected JSON, got '{bad' (Expecting property name enclosed in double quotes at column 2)",
        ),
        ("object", {}, {1, 2}, "expected a JSON value, got set {1, 2}"),
    ],
)
def test_parse_value_errors(kind: str, extra: dict[str, Any], raw: Any, message: str) -> None:
    with pytest.raises(InputValueError) as excinfo:
        parse_value(make_input(kind, **extra), raw, source="w.json")
    assert str(excinfo.value) == f"w.json: input #4 'Field' (node.field): {message}"


def test_float_parse_rejects_infinity() -> None:
    with pytest.raises(InputValueError, match=r"expected a finite number, got inf$"):
        parse_value(make_input("float"), "inf")
    assert math.isclose(parse_value(make_input("float"), "1e-3"), 0.001)


# -- collect_values -------------------------------------------------------------------------------


def test_collect_values_sdxl(sdxl: Workflow) -> None:
    values = {
        0: json.dumps(SDXL_MODEL),
        "positive prompt": "1984",
        "2": "blurry",
        "Width": "512",
        "noise:f4Bv4UWa22.height": 640,
        "CFG Scale": "7",
        "scheduler": "euler",
        8: "none",
    }
    assert collect_values(sdxl, values) == {
        ("sdxl_model_loader:PwBr7RXRsy", "model"): SDXL_MODEL,
        ("positive_prompt:kjUMdcg0zO", "value"): "1984",
        ("484ecc77-b7a0-4e19-b793-cc313f20fbe6", "value"): "blurry",
        ("noise:f4Bv4UWa22", "width"): 512,
        ("noise:f4Bv4UWa22", "height"): 640,
        ("denoise_latents:TRC0Y88EWe", "cfg_scale"): 7.0,
        ("denoise_latents:TRC0Y88EWe", "scheduler"): "euler",
        ("canvas_output:JbPTiAJ26r", "board"): "none",
    }
    assert collect_values(sdxl, {}) == {}


def test_collect_values_custom_node(nested: Workflow) -> None:
    with pytest.warns(FormWarning):
        assert collect_values(nested, {3: "0.75", "custom:1.tags": '["soft"]'}) == {
            ("custom:1", "strength"): 0.75,
            ("custom:1", "tags"): ["soft"],
        }


def test_collect_same_field_twice(nested: Workflow) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormWarning)
        assert collect_values(nested, {"noise:1.seed": 5, "noise:1.seed#1": "5"}) == {("noise:1", "seed"): 5}
        with pytest.raises(InputValueError) as excinfo:
            collect_values(nested, {"noise:1.seed": 5, 8: 6})
    assert str(excinfo.value) == (
        f"{NESTED}: input #8 'Seed' (noise:1.seed#1) is given two different values: 5 (as 'noise:1.seed') "
        "and 6 (as 8); both set field 'seed' of node 'noise:1'"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {9: "x.png"},
            "input #9 'Image' (noise:1.image) cannot take a value: it is fed by an edge from blank:1.image, "
            "which overrides any value given here",
        ),
        (
            {"lat:1.positive_conditioning": "{}"},
            "input #10 'Positive Conditioning' (lat:1.positive_conditioning) cannot take a value: "
            "InvokeAI accepts this field only from a connection (an edge), not as a value",
        ),
        ({"Seed": -1}, "input #0 'Seed' (noise:1.seed): -1 is out of bounds: must be >= 0 and <= 4294967295"),
        ({"How much": "lots"}, "input #1 'How much' (noise:1.amount): expected a number, got 'lots'"),
        ({5: "heun_x"}, "input #5 'Scheduler' (lat:1.scheduler): 'heun_x' is not one of the choices: ddim, "),
    ],
)
def test_collect_values_errors(nested: Workflow, values: dict[int | str, Any], message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormWarning)
        with pytest.raises(InputValueError) as excinfo:
            collect_values(nested, values)
    assert str(excinfo.value).startswith(f"{NESTED}: {message}")


def test_collect_values_missing_index_lists_the_inputs(sdxl: Workflow) -> None:
    with pytest.raises(InputValueError) as excinfo:
        collect_values(sdxl, {9: "x"})
    assert str(excinfo.value) == (
        f"{GUI_EXPORTS / 'sdxl-text-to-image.json'}: there is no form input #9; valid inputs: "
        "#0 'Model' (sdxl_model_loader:PwBr7RXRsy.model) [model]; "
        "#1 'positive prompt' (positive_prompt:kjUMdcg0zO.value) [string]; "
        "#2 'negative prompt' (484ecc77-b7a0-4e19-b793-cc313f20fbe6.value) [string]; "
        "#3 'Width' (noise:f4Bv4UWa22.width) [integer]; "
        "#4 'Height' (noise:f4Bv4UWa22.height) [integer]; "
        "#5 'Steps' (denoise_latents:TRC0Y88EWe.steps) [integer]; "
        "#6 'CFG Scale' (denoise_latents:TRC0Y88EWe.cfg_scale) [float]; "
        "#7 'Scheduler' (denoise_latents:TRC0Y88EWe.scheduler) [enum]; "
        "#8 'Board' (canvas_output:JbPTiAJ26r.board) [board]"
    )
